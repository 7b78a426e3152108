// The CLI end to end: spawn bin/dbops.js, assert stdout, stderr, exit code and the database afterwards.
// SQLite tests each get their own temp dir and run concurrently; PostgreSQL tests share this file's database and take
// turns (each starts from an empty public schema).
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  CLI_BIN,
  REPO_ROOT,
  pgQuery,
  runCli,
  sqliteUrl,
  usePgDatabase,
  useTempDir,
  type CliResult,
} from '../helpers/databases.js'

const REPO_VERSIONS = ['20240101120000', '20240102090000', '20240103150000']
const ESC = '\u001b'

function write(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(dir, name)
    mkdirSync(path.dirname(file), { recursive: true })
    writeFileSync(file, text)
  }
}

function parseJson(result: CliResult): any {
  try {
    return JSON.parse(result.stdout)
  } catch {
    throw new Error(
      `stdout is not exactly one JSON document (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`,
    )
  }
}

function noStackTrace(result: CliResult): void {
  expect(result.stderr).not.toMatch(/^ {4}at /m)
}

/** A temp project: the repo's example migrations copied in, a package.json so no config is found above it. */
function exampleProject(root: string, name: string): string {
  const dir = path.join(root, name)
  mkdirSync(dir, { recursive: true })
  cpSync(path.join(REPO_ROOT, 'migrations'), path.join(dir, 'migrations'), { recursive: true })
  return dir
}

function sqliteRows<T = Record<string, unknown>>(file: string, sql: string): T[] {
  const db = new Database(file, { fileMustExist: true })
  try {
    return db.prepare(sql).all() as T[]
  } finally {
    db.close()
  }
}

function sqliteTables(file: string): string[] {
  return sqliteRows<{ name: string }>(file, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").map(
    (r) => r.name,
  )
}

function ledgerVersions(file: string): string[] {
  return sqliteRows<{ version: string }>(file, 'SELECT version FROM dbops_migrations ORDER BY version').map(
    (r) => r.version,
  )
}

async function pgTables(url: string): Promise<string[]> {
  const rows = await pgQuery(url, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)
  return rows.map((r) => r.tablename as string)
}

/** Runs a shell command line under a pseudo-terminal (util-linux `script`), so the CLI sees a TTY. */
function runInPty(
  commandLine: string,
  cwd: string,
  env: Record<string, string | undefined>,
): Promise<{ code: number | null; output: string }> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env }
  delete childEnv.FORCE_COLOR
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete childEnv[key]
    else childEnv[key] = value
  }
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', commandLine, '/dev/null'], {
      cwd,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (output.length < 1_000_000) output += d
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (output.length < 1_000_000) output += d
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
  })
}

const haveScript = (() => {
  try {
    return readdirSync('/usr/bin').includes('script')
  } catch {
    return false
  }
})()
const shellQuote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`
const dbopsLine = (args: string[], killAfterSeconds: number) =>
  ['timeout', '-s', 'KILL', String(killAfterSeconds), process.execPath, CLI_BIN, ...args].map(shellQuote).join(' ')

describe.concurrent('cli basics and SQLite', () => {
  const tmp = useTempDir('dbops-e2e-cli')
  beforeAll(() => {
    // Stops the config search in the temp root: nothing outside it can be picked up as a config.
    write(tmp.path, { 'package.json': '{ "name": "dbops-e2e-cli", "private": true }\n' })
  })

  it('--help exits 0 and lists the commands; migrate --help lists the migrate commands', async ({ expect }) => {
    const help = await runCli(['--help'])
    expect(help.code).toBe(0)
    for (const word of ['migrate', 'wait', 'config']) expect(help.stdout).toContain(word)
    expect(help.stdout).toMatch(/exit codes/i)
    const migrateHelp = await runCli(['migrate', '--help'])
    expect(migrateHelp.code).toBe(0)
    for (const command of ['new', 'up', 'down', 'redo', 'status', 'validate', 'resolve', 'baseline', 'restamp']) {
      expect(migrateHelp.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'))
    }
  })

  it('compiles its bundles from the code caches the build made, and runs the same without them', async ({ expect }) => {
    const dir = path.join(tmp.path, 'code-cache')
    mkdirSync(dir, { recursive: true })
    const url = sqliteUrl(dir)
    const withCache = await runCli(['--url', url, 'migrate', 'status'], {
      cwd: dir,
      env: { DBOPS_DEBUG_CODE_CACHE: '1' },
    })
    expect(withCache.stderr).toMatch(/code cache .*cli-main\.cjs\.v8: used/)
    expect(withCache.stderr).toMatch(/code cache .*vendor-better-sqlite3\.cjs\.v8: used/)
    // Each command compiles with the cache made for it: --help and migrate status their own, others the shared one.
    expect(withCache.stderr).toMatch(/code cache .*[\\/]status[\\/]cli-main\.cjs\.v8: used/)
    const help = await runCli(['--help'], { cwd: dir, env: { DBOPS_DEBUG_CODE_CACHE: '1' } })
    expect(help.stderr).toMatch(/code cache .*[\\/]help[\\/]cli-main\.cjs\.v8: used/)
    const validate = await runCli(['--url', url, 'migrate', 'validate'], {
      cwd: dir,
      env: { DBOPS_DEBUG_CODE_CACHE: '1' },
    })
    expect(validate.stderr).toMatch(/code cache .*[\\/]all[\\/]cli-main\.cjs\.v8: used/)
    // The lint's cache was made with V8's default flags, though the lint changes them as it runs: not rejected.
    const lint = await runCli(['--url', url, 'migrate', 'lint', '--offline'], {
      cwd: dir,
      env: { DBOPS_DEBUG_CODE_CACHE: '1' },
    })
    expect(lint.stderr).toMatch(/code cache .*[\\/]lint[\\/]cli-main\.cjs\.v8: used/)
    // A copy of dist without caches (as after a node upgrade made them useless) behaves the same.
    const copy = path.join(tmp.path, 'no-cache-install')
    cpSync(path.join(REPO_ROOT, 'dist'), path.join(copy, 'dist'), {
      recursive: true,
      filter: (source) => !source.includes('code-cache'),
    })
    cpSync(path.join(REPO_ROOT, 'bin'), path.join(copy, 'bin'), { recursive: true })
    const bare = await new Promise<CliResult>((resolve) => {
      const child = spawn(process.execPath, [path.join(copy, 'bin', 'dbops.js'), '--url', url, 'migrate', 'status'], {
        cwd: dir,
        env: { ...process.env, DBOPS_DEBUG_CODE_CACHE: '1', NO_COLOR: '1' },
      })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
      child.on('close', (code) => resolve({ code, stdout, stderr } as CliResult))
    })
    expect(bare.stderr).toMatch(/code cache .*cli-main\.cjs\.v8: none/)
    expect(bare.code).toBe(withCache.code)
    expect(bare.stdout).toBe(withCache.stdout)
  })

  it('--version prints the package version', async ({ expect }) => {
    const { version } = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }
    const result = await runCli(['--version'])
    expect(result.code).toBe(0)
    expect(result.stdout.trim()).toBe(version)
  })

  it('unknown command or option is a usage error (exit 3)', async ({ expect }) => {
    const cwd = path.join(tmp.path, 'usage')
    mkdirSync(cwd, { recursive: true })
    for (const args of [
      ['frobnicate'],
      ['--frobnicate', 'migrate', 'status'],
      ['migrate', 'up', '--bogus'],
      ['migrate', 'frob'],
      ['migrate', 'up', '--steps', 'x'],
    ]) {
      const result = await runCli(args, { cwd })
      expect(result.code, `dbops ${args.join(' ')}: ${result.stderr}`).toBe(3)
      expect(result.stderr).toMatch(/^error: /m)
      noStackTrace(result)
    }
    // Usage errors must not have created the default database.
    expect(existsSync(path.join(cwd, 'dev.db'))).toBe(false)
  })

  it('usage errors with --json still print exactly one JSON document', async ({ expect }) => {
    const cwd = path.join(tmp.path, 'usage-json')
    mkdirSync(cwd, { recursive: true })
    for (const args of [
      ['migrate', 'up', '--bogus', '--json'],
      ['--json', 'frobnicate'],
    ]) {
      const result = await runCli(args, { cwd })
      expect(result.code).toBe(3)
      const document = parseJson(result)
      expect(document.ok).toBe(false)
      expect(document.error?.code).toMatch(/^E_/)
    }
  })

  it('migrate new add_users writes migrations/<UTC YYYYMMDDHHMMSS>_add_users.sql with both directives', async ({
    expect,
  }) => {
    const cwd = path.join(tmp.path, 'new')
    mkdirSync(cwd, { recursive: true })
    const before = Date.now()
    const result = await runCli(['migrate', 'new', 'add_users'], { cwd })
    expect(result.code, result.stderr).toBe(0)
    const files = readdirSync(path.join(cwd, 'migrations'))
    expect(files).toHaveLength(1)
    const file = files[0]!
    expect(file).toMatch(/^\d{14}_add_users\.sql$/)
    expect(result.stdout).toContain(file)
    const stamp = file.slice(0, 14)
    const utc = (ms: number) => new Date(ms).toISOString().replace(/\D/g, '').slice(0, 14)
    expect(stamp >= utc(before - 1000) && stamp <= utc(Date.now() + 1000), `${stamp} is not UTC now`).toBe(true)
    const text = readFileSync(path.join(cwd, 'migrations', file), 'utf8')
    expect(text).toMatch(/^-- migrate:up\s*$/m)
    expect(text).toMatch(/^-- migrate:down\s*$/m)
    expect(text.indexOf('-- migrate:up')).toBeLessThan(text.indexOf('-- migrate:down'))
    // The new file is a valid (empty) migration, and nothing touched a database.
    expect(existsSync(path.join(cwd, 'dev.db'))).toBe(false)
  })

  it('README quick start: no config, default ./dev.db; up, status, status --check, down', async ({ expect }) => {
    const cwd = exampleProject(tmp.path, 'quickstart')
    const env = { DATABASE_URL: undefined }
    const devDb = path.join(cwd, 'dev.db')

    const up = await runCli(['migrate', 'up'], { cwd, env })
    expect(up.code, up.stderr).toBe(0)
    expect(existsSync(devDb)).toBe(true)
    expect(up.stderr).toMatch(/^applying 20240101120000_create_users \.\.\. done in \d+(\.\d+)?m?s$/m)
    expect(up.stdout).toMatch(/applied 3 migrations/)
    expect(ledgerVersions(devDb)).toEqual(REPO_VERSIONS)
    expect(sqliteTables(devDb)).toEqual(expect.arrayContaining(['users', 'posts', 'dbops_migrations']))

    const status = await runCli(['migrate', 'status'], { cwd, env })
    expect(status.code).toBe(0)
    for (const version of REPO_VERSIONS)
      expect(status.stdout).toMatch(new RegExp(`^${version}\\s+\\S+\\s+applied\\b`, 'm'))
    expect(status.stdout).toMatch(/3 applied, 0 pending/)

    const check = await runCli(['migrate', 'status', '--check'], { cwd, env })
    expect(check.code).toBe(0)

    const down = await runCli(['migrate', 'down'], { cwd, env })
    expect(down.code, down.stderr).toBe(0)
    expect(down.stderr).toMatch(/^rolling back 20240103150000_add_users_updated_at \.\.\. done/m)
    expect(ledgerVersions(devDb)).toEqual(REPO_VERSIONS.slice(0, 2))
    const columns = sqliteRows<{ name: string }>(devDb, 'PRAGMA table_info(users)').map((c) => c.name)
    expect(columns).not.toContain('updated_at')

    const checkAfter = await runCli(['migrate', 'status', '--check'], { cwd, env })
    expect(checkAfter.code).toBe(1)
    expect(checkAfter.stdout).toMatch(/^20240103150000\s+\S+\s+pending\b/m)
  })

  it('--json prints exactly one JSON document for status, up, down and errors', async ({ expect }) => {
    const cwd = exampleProject(tmp.path, 'json')
    const url = sqliteUrl(cwd, 'app.db')

    const statusBefore = parseJson(await runCli(['--url', url, 'migrate', 'status', '--json'], { cwd }))
    expect(statusBefore.ok).toBe(true)
    expect(statusBefore.migrations.map((m: any) => m.state)).toEqual(['pending', 'pending', 'pending'])

    const upResult = await runCli(['--url', url, 'migrate', 'up', '--json'], { cwd })
    expect(upResult.code).toBe(0)
    const up = parseJson(upResult)
    expect(up.ok).toBe(true)
    expect(up.migrations.map((m: any) => [m.version, m.status])).toEqual(REPO_VERSIONS.map((v) => [v, 'applied']))

    const downResult = await runCli(['--url', url, 'migrate', 'down', '--json'], { cwd })
    expect(downResult.code).toBe(0)
    const down = parseJson(downResult)
    expect(down.migrations.map((m: any) => m.version)).toEqual(['20240103150000'])

    const check = await runCli(['--url', url, 'migrate', 'status', '--check', '--json'], { cwd })
    expect(check.code).toBe(1)
    const status = parseJson(check)
    expect(status.migrations.map((m: any) => m.state)).toEqual(['applied', 'applied', 'pending'])

    // Errors: a usage one raised by dbops itself (exit 3) and a runtime one (exit 2).
    const usage = await runCli(['--url', url, 'migrate', 'up', '--to', '999', '--json'], { cwd })
    expect(usage.code).toBe(3)
    expect(parseJson(usage)).toMatchObject({ ok: false, error: { code: expect.stringMatching(/^E_/) } })
    const edited = path.join(cwd, 'migrations', '20240101120000_create_users.sql')
    writeFileSync(edited, readFileSync(edited, 'utf8').replace('name TEXT NOT NULL,', 'name TEXT NOT NULL, nick TEXT,'))
    const failed = await runCli(['--url', url, 'migrate', 'up', '--json'], { cwd })
    expect(failed.code).toBe(2)
    expect(parseJson(failed).error.code).toBe('E_CHECKSUM_MISMATCH')
  })

  it('--dry-run on SQLite prints the SQL, creates no database file, changes nothing', async ({ expect }) => {
    const cwd = exampleProject(tmp.path, 'dry-sqlite')
    const dbFile = path.join(cwd, 'dry.db')
    const url = `sqlite:${dbFile}`
    const dry = await runCli(['--url', url, 'migrate', 'up', '--dry-run'], { cwd })
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).toContain('20240101120000_create_users')
    expect(dry.stdout).toContain('CREATE TABLE users')
    expect(dry.stdout).toContain('CREATE INDEX users_updated_at_idx')
    expect(existsSync(dbFile)).toBe(false)
    expect(existsSync(path.join(cwd, 'dev.db'))).toBe(false)

    const dryJson = await runCli(['--url', url, 'migrate', 'up', '--dry-run', '--json'], { cwd })
    expect(dryJson.code).toBe(0)
    expect(parseJson(dryJson)).toMatchObject({ ok: true, dryRun: true })
    expect(existsSync(dbFile)).toBe(false)

    // Dry-run down on an applied database prints the down SQL and keeps everything.
    expect((await runCli(['--url', url, 'migrate', 'up'], { cwd })).code).toBe(0)
    const dryDown = await runCli(['--url', url, 'migrate', 'down', '--to', '0', '--dry-run'], { cwd })
    expect(dryDown.code).toBe(0)
    expect(dryDown.stdout).toContain('DROP TABLE users')
    expect(ledgerVersions(dbFile)).toEqual(REPO_VERSIONS)
  })

  it('up --to, up --steps, down --steps, down --to 0', async ({ expect }) => {
    const cwd = exampleProject(tmp.path, 'to-steps')
    const dbFile = path.join(cwd, 'app.db')
    const url = `sqlite:${dbFile}`
    const run = (...args: string[]) => runCli(['--url', url, 'migrate', ...args], { cwd })

    expect((await run('up', '--to', '20240102090000')).code).toBe(0)
    expect(ledgerVersions(dbFile)).toEqual(REPO_VERSIONS.slice(0, 2))
    expect((await run('up', '--steps', '1')).code).toBe(0)
    expect(ledgerVersions(dbFile)).toEqual(REPO_VERSIONS)
    const downTwo = await run('down', '--steps', '2')
    expect(downTwo.code).toBe(0)
    expect(ledgerVersions(dbFile)).toEqual(REPO_VERSIONS.slice(0, 1))
    expect(sqliteTables(dbFile)).not.toContain('posts')
    expect((await run('up')).code).toBe(0)
    const downAll = await run('down', '--to', '0')
    expect(downAll.code, downAll.stderr).toBe(0)
    expect(downAll.stdout).toMatch(/rolled back 3 migrations/)
    // Newest first.
    const order = [...downAll.stderr.matchAll(/^rolling back (\d+)_/gm)].map((m) => m[1])
    expect(order).toEqual([...REPO_VERSIONS].reverse())
    expect(ledgerVersions(dbFile)).toEqual([])
    expect(sqliteTables(dbFile).filter((t) => t !== 'dbops_migrations')).toEqual([])
    // Bad values are usage errors.
    const bad = await run('down', '--steps', '2', '--to', '0')
    expect(bad.code).toBe(3)
  })

  it('redo rolls back and re-applies the newest migration', async ({ expect }) => {
    const cwd = exampleProject(tmp.path, 'redo')
    const dbFile = path.join(cwd, 'app.db')
    const url = `sqlite:${dbFile}`
    expect((await runCli(['--url', url, 'migrate', 'up'], { cwd })).code).toBe(0)
    const before = sqliteRows<{ version: string; applied_at: string }>(
      dbFile,
      'SELECT version, applied_at FROM dbops_migrations ORDER BY version',
    )
    const redo = await runCli(['--url', url, 'migrate', 'redo'], { cwd })
    expect(redo.code, redo.stderr).toBe(0)
    expect(redo.stderr).toMatch(
      /rolling back 20240103150000_add_users_updated_at .*\n.*applying 20240103150000_add_users_updated_at/,
    )
    const after = sqliteRows<{ version: string; applied_at: string }>(
      dbFile,
      'SELECT version, applied_at FROM dbops_migrations ORDER BY version',
    )
    expect(after.map((r) => r.version)).toEqual(REPO_VERSIONS)
    expect(after[0]).toEqual(before[0])
    expect(after[2]!.applied_at).not.toBe(before[2]!.applied_at)
    const columns = sqliteRows<{ name: string }>(dbFile, 'PRAGMA table_info(users)').map((c) => c.name)
    expect(columns).toContain('updated_at')
  })

  it('validate: ok exits 0; an edited applied file exits 1 and is named', async ({ expect }) => {
    const cwd = exampleProject(tmp.path, 'validate')
    const url = sqliteUrl(cwd, 'app.db')
    expect((await runCli(['--url', url, 'migrate', 'up'], { cwd })).code).toBe(0)
    const ok = await runCli(['--url', url, 'migrate', 'validate'], { cwd })
    expect(ok.code).toBe(0)
    expect(ok.stdout).toMatch(/no problems/)

    const edited = path.join(cwd, 'migrations', '20240102090000_create_posts.sql')
    writeFileSync(
      edited,
      readFileSync(edited, 'utf8').replace("body TEXT NOT NULL DEFAULT ''", "body TEXT NOT NULL DEFAULT 'x'"),
    )
    const bad = await runCli(['--url', url, 'migrate', 'validate'], { cwd })
    expect(bad.code).toBe(1)
    expect(bad.stdout).toContain('20240102090000_create_posts.sql')
    const json = await runCli(['--url', url, 'migrate', 'validate', '--json'], { cwd })
    expect(json.code).toBe(1)
    const document = parseJson(json)
    expect(document.problems).toEqual([expect.objectContaining({ check: 'checksum', version: '20240102090000' })])
    const status = await runCli(['--url', url, 'migrate', 'status', '--check'], { cwd })
    expect(status.code).toBe(1)
    expect(status.stdout).toMatch(/^20240102090000\s+\S+\s+drifted\b/m)
  })

  it('baseline marks an existing database as migrated without running anything; status shows it', async ({
    expect,
  }) => {
    const cwd = exampleProject(tmp.path, 'baseline')
    const dbFile = path.join(cwd, 'app.db')
    const url = `sqlite:${dbFile}`
    const baseline = await runCli(['--url', url, 'migrate', 'baseline', '20240102090000'], { cwd })
    expect(baseline.code, baseline.stderr).toBe(0)
    expect(sqliteTables(dbFile)).toEqual(['dbops_migrations']) // nothing ran
    expect(ledgerVersions(dbFile)).toEqual(REPO_VERSIONS.slice(0, 2))

    const status = await runCli(['--url', url, 'migrate', 'status'], { cwd })
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(/^20240101120000\s+\S+\s+baselined\b/m)
    expect(status.stdout).toMatch(/^20240102090000\s+\S+\s+baselined\b/m)
    expect(status.stdout).toMatch(/^20240103150000\s+\S+\s+pending\b/m)
    expect((await runCli(['--url', url, 'migrate', 'status', '--check'], { cwd })).code).toBe(1)

    // A second baseline is refused and changes nothing.
    const again = await runCli(['--url', url, 'migrate', 'baseline', '20240103150000'], { cwd })
    expect(again.code).toBe(2)
    noStackTrace(again)
    expect(ledgerVersions(dbFile)).toEqual(REPO_VERSIONS.slice(0, 2))
  })

  it('config show resolves ${VAR:-default} and ${VAR}, with passwords redacted', async ({ expect }) => {
    const cwd = path.join(tmp.path, 'config-show')
    write(cwd, {
      'dbops.config.json': JSON.stringify({
        defaultTarget: 'app',
        targets: {
          app: { url: '${DBOPS_E2E_APP_URL:-sqlite:./fallback.db}' },
          pg: {
            url: 'postgres://${DBOPS_E2E_USER:-alice}:${DBOPS_E2E_PASSWORD:-}@${DBOPS_E2E_HOST:-127.0.0.1}:5432/app',
          },
        },
      }),
    })
    const unset = {
      DBOPS_E2E_APP_URL: undefined,
      DBOPS_E2E_USER: undefined,
      DBOPS_E2E_PASSWORD: undefined,
      DBOPS_E2E_HOST: undefined,
    }
    const defaults = await runCli(['config', 'show'], { cwd, env: unset })
    expect(defaults.code, defaults.stderr).toBe(0)
    expect(defaults.stdout).toContain('sqlite:./fallback.db')
    expect(defaults.stdout).toMatch(/postgres:\/\/alice(:\*+)?@127\.0\.0\.1:5432\/app/)

    const set = {
      DBOPS_E2E_APP_URL: 'sqlite:./other.db',
      DBOPS_E2E_USER: 'bob',
      DBOPS_E2E_PASSWORD: 'Hunter2Secret',
      DBOPS_E2E_HOST: 'db.internal',
    }
    const human = await runCli(['config', 'show'], { cwd, env: set })
    expect(human.code).toBe(0)
    expect(human.stdout).toContain('sqlite:./other.db')
    expect(human.stdout).toContain('postgres://bob:***@db.internal:5432/app')
    const json = await runCli(['config', 'show', '--json'], { cwd, env: set })
    expect(json.code).toBe(0)
    const document = parseJson(json)
    expect(document.defaultTarget).toBe('app')
    expect(document.targets.app.url).toBe('sqlite:./other.db')
    expect(document.targets.pg.url).toBe('postgres://bob:***@db.internal:5432/app')
    expect(human.stdout + human.stderr + json.stdout + json.stderr).not.toContain('Hunter2Secret')
    // config show reads no database.
    expect(existsSync(path.join(cwd, 'other.db'))).toBe(false)
  })

  it('NO_COLOR and piped output: no escape characters anywhere', async ({ expect }) => {
    const cwd = exampleProject(tmp.path, 'no-color-pipe')
    const runs = [
      await runCli(['migrate', 'up'], { cwd }),
      await runCli(['migrate', 'status'], { cwd }),
      await runCli(['migrate', 'validate'], { cwd }),
      await runCli(['migrate', 'up', '--to', '999'], { cwd }),
      await runCli(['--help'], { cwd }),
      // Even with colour forced by the environment, NO_COLOR wins.
      await runCli(['migrate', 'status'], { cwd, env: { FORCE_COLOR: '1' } }),
    ]
    for (const result of runs) expect(result.stdout + result.stderr).not.toContain(ESC)
  })

  it.skipIf(!haveScript)('on a terminal: colours by default, none with NO_COLOR or --no-color', async ({ expect }) => {
    const cwd = exampleProject(tmp.path, 'no-color-tty')
    expect((await runCli(['migrate', 'up'], { cwd })).code).toBe(0)
    const commands = [
      dbopsLine(['migrate', 'status'], 10),
      dbopsLine(['migrate', 'validate'], 10),
      dbopsLine(['migrate', 'up', '--to', '999'], 10),
    ].join('; ')
    const coloured = await runInPty(commands, cwd, { NO_COLOR: undefined })
    expect(coloured.output).toContain('20240101120000') // the pty really carried the output
    expect(coloured.output).toContain(`${ESC}[`) // and colours are on without NO_COLOR
    const noColor = await runInPty(commands, cwd, { NO_COLOR: '1' })
    expect(noColor.output).toContain('20240101120000')
    expect(noColor.output).not.toContain(ESC)
    const flag = await runInPty(commands.replace(/'migrate'/g, "'--no-color' 'migrate'"), cwd, { NO_COLOR: undefined })
    expect(flag.output).toContain('20240101120000')
    expect(flag.output).not.toContain(ESC)
  })

  it.skipIf(!haveScript)(
    'on a terminal with NO_COLOR, migrate up finishes by itself and prints no escape characters',
    async ({ expect }) => {
      const cwd = exampleProject(tmp.path, 'tty-up')
      const started = Date.now()
      // `timeout -s KILL 5` ends a hung run; exit 137 then.
      const result = await runInPty(dbopsLine(['migrate', 'up'], 5), cwd, { NO_COLOR: '1' })
      // The work itself is done either way.
      expect(ledgerVersions(path.join(cwd, 'dev.db'))).toEqual(REPO_VERSIONS)
      expect(
        result.code,
        `killed after 5 s (exit 137) means it hung; output starts:\n${JSON.stringify(result.output.slice(0, 400))}`,
      ).toBe(0)
      expect(Date.now() - started).toBeLessThan(5000)
      expect(result.output).toMatch(/applied 3 migrations/)
      expect(result.output).not.toContain(ESC)
    },
  )
})

describe('cli on PostgreSQL', () => {
  const db = usePgDatabase('dbops_e2e_cli')
  const tmp = useTempDir('dbops-e2e-cli-pg')
  let counter = 0

  beforeAll(() => {
    write(tmp.path, { 'package.json': '{ "name": "dbops-e2e-cli-pg", "private": true }\n' })
  })

  /** A project dir with these migrations, and an empty public schema. */
  async function project(files: Record<string, string>): Promise<string> {
    await pgQuery(db.url, 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;')
    const dir = path.join(tmp.path, `p${++counter}`)
    write(dir, files)
    return dir
  }

  const simple = {
    'migrations/001_one.sql': '-- migrate:up\nCREATE TABLE one (id int);\n\n-- migrate:down\nDROP TABLE one;\n',
    'migrations/002_two.sql':
      '-- migrate:up\nCREATE TABLE two (id int);\nCREATE INDEX two_id ON two (id);\n\n-- migrate:down\nDROP TABLE two;\n',
  }

  it('--dry-run prints the SQL, takes no lock, creates nothing (not even the ledger)', async () => {
    const cwd = await project(simple)
    // Hold dbops's migration lock from another session: a dry run must not wait for it.
    const holder = new pg.Client({ connectionString: db.url })
    await holder.connect()
    try {
      await holder.query(
        `SELECT pg_advisory_lock(${0x64626f70}, hashtext(current_database() || '.' || 'public.dbops_migrations'))`,
      )
      // Had it tried to take the lock, it would give up after 1 s with exit 2.
      const dry = await runCli(['--url', db.url, 'migrate', 'up', '--dry-run', '--lock-timeout', '1s'], { cwd })
      expect(dry.code, dry.stderr).toBe(0)
      expect(dry.stderr).not.toMatch(/waiting for the migration lock/)
      expect(dry.stdout).toContain('001_one')
      expect(dry.stdout).toContain('CREATE TABLE one')
      expect(dry.stdout).toContain('CREATE INDEX two_id')
      expect(await pgTables(db.url)).toEqual([])
      const schemas = await pgQuery(db.url, `SELECT 1 FROM pg_tables WHERE tablename = 'dbops_migrations'`)
      expect(schemas).toEqual([])

      // Sanity check of the lock above: a real run does wait for it, and gives up with exit 2.
      const real = await runCli(['--url', db.url, 'migrate', 'up', '--lock-timeout', '500ms', '--json'], { cwd })
      expect(real.code).toBe(2)
      expect(parseJson(real).error.code).toMatch(/LOCK_TIMEOUT/)
      expect((await pgTables(db.url)).filter((t) => t !== 'dbops_migrations')).toEqual([])
    } finally {
      await holder.end()
    }
  })

  it('resolve after a failed transaction:false migration', async () => {
    const cwd = await project({
      'migrations/001_ok.sql': '-- migrate:up\nCREATE TABLE ok_t (id int);\n\n-- migrate:down\nDROP TABLE ok_t;\n',
      'migrations/002_a.sql':
        '-- migrate:up transaction:false\nCREATE TABLE a(id int);\nCREATE TABLE a(id int);\n\n-- migrate:down transaction:false\nDROP TABLE a;\n',
    })
    const run = (...args: string[]) => runCli(['--url', db.url, ...args], { cwd })

    const up = await run('migrate', 'up')
    expect(up.code).toBe(2)
    expect(up.stderr).toMatch(/^error: .*002_a\.sql:3:\d+.*already exists/m)
    noStackTrace(up)
    expect(await pgTables(db.url)).toEqual(['a', 'dbops_migrations', 'ok_t']) // the first statement did run
    const [row] = await pgQuery(
      db.url,
      `SELECT status, error, error_statement FROM dbops_migrations WHERE version = '002'`,
    )
    expect(row).toMatchObject({ status: 'failed', error_statement: 'CREATE TABLE a(id int)' })

    const status = await run('migrate', 'status')
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(/^002\s+a\s+failed\b/m)
    expect(status.stdout).toContain('002_a.sql:3')
    expect.soft(status.stdout, 'status names the statement that failed').toContain('CREATE TABLE a(id int)')
    expect((await run('migrate', 'status', '--check')).code).toBe(1)
    const statusJson = parseJson(await run('migrate', 'status', '--json'))
    expect(statusJson.migrations.find((m: any) => m.version === '002')).toMatchObject({ state: 'failed' })

    const refused = await run('migrate', 'up')
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/resolve 002/)
    noStackTrace(refused)
    const refusedJson = await run('migrate', 'up', '--json')
    expect(refusedJson.code).toBe(2)
    expect(parseJson(refusedJson).ok).toBe(false)

    const noFlag = await run('migrate', 'resolve', '002')
    expect(noFlag.code).toBe(3)

    const resolved = await run('migrate', 'resolve', '002', '--rolled-back')
    expect(resolved.code, resolved.stderr).toBe(0)
    expect(await pgQuery(db.url, `SELECT 1 FROM dbops_migrations WHERE version = '002'`)).toEqual([])
    expect((await run('migrate', 'resolve', '002', '--rolled-back')).code).toBe(2) // nothing left to resolve

    // Undo the half-applied part by hand, fix the file, and up completes.
    await pgQuery(db.url, 'DROP TABLE a')
    write(cwd, {
      'migrations/002_a.sql':
        '-- migrate:up transaction:false\nCREATE TABLE a(id int);\n\n-- migrate:down transaction:false\nDROP TABLE a;\n',
    })
    const again = await run('migrate', 'up')
    expect(again.code, again.stderr).toBe(0)
    const final = await run('migrate', 'status', '--check')
    expect(final.code).toBe(0)
    expect(final.stdout).toMatch(/^002\s+a\s+applied\b/m)
  })

  it('--all runs every target: one result each, good ones applied, worst exit code, --json has targets', async () => {
    const cwd = await project({
      'migrations/001_all.sql': '-- migrate:up\nCREATE TABLE all_t (id int);\n\n-- migrate:down\nDROP TABLE all_t;\n',
    })
    write(cwd, {
      'dbops.config.json': JSON.stringify({
        defaultTarget: 'lite',
        targets: {
          lite: { url: 'sqlite:./lite.db' },
          pg: { url: db.url },
          broken: { url: 'postgres://postgres@127.0.0.1:1/x' },
        },
      }),
    })
    const up = await runCli(['--all', 'migrate', 'up'], { cwd })
    expect(up.code).toBe(2)
    expect(up.stdout).toMatch(/^lite \(\/\S+\/lite\.db\): applied 1 migration\b/m)
    expect(up.stdout).toMatch(/^pg \(postgres:\/\/\S+\): applied 1 migration\b/m)
    expect(up.stdout).toMatch(/3 target\(s\): 2 ok, 1 failed/)
    expect(up.stderr).toMatch(/^\[broken\] error: .*127\.0\.0\.1:1/m)
    expect(up.stderr.split('\n').filter((l) => l.includes('error:'))).toHaveLength(1)
    noStackTrace(up)
    expect(ledgerVersions(path.join(cwd, 'lite.db'))).toEqual(['001'])
    expect(sqliteTables(path.join(cwd, 'lite.db'))).toContain('all_t')
    expect(await pgTables(db.url)).toEqual(['all_t', 'dbops_migrations'])

    const json = await runCli(['--all', 'migrate', 'status', '--json'], { cwd })
    expect(json.code).toBe(2)
    const document = parseJson(json)
    expect(document.ok).toBe(false)
    expect(document.targets).toHaveLength(3)
    const byName = Object.fromEntries(document.targets.map((t: any) => [t.target, t]))
    expect(byName.lite).toMatchObject({ ok: true, upToDate: true })
    expect(byName.pg).toMatchObject({ ok: true, upToDate: true })
    expect(byName.broken).toMatchObject({ ok: false, error: { code: expect.stringMatching(/^E_/) } })
  })

  it('wait: exit 0 against the live server, exit 2 within seconds against a closed port', async () => {
    const live = await runCli(['--url', db.url, 'wait'])
    expect(live.code, live.stderr).toBe(0)
    expect(live.stdout).toMatch(/accepting connections/)

    const started = Date.now()
    const closed = await runCli(['--url', 'postgres://postgres@127.0.0.1:1/x', 'wait', '--timeout', '1s'])
    const elapsed = Date.now() - started
    expect(closed.code).toBe(2)
    expect(elapsed).toBeGreaterThanOrEqual(1000)
    expect(elapsed).toBeLessThan(5000)
    const errors = closed.stderr.split('\n').filter((l) => l.startsWith('error:'))
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/1s/)
    noStackTrace(closed)

    const json = await runCli(['--url', 'postgres://postgres@127.0.0.1:1/x', 'wait', '--timeout', '1s', '--json'])
    expect(json.code).toBe(2)
    expect(parseJson(json)).toMatchObject({ ok: false, error: { code: expect.stringMatching(/^E_/) } })
  })
})
