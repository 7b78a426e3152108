// Data is never changed on the way in: what PostgreSQL refuses (invalid UTF-8, an integer out of range, 1.5 for an
// integer, a JSON trailing comma) is an error naming file, line and column on SQLite too, and nothing is loaded.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pgQuery, runCli, tempDir, usePgDatabase } from '../helpers/databases.js'

const MIGRATION = '-- migrate:up\nCREATE TABLE items (id INTEGER PRIMARY KEY, qty INTEGER, price REAL, name TEXT);\n'

function project(root: string, name: string, files: Record<string, string | Buffer>): string {
  const dir = path.join(root, name)
  for (const [file, content] of Object.entries({ 'migrations/001_items.sql': MIGRATION, ...files })) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
    writeFileSync(path.join(dir, file), content)
  }
  return dir
}

function sqliteRows(url: string, sql: string): Record<string, unknown>[] {
  const database = new Database(url.slice('sqlite:'.length), { readonly: true })
  try {
    return database.prepare(sql).all() as Record<string, unknown>[]
  } finally {
    database.close()
  }
}

/** migrate up, then seed run --json: the seed's exit code and error. */
async function seed(
  dir: string,
  url: string,
): Promise<{ code: number | null; error: { code: string; message: string } | undefined }> {
  const up = await runCli(['migrate', 'up', '--url', url], { cwd: dir })
  expect(up.code, up.stderr).toBe(0)
  const result = await runCli(['seed', 'run', '--url', url, '--json'], { cwd: dir })
  return { code: result.code, error: JSON.parse(result.stdout).error }
}

const LATIN1_CAFE = Buffer.concat([
  Buffer.from('id,qty,price,name\n1,1,1.5,ok\n2,1,1.5,caf'),
  Buffer.from([0xe9]),
  Buffer.from(' au lait\n'),
])

describe('seed and migration input is taken as written, or refused', () => {
  const pg = usePgDatabase('dbops_fidelity')
  let root: string
  beforeAll(() => {
    root = tempDir('dbops-fidelity')
  })
  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true })
  })

  const refused: [string, string, string | Buffer, RegExp][] = [
    [
      'an integer beyond 64 bits',
      'items.csv',
      'id,qty,price,name\n1,1,1.5,a\n2,99999999999999999999,1.5,b\n',
      /fixtures\/items\.csv:3 \(column qty\): .*99999999999999999999.* out of range/,
    ],
    [
      '1.5 for an INTEGER column',
      'items.csv',
      'id,qty,price,name\n1,1.5,1.5,a\n',
      /fixtures\/items\.csv:2 \(column qty\): ("1\.5" is not an integer|invalid input syntax for type integer: "1\.5")/,
    ],
    [
      '1e999 for a REAL column (SQLite would store Inf)',
      'items.csv',
      'id,qty,price,name\n1,1,1e999,a\n',
      /fixtures\/items\.csv:2 \(column price\): .*out of range/,
    ],
    [
      'a JSON trailing comma',
      'items.json',
      '[\n  {"id": 1, "qty": 1},\n  {"id": 2, "qty": 2},\n]\n',
      /fixtures\/items\.json:3:22: .*trailing comma/,
    ],
  ]
  for (const engine of ['sqlite', 'postgres'] as const) {
    for (const [what, file, content, message] of refused) {
      it(`${engine}: ${what} is refused, nothing loaded`, async () => {
        const dir = project(root, `${engine}-${file}-${what.replace(/\W+/g, '-')}`, { [`fixtures/${file}`]: content })
        const url = engine === 'sqlite' ? `sqlite:${path.join(dir, 'app.db')}` : pg.url
        if (engine === 'postgres') await pgQuery(url, 'DROP TABLE IF EXISTS items, dbops_migrations, dbops_seeds')
        const { code, error } = await seed(dir, url)
        expect(code).toBe(2)
        expect(error?.code).toBe('E_SEED_FAILED')
        expect(error?.message).toMatch(message)
        const count =
          engine === 'sqlite'
            ? sqliteRows(url, 'SELECT count(*) AS n FROM items')[0]!.n
            : (await pgQuery(url, 'SELECT count(*)::int AS n FROM items'))[0]!.n
        expect(count).toBe(0)
      })
    }
  }

  it('sqlite: invalid UTF-8 in a CSV is refused at its line and column, not stored as U+FFFD', async () => {
    const dir = project(root, 'latin1-csv', { 'fixtures/items.csv': LATIN1_CAFE })
    const url = `sqlite:${path.join(dir, 'app.db')}`
    const { code, error } = await seed(dir, url)
    expect(code).toBe(2)
    expect(error?.message).toMatch(/^seed fixtures\/items\.csv:3:12: not valid UTF-8 \(byte 0xE9\)/)
    expect(sqliteRows(url, 'SELECT count(*) AS n FROM items')).toEqual([{ n: 0 }])
  })

  it('sqlite: invalid UTF-8 in a SQL seed and in a migration is refused at its line and column', async () => {
    const sqlSeed = Buffer.concat([
      Buffer.from("INSERT INTO items (id, name) VALUES (1, 'ok');\nINSERT INTO items (id, name) VALUES (2, '"),
      Buffer.from([0xff]),
      Buffer.from("');\n"),
    ])
    const dir = project(root, 'latin1-sql', { 'fixtures/items.sql': sqlSeed })
    const url = `sqlite:${path.join(dir, 'app.db')}`
    const { code, error } = await seed(dir, url)
    expect(code).toBe(2)
    expect(error?.message).toMatch(/^seed fixtures\/items\.sql:2:42: not valid UTF-8 \(byte 0xFF\)/)
    expect(sqliteRows(url, 'SELECT count(*) AS n FROM items')).toEqual([{ n: 0 }])

    writeFileSync(
      path.join(dir, 'migrations', '002_default.sql'),
      Buffer.concat([
        Buffer.from("-- migrate:up\nALTER TABLE items ADD COLUMN label TEXT DEFAULT 'caf"),
        Buffer.from([0xe9]),
        Buffer.from("';\n"),
      ]),
    )
    const up = await runCli(['migrate', 'up', '--url', url, '--json'], { cwd: dir })
    expect(up.code).toBe(2)
    expect(JSON.parse(up.stdout).error).toMatchObject({
      code: 'E_MIGRATION_PARSE',
      message: expect.stringMatching(/^migrations\/002_default\.sql:2:53: not valid UTF-8 \(byte 0xE9\)$/),
    })
    expect(sqliteRows(url, "SELECT name FROM pragma_table_info('items') WHERE name = 'label'")).toEqual([])
  })

  it('sqlite: exact integers within 64 bits load exactly; REAL columns take 1.5', async () => {
    const csv =
      'id,qty,price,name\n1, +42 ,1.5,a\n2,-9223372036854775808,2,b\n3,9223372036854775807,2.25,c\n4,0009007199254740993,1e3,d\n'
    const dir = project(root, 'exact', { 'fixtures/items.csv': csv })
    const url = `sqlite:${path.join(dir, 'app.db')}`
    const { code, error } = await seed(dir, url)
    expect(code, error?.message).toBe(0)
    expect(
      sqliteRows(
        url,
        'SELECT id, CAST(qty AS TEXT) AS qty, typeof(qty) AS qtyType, price, typeof(price) AS priceType FROM items ORDER BY id',
      ),
    ).toEqual([
      { id: 1, qty: '42', qtyType: 'integer', price: 1.5, priceType: 'real' },
      { id: 2, qty: '-9223372036854775808', qtyType: 'integer', price: 2, priceType: 'real' },
      { id: 3, qty: '9223372036854775807', qtyType: 'integer', price: 2.25, priceType: 'real' },
      { id: 4, qty: '9007199254740993', qtyType: 'integer', price: 1000, priceType: 'real' },
    ])
  })

  it('sqlite: a JSON number for an INTEGER column must be an exact integer', async () => {
    const dir = project(root, 'json-numbers', {
      'fixtures/items.json': '[{"id": 1, "qty": 2.0}, {"id": 2, "qty": 12345678901234567890}]\n',
    })
    const url = `sqlite:${path.join(dir, 'app.db')}`
    const { code, error } = await seed(dir, url)
    expect(code).toBe(2)
    expect(error?.message).toMatch(
      /items\.json:1 \(element 1, column qty\): 12345678901234567890 is out of range for column qty/,
    )
    expect(sqliteRows(url, 'SELECT count(*) AS n FROM items')).toEqual([{ n: 0 }])
  })
})
