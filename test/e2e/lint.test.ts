// `dbops migrate lint` and the lint before `migrate up`, through the CLI, against real PostgreSQL and SQLite: the
// pending run as context (fresh tables), the server's version, live sizes, exit codes, formats, and up stopping on an
// error before anything runs.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { REPO_ROOT, runCli, type CliResult } from '../helpers/databases.js'
import { makeProject, type Project } from '../helpers/projects.js'

const lint = (project: Project, ...args: string[]): Promise<CliResult> =>
  runCli(['--url', project.url, 'migrate', 'lint', ...args], { cwd: project.dir })
const up = (project: Project, ...args: string[]): Promise<CliResult> =>
  runCli(['--url', project.url, 'migrate', 'up', ...args], { cwd: project.dir })

function json(result: CliResult): any {
  try {
    return JSON.parse(result.stdout)
  } catch {
    throw new Error(`not one JSON document (exit ${result.code}):\n${result.stdout}\n${result.stderr}`)
  }
}

const migration = (sql: string, directive = '') => `-- migrate:up${directive}\n${sql}\n-- migrate:down\n`

describe('dbops migrate lint on PostgreSQL', () => {
  it('lints the pending run with the server as context: fresh tables are quiet, sizes grade hazards, exit codes follow', async () => {
    const project = await makeProject('postgres', {
      '1_orders.sql': migration(
        "CREATE TABLE orders (id bigint PRIMARY KEY, note text);\nINSERT INTO orders SELECT g, repeat('x', 200) FROM generate_series(1, 2000) g;",
      ),
    })
    expect((await up(project)).code).toBe(0)
    await project.query('ANALYZE orders')
    project.write('migrations/2_index.sql', migration('CREATE INDEX orders_note_idx ON orders (note);'))
    project.write('migrations/3_items.sql', migration('CREATE TABLE items (id bigint PRIMARY KEY, order_id bigint);'))
    project.write('migrations/4_items_index.sql', migration('CREATE INDEX items_order_idx ON items (order_id);'))

    // orders (about 500 kB) is under the default lint.smallTable (10 MB): the hazard is info, with its size.
    const pending = await lint(project, '--json')
    expect(pending.code).toBe(0)
    const document = json(pending)
    expect(document).toMatchObject({
      ok: true,
      target: 'default',
      engine: 'postgres',
      mode: 'pending',
      sizes: true,
      files: ['migrations/2_index.sql', 'migrations/3_items.sql', 'migrations/4_items_index.sql'],
    })
    expect(document.pgVersion).toEqual({ major: 15, source: 'server' })
    const index = document.findings.find((finding: any) => finding.rule === 'create-index-without-concurrently')
    expect(index).toMatchObject({
      severity: 'info',
      file: 'migrations/2_index.sql',
      line: 2,
      column: 1,
      table: 'orders',
      lock: 'SHARE',
    })
    expect(index.size.rows).toBe(2000)
    expect(index.size.bytes).toBeGreaterThan(100_000)
    expect(index.message).toMatch(/\(orders: \d+ kB, ~2\.0k rows\)$/)
    expect(index.note).toContain('lint.smallTable')
    // items is created by an earlier pending migration of the same run: its index carries no hazard.
    expect(document.findings.filter((finding: any) => finding.table === 'items')).toEqual([])

    // Statically, nothing is known about items: its index is a hazard there.
    const offline = json(await lint(project, '--offline', '--json'))
    expect(offline.mode).toBe('offline')
    expect(
      offline.findings
        .filter((finding: any) => finding.rule === 'create-index-without-concurrently')
        .map((finding: any) => finding.table),
    ).toEqual(['orders', 'items'])

    // A smaller threshold makes the orders hazard a warning: exit 0, or 1 with --fail-on warn.
    writeFileSync(
      path.join(project.dir, 'dbops.config.json'),
      JSON.stringify({ lint: { smallTable: '1kB', largeTable: '100kB' } }),
    )
    const human = await lint(project)
    expect(human.code).toBe(0)
    expect(human.stdout).toContain('migrations/2_index.sql:2:1 warning create-index-without-concurrently')
    expect(human.stdout).toContain(
      'CREATE INDEX takes SHARE on orders: blocks INSERT/UPDATE/DELETE for the whole build (orders:',
    )
    expect(human.stdout).toContain('CREATE INDEX CONCURRENTLY orders_note_idx ON orders (note);')
    expect(human.stdout).toMatch(
      /lint: 3 pending migration\(s\) of default \(postgres, PostgreSQL 15\), \d statement\(s\) examined: 0 error\(s\), 1 warning\(s\)/,
    )
    expect((await lint(project, '--fail-on', 'warn')).code).toBe(1)

    // A rewrite of a table over lint.largeTable is an error: exit 2.
    project.write('migrations/5_type.sql', migration('ALTER TABLE orders ALTER COLUMN note TYPE varchar(300);'))
    const rewrite = json(await lint(project, '--json'))
    expect(rewrite.findings.find((finding: any) => finding.rule === 'alter-column-type-rewrite')).toMatchObject({
      severity: 'error',
      note: expect.stringContaining('lint.largeTable'),
    })
    expect((await lint(project)).code).toBe(2)

    // migrate up lints first: the error stops the run before anything runs, warnings are printed.
    const stopped = await up(project)
    expect(stopped.code).toBe(2)
    expect(stopped.stderr).toContain('warning: migrations/2_index.sql:2:1 create-index-without-concurrently')
    expect(stopped.stderr).toMatch(
      /error: 1 lint error\(s\) in the migrations to apply, nothing was run: migrations\/5_type\.sql:2:1 alter-column-type-rewrite/,
    )
    expect(await project.query('SELECT version FROM dbops_migrations ORDER BY version')).toEqual([{ version: '1' }])
    expect(await project.query("SELECT to_regclass('items') AS items")).toEqual([{ items: null }])
    const stoppedJson = json(await up(project, '--json'))
    expect(stoppedJson.error).toMatchObject({
      code: 'E_LINT',
      details: { findings: [expect.objectContaining({ rule: 'alter-column-type-rewrite' })] },
    })

    // A reasoned ignore lets it through (and is on record); --no-lint skips the check altogether.
    project.write(
      'migrations/5_type.sql',
      migration(
        '-- dbops:lint-ignore alter-column-type-rewrite maintenance window booked\nALTER TABLE orders ALTER COLUMN note TYPE varchar(300);',
      ),
    )
    const ignored = json(await lint(project, '--json'))
    expect(ignored.suppressed).toEqual([
      {
        rule: 'alter-column-type-rewrite',
        file: 'migrations/5_type.sql',
        line: 3,
        reason: 'maintenance window booked',
      },
    ])
    project.write('migrations/5_type.sql', migration('ALTER TABLE orders ALTER COLUMN note TYPE varchar(300);'))
    const forced = await up(project, '--no-lint')
    expect(forced.code).toBe(0)
    expect(forced.stderr).not.toContain('create-index-without-concurrently')
    expect((await lint(project, '--json')).code).toBe(0)
    expect(json(await lint(project, '--json')).files).toEqual([])

    // The server knows note is varchar(300) now: a longer limit (or text) changes it in place, a shorter one rewrites.
    const retypes = () =>
      lint(project, '--json').then((result) =>
        json(result).findings.filter((finding: any) => finding.rule === 'alter-column-type-rewrite'),
      )
    project.write('migrations/6_widen.sql', migration('ALTER TABLE orders ALTER COLUMN note TYPE varchar(500);'))
    expect(await retypes()).toEqual([])
    project.write('migrations/6_widen.sql', migration('ALTER TABLE public.orders ALTER COLUMN note TYPE text;'))
    expect(await retypes()).toEqual([])
    project.write('migrations/6_widen.sql', migration('ALTER TABLE orders ALTER COLUMN note TYPE varchar(100);'))
    expect(await retypes()).toMatchObject([{ file: 'migrations/6_widen.sql', table: 'orders' }])
  })

  it('--format github and sarif, --all, --pg-version, usage errors exit 3', async () => {
    const project = await makeProject('postgres', {
      '1_enum.sql': migration("CREATE TYPE mood AS ENUM ('ok');\nALTER TYPE mood ADD VALUE 'meh';"),
      '2_drop.sql': migration('ALTER TABLE orders DROP COLUMN legacy;'),
    })
    await project.query('CREATE TABLE orders (id bigint, legacy text)')
    const github = await lint(project, '--format', 'github', '--pg-version', '11')
    expect(github.code).toBe(2)
    expect(github.stdout).toMatch(
      /^::error file=migrations\/1_enum\.sql,line=3,col=1,title=dbops enum-value-in-transaction::ALTER TYPE mood ADD VALUE fails inside a transaction on PostgreSQL 11/m,
    )
    expect(github.stdout).toMatch(/^::warning file=migrations\/2_drop\.sql,line=2,col=1,title=dbops drop-column::/m)
    const sarif = JSON.parse((await lint(project, '--format', 'sarif')).stdout)
    expect(sarif.version).toBe('2.1.0')
    expect(sarif.runs[0].results.map((result: any) => result.ruleId)).toEqual(['drop-column'])
    expect((await lint(project, '--pg-version', 'eleven')).code).toBe(3)
    writeFileSync(
      path.join(project.dir, 'dbops.config.json'),
      JSON.stringify({ lint: { rules: { 'drop-column': 'sometimes' } } }),
    )
    const badConfig = await lint(project)
    expect(badConfig.code).toBe(3)
    expect(badConfig.stderr).toContain('lint.rules.drop-column: must be one of off, info, warn, error')
    writeFileSync(
      path.join(project.dir, 'dbops.config.json'),
      JSON.stringify({ lint: { rules: { 'drop-colum': 'off' } } }),
    )
    expect((await lint(project)).stderr).toContain('unknown lint rule "drop-colum"')
    writeFileSync(
      path.join(project.dir, 'dbops.config.json'),
      JSON.stringify({ lint: { rules: { 'drop-column': 'off' } } }),
    )
    expect((await up(project)).code).toBe(0)
    const all = json(await lint(project, '--all', '--json'))
    expect(all).toMatchObject({ mode: 'all', files: ['migrations/1_enum.sql', 'migrations/2_drop.sql'], findings: [] })
  })

  it('CREATE TABLE IF NOT EXISTS of a table that exists creates nothing: an index on it is still a hazard', async () => {
    const project = await makeProject('postgres', {
      '1_orders.sql': migration(
        'CREATE TABLE IF NOT EXISTS orders (id bigint PRIMARY KEY);\nCREATE INDEX orders_id_idx ON orders (id);',
      ),
    })
    expect(json(await lint(project, '--json')).findings).toEqual([])
    await project.query('CREATE TABLE orders (id bigint PRIMARY KEY)')
    expect(json(await lint(project, '--json')).findings.map((finding: any) => finding.rule)).toEqual([
      'create-index-without-concurrently',
    ])
  })

  it('loads the parser only for lint: --help and migrate status never load libpg-query', async () => {
    const trace = path.join(REPO_ROOT, 'test', 'e2e', 'fixtures-trace-require.cjs')
    const project = await makeProject('postgres', { '1_a.sql': migration('CREATE INDEX i ON t (a);') })
    const options = { cwd: project.dir, env: { NODE_OPTIONS: `--require ${trace}` } }
    expect((await runCli(['--help'], options)).stderr).not.toContain('libpg-query')
    expect((await runCli(['--url', project.url, 'migrate', 'status'], options)).stderr).not.toContain('libpg-query')
    expect((await runCli(['--url', project.url, 'migrate', 'lint'], options)).stderr).toContain('loaded libpg-query')
  })
})

describe('dbops migrate lint on SQLite', () => {
  it('a new database: every migration is pending and one run; up stops on an ALTER SQLite cannot do', async () => {
    const project = await makeProject('sqlite', {
      '1_orders.sql': migration(
        'CREATE TABLE orders (id integer PRIMARY KEY, note text);\nCREATE INDEX orders_note ON orders (note);',
      ),
      '2_drop.sql': migration('ALTER TABLE orders DROP COLUMN note;'),
    })
    const clean = json(await lint(project, '--json'))
    expect(clean).toMatchObject({ mode: 'pending', engine: 'sqlite', pgVersion: null, findings: [] })
    expect(rules(json(await lint(project, '--offline', '--json')))).toEqual(['drop-column'])
    project.write('migrations/3_bad.sql', migration('ALTER TABLE orders ADD CONSTRAINT positive CHECK (id > 0);'))
    const stopped = await up(project)
    expect(stopped.code).toBe(2)
    expect(stopped.stderr).toContain('3_bad.sql:2:1 sqlite-unsupported-alter')
    expect(
      await project.query("SELECT name FROM sqlite_master WHERE name = 'dbops_migrations'").catch(() => []),
    ).toEqual([])
  })
})

function rules(document: any): string[] {
  return document.findings.map((finding: any) => finding.rule)
}
