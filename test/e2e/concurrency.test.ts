// Real processes, real signals: several CLIs at once, SIGKILL mid-migration, a backend terminated by the server.
import { describe, expect, it } from 'vitest'
import { pgQuery, runCli, spawnCli, waitForExit } from '../helpers/databases.js'
import { ENGINES, ledgerVersions, makeProject, migration, tableNames, type Project } from '../helpers/projects.js'

const cli = (project: Project, args: string[]) => runCli(['--url', project.url, ...args], { cwd: project.dir })

function manyMigrations(count: number): Record<string, string> {
  const files: Record<string, string> = {}
  for (let i = 1; i <= count; i++) {
    const version = String(20240101000000 + i)
    files[`${version}_m${i}.sql`] = migration(
      `CREATE TABLE t${i} (id integer PRIMARY KEY, n integer);\nINSERT INTO t${i} VALUES (1, ${i}), (2, ${i});`,
      `DROP TABLE t${i};`,
    )
  }
  return files
}

async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe.each(ENGINES)('concurrent and interrupted runs on %s', (engine) => {
  it('8 processes running migrate up at once apply every migration exactly once', async () => {
    const project = await makeProject(engine, manyMigrations(30))
    const runs = await Promise.all(Array.from({ length: 8 }, () => cli(project, ['migrate', 'up'])))
    for (const run of runs) expect({ code: run.code, stderr: run.stderr }).toMatchObject({ code: 0 })
    const applications = runs.flatMap((run) =>
      run.stderr.split('\n').filter((line) => /^applying .* done in/.test(line)),
    )
    expect(applications).toHaveLength(30)
    expect(new Set(applications.map((line) => line.split(' ')[1])).size).toBe(30)
    const versions = await ledgerVersions(project)
    expect(versions).toHaveLength(30)
    expect(versions).toEqual([...versions].sort())
    expect(await tableNames(project)).toHaveLength(30)
  })

  it('a process killed with SIGKILL mid-migration leaves a migration boundary, and the next up completes', async () => {
    const long =
      engine === 'postgres'
        ? 'CREATE TABLE big (n integer);\nINSERT INTO big SELECT g FROM generate_series(1, 200000) g;\nSELECT pg_sleep(2);'
        : 'CREATE TABLE big (n integer);\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) INSERT INTO big SELECT x FROM c;'
    const project = await makeProject(engine, {
      '001_small.sql': migration('CREATE TABLE small (id integer);'),
      '002_long.sql': migration(long),
      '003_after.sql': migration('CREATE TABLE after_long (id integer);'),
    })
    const child = spawnCli(['--url', project.url, 'migrate', 'up'], { cwd: project.dir })
    const exited = waitForExit(child)
    if (engine === 'postgres') {
      await until(
        async () =>
          (
            await pgQuery(
              project.url,
              `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_sleep(2)%' AND pid <> pg_backend_pid()`,
            )
          ).length > 0,
        20_000,
      )
    } else {
      // The first migration is committed: the run is inside the long insert (a fixed delay raced a faster start-up).
      await until(async () => (await ledgerVersions(project).catch((): string[] => [])).includes('001'), 20_000)
    }
    child.kill('SIGKILL')
    const killed = await exited
    expect(killed.signal).toBe('SIGKILL')

    const applied = await ledgerVersions(project)
    expect([['001'], ['001', '002']]).toContainEqual(applied)
    if (applied.includes('002'))
      expect(await project.query('SELECT count(*) AS n FROM big')).toEqual([
        { n: engine === 'postgres' ? '200000' : 3000000 },
      ])
    else expect(await tableNames(project)).toEqual(['small'])
    if (engine === 'sqlite') expect(await project.query('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }])

    const rerun = await cli(project, ['migrate', 'up'])
    expect(rerun.stderr).not.toMatch(/error/)
    expect(rerun.code).toBe(0)
    expect(await ledgerVersions(project)).toEqual(['001', '002', '003'])
  })
})

describe('PostgreSQL faults', () => {
  it('a backend terminated mid-migration gives a clear error, exit 2, and a database at a boundary', async () => {
    const project = await makeProject('postgres', {
      '001_small.sql': migration('CREATE TABLE small (id integer);'),
      '002_slow.sql': migration('CREATE TABLE slow (id integer);\nSELECT pg_sleep(20);'),
    })
    const child = spawnCli(['--url', project.url, 'migrate', 'up'], { cwd: project.dir })
    const exited = waitForExit(child)
    await until(
      async () =>
        (
          await pgQuery(
            project.url,
            `SELECT 1 FROM pg_stat_activity WHERE application_name = 'dbops migrate up' AND datname = current_database() AND query LIKE '%pg_sleep(20)%'`,
          )
        ).length > 0,
      20_000,
    )
    await pgQuery(
      project.url,
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'dbops migrate up' AND datname = current_database()`,
    )
    const result = await exited
    expect(result.code).toBe(2)
    const lines = result.stderr
      .trim()
      .split('\n')
      .filter((line) => !/^applying .* done/.test(line))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(
      /^error: lost the connection to postgres:\/\/.*: terminating connection due to administrator command/,
    )
    expect(result.stderr).not.toMatch(/^\s+at /m)
    expect(await ledgerVersions(project)).toEqual(['001'])
    expect(await tableNames(project)).toEqual(['small'])
  })

  it('a second run waits for the lock, says who holds it, and gives up after --lock-timeout', async () => {
    const project = await makeProject('postgres', { '001_slow.sql': migration('SELECT pg_sleep(3);') })
    const first = spawnCli(['--url', project.url, 'migrate', 'up'], { cwd: project.dir })
    const firstExit = waitForExit(first)
    await until(
      async () =>
        (
          await pgQuery(
            project.url,
            `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_sleep(3)%' AND pid <> pg_backend_pid()`,
          )
        ).length > 0,
      20_000,
    )
    const second = await cli(project, ['migrate', 'up', '--lock-timeout', '500ms', '--json'])
    expect(second.code).toBe(2)
    expect(second.stderr).toMatch(/waiting for the migration lock, held by pid \d+, "dbops migrate up"/)
    expect(JSON.parse(second.stdout).error.code).toBe('E_MIGRATION_LOCK_TIMEOUT')
    expect((await firstExit).code).toBe(0)
    expect(await ledgerVersions(project)).toEqual(['001'])
  })
})
