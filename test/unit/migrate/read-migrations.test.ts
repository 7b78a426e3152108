import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { checksumOf, readMigrations } from '../../../src/migrate/files.js'
import { DbopsError } from '../../../src/errors.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function migrationsDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'dbops-read-migrations-'))
  dirs.push(dir)
  mkdirSync(join(dir, 'migrations'))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'migrations', name), text)
  return dir
}

const body = (table: string) =>
  `-- migrate:up\nCREATE TABLE ${table} (id int);\n-- migrate:down\nDROP TABLE ${table};\n`

describe('readMigrations', () => {
  it('names a migration after its file, whatever separates the version from the name', () => {
    const dir = migrationsDir({
      '00000000000000-initial-schema.sql': body('a'),
      '20240101.add.b.up.sql': 'CREATE TABLE b (id int);',
    })
    const set = readMigrations(join(dir, 'migrations'), dir)
    expect(set.migrations.map((migration) => [migration.version, migration.name, migration.id])).toEqual([
      ['00000000000000', 'initial-schema', '00000000000000-initial-schema'],
      ['20240101', 'add.b', '20240101.add.b'],
    ])
  })

  it("reads goose's files: Up and Down sections, NO TRANSACTION, statement markers left as comments", () => {
    const dir = migrationsDir({
      '00001_a.sql':
        '-- a comment first\n-- +goose Up\n-- +goose StatementBegin\nCREATE TABLE a (id int);\n-- +goose StatementEnd\n\n-- +goose Down\nDROP TABLE a;\n',
      '00002_b.sql': '-- +goose NO TRANSACTION\n-- +goose up\nCREATE INDEX CONCURRENTLY b ON a (id);\n',
    })
    const [a, b] = readMigrations(join(dir, 'migrations'), dir).migrations
    expect(a).toMatchObject({ version: '00001', name: 'a', format: 'goose' })
    expect(a!.up).toMatchObject({ line: 2, options: { transaction: true } })
    expect(a!.up.sql).toBe('\n-- +goose StatementBegin\nCREATE TABLE a (id int);\n-- +goose StatementEnd\n\n')
    expect(a!.down!.sql).toBe('\nDROP TABLE a;\n')
    expect(b!.up.options.transaction).toBe(false)
    expect(b!.down!.sql).toBe('') // goose's Down is optional: rolling back runs nothing
  })

  it('names the line of a goose annotation dbops cannot honour, and of SQL before the Up section', () => {
    for (const [text, message] of [
      ['-- +goose Up\nSELECT 1;\n-- +goose ENVSUB ON\n', '1_a.sql:3: "-- +goose ENVSUB ON" is not supported by dbops'],
      ['SELECT 0;\n-- +goose Up\nSELECT 1;\n', '1_a.sql:1: SQL before the "-- +goose Up" line'],
      [
        '-- +goose Up\nSELECT 1;\n-- +goose Up\nSELECT 2;\n',
        '1_a.sql:3: a second "-- +goose Up" line (the first is on line 1)',
      ],
    ] as const) {
      const dir = migrationsDir({ '1_a.sql': text })
      expect(() => readMigrations(join(dir, 'migrations'), dir)).toThrow(`migrations/${message}`)
    }
  })

  it("reads sql-migrate's files: Up and Down sections, notransaction on a section's own line", () => {
    const dir = migrationsDir({
      '1_a.sql': '-- +migrate Up\nCREATE TABLE a (id int);\n-- +migrate Down notransaction\nDROP TABLE a;\n',
      '2_b.sql':
        '-- +migrate Up notransaction\n-- +migrate StatementBegin\nCREATE INDEX CONCURRENTLY b ON a (id);\n-- +migrate StatementEnd\n',
    })
    const [a, b] = readMigrations(join(dir, 'migrations'), dir).migrations
    expect(a).toMatchObject({ format: 'sql-migrate', up: { options: { transaction: true } } })
    expect(a!.down).toMatchObject({ sql: '\nDROP TABLE a;\n', options: { transaction: false } })
    expect(b!.up.options.transaction).toBe(false)
    expect(b!.down!.sql).toBe('')
    const bad = migrationsDir({ '1_a.sql': '-- +migrate Up\nSELECT 1;\n-- +migrate Up now\n' })
    expect(() => readMigrations(join(bad, 'migrations'), bad)).toThrow(
      'migrations/1_a.sql:3: "-- +migrate Up now" is not supported by dbops',
    )
  })

  it('sql-migrate files with several Up and Down sections: each direction is all its sections, in place', () => {
    const text = [
      '-- +migrate Up',
      'CREATE TABLE a (id int);',
      '-- +migrate Down',
      'DROP TABLE a;',
      '-- +migrate Up notransaction',
      'CREATE INDEX CONCURRENTLY a_id ON a (id);',
      '-- +migrate Down',
      'DROP INDEX a_id;',
      '',
    ].join('\n')
    const dir = migrationsDir({ '1677078479.sql': text })
    const [migration] = readMigrations(join(dir, 'migrations'), dir).migrations
    const { up, down } = migration!
    // The other direction's lines are blank: each statement stays on its own line of the file.
    expect(up.sql.split('\n').map((line) => line.trim())).toEqual([
      '',
      'CREATE TABLE a (id int);',
      '',
      '',
      '',
      'CREATE INDEX CONCURRENTLY a_id ON a (id);',
      '',
    ])
    expect(up).toMatchObject({ line: 1, options: { transaction: false } })
    expect(up.sql.split('\n')[5]).toBe('CREATE INDEX CONCURRENTLY a_id ON a (id);')
    expect(down!.sql.split('\n').map((line) => line.trim())).toEqual([
      '',
      'DROP TABLE a;',
      '',
      '',
      '',
      'DROP INDEX a_id;',
      '',
    ])
    expect(down).toMatchObject({ line: 3, options: { transaction: true } })
  })

  it('says how to rename a Flyway name with a lower-case prefix it ignores', () => {
    const dir = migrationsDir({ 'v2__add_users.sql': 'CREATE TABLE users (id int);', 'notes.sql': '' })
    expect(readMigrations(join(dir, 'migrations'), dir).warnings).toEqual([
      'ignoring migrations/notes.sql: its name does not start with a version',
      'ignoring migrations/v2__add_users.sql: a Flyway name with a lower-case prefix (dbops reads V, U and R: rename it)',
    ])
  })

  it('refuses an indented directive, which dbmate would read as a comment inside the section above it', () => {
    // As in UPchieve/subway's 20211026205335_create_cities_table.sql.
    const indented =
      '-- migrate:up\nALTER TABLE t\n    ADD CONSTRAINT u UNIQUE (a)\n    -- migrate:down\n    DROP CONSTRAINT u;\n'
    for (const [name, text] of [
      ['1_a.sql', indented],
      ['2_b.up.sql', 'SELECT 1;\n\t-- migrate:down\nSELECT 2;\n'],
    ]) {
      const dir = migrationsDir({ [name!]: text! })
      expect(() => readMigrations(join(dir, 'migrations'), dir)).toThrow(
        `migrations/${name}:${name === '1_a.sql' ? 4 : 2}: "-- migrate:down" is indented, so it would be a comment, not a directive`,
      )
    }
  })

  it('refuses SQL before the first directive, even after a block comment on the same line', () => {
    const dir = migrationsDir({ '1_a.sql': `/* header */ CREATE TABLE sneaky (id int);\n${body('a')}` })
    let caught: unknown
    try {
      readMigrations(join(dir, 'migrations'), dir)
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(DbopsError)
    expect((caught as DbopsError).message).toBe('migrations/1_a.sql:1: SQL before the first "-- migrate:up" line')
  })

  it('accepts comments, including block comments, before the first directive', () => {
    const dir = migrationsDir({ '1_a.sql': `/* header */ -- and a line comment\n/*\n multi-line\n*/\n${body('a')}` })
    expect(readMigrations(join(dir, 'migrations'), dir).migrations).toHaveLength(1)
  })

  it('warns when dbmate files run in another order than their names sort (dbmate runs them by name)', () => {
    const dir = migrationsDir({
      '20231231120000_create_users.sql': body('users'),
      '20240101_add_email.sql': body('email'),
      'notes.sql': '-- not a migration',
    })
    const set = readMigrations(join(dir, 'migrations'), dir)
    expect(set.migrations.map((migration) => migration.version)).toEqual(['20240101', '20231231120000'])
    expect(set.warnings).toEqual([
      'ignoring migrations/notes.sql: its name does not start with a version',
      'migrations/20240101_add_email.sql runs before migrations/20231231120000_create_users.sql: versions compare as numbers (as golang-migrate does), while dbmate runs files in name order; give the versions the same number of digits if the name order is the one meant',
    ])
  })

  it('warns when diesel folders run in another order than diesel runs them (diesel compares versions as text)', () => {
    // vaultwarden's migrations/sqlite: 2024-03-13_170000_sso_userscascade is version 20240313 to diesel too.
    const dir = migrationsDir({})
    for (const [folder, sql] of [
      ['2018-01-14-171611_create_tables', 'CREATE TABLE users (uuid text);'],
      ['2024-03-06-170000_add_sso_users', 'CREATE TABLE sso_users (id text);'],
      ['2024-03-13_170000_sso_userscascade', 'DROP TABLE IF EXISTS sso_users; CREATE TABLE sso_users (id text);'],
    ]) {
      mkdirSync(join(dir, 'migrations', folder!))
      writeFileSync(join(dir, 'migrations', folder!, 'up.sql'), sql!)
    }
    const set = readMigrations(join(dir, 'migrations'), dir)
    expect(set.migrations.map((migration) => migration.version)).toEqual([
      '20240313',
      '20180114171611',
      '20240306170000',
    ])
    expect(set.warnings).toEqual([
      "migrations/2024-03-13_170000_sso_userscascade/up.sql runs before migrations/2018-01-14-171611_create_tables/up.sql: versions compare as numbers, while diesel compares them as text (20240313 after 20180114171611); give 2024-03-13_170000_sso_userscascade a version of as many digits as the others (YYYY-MM-DD-HHMMSS) if diesel's order is the one meant",
    ])
  })

  it('does not warn about diesel folders whose versions have the same number of digits', () => {
    const dir = migrationsDir({})
    for (const folder of ['2019-02-26-002946_a', '2018-01-01-000000_b']) {
      mkdirSync(join(dir, 'migrations', folder))
      writeFileSync(join(dir, 'migrations', folder, 'up.sql'), 'SELECT 1;')
    }
    expect(readMigrations(join(dir, 'migrations'), dir).warnings).toEqual([])
  })

  it('does not warn about unpadded golang-migrate versions, which golang-migrate also orders by number', () => {
    const dir = migrationsDir({ '2_b.up.sql': 'SELECT 1;', '10_c.up.sql': 'SELECT 1;', '1_a.up.sql': 'SELECT 1;' })
    const set = readMigrations(join(dir, 'migrations'), dir)
    expect(set.migrations.map((migration) => migration.version)).toEqual(['1', '2', '10'])
    expect(set.warnings).toEqual([])
  })

  it('pairs golang-migrate files by version alone, as golang-migrate does, named after the up file', () => {
    // ente's server/migrations: 30_add_magic_metadata.up.sql is undone by 30_drop_magic_metadata.down.sql.
    const dir = migrationsDir({
      '30_add_magic_metadata.up.sql': 'ALTER TABLE files ADD COLUMN magic text;\n',
      '30_drop_magic_metadata.down.sql': 'ALTER TABLE files DROP COLUMN magic;\n',
    })
    const [migration, ...rest] = readMigrations(join(dir, 'migrations'), dir).migrations
    expect(rest).toEqual([])
    expect([migration!.version, migration!.name, migration!.file]).toEqual([
      '30',
      'add_magic_metadata',
      join('migrations', '30_add_magic_metadata.up.sql'),
    ])
    expect(migration!.down?.sql).toBe('ALTER TABLE files DROP COLUMN magic;\n')
  })

  it('refuses two up files (or two down files) of one golang-migrate version, naming both', () => {
    for (const direction of ['up', 'down']) {
      const dir = migrationsDir({
        '7_a.up.sql': 'SELECT 1;',
        '7_a.down.sql': 'SELECT 1;',
        [`07_b.${direction}.sql`]: 'SELECT 2;',
      })
      expect(() => readMigrations(join(dir, 'migrations'), dir)).toThrow(
        `migrations/07_b.${direction}.sql and migrations/7_a.${direction}.sql are both the ${direction} migration of version 7`,
      )
    }
  })

  it('refuses a down file whose version has no up file, naming it', () => {
    const dir = migrationsDir({ '1_a.up.sql': 'SELECT 1;', '2_b.down.sql': 'SELECT 2;' })
    expect(() => readMigrations(join(dir, 'migrations'), dir)).toThrow(
      'migrations/2_b.down.sql has no up migration: no 2_*.up.sql',
    )
  })
})

describe('readMigrations: checksums', () => {
  it('gives each migration the checksum of its up section, also through spread and JSON', () => {
    const dir = migrationsDir({
      '1_a.sql': '-- migrate:up\nCREATE TABLE a (id int);  \r\n-- migrate:down\nDROP TABLE a;\n',
      '2_b.up.sql': 'CREATE TABLE b (id int);\n',
      '2_b.down.sql': 'DROP TABLE b;\n',
    })
    const [a, b] = readMigrations(join(dir, 'migrations'), dir).migrations
    expect(a!.checksum).toBe(checksumOf('\nCREATE TABLE a (id int);  \r\n'))
    expect(a!.checksum).toBe(checksumOf('\nCREATE TABLE a (id int);'))
    expect(b!.checksum).toBe(checksumOf('CREATE TABLE b (id int);\n'))
    expect({ ...a }.checksum).toBe(a!.checksum)
    expect(JSON.parse(JSON.stringify(b)).checksum).toBe(b!.checksum)
  })

  it('keeps the checksums ledgers already hold: sha256 hex of the UTF-8 text, line endings and trailing space normalised', () => {
    // Digests made with createHash('sha256').update(text).digest('hex'), as dbops computed them before.
    expect(checksumOf('CREATE TABLE b (id int);\r\n\n  ')).toBe(
      'sha256:4bb1b96da8a8ff31ab1452f118fb64d1f550dfe81a3ed7631b054918ef0aa988',
    )
    expect(checksumOf("INSERT INTO t VALUES ('é—ü 🙂');\r\nSELECT 1;\n")).toBe(
      'sha256:d50739b3277478f6c28876510f19e1a3a17a98243ac258c88a3144e50bb600d9',
    )
  })

  it('warns about an empty up section, not about one with SQL or a deliberate no-op that says so in a comment', () => {
    const dir = migrationsDir({
      '1_empty.sql': '-- migrate:up\n\n ;\n-- migrate:down\nDROP TABLE x;\n',
      '2_full.sql': '-- migrate:up\n-- a comment first\nSELECT 1;\n-- migrate:down\n',
      // As in pocket-id's PostgreSQL set, written alongside a SQLite one.
      '3_noop.up.sql': '-- No-op on Postgres',
      '4_noop.sql': '-- migrate:up\n/* nothing to do here */ ;\n-- migrate:down\n',
      '5_empty.up.sql': '\n',
    })
    const { warnings } = readMigrations(join(dir, 'migrations'), dir)
    expect(warnings.map((warning) => warning.split(' has no SQL')[0])).toEqual([
      join('migrations', '1_empty.sql'),
      join('migrations', '5_empty.up.sql'),
    ])
  })
})

describe('readMigrations: text', () => {
  it('refuses bytes that are not UTF-8 with their line and column, keeps a U+FFFD written in the file, drops a BOM', () => {
    const dir = migrationsDir({})
    const latin1 = Buffer.concat([
      Buffer.from("-- migrate:up\nINSERT INTO t VALUES ('caf"),
      Buffer.from([0xe9, 0x27, 0x29]),
    ])
    writeFileSync(join(dir, 'migrations', '1_latin1.sql'), latin1)
    expect(() => readMigrations(join(dir, 'migrations'), dir)).toThrow(
      expect.objectContaining({
        code: 'E_MIGRATION_PARSE',
        message: `migrations/1_latin1.sql:2:27: not valid UTF-8 (byte 0xE9)`,
      }),
    )
    rmSync(join(dir, 'migrations', '1_latin1.sql'))
    writeFileSync(
      join(dir, 'migrations', '2_replacement.sql'),
      "\uFEFF-- migrate:up\nINSERT INTO t VALUES ('\uFFFD');\n",
    )
    const [migration] = readMigrations(join(dir, 'migrations'), dir).migrations
    expect(migration!.up.sql).toBe("\nINSERT INTO t VALUES ('\uFFFD');\n")
    expect(migration!.up.line).toBe(1)
  })
})

describe('readMigrations in an Atlas migration directory (atlas.sum beside the files)', () => {
  it('reads a plain SQL file as an up-only migration, with -- atlas:txmode none outside a transaction', () => {
    const dir = migrationsDir({
      'atlas.sum': 'h1:x=\n',
      '20240101000000_users.sql': '-- create "users" table\nCREATE TABLE users (id bigint);\n',
      '20240102000000_idx.sql': '-- atlas:txmode none\n\nCREATE INDEX CONCURRENTLY users_id ON users (id);\n',
    })
    const [users, index] = readMigrations(join(dir, 'migrations'), dir).migrations
    expect(users).toMatchObject({ format: 'atlas', up: { line: 1, options: { transaction: true } }, down: undefined })
    expect(users!.up.sql).toBe('-- create "users" table\nCREATE TABLE users (id bigint);\n')
    expect(index!.up.options.transaction).toBe(false)
    const delimiter = migrationsDir({ 'atlas.sum': '', '1_a.sql': 'SELECT 1;\n-- atlas:delimiter //\n' })
    expect(() => readMigrations(join(delimiter, 'migrations'), delimiter)).toThrow(
      'migrations/1_a.sql:2: "-- atlas:delimiter" is not supported by dbops',
    )
    // Without atlas.sum the same file is plain SQL, where no file has markers; beside a dbmate file, a mistake.
    const plain = migrationsDir({ '1_a.sql': 'SELECT 1;\n' })
    expect(readMigrations(join(plain, 'migrations'), plain).migrations[0]!.format).toBe('plain')
    const mixed = migrationsDir({ '1_a.sql': 'SELECT 1;\n', '2_b.sql': body('b') })
    expect(() => readMigrations(join(mixed, 'migrations'), mixed)).toThrow(
      'migrations/1_a.sql: no "-- migrate:up" line',
    )
  })
})
