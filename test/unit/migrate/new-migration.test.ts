import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
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
