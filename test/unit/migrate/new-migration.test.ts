import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { newMigration } from '../../../src/migrate/manage.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function emptyDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dbops-new-migration-'))
  dirs.push(dir)
  return dir
}

const now = new Date('2026-01-02T03:04:05Z')

describe('newMigration', () => {
  it('takes the next free second when the version is taken by a file', () => {
    const dir = emptyDir()
    writeFileSync(join(dir, '20260102030405_first.sql'), '-- migrate:up\n')
    expect(newMigration(dir, 'second', now).version).toBe('20260102030406')
  })

  it('takes the next second when another run holds the claim on this one, and leaves no claim behind', () => {
    const dir = emptyDir()
    // Another `migrate new` that claimed this second and has not written its file yet.
    writeFileSync(join(dir, '.20260102030405.new'), '')
    const result = newMigration(dir, 'add_users', now)
    expect(result.version).toBe('20260102030406')
    expect(existsSync(join(dir, '20260102030406_add_users.sql'))).toBe(true)
    expect(readdirSync(dir).sort()).toEqual(['.20260102030405.new', '20260102030406_add_users.sql'])
  })
})

describe("newMigration in a folder another tool's files fill", () => {
  it('counts on from files named by their version alone (convoy: 1787540001.sql)', () => {
    const dir = emptyDir()
    writeFileSync(join(dir, '1787540000.sql'), '-- +migrate Up\nSELECT 1;\n')
    writeFileSync(join(dir, '1787540001.sql'), '-- +migrate Up\nSELECT 2;\n')
    expect(newMigration(dir, 'add_thing', now).version).toBe('1787540002')
  })

  it('writes the format of the newest file and counts on from a numbered sequence', () => {
    const goose = emptyDir()
    writeFileSync(join(goose, '00009_a.sql'), '-- +goose Up\nSELECT 1;\n')
    writeFileSync(join(goose, '00010_b.sql'), '-- +goose Up\nSELECT 2;\n-- +goose Down\n')
    expect(newMigration(goose, 'c', now)).toMatchObject({ version: '00011' })
    expect(readFileSync(join(goose, '00011_c.sql'), 'utf8')).toBe('-- +goose Up\n\n\n-- +goose Down\n\n')

    const sqlMigrate = emptyDir()
    writeFileSync(join(sqlMigrate, '20250101000000_a.sql'), '-- +migrate Up\nSELECT 1;\n')
    const written = newMigration(sqlMigrate, 'b', now)
    expect(written.version).toBe('20260102030405')
    expect(readFileSync(join(sqlMigrate, '20260102030405_b.sql'), 'utf8')).toBe(
      '-- +migrate Up\n\n\n-- +migrate Down\n\n',
    )
  })

  it('writes a golang-migrate pair next to pairs, and the audit fix text as given', () => {
    const golang = emptyDir()
    writeFileSync(join(golang, '000007_x.up.sql'), 'SELECT 1;')
    writeFileSync(join(golang, '000007_x.down.sql'), 'SELECT 2;')
    const pair = newMigration(golang, 'y', now)
    expect(pair.version).toBe('000008')
    expect(pair.files.map((file) => file.split(/[\\/]/).pop())).toEqual(['000008_y.up.sql', '000008_y.down.sql'])
    expect(readFileSync(join(golang, '000008_y.up.sql'), 'utf8')).toBe('')
    const fix = newMigration(golang, 'fix', now, '-- migrate:up\nDROP INDEX i;\n')
    expect(readdirSync(golang)).toContain('000009_fix.sql')
    expect(readFileSync(join(golang, fix.files[0]!.split(/[\\/]/).pop()!), 'utf8')).toBe(
      '-- migrate:up\nDROP INDEX i;\n',
    )
  })
})

describe('newMigration in a folder of migration folders, or of plain SQL files', () => {
  const names = (dir: string, sub = '') => readdirSync(join(dir, sub)).sort()

  it("writes a diesel folder (dashed version, up.sql and down.sql) after diesel's folders", () => {
    const diesel = emptyDir()
    mkdirSync(join(diesel, '2019-02-26-002946_create_user'))
    writeFileSync(join(diesel, '2019-02-26-002946_create_user', 'up.sql'), 'SELECT 1;\n')
    const written = newMigration(diesel, 'add_email', now)
    expect(written.version).toBe('20260102030405')
    expect(names(diesel)).toEqual(['2019-02-26-002946_create_user', '2026-01-02-030405_add_email'])
    expect(names(diesel, '2026-01-02-030405_add_email')).toEqual(['down.sql', 'up.sql'])
    // The folder's version is taken: the next one takes the next second.
    expect(newMigration(diesel, 'again', now).version).toBe('20260102030406')

    // diesel 2 adds a subversion (-0000): versions keep their 18 digits, so the new one sorts after the old ones.
    const diesel2 = emptyDir()
    mkdirSync(join(diesel2, '2025-08-01-000016_a'))
    mkdirSync(join(diesel2, '2026-01-01-000000-0000_b'))
    writeFileSync(join(diesel2, '2026-01-01-000000-0000_b', 'up.sql'), 'SELECT 1;\n')
    expect(newMigration(diesel2, 'c', now).version).toBe('202601020304050000')
    expect(newMigration(diesel2, 'd', now).version).toBe('202601020304060000')
    expect(names(diesel2)).toContain('2026-01-02-030406-0000_d')
  })

  it("writes Prisma's migration.sql after Prisma folders, and counts on from Sourcegraph's numbered folders", () => {
    const prisma = emptyDir()
    mkdirSync(join(prisma, '20230101000000_init'))
    writeFileSync(join(prisma, '20230101000000_init', 'migration.sql'), 'SELECT 1;\n')
    writeFileSync(join(prisma, 'migration_lock.toml'), '')
    newMigration(prisma, 'b', now)
    expect(names(prisma, '20260102030405_b')).toEqual(['migration.sql'])

    const sourcegraph = emptyDir()
    mkdirSync(join(sourcegraph, '1528395834_squashed'))
    writeFileSync(join(sourcegraph, '1528395834_squashed', 'up.sql'), 'SELECT 1;\n')
    expect(newMigration(sourcegraph, 'next', now).version).toBe('1528395835')
    expect(names(sourcegraph, '1528395835_next')).toEqual(['down.sql', 'up.sql'])
  })

  it('writes an empty plain file after a plain SQL file (markers would turn the others into mistakes)', () => {
    const sqlx = emptyDir()
    writeFileSync(join(sqlx, '20220101000000_init.sql'), 'CREATE TABLE a (id int);\n')
    newMigration(sqlx, 'b', now)
    expect(readFileSync(join(sqlx, '20260102030405_b.sql'), 'utf8')).toBe('')
  })
})

describe('newMigration in a Flyway folder', () => {
  it('writes the next V file, and a U file when the folder has undo files', () => {
    const flyway = emptyDir()
    writeFileSync(join(flyway, 'V1__init.sql'), 'CREATE TABLE a (id int);\n')
    writeFileSync(join(flyway, 'V9__b.sql'), 'SELECT 1;\n')
    expect(newMigration(flyway, 'add users', now).version).toBe('10')
    expect(readFileSync(join(flyway, 'V10__add_users.sql'), 'utf8')).toBe('')
    expect(existsSync(join(flyway, 'U10__add_users.sql'))).toBe(false)
    writeFileSync(join(flyway, 'U10__add_users.sql'), '')
    const written = newMigration(flyway, 'c', now)
    expect([written.version, written.files.map((file) => file.slice(-'V11__c.sql'.length))]).toEqual([
      '11',
      ['V11__c.sql', 'U11__c.sql'],
    ])
  })

  it('keeps the width of a padded sequence and counts on from Flyway timestamps', () => {
    const padded = emptyDir()
    writeFileSync(join(padded, 'V001__init.sql'), '')
    expect(newMigration(padded, 'b', now).files[0]).toMatch(/V002__b\.sql$/)
    const stamped = emptyDir()
    writeFileSync(join(stamped, 'V20240101120000__init.sql'), '')
    expect(newMigration(stamped, 'b', now).files[0]).toMatch(/V20260102030405__b\.sql$/)
  })
})

describe('newMigration with given content (the audit fix) in a folder of plain SQL files', () => {
  it('refuses: a dbops-format file would make the plain files read as files missing their markers', () => {
    const sqlx = emptyDir()
    writeFileSync(join(sqlx, '20220101000000_init.sql'), 'CREATE TABLE a (id int);\n')
    expect(() => newMigration(sqlx, 'fix', now, '-- migrate:up\nDROP INDEX i;\n')).toThrow(
      'holds plain SQL migrations (no markers)',
    )
    expect(readdirSync(sqlx)).toEqual(['20220101000000_init.sql'])
  })
})

describe('newMigration in an Atlas directory', () => {
  it("writes dbops' format beside Atlas's marker-less files, as the audit fix does", () => {
    const atlas = emptyDir()
    writeFileSync(join(atlas, 'atlas.sum'), 'h1:x=\n')
    writeFileSync(join(atlas, '20240101000000_users.sql'), 'CREATE TABLE users (id bigint);\n')
    newMigration(atlas, 'b', now)
    expect(readFileSync(join(atlas, '20260102030405_b.sql'), 'utf8')).toBe('-- migrate:up\n\n\n-- migrate:down\n\n')
    newMigration(atlas, 'fix', now, '-- migrate:up\nDROP INDEX i;\n')
    expect(readdirSync(atlas)).toContain('20260102030406_fix.sql')
  })
})
