import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
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
