// Commands that only read never change a SQLite file: not its bytes, not its mtime, not its journal mode (dbops
// audit once switched a rollback-journal database to WAL on disk). Commands that write switch it to WAL.
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, tempDir } from '../helpers/databases.js'
import { auditTarget, migrateUp, migrationStatus, openTarget } from '../../src/index.js'

const READ_ONLY_COMMANDS = [
  ['audit'],
  ['health'],
  ['migrate', 'status'],
  ['migrate', 'validate'],
  ['seed', 'status'],
  ['backup', 'list'],
  ['backup', 'check', '--max-age', '1d'],
  ['backup', 'verify', '--latest'],
  ['backup', 'verify', '--latest', '--restore'],
  ['migrate', 'up', '--dry-run'],
  ['seed', 'run', '--dry-run'],
]

function journalMode(file: string): string {
  const database = new Database(file, { readonly: true, fileMustExist: true })
  try {
    return String(database.pragma('journal_mode', { simple: true }))
  } finally {
    database.close()
  }
}

function setJournalMode(file: string, mode: 'delete' | 'wal'): void {
  const database = new Database(file)
  try {
    database.pragma(`journal_mode = ${mode}`)
  } finally {
    database.close()
  }
}

function fingerprint(file: string): { sha256: string; mtimeMs: number; size: number; journalMode: string } {
  const stat = statSync(file)
  return {
    sha256: createHash('sha256').update(readFileSync(file)).digest('hex'),
    mtimeMs: stat.mtimeMs,
    size: stat.size,
    journalMode: journalMode(file),
  }
}

describe('read-only commands leave a SQLite file as it was', () => {
  let project: string
  let file: string
  let url: string
  beforeAll(async () => {
    project = tempDir('dbops-read-only')
    mkdirSync(path.join(project, 'migrations'))
    mkdirSync(path.join(project, 'fixtures'))
    writeFileSync(
      path.join(project, 'migrations', '001_items.sql'),
      '-- migrate:up\nCREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);\n-- migrate:down\nDROP TABLE items;\n',
    )
    writeFileSync(
      path.join(project, 'migrations', '002_more.sql'),
      '-- migrate:up\nCREATE TABLE more (id INTEGER PRIMARY KEY);\n',
    )
    writeFileSync(path.join(project, 'fixtures', 'items.csv'), 'id,name\n1,one\n2,two\n')
    file = path.join(project, 'app.db')
    url = `sqlite:${file}`
    expect((await runCli(['migrate', 'up', '--to', '001', '--url', url], { cwd: project })).code).toBe(0)
    expect((await runCli(['seed', 'run', '--url', url], { cwd: project })).code).toBe(0)
    const backup = await runCli(['backup', 'create', '--url', url], { cwd: project })
    expect(backup.code, backup.stderr).toBe(0)
  })
  afterAll(() => {
    if (project) rmSync(project, { recursive: true, force: true })
  })

  for (const mode of ['delete', 'wal'] as const) {
    it(`journal_mode=${mode}: bytes, mtime and journal mode unchanged by ${READ_ONLY_COMMANDS.length} read-only commands`, async () => {
      setJournalMode(file, mode)
      const before = fingerprint(file)
      expect(before.journalMode).toBe(mode)
      for (const command of READ_ONLY_COMMANDS) {
        const result = await runCli([...command, '--url', url], { cwd: project })
        // Each command ran against the database (exit 0 or a "no"/warning answer), not into an error.
        expect([0, 1], `${command.join(' ')}: ${result.stderr}`).toContain(result.code)
        expect(fingerprint(file), command.join(' ')).toEqual(before)
      }
    })
  }

  it('library: reading through a default target changes nothing either; a readOnly target refuses to write', async () => {
    setJournalMode(file, 'delete')
    const before = fingerprint(file)
    const target = await openTarget({ url, cwd: project })
    try {
      await auditTarget(target)
      await migrationStatus(target)
    } finally {
      await target.close()
    }
    expect(fingerprint(file)).toEqual(before)

    const readOnly = await openTarget({ url, cwd: project, readOnly: true })
    try {
      await expect(migrateUp(readOnly)).rejects.toThrow(/it was opened read-only/)
    } finally {
      await readOnly.close()
    }
    expect(fingerprint(file)).toEqual(before)
  })

  it('migrate up (a write) switches a rollback-journal database to WAL, as the README says', async () => {
    setJournalMode(file, 'delete')
    const up = await runCli(['migrate', 'up', '--url', url], { cwd: project })
    expect(up.code, up.stderr).toBe(0)
    expect(journalMode(file)).toBe('wal')
  })
})
