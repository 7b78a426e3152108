import { existsSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { createPgDatabase, pgQuery, pgServerUrl, sqliteUrl, usePgDatabase, useTempDir } from '../helpers/databases.js'

const dbExists = async (name: string) =>
  (await pgQuery(pgServerUrl(), 'select 1 from pg_database where datname = $1', [name])).length === 1

describe('test helpers', () => {
  const db = usePgDatabase()
  const tmp = useTempDir('dbops-helpers')

  it('usePgDatabase() creates a database that exists on the server and accepts connections', async () => {
    expect(db.name).toMatch(new RegExp(`^dbops_test_${process.pid}_[0-9a-f]+$`))
    expect(await dbExists(db.name)).toBe(true)
    const rows = await pgQuery<{ db: string }>(db.url, 'select current_database() as db')
    expect(rows).toEqual([{ db: db.name }])
  })

  it('createPgDatabase() + drop() removes the database (drop is idempotent)', async () => {
    const other = await createPgDatabase('dbops_helpers')
    expect(other.name).not.toBe(db.name)
    expect(await dbExists(other.name)).toBe(true)
    // An open connection must not block the drop (WITH (FORCE)).
    const pg = (await import('pg')).default
    const client = new pg.Client({ connectionString: other.url })
    client.on('error', () => {})
    await client.connect()
    try {
      await other.drop()
    } finally {
      await client.end().catch(() => {})
    }
    expect(await dbExists(other.name)).toBe(false)
    await other.drop()
  })

  it('useTempDir() + sqliteUrl() give a usable SQLite file path', () => {
    expect(existsSync(tmp.path)).toBe(true)
    const url = sqliteUrl(tmp.path)
    expect(url).toBe(`sqlite:${path.join(tmp.path, 'test.db')}`)
    const file = url.slice('sqlite:'.length)
    expect(path.isAbsolute(file)).toBe(true)
    const sqlite = new Database(file)
    try {
      sqlite.exec('create table t (x integer); insert into t values (42)')
      expect(sqlite.prepare('select x from t').get()).toEqual({ x: 42 })
    } finally {
      sqlite.close()
    }
    expect(existsSync(file)).toBe(true)
  })
})

describe('test suite layout', () => {
  it('a unit-only run needs no PostgreSQL: the global setup (probe, throwaway cluster) belongs to the database tests', async () => {
    const { spawn } = await import('node:child_process')
    const { REPO_ROOT } = await import('../helpers/databases.js')
    // A server URL nobody answers: the global setup would log its probe failure and try to start a cluster.
    const child = spawn(
      process.execPath,
      [path.join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'test/unit/config/duration.test.ts'],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, DBOPS_TEST_PG_URL: 'postgres://postgres@127.0.0.1:1/none', NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    expect(code, output).toBe(0)
    expect(output).toMatch(/Tests\s+\d+ passed/)
    expect(output).not.toContain('[dbops test setup]')
  })
})
