// `--url` beside `-t`: the URL replaces that target's database and keeps its other settings; every command names the
// database it acted on (issue 9 §2).
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createPgDatabase, pgQuery, runCli, tempDir, type CliResult } from '../helpers/databases.js'

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** app (default) and a protected bench with migrations and seeds of its own. */
function project(benchUrl = 'sqlite:./bench.db'): string {
  const dir = tempDir('dbops-target-url')
  dirs.push(dir)
  for (const sub of ['migrations', 'bench-migrations', 'fixtures']) mkdirSync(path.join(dir, sub))
  writeFileSync(
    path.join(dir, 'bench-migrations', '001_b.sql'),
    '-- migrate:up\nCREATE TABLE b (id integer PRIMARY KEY, v text);\n-- migrate:down\nDROP TABLE b;\n',
  )
  writeFileSync(path.join(dir, 'fixtures', 'b.csv'), 'id,v\n1,x\n')
  writeFileSync(
    path.join(dir, 'dbops.config.json'),
    JSON.stringify({
      defaultTarget: 'app',
      targets: {
        app: { url: 'sqlite:./app.db' },
        bench: { url: benchUrl, protected: true, migrations: { dir: 'bench-migrations' } },
      },
    }),
  )
  return dir
}

function json(result: CliResult): Record<string, any> {
  try {
    return JSON.parse(result.stdout)
  } catch {
    throw new Error(`not JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`)
  }
}

describe('-t <target> --url <url>', () => {
  it("acts on the URL with the target's settings, and every command names that database (SQLite)", async () => {
    const dir = project()
    const other = path.join(dir, 'other.db')
    const cli = (args: string[]) => runCli(['-t', 'bench', '--url', 'sqlite:./other.db', ...args], { cwd: dir })
    const label = `bench (${other})`

    const up = await cli(['migrate', 'up'])
    expect(up.code, up.stderr).toBe(0)
    expect(up.stdout).toContain(`${label}: applied 1 migration`)

    // Protection stays with the target whatever its URL: seeding is still refused without the flag.
    const refused = await cli(['seed', 'run'])
    expect(refused.code).toBe(3)
    expect(refused.stderr).toContain('protected')

    const commands: string[][] = [
      ['migrate', 'status'],
      ['migrate', 'validate'],
      ['seed', 'run', '--allow-protected'],
      ['seed', 'status'],
      ['backup', 'create'],
      ['backup', 'list'],
      ['backup', 'verify'],
      ['backup', 'check'],
      ['backup', 'prune', '--keep-last', '1', '--dry-run'],
      ['health'],
      ['audit'],
      ['maintain', '--auto', '--dry-run'],
      ['wait'],
      ['migrate', 'down'],
    ]
    for (const command of commands) {
      const human = await cli(command)
      expect(human.code, `${command.join(' ')}: ${human.stderr}`).toBeLessThanOrEqual(1)
      expect(human.stdout, command.join(' ')).toContain(label)
      const machine = await cli([...command, '--json'])
      expect(json(machine), command.join(' ')).toMatchObject({ target: 'bench', database: other })
    }
    const restoreId = json(await cli(['backup', 'list', '--json'])).backups[0].id
    const restored = await cli(['restore', restoreId, '--force'])
    expect(restored.code, restored.stderr).toBe(0)
    expect(restored.stdout).toContain(`${label}: restored ${restoreId}`)

    const shown = json(await cli(['config', 'show', '--json']))
    expect(shown.targets.bench).toMatchObject({ url: 'sqlite:./other.db', database: other, protected: true })
    expect(shown.targets.app).toMatchObject({ url: 'sqlite:./app.db', database: path.join(dir, 'app.db') })

    // The target's own database was never touched, and the seed reached the URL's.
    expect(existsSync(path.join(dir, 'bench.db'))).toBe(false)
    expect(existsSync(path.join(dir, 'app.db'))).toBe(false)
    expect(existsSync(other)).toBe(true)
  }, 180_000)

  it('--url with --all is a usage error, before anything runs', async () => {
    const dir = project()
    const result = await runCli(['--all', '--url', 'sqlite:./x.db', 'migrate', 'up'], { cwd: dir })
    expect(result.code).toBe(3)
    expect(result.stderr).toMatch(/^error: --url names one database and cannot be used with --all .*\n$/)
    const machine = await runCli(['--all', '--url', 'sqlite:./x.db', 'health', '--json'], { cwd: dir })
    expect(machine.code).toBe(3)
    expect(json(machine)).toMatchObject({ ok: false, error: { code: 'E_USAGE' } })
    for (const file of ['x.db', 'app.db', 'bench.db']) expect(existsSync(path.join(dir, file))).toBe(false)
  })

  it("without -t, --url still replaces the default target's database; --json names it", async () => {
    const dir = project()
    const result = await runCli(['--url', 'sqlite:./third.db', 'migrate', 'up', '--json'], { cwd: dir })
    expect(result.code, result.stderr).toBe(0)
    expect(json(result)).toMatchObject({ target: 'app', database: path.join(dir, 'third.db') })
    expect(existsSync(path.join(dir, 'app.db'))).toBe(false)
  })

  it("health and restore go to the URL, not to the target's PostgreSQL database", async () => {
    const bench = await createPgDatabase('dbops_bench')
    const other = await createPgDatabase('dbops_other')
    try {
      const dir = project(bench.url)
      const cli = (args: string[]) => runCli(['-t', 'bench', '--url', other.url, ...args], { cwd: dir })
      expect((await cli(['migrate', 'up'])).code).toBe(0)
      const health = await cli(['health', '--json', '--only', 'connection,migrations'])
      expect(json(health)).toMatchObject({ target: 'bench', database: other.url })
      expect(JSON.stringify(json(health).checks)).toContain('1 applied')

      const backup = json(await cli(['backup', 'create', '--json']))
      await pgQuery(other.url, 'DROP TABLE b')
      const restored = await cli(['restore', backup.backup.id, '--clean', '--force'])
      expect(restored.code, restored.stderr).toBe(0)
      expect(restored.stdout).toContain(`bench (${other.url}): restored`)
      expect(await pgQuery(other.url, `SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'b'`)).toEqual([
        { n: 1 },
      ])
      expect(await pgQuery(bench.url, `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`)).toEqual([
        { n: 0 },
      ])
    } finally {
      await other.drop()
      await bench.drop()
    }
  })
})
