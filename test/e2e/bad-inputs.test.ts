// A corpus of bad inputs, run through the real CLI against SQLite (a temp file) and PostgreSQL (one fresh database
// for this file): each must give one error line on stderr (no stack trace), the documented exit code, a stable
// error code in --json, and leave the database exactly as it was. Passwords in URLs must never reach the output.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { beforeAll, describe, expect, it } from 'vitest'
import { pgQuery, runCli, sqliteUrl, usePgDatabase, useTempDir, type CliResult } from '../helpers/databases.js'

type Backend = 'sqlite' | 'postgres'
const BACKENDS: Backend[] = ['sqlite', 'postgres']
const SECRET = 'S3cretPa55'

interface Workspace {
  backend: Backend
  dir: string
  url: string
}

const BASE_MIGRATION = '-- migrate:up\nCREATE TABLE base_t (id int);\n\n-- migrate:down\nDROP TABLE base_t;\n'

function write(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(dir, name)
    mkdirSync(path.dirname(file), { recursive: true })
    writeFileSync(file, text)
  }
}

/** Non-empty stderr lines. */
function stderrLines(result: CliResult): string[] {
  return result.stderr.split('\n').filter((line) => line.trim() !== '')
}

/** One "error: ..." line and nothing else: no stack trace, no code frame. */
function expectOneErrorLine(result: CliResult): string {
  const lines = stderrLines(result)
  expect(lines, `stderr:\n${result.stderr}`).toHaveLength(1)
  expect(lines[0]).toMatch(/^error: /)
  expect(result.stderr).not.toMatch(/^ {4}at /m)
  return lines[0]!
}

function parseJson(result: CliResult): any {
  let document: unknown
  expect(
    () => (document = JSON.parse(result.stdout)),
    `stdout is not one JSON document:\n${result.stdout}`,
  ).not.toThrow()
  return document
}

/** `url` with its user and password replaced. */
function withCredentials(url: string, user: string, password: string): string {
  const u = new URL(url)
  u.username = user
  u.password = password
  return u.toString()
}

/** Everything that could change: tables, indexes, views, triggers, and the ledger rows. */
async function snapshot(ws: Workspace): Promise<unknown> {
  if (ws.backend === 'sqlite') {
    const file = ws.url.slice('sqlite:'.length)
    if (!existsSync(file)) return 'no database file'
    const db = new Database(file, { fileMustExist: true })
    try {
      const objects = db.prepare('SELECT type, name FROM sqlite_master ORDER BY type, name').all() as { name: string }[]
      const ledger = objects.some((o) => o.name === 'dbops_migrations')
        ? db.prepare('SELECT version, name, checksum, status, error FROM dbops_migrations ORDER BY version').all()
        : null
      return { objects, ledger }
    } finally {
      db.close()
    }
  }
  const objects = await pgQuery(
    ws.url,
    `SELECT n.nspname AS schema, c.relname AS name, c.relkind AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1, 2`,
  )
  const schemas = await pgQuery(ws.url, `SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' ORDER BY 1`)
  const ledger = objects.some((o) => o.schema === 'public' && o.name === 'dbops_migrations')
    ? await pgQuery(
        ws.url,
        'SELECT version, name, checksum, status, error FROM public.dbops_migrations ORDER BY version',
      )
    : null
  return { objects, schemas, ledger }
}

async function tableNames(ws: Workspace): Promise<string[]> {
  if (ws.backend === 'sqlite') {
    const db = new Database(ws.url.slice('sqlite:'.length), { fileMustExist: true })
    try {
      return (
        db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]
      ).map((r) => r.name)
    } finally {
      db.close()
    }
  }
  const rows = await pgQuery(ws.url, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)
  return rows.map((r) => r.tablename as string)
}

interface BadCase {
  name: string
  only?: Backend
  /** Replaces the base migration (applied before the bad input is put in place). */
  base?: string
  /** Start from an empty database (SQLite: no file at all) instead of applying a base migration. */
  fresh?: boolean
  /** Written after the base migration is applied: the bad input. */
  files?: (ws: Workspace) => Record<string, string>
  /** Full argument list (default: --url <database> migrate up). */
  args?: (ws: Workspace) => string[]
  exit: 2 | 3
  /** Each must match the error line. */
  message: (ws: Workspace) => (RegExp | string)[]
  /** The `code` of the error in --json output. */
  jsonCode: string
  check?: (ws: Workspace, json: any) => Promise<void> | void
}

const configFile = (config: unknown) => ({ 'dbops.config.json': JSON.stringify(config, null, 2) })

const CASES: BadCase[] = [
  {
    name: 'config file with a JSON syntax error',
    files: (ws) => ({
      'dbops.config.json': `{\n  "targets": {\n    "db": { "url": ${JSON.stringify(ws.url)}, }\n  }\n}\n`,
    }),
    args: () => ['migrate', 'up'],
    exit: 3,
    message: () => ['dbops.config.json', /JSON/, /line 3/],
    jsonCode: 'E_CONFIG',
  },
  {
    name: 'config file with an unknown key',
    files: (ws) => configFile({ targets: { db: { url: ws.url, urll: 'x' } } }),
    args: () => ['migrate', 'up'],
    exit: 3,
    message: () => ['dbops.config.json', 'targets.db.urll', 'unknown key'],
    jsonCode: 'E_CONFIG',
  },
  {
    name: 'config file with an unsupported URL scheme',
    files: () => configFile({ targets: { db: { url: `mysqlx://root:${SECRET}@127.0.0.1/app` } } }),
    args: () => ['migrate', 'up'],
    exit: 3,
    message: () => ['targets.db.url', 'unsupported scheme "mysqlx"'],
    jsonCode: 'E_CONFIG',
  },
  {
    name: 'config file with two problems at once (both reported)',
    files: (ws) =>
      configFile({
        defaultTarget: 'db',
        targets: { db: { url: ws.url, urll: 'x' }, other: { url: `mysqlx://root:${SECRET}@127.0.0.1/app` } },
      }),
    args: () => ['migrate', 'up'],
    exit: 3,
    message: () => ['targets.db.urll', 'unknown key', 'targets.other.url', 'unsupported scheme "mysqlx"'],
    jsonCode: 'E_CONFIG',
    check: (_ws, json) => {
      expect(json.error.details?.problems).toHaveLength(2)
    },
  },
  {
    name: 'migrate down on a migration without a down section',
    base: '-- migrate:up\nCREATE TABLE base_t (id int);\n',
    args: (ws) => ['--url', ws.url, 'migrate', 'down'],
    exit: 2,
    message: () => ['001_base.sql', /down/],
    jsonCode: 'E_NO_DOWN',
    check: async (ws) => {
      expect(await tableNames(ws)).toContain('base_t')
    },
  },
  {
    name: 'unknown directive option (names file and line)',
    files: () => ({
      'migrations/002_t2.sql':
        '-- adds t2\n-- (typo below)\n-- migrate:up transactionn:false\nCREATE TABLE t2 (id int);\n-- migrate:down\nDROP TABLE t2;\n',
    }),
    exit: 2,
    message: () => ['002_t2.sql:3', 'transactionn:false'],
    jsonCode: 'E_MIGRATION_PARSE',
  },
  {
    name: 'SQL before the first directive, after a block comment on the same line',
    files: () => ({
      'migrations/002_t2.sql':
        '/* header */ CREATE TABLE sneaky (id int);\n-- migrate:up\nCREATE TABLE t2 (id int);\n-- migrate:down\nDROP TABLE t2;\n',
    }),
    exit: 2,
    message: () => ['002_t2.sql:1', 'SQL before the first "-- migrate:up" line'],
    jsonCode: 'E_MIGRATION_PARSE',
  },
  {
    name: 'two files with the same version',
    files: () => ({
      'migrations/002_a.sql': '-- migrate:up\nCREATE TABLE dup_a (id int);\n-- migrate:down\nDROP TABLE dup_a;\n',
      'migrations/002_b.sql': '-- migrate:up\nCREATE TABLE dup_b (id int);\n-- migrate:down\nDROP TABLE dup_b;\n',
    }),
    exit: 2,
    message: () => ['002_a.sql', '002_b.sql', /version/],
    jsonCode: 'E_DUPLICATE_VERSION',
  },
  {
    name: 'an applied file edited afterwards',
    files: () => ({
      'migrations/001_base.sql':
        '-- migrate:up\nCREATE TABLE base_t (id int, extra int);\n\n-- migrate:down\nDROP TABLE base_t;\n',
      'migrations/002_next.sql': '-- migrate:up\nCREATE TABLE next_t (id int);\n-- migrate:down\nDROP TABLE next_t;\n',
    }),
    exit: 2,
    message: () => ['001_base.sql', /changed|checksum/],
    jsonCode: 'E_CHECKSUM_MISMATCH',
    check: async (ws) => {
      expect(await tableNames(ws)).not.toContain('next_t')
    },
  },
  {
    name: 'SQL syntax error (file:line:column, nothing of the file left behind)',
    files: () => ({
      'migrations/002_bad.sql':
        '-- migrate:up\nCREATE TABLE bad_first (id int);\nCREATE TABLE bad_second (id int;\n\n-- migrate:down\nDROP TABLE bad_second;\nDROP TABLE bad_first;\n',
    }),
    exit: 2,
    message: () => [/002_bad\.sql:3:\d+/, /syntax/],
    jsonCode: 'E_MIGRATION_FAILED',
    check: async (ws) => {
      const tables = await tableNames(ws)
      expect(tables).not.toContain('bad_first')
      expect(tables).not.toContain('bad_second')
    },
  },
  {
    name: 'SQL syntax error in the first migration of a fresh database (no file, no ledger left behind)',
    fresh: true,
    files: () => ({
      'migrations/001_bad.sql': '-- migrate:up\nCREATE TABLE bad_first (id int);\nCREATE TABLE bad_second (id int;\n',
    }),
    exit: 2,
    message: () => [/001_bad\.sql:3:\d+/, /syntax/],
    jsonCode: 'E_MIGRATION_FAILED',
  },
  {
    name: 'CREATE INDEX CONCURRENTLY in a transactional migration',
    only: 'postgres',
    files: () => ({
      'migrations/002_idx.sql':
        '-- migrate:up\nCREATE TABLE idx_t (id int);\nCREATE INDEX CONCURRENTLY idx_t_id ON idx_t (id);\n\n-- migrate:down\nDROP TABLE idx_t;\n',
    }),
    exit: 2,
    message: () => ['002_idx.sql:3', /CONCURRENTLY/i, 'transaction:false'],
    jsonCode: 'E_NON_TRANSACTIONAL_STATEMENT',
    check: async (ws, json) => {
      expect(json.error.hint).toContain('transaction:false')
      expect(await tableNames(ws)).not.toContain('idx_t')
    },
  },
  {
    name: 'unreachable server',
    only: 'postgres',
    files: () => ({ 'migrations/002_next.sql': '-- migrate:up\nCREATE TABLE next_t (id int);\n' }),
    args: () => ['--url', 'postgres://postgres@127.0.0.1:1/x', 'migrate', 'up'],
    exit: 2,
    message: () => ['127.0.0.1:1', /connect|refused/i],
    jsonCode: 'E_CONNECTION',
  },
  {
    name: 'authentication failure (unknown role, with a password)',
    only: 'postgres',
    files: () => ({ 'migrations/002_next.sql': '-- migrate:up\nCREATE TABLE next_t (id int);\n' }),
    args: (ws) => ['--url', withCredentials(ws.url, 'dbops_no_such_role', SECRET), 'migrate', 'up'],
    exit: 2,
    message: () => ['dbops_no_such_role', /authentication|role/i],
    jsonCode: 'E_AUTH',
  },
]

let caseCounter = 0

for (const backend of BACKENDS) {
  describe(`bad inputs on ${backend}`, () => {
    const pg = backend === 'postgres' ? usePgDatabase('dbops_e2e_bad') : undefined
    const tmp = useTempDir('dbops-e2e-bad')

    beforeAll(() => {
      // Stops cosmiconfig's upward search here, so nothing outside the temp dir is ever read as a config.
      write(tmp.path, { 'package.json': '{ "name": "dbops-e2e-bad", "private": true }\n' })
    })

    /** A fresh workspace (dir, migrations, empty database) with the base migration applied. */
    async function prepare(testCase: BadCase): Promise<Workspace> {
      const dir = path.join(tmp.path, `case-${++caseCounter}`)
      mkdirSync(dir, { recursive: true })
      let url: string
      if (backend === 'sqlite') {
        url = sqliteUrl(dir, 'app.db')
      } else {
        url = pg!.url
        await pgQuery(url, 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;')
      }
      const ws: Workspace = { backend, dir, url }
      if (testCase.fresh) {
        mkdirSync(path.join(dir, 'migrations'))
      } else {
        write(dir, { 'migrations/001_base.sql': testCase.base ?? BASE_MIGRATION })
        const setup = await runCli(['--url', url, 'migrate', 'up'], { cwd: dir })
        expect(setup.code, `setup failed: ${setup.stderr}`).toBe(0)
      }
      write(dir, testCase.files?.(ws) ?? {})
      return ws
    }

    const cases = CASES.filter((c) => c.only === undefined || c.only === backend)
    // SQLite workspaces are independent files; the PostgreSQL cases share this file's database, so they take turns.
    const run = backend === 'sqlite' ? it.concurrent : it

    run.each(cases)('$name', async (testCase) => {
      const ws = await prepare(testCase)
      const before = await snapshot(ws)
      const args = testCase.args?.(ws) ?? ['--url', ws.url, 'migrate', 'up']

      const human = await runCli(args, { cwd: ws.dir })
      expect(human.code, `stderr:\n${human.stderr}`).toBe(testCase.exit)
      const line = expectOneErrorLine(human)
      for (const pattern of testCase.message(ws)) {
        if (typeof pattern === 'string') expect(line).toContain(pattern)
        else expect(line).toMatch(pattern)
      }
      expect(human.stdout).toBe('')
      expect(human.stdout + human.stderr).not.toContain(SECRET)
      expect(await snapshot(ws)).toEqual(before)

      const json = await runCli([...args, '--json'], { cwd: ws.dir })
      expect(json.code).toBe(testCase.exit)
      const document = parseJson(json)
      expect(document.ok).toBe(false)
      expect(document.error?.code).toBe(testCase.jsonCode)
      expect(typeof document.error?.message).toBe('string')
      expect(json.stderr).not.toMatch(/^ {4}at /m)
      expect(json.stdout + json.stderr).not.toContain(SECRET)
      expect(await snapshot(ws)).toEqual(before)

      await testCase.check?.(ws, document)
    })

    it('--verbose adds the stack trace (and still exits 2, still changes nothing)', async () => {
      const syntax = CASES.find((c) => c.name.startsWith('SQL syntax error'))!
      const ws = await prepare(syntax)
      const before = await snapshot(ws)
      const result = await runCli(['--url', ws.url, 'migrate', 'up', '--verbose'], { cwd: ws.dir })
      expect(result.code).toBe(2)
      expect(stderrLines(result)[0]).toMatch(/^error: .*002_bad\.sql:3:\d+/)
      expect(result.stderr).toMatch(/^ {4}at /m)
      expect(await snapshot(ws)).toEqual(before)
    })
  })
}

describe('passwords never appear in output (postgres)', () => {
  const pg = usePgDatabase('dbops_e2e_pw')
  const tmp = useTempDir('dbops-e2e-pw')

  it('for failing and working commands, human and --json, with the password in --url, DATABASE_URL or a config file', async () => {
    write(tmp.path, { 'package.json': '{ "name": "dbops-e2e-pw", "private": true }\n' })
    const plain = path.join(tmp.path, 'plain')
    const withConfig = path.join(tmp.path, 'with-config')
    write(plain, {
      'migrations/001_ok.sql': '-- migrate:up\nCREATE TABLE pw_ok (id int);\n-- migrate:down\nDROP TABLE pw_ok;\n',
    })
    const broken = path.join(tmp.path, 'broken')
    write(broken, {
      'migrations/001_bad.sql': `-- migrate:up\nCREATE TABLE pw_bad (id int;\n-- migrate:down\nDROP TABLE pw_bad;\n`,
    })
    const refused = `postgres://postgres:${SECRET}@127.0.0.1:1/x`
    const trust = withCredentials(pg.url, 'postgres', SECRET) // trust auth: any password is accepted
    const encodedSecret = 'S3cret%40Pa55' // decoded: S3cret@Pa55
    const server = new URL(pg.url)
    write(withConfig, {
      'migrations/001_ok.sql': '-- migrate:up\nSELECT 1;\n',
      'dbops.config.json': JSON.stringify({
        defaultTarget: 'down',
        targets: {
          down: { url: 'postgres://postgres:${DBOPS_E2E_PW}@127.0.0.1:1/x' },
          live: { url: `postgres://postgres:\${DBOPS_E2E_PW}@${server.host}${server.pathname}` },
        },
      }),
    })

    const runs: { args: string[]; cwd: string; env?: Record<string, string>; exit: number; redacted?: boolean }[] = [
      // Connection refused.
      { args: ['--url', refused, 'migrate', 'status'], cwd: plain, exit: 2 },
      { args: ['--url', refused, 'migrate', 'status', '--json'], cwd: plain, exit: 2 },
      { args: ['--url', refused, 'migrate', 'up', '--verbose'], cwd: plain, exit: 2 },
      { args: ['--url', refused, 'migrate', 'up', '--json', '--verbose'], cwd: plain, exit: 2 },
      { args: ['--url', refused, 'wait', '--timeout', '300ms'], cwd: plain, exit: 2 },
      { args: ['--url', refused, 'config', 'show'], cwd: plain, exit: 0, redacted: true },
      { args: ['--url', refused, 'config', 'show', '--json'], cwd: plain, exit: 0, redacted: true },
      { args: ['--url', 'postgres://postgres:S3cret%40Pa55@127.0.0.1:1/x', 'migrate', 'status'], cwd: plain, exit: 2 },
      { args: ['--url', `postgres://postgres:${SECRET}@127.0.0.1:99999/x`, 'migrate', 'status'], cwd: plain, exit: 3 },
      {
        args: ['--url', `postgres://postgres:${SECRET}@127.0.0.1:5432/x?sslmode=bogus`, 'migrate', 'status'],
        cwd: plain,
        exit: 3,
      },
      { args: ['migrate', 'status'], cwd: plain, env: { DATABASE_URL: refused }, exit: 2 },
      { args: ['config', 'show'], cwd: plain, env: { DATABASE_URL: refused }, exit: 0, redacted: true },
      { args: ['migrate', 'status', '--verbose'], cwd: withConfig, env: { DBOPS_E2E_PW: SECRET }, exit: 2 },
      { args: ['config', 'show', '--json'], cwd: withConfig, env: { DBOPS_E2E_PW: SECRET }, exit: 0, redacted: true },
      { args: ['--all', 'migrate', 'status', '--json'], cwd: withConfig, env: { DBOPS_E2E_PW: SECRET }, exit: 2 },
      // The live server (trust auth accepts the password).
      { args: ['--url', trust, 'migrate', 'status'], cwd: plain, exit: 0 },
      { args: ['--url', trust, 'migrate', 'status', '--json'], cwd: plain, exit: 0 },
      { args: ['--url', trust, 'migrate', 'up', '--dry-run'], cwd: plain, exit: 0 },
      { args: ['--url', trust, 'config', 'show'], cwd: plain, exit: 0, redacted: true },
      { args: ['--url', trust, 'config', 'show', '--json'], cwd: plain, exit: 0, redacted: true },
      { args: ['--url', trust, 'wait'], cwd: plain, exit: 0 },
      { args: ['--url', trust, 'migrate', 'up'], cwd: broken, exit: 2 },
      { args: ['--url', trust, 'migrate', 'up', '--verbose'], cwd: broken, exit: 2 },
      { args: ['--url', trust, 'migrate', 'up', '--json'], cwd: broken, exit: 2 },
      {
        args: ['--url', withCredentials(pg.url, 'dbops_no_such_role', SECRET), 'migrate', 'status', '--verbose'],
        cwd: plain,
        exit: 2,
      },
    ]
    const results = await Promise.all(runs.map((r) => runCli(r.args, { cwd: r.cwd, ...(r.env && { env: r.env }) })))
    const problems: string[] = []
    results.forEach((result, i) => {
      const run = runs[i]!
      const label = `${run.env ? `${Object.keys(run.env).join(',')}=... ` : ''}dbops ${run.args.join(' ')}`
      const output = result.stdout + result.stderr
      for (const secret of [SECRET, encodedSecret, decodeURIComponent(encodedSecret)]) {
        if (output.includes(secret)) problems.push(`${label}: output contains the password ${secret}:\n${output}`)
      }
      if (result.code !== run.exit)
        problems.push(`${label}: exit ${result.code}, expected ${run.exit}\n${result.stderr}`)
      if (run.redacted && !output.includes('***')) problems.push(`${label}: no redacted URL in output:\n${output}`)
    })
    expect(problems).toEqual([])
    // The failing migration on the live database left nothing behind.
    const tables = await pgQuery(
      pg.url,
      `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'pw\\_%'`,
    )
    expect(tables).toEqual([])
  })
})
