// dbops seed through the built CLI: the README quick start on SQLite, exit codes and one-line errors for bad
// input, --json documents, and a bad value on PostgreSQL leaving the database as it was.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { REPO_ROOT, pgQuery, runCli, tempDir, usePgDatabase, type CliResult } from '../helpers/databases.js'

function exampleProject(config?: unknown): string {
  const dir = tempDir('dbops-seed-e2e')
  cpSync(path.join(REPO_ROOT, 'migrations'), path.join(dir, 'migrations'), { recursive: true })
  cpSync(path.join(REPO_ROOT, 'fixtures'), path.join(dir, 'fixtures'), { recursive: true })
  if (config !== undefined) writeFileSync(path.join(dir, 'dbops.config.json'), JSON.stringify(config))
  return dir
}

const env = { DATABASE_URL: undefined }

async function countUsers(engine: 'sqlite' | 'postgres', url: string): Promise<number> {
  if (engine === 'postgres') return (await pgQuery(url, 'SELECT count(*)::int AS n FROM users'))[0]!.n
  const database = new Database(url.slice('sqlite:'.length))
  try {
    return (database.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n
  } finally {
    database.close()
  }
}

function oneErrorLine(result: CliResult): string {
  const lines = result.stderr.split('\n').filter((line) => line.trim() !== '')
  const errors = lines.filter((line) => line.startsWith('error: '))
  expect(errors, result.stderr).toHaveLength(1)
  expect(result.stderr).not.toMatch(/^ {4}at /m)
  return errors[0]!
}

describe('dbops seed (CLI)', () => {
  const raceDb = usePgDatabase('dbops_seed_race')
  it('runs the example fixtures after migrate up (README quick start), then has nothing to do', async () => {
    const dir = exampleProject()
    try {
      expect((await runCli(['migrate', 'up'], { cwd: dir, env })).code).toBe(0)
      const first = await runCli(['seed', 'run'], { cwd: dir, env })
      expect(first.code, first.stderr).toBe(0)
      expect(first.stdout).toMatch(/ran 3 seeds \(6 rows\)/)
      expect(first.stderr).toMatch(/seeding 01_users\.csv \.\.\. 3 rows in/)
      const again = await runCli(['seed', 'run', '--json'], { cwd: dir, env })
      expect(again.code).toBe(0)
      const document = JSON.parse(again.stdout)
      expect(document).toMatchObject({ ok: true, target: 'default', dryRun: false })
      expect(document.seeds.map((seed: { status: string }) => seed.status)).toEqual(['skipped', 'skipped', 'skipped'])
      const status = await runCli(['seed', 'status', '--check'], { cwd: dir, env })
      expect(status.code).toBe(0)
      expect(status.stdout).toMatch(/3 applied, 0 new/)

      writeFileSync(
        path.join(dir, 'fixtures/01_users.csv'),
        `${readFileSync(path.join(dir, 'fixtures/01_users.csv'), 'utf8')}4,new@example.com,New\n`,
      )
      const changed = await runCli(['seed', 'run'], { cwd: dir, env })
      expect(changed.code).toBe(2)
      expect(oneErrorLine(changed)).toMatch(/seed 01_users\.csv changed since it was applied.*--force/)
      expect((await runCli(['seed', 'status', '--check'], { cwd: dir, env })).code).toBe(1)
      const changedJson = await runCli(['seed', 'run', '--json'], { cwd: dir, env })
      expect(JSON.parse(changedJson.stdout)).toMatchObject({
        ok: false,
        error: { code: 'E_SEED_CHANGED', details: { changed: ['01_users.csv'] } },
      })
      const reset = await runCli(['seed', 'run', '--reset'], { cwd: dir, env })
      expect(reset.code, reset.stderr).toBe(0)
      expect(reset.stderr).toMatch(/reset: emptied users, posts/)
      expect(reset.stdout).toMatch(/ran 3 seeds \(7 rows\)/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('usage errors exit 3 with one line: unknown environment, unknown seed, protected target, bad --format', async () => {
    const dir = exampleProject({
      targets: { prod: { url: 'sqlite:./prod.db', protected: true } },
      seeds: { environments: { dev: ['.'] } },
    })
    try {
      const unknownEnv = await runCli(['seed', 'run', '--env', 'staging'], { cwd: dir, env })
      expect(unknownEnv.code).toBe(3)
      expect(oneErrorLine(unknownEnv)).toMatch(/unknown seed environment "staging" \(known: dev\)/)
      const unknownSeed = await runCli(['seed', 'run', 'nobody'], { cwd: dir, env })
      expect(unknownSeed.code).toBe(3)
      expect(oneErrorLine(unknownSeed)).toMatch(
        /unknown seed "nobody" \(known: 01_users\.csv, 02_posts\.json, 03_publish_posts\.sql\)/,
      )
      const protectedRun = await runCli(['seed', 'run'], { cwd: dir, env })
      expect(protectedRun.code).toBe(3)
      expect(oneErrorLine(protectedRun)).toMatch(/target "prod" .* is protected.*--allow-protected/)
      const json = await runCli(['seed', 'run', '--json'], { cwd: dir, env })
      expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'E_PROTECTED' } })
      expect(existsSync(path.join(dir, 'prod.db'))).toBe(false)
      const format = await runCli(['seed', 'new', 'users', '--format', 'xml'], { cwd: dir, env })
      expect(format.code).toBe(3)
      const created = await runCli(['seed', 'new', 'tags', '--format', 'csv'], { cwd: dir, env })
      expect(created.code).toBe(0)
      expect(created.stdout.trim()).toBe(`created ${path.join('fixtures', '04_tags.csv')}`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it.each(['sqlite', 'postgres'] as const)('two concurrent runs on %s load each seed exactly once', async (engine) => {
    const dir = tempDir('dbops-seed-e2e-race')
    try {
      const url = engine === 'postgres' ? raceDb.url : `sqlite:${path.join(dir, 'race.db')}`
      writeFileSync(path.join(dir, 'dbops.config.json'), '{}')
      cpSync(path.join(REPO_ROOT, 'migrations'), path.join(dir, 'migrations'), { recursive: true })
      const lines = ['id,email,name']
      for (let i = 1; i <= 20000; i++) lines.push(`${i},user${i}@example.com,User ${i}`)
      mkdirSync(path.join(dir, 'fixtures'))
      writeFileSync(path.join(dir, 'fixtures', '01_users.csv'), `${lines.join('\n')}\n`)
      cpSync(path.join(REPO_ROOT, 'fixtures', '02_posts.json'), path.join(dir, 'fixtures', '02_posts.json'))
      const runEnv = { DATABASE_URL: url }
      expect((await runCli(['migrate', 'up'], { cwd: dir, env: runEnv })).code).toBe(0)
      const [a, b] = await Promise.all([
        runCli(['seed', 'run'], { cwd: dir, env: runEnv }),
        runCli(['seed', 'run'], { cwd: dir, env: runEnv }),
      ])
      expect([a.code, b.code], `${a.stderr}\n${b.stderr}`).toEqual([0, 0])
      const status = await runCli(['seed', 'status', '--json'], { cwd: dir, env: runEnv })
      const document = JSON.parse(status.stdout)
      expect(
        document.seeds.map((seed: { name: string; state: string; rows: number }) => [seed.name, seed.state, seed.rows]),
      ).toEqual([
        ['01_users.csv', 'applied', 20000],
        ['02_posts.json', 'applied', 3],
      ])
      expect(await countUsers(engine, url)).toBe(20000)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  describe('on PostgreSQL', () => {
    const db = usePgDatabase('dbops_seed_e2e')

    it('a bad value exits 2 naming file, line and column; nothing of the file stays; --dry-run writes nothing', async () => {
      const dir = exampleProject()
      try {
        const pgEnv = { DATABASE_URL: db.url }
        expect((await runCli(['migrate', 'up'], { cwd: dir, env: pgEnv })).code).toBe(0)
        const plan = await runCli(['seed', 'run', '--dry-run'], { cwd: dir, env: pgEnv })
        expect(plan.code).toBe(0)
        expect(plan.stdout).toMatch(/01_users\.csv\s+users\s+would run \(new\)/)
        const ledger = await pgQuery(db.url, "SELECT to_regclass('dbops_seeds') AS t")
        expect(ledger[0]!.t).toBeNull()
        writeFileSync(
          path.join(dir, 'fixtures/01_users.csv'),
          'id,email,name\n1,a@example.com,A\n2,b@example.com,B\nthree,c@example.com,C\n',
        )
        const bad = await runCli(['seed', 'run'], { cwd: dir, env: pgEnv })
        expect(bad.code).toBe(2)
        expect(oneErrorLine(bad)).toMatch(
          /seed fixtures\/01_users\.csv:4 \(column id\): invalid input syntax for type integer: "three"/,
        )
        expect(await pgQuery(db.url, 'SELECT count(*)::int AS n FROM users')).toEqual([{ n: 0 }])
        expect((await pgQuery(db.url, "SELECT to_regclass('dbops_seeds') AS t"))[0]!.t).toBeNull()
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })
  })
})
