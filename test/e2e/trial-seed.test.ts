// Seed files are loaded as written or refused with file, row and column: no last-wins duplicate keys, no numbers
// bent by a JavaScript double, no server errors that name no row.
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { beforeAll, describe, expect, it } from 'vitest'
import { pgQuery, runCli, tempDir, usePgDatabase } from '../helpers/databases.js'

const TABLE = 'CREATE TABLE items (id bigint PRIMARY KEY, qty double precision, amount numeric, name text, doc jsonb);'

function project(root: string, name: string, files: Record<string, string>): string {
  const dir = path.join(root, name)
  for (const [file, content] of Object.entries({ 'migrations/001_items.sql': `-- migrate:up\n${TABLE}\n`, ...files })) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
    writeFileSync(path.join(dir, file), content)
  }
  return dir
}

async function seed(dir: string, url: string) {
  const up = await runCli(['migrate', 'up', '--url', url], { cwd: dir })
  expect(up.code, up.stderr).toBe(0)
  const result = await runCli(['seed', 'run', '--url', url, '--json'], { cwd: dir })
  const output = JSON.parse(result.stdout) as { ok: boolean; error?: { code: string; message: string } }
  return { code: result.code, error: output.error }
}

describe('seed fidelity (trial)', () => {
  const pg = usePgDatabase('dbops_trial_seed')
  let root: string
  beforeAll(() => {
    root = tempDir('dbops-trial-seed')
  })

  async function pgItems(): Promise<Record<string, unknown>[]> {
    return pgQuery(pg.url, 'SELECT id::text, amount::text, doc::text FROM items ORDER BY id')
  }

  async function empty(): Promise<void> {
    await pgQuery(pg.url, 'DROP TABLE IF EXISTS items, dbops_seeds, dbops_migrations')
  }

  it.each([
    [
      '.json',
      'items.json',
      '[\n  {"id": 1, "name": "a"},\n  {"id": 2, "name": "b", "id": 3}\n]\n',
      /:3 \(element 1\): key "id" is given twice/,
    ],
    [
      '.ndjson',
      'items.ndjson',
      '{"id": 1}\n{"id": 2, "name": "x", "name": "y"}\n',
      /items\.ndjson:2: key "name" is given twice/,
    ],
  ])(
    'postgres: a key given twice in one %s record is an error naming file and element',
    async (_kind, file, text, message) => {
      await empty()
      const dir = project(root, `dup-${file}`, { [`fixtures/${file}`]: text })
      const { code, error } = await seed(dir, pg.url)
      expect(code).toBe(2)
      expect(error?.message).toMatch(message)
      expect(await pgItems()).toEqual([])
    },
  )

  it('postgres: integers beyond 2^53 and long decimals load digit for digit (bigint, numeric, jsonb)', async () => {
    await empty()
    const dir = project(root, 'exact', {
      'fixtures/items.json':
        '[{"id": 9007199254740993, "amount": 123456789012345678901234567890.123456789, "doc": {"n": 18446744073709551617, "m": [0.1000000000000000055511151231257827]}}]\n',
    })
    const { code, error } = await seed(dir, pg.url)
    expect(code, error?.message).toBe(0)
    expect(await pgItems()).toEqual([
      {
        id: '9007199254740993',
        amount: '123456789012345678901234567890.123456789',
        doc: '{"m": [0.1000000000000000055511151231257827], "n": 18446744073709551617}',
      },
    ])
  })

  it('postgres: 1e400 for a double precision column is refused with its row and column, not loaded as Infinity', async () => {
    await empty()
    const dir = project(root, 'huge', { 'fixtures/items.json': '[{"id": 1, "qty": 1}, {"id": 2, "qty": 1e400}]\n' })
    const { code, error } = await seed(dir, pg.url)
    expect(code).toBe(2)
    expect(error?.message).toMatch(/items\.json:1 \(element 1, column qty\): .*out of range for type double precision/)
    expect(await pgItems()).toEqual([])
  })

  it.each([
    [
      'JSON',
      'items.json',
      '[{"id": 1, "name": "ok"},\n {"id": 2, "name": "a\\u0000b"}]\n',
      /items\.json:2 \(element 1, column name\): a NUL character/,
    ],
    ['CSV', 'items.csv', 'id,name\n1,ok\n2,"a\0b"\n', /items\.csv:3 \(column name\): a NUL character in column name/],
  ])(
    'postgres: a NUL character in %s text is an error naming file, row and column',
    async (_kind, file, text, message) => {
      await empty()
      const dir = project(root, `nul-${file}`, { [`fixtures/${file}`]: text })
      const { code, error } = await seed(dir, pg.url)
      expect(code).toBe(2)
      expect(error?.message).toMatch(message)
      expect(await pgItems()).toEqual([])
    },
  )

  it('a comment in a JSON seed is named as such, at its line and column', async () => {
    await empty()
    const dir = project(root, 'comment', { 'fixtures/items.json': '[\n  // the first item\n  {"id": 1}\n]\n' })
    const { code, error } = await seed(dir, pg.url)
    expect(code).toBe(2)
    expect(error?.message).toMatch(/items\.json:2:3: JSON has no comments/)
  })

  it('sqlite: 2^53 + 1 loads exactly into INTEGER, 1e400 into REAL is refused', async () => {
    const sqliteTable = 'CREATE TABLE items (id INTEGER PRIMARY KEY, qty REAL, amount NUMERIC, name TEXT, doc JSON);'
    const dir = project(root, 'sqlite', {
      'migrations/001_items.sql': `-- migrate:up\n${sqliteTable}\n`,
      'fixtures/01_items.json': '[{"id": 9007199254740993, "doc": {"n": 18446744073709551617}}]\n',
    })
    const url = `sqlite:${path.join(dir, 'app.db')}`
    const first = await seed(dir, url)
    expect(first.code, first.error?.message).toBe(0)
    const database = new Database(path.join(dir, 'app.db'), { readonly: true })
    try {
      expect(database.prepare('SELECT CAST(id AS TEXT) AS id, doc FROM items').all()).toEqual([
        { id: '9007199254740993', doc: '{"n":18446744073709551617}' },
      ])
    } finally {
      database.close()
    }
    writeFileSync(path.join(dir, 'fixtures/02_items.json'), '[{"id": 1, "qty": 1e400}]\n')
    const second = await seed(dir, url)
    expect(second.code).toBe(2)
    expect(second.error?.message).toMatch(/02_items\.json:1 \(element 0, column qty\): 1e400 is out of range/)
  })
})
