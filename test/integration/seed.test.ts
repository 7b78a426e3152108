import { describe, expect, it } from 'vitest'
import { DbopsError, openTarget, seedRun, seedStatus, type Target } from '../../src/index.js'
import type { SeedRunOptions } from '../../src/seed/run.js'
import { ENGINES, makeProject, migration, type EngineName, type Project } from '../helpers/projects.js'

/** The schema the seeds load: roles <- people (FK), tags with an identity, notes referencing people (not seeded). */
function schema(engine: EngineName): Record<string, string> {
  const pg = engine === 'postgres'
  return {
    '001_schema.sql': migration(
      [
        'CREATE TABLE roles (id integer PRIMARY KEY, name text NOT NULL UNIQUE);',
        `CREATE TABLE people (
  id integer PRIMARY KEY,
  role_id integer REFERENCES roles (id),
  name text NOT NULL,
  nick text,
  age integer,
  active boolean,
  born timestamp,
  meta ${pg ? 'jsonb' : 'JSON'}
);`,
        `CREATE TABLE tags (id ${pg ? 'serial PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT'}, label text NOT NULL);`,
        `CREATE TABLE "Odd Table" ("Wéird ""col""" text, n integer);`,
      ].join('\n'),
    ),
  }
}

const ROLES_CSV = 'id,name\n1,admin\n2,"editor, senior"\n'
const PEOPLE_CSV =
  'id,role_id,name,nick,age,active,born\n1,1,Ada,,36,yes,1815-12-10 00:00:00\n2,2,Grace,"",85,false,1906-12-09T10:00:00\n3,,Linus,"the ""penguin""",,1,\n'

async function project(engine: EngineName, fixtures: Record<string, string>, config?: unknown): Promise<Project> {
  const created = await makeProject(engine, schema(engine), config)
  for (const [name, text] of Object.entries(fixtures)) created.write(`fixtures/${name}`, text)
  await withTarget(created, async (target) => {
    const { migrateUp } = await import('../../src/index.js')
    await migrateUp(target)
  })
  return created
}

async function withTarget<T>(project: Project, fn: (target: Target) => Promise<T>, target?: string): Promise<T> {
  const opened = await openTarget({ cwd: project.dir, url: project.url, env: {}, ...(target && { target }) })
  try {
    return await fn(opened)
  } finally {
    await opened.close()
  }
}

const seed = (project: Project, options: SeedRunOptions = {}) =>
  withTarget(project, (target) => seedRun(target, options))

async function failure(promise: Promise<unknown>): Promise<DbopsError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(DbopsError)
  return error as DbopsError
}

async function count(project: Project, table: string): Promise<number> {
  const [row] = await project.query(`SELECT count(*) AS n FROM ${table}`)
  return Number(row!.n)
}

async function ledger(project: Project): Promise<string[]> {
  try {
    return (await project.query('SELECT name FROM dbops_seeds ORDER BY name')).map((row) => String(row.name))
  } catch {
    return ['(no ledger)']
  }
}

describe.each(ENGINES)('seed on %s', (engine) => {
  it('loads CSV, JSON, NDJSON, SQL and TypeScript seeds in order, with types from the table, and records them', async () => {
    const p = await project(
      engine,
      {
        '01_roles.csv': ROLES_CSV,
        '02_people.csv': PEOPLE_CSV,
        '3_more_people.json': JSON.stringify([
          { id: 4, name: 'Tab\there', active: true, meta: { tags: ['a', 'b'], n: 1 }, age: 40 },
          { id: 5, name: 'Back\\slash\nnewline', active: false, meta: [1, 2], nick: null },
        ]),
        '04_people.ndjson': '{"id": 6, "name": "Nd", "age": 7}\n\n{"id": 7, "name": "Json", "role_id": 2}\n',
        '10_tags.sql': "INSERT INTO tags (label) VALUES ('x');\nINSERT INTO tags (label) VALUES ('y');\n",
        '11_odd.ts': `export async function seed(db: any) {\n  await db.insertInto('Odd Table').values({ 'Wéird "col"': 'ok', n: 1 }).execute()\n  return 1\n}\n`,
      },
      { seeds: { tables: { '3_more_people.json': 'people' } } },
    )
    const result = await seed(p)
    expect(result.seeds.map((s) => [s.name, s.status, s.rows])).toEqual([
      ['01_roles.csv', 'applied', 2],
      ['02_people.csv', 'applied', 3],
      ['3_more_people.json', 'applied', 2],
      ['04_people.ndjson', 'applied', 2],
      ['10_tags.sql', 'applied', null],
      ['11_odd.ts', 'applied', 1],
    ])
    const people = await p.query('SELECT id, role_id, name, nick, age, active, meta FROM people ORDER BY id')
    const bool = (value: unknown) =>
      value === null ? null : Boolean(Number(value === true ? 1 : value === false ? 0 : value))
    expect(
      people.map((row) => [row.id, row.nick, row.age === null ? null : Number(row.age), bool(row.active)]),
    ).toEqual([
      [1, null, 36, true], // empty unquoted field: NULL
      [2, '', 85, false], // quoted empty field: ''
      [3, 'the "penguin"', null, true],
      [4, null, 40, true],
      [5, null, null, false],
      [6, null, 7, null],
      [7, null, null, null],
    ])
    expect(people[3]!.name).toBe('Tab\there')
    expect(people[4]!.name).toBe('Back\\slash\nnewline')
    const meta = (value: unknown) => (typeof value === 'string' ? JSON.parse(value) : value)
    expect(meta(people[3]!.meta)).toEqual({ tags: ['a', 'b'], n: 1 })
    expect(meta(people[4]!.meta)).toEqual([1, 2])
    expect((await p.query('SELECT name FROM roles WHERE id = 2'))[0]!.name).toBe('editor, senior')
    expect(await count(p, 'tags')).toBe(2)
    expect(await p.query(`SELECT "Wéird ""col""" AS v FROM "Odd Table"`)).toEqual([{ v: 'ok' }])
    const rows = await p.query('SELECT name, checksum, "rows", execution_ms FROM dbops_seeds ORDER BY name')
    expect(rows).toHaveLength(6)
    for (const row of rows) expect(String(row.checksum)).toMatch(/^sha256:[0-9a-f]{64}$/)
  })

  it('loads tables and columns with capitals, spaces, quotes and unicode from CSV and JSON', async () => {
    const p = await project(
      engine,
      {
        '1_Odd Table.csv': 'n,"Wéird ""col"""\n1,été ☃\n2,""\n',
        '2_odd.ndjson': '{"Wéird \\"col\\"": "ünï", "n": 3}\n',
      },
      { seeds: { tables: { '2_odd.ndjson': 'Odd Table' } } },
    )
    const result = await seed(p)
    expect(result.seeds.map((s) => [s.table, s.rows])).toEqual([
      ['Odd Table', 2],
      ['Odd Table', 1],
    ])
    const rows = await p.query(`SELECT n, "Wéird ""col""" AS v FROM "Odd Table" ORDER BY n`)
    expect(rows.map((row) => [Number(row.n), row.v])).toEqual([
      [1, 'été ☃'],
      [2, ''],
      [3, 'ünï'],
    ])
  })

  it('skips unchanged seeds, refuses changed ones without --force (running nothing), and re-runs them with it', async () => {
    const p = await project(engine, {
      '01_roles.csv': ROLES_CSV,
      '02_tags.sql': "INSERT INTO tags (label) VALUES ('a');\n",
    })
    await seed(p)
    const again = await seed(p)
    expect(again.seeds.map((s) => [s.status, s.reason])).toEqual([
      ['skipped', 'unchanged'],
      ['skipped', 'unchanged'],
    ])
    p.write('fixtures/02_tags.sql', "INSERT INTO tags (label) VALUES ('b');\n")
    p.write('fixtures/03_more.sql', "INSERT INTO tags (label) VALUES ('new');\n")
    const refused = await failure(seed(p))
    expect(refused.code).toBe('E_SEED_CHANGED')
    expect(refused.message).toContain('02_tags.sql')
    expect(await count(p, 'tags')).toBe(1) // the new 03_more.sql did not run either
    const status = await withTarget(p, (target) => seedStatus(target))
    expect(status.seeds.map((s) => [s.name, s.state])).toEqual([
      ['01_roles.csv', 'applied'],
      ['02_tags.sql', 'changed'],
      ['03_more.sql', 'new'],
    ])
    const forced = await seed(p, { force: true })
    expect(forced.seeds.map((s) => [s.name, s.status])).toEqual([
      ['01_roles.csv', 'skipped'],
      ['02_tags.sql', 'applied'],
      ['03_more.sql', 'applied'],
    ])
    expect((await p.query('SELECT label FROM tags ORDER BY id')).map((row) => row.label)).toEqual(['a', 'b', 'new'])
    expect((await withTarget(p, (target) => seedStatus(target))).upToDate).toBe(true)
  })

  it('--reset empties the seeded tables (identities restarted, foreign-key safe) and loads everything again', async () => {
    const p = await project(engine, {
      '01_roles.csv': ROLES_CSV,
      '02_people.csv': PEOPLE_CSV,
      '03_tags.csv': 'label\nfirst\nsecond\n',
    })
    await seed(p)
    await p.query("INSERT INTO tags (label) VALUES ('extra')")
    const result = await seed(p, { reset: true })
    expect(result.reset.sort()).toEqual(['people', 'roles', 'tags'])
    expect(result.seeds.every((s) => s.status === 'applied')).toBe(true)
    expect((await p.query('SELECT id, label FROM tags ORDER BY id')).map((row) => [Number(row.id), row.label])).toEqual(
      [
        [1, 'first'],
        [2, 'second'],
      ],
    )
    expect(await count(p, 'people')).toBe(3)
  })

  it('--reset refuses to empty a table that an unseeded table references, and changes nothing', async () => {
    const p = await project(engine, { '01_roles.csv': ROLES_CSV, '02_people.csv': PEOPLE_CSV })
    await seed(p)
    const error = await failure(seed(p, { reset: true, names: ['01_roles'] }))
    expect(error.code).toBe('E_RESET_REFERENCED')
    expect(error.message).toMatch(/people/)
    expect(await count(p, 'roles')).toBe(2)
    expect(await count(p, 'people')).toBe(3)
  })

  it('a value that does not fit its column names file, line and column, and leaves nothing of that file', async () => {
    const p = await project(engine, {
      '01_roles.csv': ROLES_CSV,
      '02_people.csv': 'id,name,age\n10,A,1\n11,"multi\nline",2\n12,C,abc\n13,D,4\n',
    })
    const error = await failure(seed(p))
    expect(error.code).toBe('E_SEED_FAILED')
    expect(error.message).toMatch(/02_people\.csv:5 \(column age\)/)
    expect(error.hint).toMatch(/1 seed\(s\) before it stay committed \(01_roles\.csv\)/)
    expect(await count(p, 'people')).toBe(0)
    expect(await count(p, 'roles')).toBe(2)
    expect(await ledger(p)).toEqual(['01_roles.csv'])
  })

  it('reports bad JSON, unknown columns, field counts, missing tables and failing SQL with their location; the database is unchanged', async () => {
    const cases: [Record<string, string>, RegExp, string][] = [
      [
        { 'people.json': '[{"id": 1, "name": "a"},\n {"id": 2, "name": "b", "age": "old"}]' },
        /people\.json:2 \(element 1, column age\)/,
        'E_SEED_FAILED',
      ],
      [
        { 'people.json': '[{"id": 1, "name": "a"},\n {"id": 2, "name": }]' },
        /people\.json:2 \(element 1\): element 1 is not valid JSON/,
        'E_SEED_FAILED',
      ],
      [
        { 'people.ndjson': '{"id": 1, "name": "a"}\n{"id": 2, "name": "b", "shoe": 1}\n' },
        /people\.ndjson:1 \(column shoe\): table people has no column "shoe"/,
        'E_SEED_FAILED',
      ],
      [
        { 'people.ndjson': '{"id": 1, "name": "a"}\n{"id": 2, "name": "b", "age": {"x": 1}}\n' },
        /people\.ndjson:2 \(column age\): an object does not fit column age/,
        'E_SEED_FAILED',
      ],
      [
        { 'people.csv': 'id,name,shoe_size\n1,a,3\n' },
        /people\.csv:1 \(column shoe_size\): table people has no column "shoe_size"/,
        'E_SEED_FAILED',
      ],
      [
        { 'people.csv': 'id,name\n1,a\n2,b,c\n' },
        /people\.csv:3: (3 field\(s\), but the header names 2|extra data after last expected column)/,
        'E_SEED_FAILED',
      ],
      [
        { 'people.csv': 'id,name\n1,"open\n' },
        /people\.csv:2: (a quoted field is not closed|unterminated CSV quoted field)/,
        'E_SEED_FAILED',
      ],
      [{ 'people.csv': 'id,name\n1,a\n1,dup\n' }, /people\.csv:3/, 'E_SEED_FAILED'],
      [{ 'ghosts.csv': 'id\n1\n' }, /ghosts\.csv loads table ghosts, which does not exist/, 'E_SEED_TABLE'],
      [
        { 'x.sql': "INSERT INTO tags (label) VALUES ('ok');\n\n  INSERT INTO nowhere VALUES (1);\n" },
        /x\.sql:3:(3|15): .*nowhere/,
        'E_SEED_FAILED',
      ],
      [
        { 'y.sql': 'BEGIN;\nINSERT INTO tags (label) VALUES (1);\nCOMMIT;\n' },
        /y\.sql:1: BEGIN in a seed/,
        'E_SEED_FAILED',
      ],
      [
        {
          'z.ts':
            'export async function seed(db: any) {\n  await db.insertInto("tags").values({ label: "t" }).execute()\n  throw new Error("boom")\n}\n',
        },
        /z\.ts: seed\(\) failed: boom/,
        'E_SEED_FAILED',
      ],
    ]
    const p = await project(engine, {})
    for (const [files, message, code] of cases) {
      const [[name, text]] = Object.entries(files) as [[string, string]]
      p.write(`fixtures/${name}`, text)
      const error = await failure(seed(p, { names: [name] }))
      expect(error.code, name).toBe(code)
      expect(error.message, `${name}: ${error.message}`).toMatch(message)
      expect(await count(p, 'people')).toBe(0)
      expect(await count(p, 'tags')).toBe(0)
      expect(await ledger(p)).toEqual(['(no ledger)']) // a failed first seed does not even leave the ledger behind
      const { rmSync } = await import('node:fs')
      rmSync(`${p.dir}/fixtures/${name}`)
    }
  })

  it('environments pick folders and files; unknown environments and names are usage errors', async () => {
    const p = await project(
      engine,
      { '01_roles.csv': ROLES_CSV, 'dev/02_people.csv': PEOPLE_CSV, 'demo/03_tags.csv': 'label\ndemo\n' },
      {
        seeds: { environments: { dev: ['01_roles.csv', 'dev'], demo: ['*.csv', 'demo'] } },
      },
    )
    const dev = await seed(p, { env: 'dev' })
    expect(dev.seeds.map((s) => s.name)).toEqual(['01_roles.csv', 'dev/02_people.csv'])
    expect(await count(p, 'tags')).toBe(0)
    const demo = await seed(p, { env: 'demo' })
    expect(demo.seeds.map((s) => [s.name, s.status])).toEqual([
      ['01_roles.csv', 'skipped'],
      ['demo/03_tags.csv', 'applied'],
    ])
    const unknownEnv = await failure(seed(p, { env: 'prod' }))
    expect([unknownEnv.code, unknownEnv.message]).toEqual(['E_USAGE', expect.stringContaining('known: dev, demo')])
    const unknownName = await failure(seed(p, { names: ['nope'] }))
    expect([unknownName.code, unknownName.message]).toEqual(['E_USAGE', expect.stringContaining('known: 01_roles.csv')])
  })

  it('a protected target refuses unless allowed; --dry-run plans without creating anything', async () => {
    const base = await makeProject(engine)
    const p = await project(
      engine,
      { '01_roles.csv': ROLES_CSV },
      { targets: { prod: { url: base.url, protected: true } } },
    )
    // The project's own database stays the one the schema went to: point prod at it.
    p.write('dbops.config.json', JSON.stringify({ targets: { prod: { url: p.url, protected: true } } }))
    const refused = await failure(withTarget(p, (target) => seedRun(target), 'prod'))
    expect(refused.code).toBe('E_PROTECTED')
    expect(refused.message).toContain('"prod"')
    expect(await count(p, 'roles')).toBe(0)
    const plan = await withTarget(p, (target) => seedRun(target, { dryRun: true, allowProtected: true }), 'prod')
    expect(plan.seeds.map((s) => [s.name, s.status, s.reason])).toEqual([['01_roles.csv', 'planned', 'new']])
    expect(await ledger(p)).toEqual(['(no ledger)'])
    const done = await withTarget(p, (target) => seedRun(target, { allowProtected: true }), 'prod')
    expect(done.seeds[0]!.rows).toBe(2)
  })

  it('status lists applied seeds whose file is gone as missing', async () => {
    const p = await project(engine, { '01_roles.csv': ROLES_CSV })
    await seed(p)
    const { rmSync } = await import('node:fs')
    rmSync(`${p.dir}/fixtures/01_roles.csv`)
    const status = await withTarget(p, (target) => seedStatus(target))
    expect(status.seeds.map((s) => [s.name, s.state])).toEqual([['01_roles.csv', 'missing']])
    expect(status.upToDate).toBe(false)
  })
})

describe('seed on postgres: locks', () => {
  it('a table locked by another session fails after lock_timeout instead of waiting forever', async () => {
    const p = await project('postgres', { '01_roles.csv': ROLES_CSV }, { migrations: { lockTimeout: '200ms' } })
    const pg = (await import('pg')).default
    const holder = new pg.Client({ connectionString: p.url })
    await holder.connect()
    try {
      await holder.query('BEGIN; LOCK TABLE roles IN ACCESS EXCLUSIVE MODE')
      const error = await failure(seed(p))
      expect(error.code).toBe('E_LOCK_TIMEOUT')
      expect(error.message).toMatch(/01_roles\.csv waited longer than lock_timeout \(200ms\) for a lock on roles/)
      const reset = await failure(seed(p, { reset: true }))
      expect(reset.code).toBe('E_RESET_FAILED')
      await holder.query('ROLLBACK')
    } finally {
      await holder.end()
    }
    expect(await count(p, 'roles')).toBe(0)
    expect((await seed(p)).seeds[0]!.rows).toBe(2)
  })
})
