// Other tools' layouts: a folder per migration (diesel, Hasura, Sourcegraph, Prisma) and plain SQL files (sqlx).
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tempTree } from '../../helpers/databases.js'
import { migrationsFolderOf, noDownError, readMigrations, transactionFreeHint } from '../../../src/migrate/files.js'
import { prepareSection } from '../../../src/migrate/prepare.js'

/** A project folder holding `migrations/` with `files` (paths may name subfolders; a path ending in / is a folder). */
function project(files: Record<string, string>): string {
  return tempTree(
    Object.fromEntries([
      ['migrations/', ''],
      ...Object.entries(files).map(([name, text]) => [`migrations/${name}`, text]),
    ]),
    'dbops-read-layouts',
  )
}

const read = (dir: string, sub = 'migrations') => readMigrations(join(dir, sub), dir)

describe('readMigrations: a folder per migration', () => {
  it("reads diesel's folders: the version without dashes, up.sql and down.sql, paths naming the file", () => {
    const dir = project({
      '00000000000000_diesel_initial_setup/up.sql': 'SELECT 1;\n',
      '00000000000000_diesel_initial_setup/down.sql': 'SELECT 2;\n',
      '2019-02-26-002946_create_user/up.sql': '-- Your SQL goes here\nCREATE TABLE users (id int);\n',
      '2019-02-26-002946_create_user/down.sql': 'DROP TABLE users;\n',
      '2019-03-01-000000_no_down/up.sql': 'SELECT 3;\n',
      '.hidden/up.sql': 'SELECT 4;\n',
      'README.md': 'notes',
    })
    const set = read(dir)
    expect(set.migrations.map((m) => [m.version, m.name, m.id, m.format])).toEqual([
      ['00000000000000', 'diesel_initial_setup', '00000000000000_diesel_initial_setup', 'folder'],
      ['20190226002946', 'create_user', '2019-02-26-002946_create_user', 'folder'],
      ['20190301000000', 'no_down', '2019-03-01-000000_no_down', 'folder'],
    ])
    const [, users, noDown] = set.migrations
    expect(users!.file).toBe(join('migrations', '2019-02-26-002946_create_user', 'up.sql'))
    expect(users!.up).toMatchObject({ line: 1, column: 1, options: { transaction: true } })
    expect(users!.down).toMatchObject({
      sql: 'DROP TABLE users;\n',
      file: join('migrations', '2019-02-26-002946_create_user', 'down.sql'),
    })
    expect(noDown!.down).toBeUndefined()
    expect(noDownError(noDown!).message).toBe(
      `cannot roll back ${join('migrations', '2019-03-01-000000_no_down', 'up.sql')}: there is no down.sql beside it`,
    )
    expect(set.warnings).toEqual([])
  })

  it('runs a diesel folder outside a transaction when its metadata.toml says run_in_transaction = false', () => {
    const dir = project({
      '1_off/up.sql': 'CREATE INDEX CONCURRENTLY i ON t (a);\n',
      '1_off/down.sql': 'DROP INDEX CONCURRENTLY i;\n',
      '1_off/metadata.toml': '# diesel\nrun_in_transaction = false\n',
      '2_on/up.sql': 'SELECT 1;\n',
      '2_on/metadata.toml': 'run_in_transaction = true\n',
      '3_options/up.sql': '-- migrate:up lock_timeout:1s\nSELECT 1;\n',
      '3_options/metadata.toml': 'run_in_transaction = false\n',
    })
    const [off, on, options] = read(dir).migrations
    expect([off!.up.options.transaction, off!.down!.options.transaction]).toEqual([false, false])
    expect(on!.up.options.transaction).toBe(true)
    // A dbops directive line keeps the folder's choice and adds its options; the section starts below it.
    expect(options!.up).toMatchObject({
      line: 1,
      sql: '\nSELECT 1;\n',
      options: { transaction: false, lockTimeoutMs: 1000 },
    })
  })

  it("reads Hasura's folders when migrations.dir names the database's folder, and says so when it does not", () => {
    const dir = project({
      'default/1650000000000_init/up.sql': 'CREATE TABLE a (id int);\n',
      'default/1650000000000_init/down.sql': 'DROP TABLE a;\n',
      'default/1650000000001_b/up.sql': 'CREATE TABLE b (id int);\n',
    })
    expect(read(dir, join('migrations', 'default')).migrations.map((m) => m.version)).toEqual([
      '1650000000000',
      '1650000000001',
    ])
    const above = read(dir)
    expect(above.migrations).toEqual([])
    expect(above.warnings).toEqual([
      expect.stringContaining(
        `ignoring ${join('migrations', 'default')}/: a folder whose name does not start with a version`,
      ),
    ])
  })

  it('runs a Sourcegraph folder with createIndexConcurrently: true outside a transaction', () => {
    const dir = project({
      '1528395834_squashed_migrations/up.sql': 'CREATE TABLE a (id int);\n',
      '1528395834_squashed_migrations/down.sql': 'DROP TABLE a;\n',
      '1528395834_squashed_migrations/metadata.yaml': 'name: squashed migrations\nparents: []\n',
      '1528395835_index/up.sql': 'CREATE INDEX CONCURRENTLY i ON a (id);\n',
      '1528395835_index/down.sql': 'DROP INDEX i;\n',
      '1528395835_index/metadata.yaml': 'name: index\nparents: [1528395834]\ncreateIndexConcurrently: true\n',
    })
    const [squashed, index] = read(dir).migrations
    expect(squashed!.up.options.transaction).toBe(true)
    expect(index!.up.options.transaction).toBe(false)
  })

  it("reads Prisma's migration.sql as an up-only migration, and refuses its rollback", () => {
    const dir = project({
      'migration_lock.toml': 'provider = "postgresql"\n',
      '20230101000000_init/migration.sql': '-- CreateTable\nCREATE TABLE "User" (id int);\n',
    })
    const set = read(dir)
    const [init] = set.migrations
    expect(init).toMatchObject({ version: '20230101000000', name: 'init', format: 'prisma', down: undefined })
    expect(init!.file).toBe(join('migrations', '20230101000000_init', 'migration.sql'))
    expect(noDownError(init!).message).toContain('Prisma migrations are up only (no rollback)')
    expect(set.warnings).toEqual([])
  })

  it('refuses a versioned folder without its up.sql, and lists an empty one as ignored', () => {
    const dir = project({ '1_a/up.sql': 'SELECT 1;\n', '2_b/down.sql': 'SELECT 2;\n' })
    expect(() => read(dir)).toThrow(`${join('migrations', '2_b')}/ has no up.sql (nor a Prisma migration.sql)`)
    const hex = project({ '2024-01-01-000000-000a_b/up.sql': 'SELECT 1;\n' })
    expect(() => read(hex)).toThrow(
      `${join('migrations', '2024-01-01-000000-000a_b')}/ holds a migration, but its name`,
    )
    const empty = project({ '1_a/up.sql': 'SELECT 1;\n', '2_b/': '' })
    const set = read(empty)
    expect(set.migrations).toHaveLength(1)
    expect(set.ignored).toEqual([`${join('migrations', '2_b')}/`])
  })

  it('finds the migrations folder of a folder migration named on the command line', () => {
    expect(migrationsFolderOf(join('m', '2019-02-26-002946_a', 'up.sql'))).toBe('m')
    expect(migrationsFolderOf(join('m', '1_a', 'migration.sql'))).toBe('m')
    expect(migrationsFolderOf(join('m', '1_a'))).toBe('m')
    expect(migrationsFolderOf(join('m', '1_a.sql'))).toBe('m')
    expect(migrationsFolderOf(join('m', 'x', 'up.sql'))).toBe(join('m', 'x'))
  })
})

describe('readMigrations: plain SQL files (no file in the folder has markers)', () => {
  it("reads each file as an up-only migration, sqlx's -- no-transaction outside a transaction", () => {
    const dir = project({
      '20220101000000_init.sql': 'CREATE TABLE a (id int);\n',
      '20220102000000_index.sql': '-- no-transaction\nCREATE INDEX CONCURRENTLY i ON a (id);\n',
      'notes.txt': '',
    })
    const [init, index] = read(dir).migrations
    expect(init).toMatchObject({ format: 'plain', id: '20220101000000_init', down: undefined })
    expect(init!.up).toMatchObject({ sql: 'CREATE TABLE a (id int);\n', line: 1, options: { transaction: true } })
    expect(index!.up.options.transaction).toBe(false)
    expect(noDownError(init!).message).toContain('plain SQL migrations are up only')
  })

  it("honours -- no-transaction in sqlx's reversible .up.sql/.down.sql files too", () => {
    const dir = project({
      '1_a.up.sql': '-- no-transaction\nCREATE INDEX CONCURRENTLY i ON a (id);\nSELECT 1;\n',
      '1_a.down.sql': 'DROP INDEX i;\n',
    })
    const [a] = read(dir).migrations
    expect([a!.up.options.transaction, a!.down!.options.transaction]).toEqual([false, 'auto'])
  })

  it('refuses a file without markers beside files with them, before or after it in name order', () => {
    for (const [plain, files] of [
      ['1_a.sql', { '1_a.sql': 'SELECT 1;\n', '2_b.sql': '-- migrate:up\nSELECT 2;\n' }],
      ['2_b.sql', { '1_a.sql': '-- +goose Up\nSELECT 1;\n', '2_b.sql': 'SELECT 2;\n' }],
      ['2_b.sql', { '1_a.up.sql': 'SELECT 1;\n', '2_b.sql': 'SELECT 2;\n' }],
    ] as const) {
      const dir = project(files)
      let message = ''
      try {
        read(dir)
      } catch (error) {
        message = `${(error as Error).message} | ${(error as { hint?: string }).hint}`
      }
      expect(message).toContain(`${join('migrations', plain)}: no "-- migrate:up" line`)
      expect(message).toContain('has)')
    }
  })
})

/** The message and hint of what `run` throws ('' when it does not). */
function failure(run: () => unknown): string {
  try {
    run()
  } catch (error) {
    return `${(error as Error).message} | ${(error as { hint?: string }).hint}`
  }
  return ''
}

describe("readMigrations: Flyway's V, U and R files", () => {
  it('reads V files as migrations in version order (V9 before V10), U files as their rollbacks paired by version', () => {
    const dir = project({
      'V1__init.sql': 'CREATE TABLE a (id int);\n',
      'V10__add_c.sql': 'ALTER TABLE a ADD c int;\n',
      'V9__add_b.sql': 'ALTER TABLE a ADD b int;\n',
      'U9__drop_b.sql': 'ALTER TABLE a DROP b;\n',
      'V011__add_d.sql': 'ALTER TABLE a ADD d int;\n',
    })
    const set = read(dir)
    expect(set.migrations.map((m) => [m.version, m.name, m.id, m.format])).toEqual([
      ['1', 'init', 'V1__init', 'flyway'],
      ['9', 'add_b', 'V9__add_b', 'flyway'],
      ['10', 'add_c', 'V10__add_c', 'flyway'],
      ['011', 'add_d', 'V011__add_d', 'flyway'],
    ])
    const [init, b] = set.migrations
    expect(init!.up).toMatchObject({ sql: 'CREATE TABLE a (id int);\n', line: 1, column: 1 })
    expect(init!.up.file).toBe(join('migrations', 'V1__init.sql'))
    expect(b!.down).toMatchObject({ sql: 'ALTER TABLE a DROP b;\n', file: join('migrations', 'U9__drop_b.sql') })
    expect(init!.down).toBeUndefined()
    expect(
      failure(() => {
        throw noDownError(init!)
      }),
    ).toBe(
      `cannot roll back ${join('migrations', 'V1__init.sql')}: there is no U1__*.sql (Flyway's undo file) | add U1__init.sql holding the rollback (an empty one marks a no-op rollback)`,
    )
    expect(set.warnings).toEqual([])
  })

  it('runs a file as Flyway does (outside a transaction when it must), and as its .sql.conf says', () => {
    const dir = project({
      'V1__a.sql': 'SELECT 1;\n',
      'V2__b.sql': 'CREATE INDEX CONCURRENTLY i ON a (id);\n',
      'V2__b.sql.conf': '# Flyway script config\nexecuteInTransaction=false\nencoding=UTF-8\n',
      'U2__b.sql': 'DROP INDEX i;\n',
      'U2__b.sql.conf': 'executeInTransaction = true\n',
    })
    const [a, b] = read(dir).migrations
    expect(a!.up.options.transaction).toBe('auto')
    expect([b!.up.options.transaction, b!.down!.options.transaction]).toEqual([false, true])
    expect(transactionFreeHint(a!, 'up', a!.file)).toBe(
      `add ${join('migrations', 'V1__a.sql')}.conf holding "executeInTransaction=false", as Flyway reads it`,
    )
    const bad = project({ 'V1__a.sql': 'SELECT 1;\n', 'V1__a.sql.conf': 'shouldExecute=false\n' })
    expect(failure(() => read(bad))).toContain(
      `${join('migrations', 'V1__a.sql.conf')}:1: "shouldExecute=false" is not supported by dbops`,
    )
  })

  it('refuses dotted versions (1.1, 1_1) naming the file and the fix, rather than misorder 1.10 and 1.9', () => {
    for (const name of ['V1.1__x.sql', 'V1_10__x.sql']) {
      const dir = project({ 'V1__init.sql': 'SELECT 1;\n', [name]: 'SELECT 2;\n' })
      const message = failure(() => read(dir))
      expect(message).toContain(`${join('migrations', name)}: Flyway version 1.1`)
      expect(message).toContain('renumber the Flyway files with whole numbers')
    }
  })

  it('refuses a repeatable R__ file, naming it and what to do; a U file without its V file, and two U files of a version', () => {
    expect(failure(() => read(project({ 'V1__a.sql': 'SELECT 1;\n', 'R__views.sql': 'SELECT 2;\n' })))).toContain(
      `${join('migrations', 'R__views.sql')}: a Flyway repeatable migration (R__)`,
    )
    expect(failure(() => read(project({ 'V1__a.sql': 'SELECT 1;\n', 'U2__b.sql': 'SELECT 2;\n' })))).toContain(
      `${join('migrations', 'U2__b.sql')} undoes version 2, which has no V file | add the migration (V2__<description>.sql)`,
    )
    expect(failure(() => read(project({ 'V1__a.sql': '', 'U1__a.sql': '', 'U01__b.sql': '' })))).toContain(
      'are both the undo migration of version 1',
    )
  })

  it('warns about a Flyway placeholder, which Flyway would have replaced, naming its line', () => {
    const dir = project({ 'V1__a.sql': 'SELECT 1;\nCREATE TABLE ${flyway:defaultSchema}.t (id int);\n' })
    expect(read(dir).warnings).toEqual([
      `${join('migrations', 'V1__a.sql')}:2: "\${flyway:defaultSchema}" is a Flyway placeholder, which dbops does not replace: write its value out`,
    ])
  })

  it('reads Flyway files beside other formats, and refuses a version both use', () => {
    const dir = project({
      'V1__init.sql': 'CREATE TABLE a (id int);\n',
      '2_b.sql': '-- migrate:up\nSELECT 2;\n-- migrate:down\nSELECT 3;\n',
      '3_c.up.sql': 'SELECT 4;\n',
    })
    expect(read(dir).migrations.map((m) => [m.version, m.format])).toEqual([
      ['1', 'flyway'],
      ['2', 'dbmate'],
      ['3', 'golang-migrate'],
    ])
    const twice = project({ 'V2__a.sql': 'SELECT 1;\n', '2_b.sql': '-- migrate:up\nSELECT 2;\n' })
    expect(failure(() => read(twice))).toContain('have the same version 2')
  })
})

describe("up's refusals, in the file's own format", () => {
  it('a COMMIT inside a goose file is refused with the goose annotation that lets the file manage its transactions', () => {
    const dir = project({ '1_a.sql': '-- +goose Up\nSELECT 1;\nCOMMIT;\nSELECT 2;\n' })
    const [a] = read(dir).migrations
    expect(failure(() => prepareSection(a!, 'up', 'postgres'))).toContain(
      `manage transactions yourself (add "-- +goose NO TRANSACTION" above "-- +goose Up" in ${join('migrations', '1_a.sql')})`,
    )
  })
})
