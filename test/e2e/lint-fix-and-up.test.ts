// `dbops migrate lint --fix` and `--list-rules` through the CLI, and the lint before `migrate up`: switched off by
// lint.beforeUp: false, and run before the migration lock is taken.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { runCli, type CliResult } from '../helpers/databases.js'
import { makeProject, type Project } from '../helpers/projects.js'

const cli = (project: Project, ...args: string[]): Promise<CliResult> =>
  runCli(['--url', project.url, ...args], { cwd: project.dir })
const migration = (sql: string, directive = '') => `-- migrate:up${directive}\n${sql}\n-- migrate:down\n`
const read = (project: Project, file: string) => readFileSync(path.join(project.dir, file), 'utf8')

describe('dbops migrate lint --fix', () => {
  it('rewrites a file of index builds in place as a transaction:false migration that up then runs', async () => {
    const project = await makeProject('postgres', {
      '1_orders.sql': migration('CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint, note text);'),
    })
    expect((await cli(project, 'migrate', 'up')).code).toBe(0)
    project.write(
      'migrations/2_indexes.sql',
      migration(
        'CREATE INDEX orders_user_idx ON orders (user_id);\nCREATE UNIQUE INDEX orders_note_idx ON orders (note);',
      ),
    )
    const fixed = await cli(project, 'migrate', 'lint', '--fix', 'migrations/2_indexes.sql', '--json')
    expect(fixed.code).toBe(0)
    expect(JSON.parse(fixed.stdout)).toMatchObject({ ok: true, written: ['migrations/2_indexes.sql'] })
    const text = read(project, 'migrations/2_indexes.sql')
    expect(text.split('\n')[0]).toBe('-- migrate:up transaction:false')
    expect(text).toContain('CREATE INDEX CONCURRENTLY orders_user_idx ON orders (user_id);')
    expect(text).toContain('CREATE UNIQUE INDEX CONCURRENTLY orders_note_idx ON orders (note);')
    expect(readdirSync(path.join(project.dir, 'migrations')).sort()).toEqual(['1_orders.sql', '2_indexes.sql'])

    const relinted = JSON.parse((await cli(project, 'migrate', 'lint', '--json')).stdout)
    expect(relinted.findings.filter((finding: any) => finding.rule.includes('concurrently'))).toEqual([])
    expect((await cli(project, 'migrate', 'up')).code).toBe(0)
    const indexes = await project.query(
      "SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indrelid = 'orders'::regclass AND indisvalid ORDER BY 1",
    )
    expect(indexes.map((row) => row.name)).toEqual(['orders_note_idx', 'orders_pkey', 'orders_user_idx'])
  })

  it('a mixed file keeps its other statements, the foreign key gets NOT VALID, and a follow-up holds the rest', async () => {
    const project = await makeProject('postgres', {
      '1_tables.sql': migration(
        'CREATE TABLE users (id bigint PRIMARY KEY);\nCREATE TABLE orders (id bigint, user_id bigint);',
      ),
      '2_change.sql': migration(
        'ALTER TABLE orders ADD COLUMN note text;\nCREATE INDEX orders_user_idx ON orders (user_id);\nALTER TABLE orders ADD CONSTRAINT orders_user_fkey FOREIGN KEY (user_id) REFERENCES users (id);',
      ),
    })
    const fixed = await cli(project, 'migrate', 'lint', '--fix', 'migrations/2_change.sql')
    expect(fixed.code).toBe(0)
    expect(fixed.stdout).toContain('wrote migrations/2_change.sql')
    const change = read(project, 'migrations/2_change.sql')
    expect(change.split('\n')[0]).toBe('-- migrate:up')
    expect(change).toContain('ALTER TABLE orders ADD COLUMN note text;')
    expect(change).toContain('REFERENCES users (id) NOT VALID')
    expect(change).not.toContain('CREATE INDEX')
    const followUp = readdirSync(path.join(project.dir, 'migrations')).find((file) => file.includes('follow_up'))!
    expect(followUp).toMatch(/^3_change_follow_up\.sql$/)
    const next = read(project, `migrations/${followUp}`)
    expect(next).toContain('transaction:false')
    expect(next).toContain('CREATE INDEX CONCURRENTLY orders_user_idx ON orders (user_id);')
    expect(next).toContain('ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fkey;')
    expect((await cli(project, 'migrate', 'up')).code).toBe(0)
  })

  it("writes goose's and sql-migrate's own annotations in files of those formats, and up runs the result", async () => {
    const project = await makeProject('postgres', {
      '1_tables.sql':
        '-- +goose Up\nCREATE TABLE users (id bigint PRIMARY KEY);\nCREATE TABLE orders (id bigint, user_id bigint);\n-- +goose Down\nDROP TABLE orders, users;\n',
      '2_index.sql':
        '-- +goose Up\nCREATE INDEX orders_user_idx ON orders (user_id);\n-- +goose Down\nDROP INDEX orders_user_idx;\n',
      '3_fk.sql':
        '-- +migrate Up\nCREATE INDEX orders_id_idx ON orders (id);\nALTER TABLE orders ADD CONSTRAINT orders_user_fkey FOREIGN KEY (user_id) REFERENCES users (id);\n-- +migrate Down\n',
    })
    expect((await cli(project, 'migrate', 'lint', '--fix', 'migrations/2_index.sql')).code).toBe(0)
    expect(read(project, 'migrations/2_index.sql')).toBe(
      '-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY orders_user_idx ON orders (user_id);\n\n-- +goose Down\nDROP INDEX orders_user_idx;\n',
    )
    expect((await cli(project, 'migrate', 'lint', '--fix', 'migrations/3_fk.sql')).code).toBe(0)
    expect(read(project, 'migrations/3_fk.sql')).toContain('REFERENCES users (id) NOT VALID')
    const next = read(project, 'migrations/4_fk_follow_up.sql')
    expect(next.split('\n')[0]).toBe('-- +migrate Up notransaction')
    expect(next).toContain('CREATE INDEX CONCURRENTLY orders_id_idx ON orders (id);')
    const up = await cli(project, 'migrate', 'up')
    expect(up.code, up.stderr).toBe(0)
    expect(up.stdout).toContain('applied 4 migrations')
  })
})

describe('dbops migrate lint --list-rules', () => {
  it('lists every rule with its default severity and engines, as text and as JSON', async () => {
    const project = await makeProject('sqlite')
    const listed = await cli(project, 'migrate', 'lint', '--list-rules', '--json')
    expect(listed.code).toBe(0)
    const rules = JSON.parse(listed.stdout).rules as { id: string; severity: string; engines: string[] }[]
    const byId = new Map(rules.map((rule) => [rule.id, rule]))
    expect(byId.get('create-index-without-concurrently')).toMatchObject({ severity: 'warn', engines: ['postgres'] })
    expect(byId.get('drop-database')).toMatchObject({ severity: 'error' })
    expect(byId.get('sqlite-unsupported-alter')).toMatchObject({ severity: 'error', engines: ['sqlite'] })
    expect(byId.has('unused-ignore')).toBe(true)
    const text = await cli(project, 'migrate', 'lint', '--list-rules')
    expect(text.code).toBe(0)
    for (const rule of rules) expect(text.stdout).toContain(rule.id)
  })
})

describe('the lint before migrate up', () => {
  const dropDatabase = migration('DROP DATABASE IF EXISTS dbops_lint_never_created;', ' transaction:false')

  it('lint.beforeUp: false in the config skips it: up runs what the lint would have stopped', async () => {
    const project = await makeProject('postgres', { '1_drop.sql': dropDatabase })
    const stopped = await cli(project, 'migrate', 'up', '--json')
    expect(stopped.code).toBe(2)
    expect(JSON.parse(stopped.stdout).error.code).toBe('E_LINT')
    writeFileSync(path.join(project.dir, 'dbops.config.json'), JSON.stringify({ lint: { beforeUp: false } }))
    const ran = await cli(project, 'migrate', 'up', '--json')
    expect(ran.code).toBe(0)
    expect((await project.query('SELECT version FROM dbops_migrations')).map((row) => row.version)).toEqual(['1'])
  })

  it('runs before the migration lock is taken: a lint error while another process holds the lock is E_LINT', async () => {
    const project = await makeProject('postgres', { '1_drop.sql': dropDatabase })
    const holder = new pg.Client({ connectionString: project.url })
    await holder.connect()
    try {
      // The lock dbops takes for the ledger public.dbops_migrations (src/backends/postgres/postgres-lock.ts).
      await holder.query(
        "SELECT pg_advisory_lock(1684172656, hashtext(current_database() || '.' || 'public.dbops_migrations'))",
      )
      // Were the lint after the lock, this would wait for it and end in E_MIGRATION_LOCK_TIMEOUT instead.
      const result = await cli(project, 'migrate', 'up', '--lock-timeout', '20s', '--json')
      expect(result.code).toBe(2)
      expect(JSON.parse(result.stdout).error.code).toBe('E_LINT')
      expect(result.stderr).not.toContain('waiting for the migration lock')
      // The lock held is the one up takes: without the lint, up waits for it and gives up.
      const waited = await cli(project, 'migrate', 'up', '--no-lint', '--lock-timeout', '1s', '--json')
      expect(JSON.parse(waited.stdout).error.code).toBe('E_MIGRATION_LOCK_TIMEOUT')
    } finally {
      await holder.end()
    }
  })
})
