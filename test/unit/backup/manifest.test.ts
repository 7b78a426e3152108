// Backup folders without a database: ids, what counts as a backup, what is a leftover, freshness checks, sizes.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { incompleteEntries, listBackups, newBackupId, type BackupManifest } from '../../../src/backup/manifest.js'
import { checkBackups, parseSize } from '../../../src/backup/check-backups.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function folder(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dbops-manifest-'))
  dirs.push(dir)
  return dir
}

function backup(dir: string, id: string, overrides: Partial<BackupManifest> = {}): BackupManifest {
  const manifest: BackupManifest = {
    manifestVersion: 1,
    id,
    target: 'app',
    url: 'sqlite:./app.db',
    engine: 'sqlite',
    format: 'sqlite',
    label: null,
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:01.000Z',
    durationMs: 1000,
    sizeBytes: 4096,
    sha256: 'ab'.repeat(32),
    artifact: `${id}.sqlite`,
    serverVersion: '3.50.0',
    tools: {},
    migrationVersion: null,
    rowCounts: {},
    verifiedAt: null,
    verifiedBy: null,
    ...overrides,
  }
  writeFileSync(path.join(dir, manifest.artifact), 'data')
  writeFileSync(path.join(dir, `${id}.manifest.json`), JSON.stringify(manifest))
  return manifest
}

describe('backup ids', () => {
  it('are UTC timestamps plus the target, with a suffix when the second repeats', () => {
    const at = new Date('2026-11-23T01:45:00.123Z')
    expect(newBackupId('app', at, () => false)).toBe('20261123T014500Z-app')
    const taken = new Set(['20261123T014500Z-app', '20261123T014500Z-app-2'])
    expect(newBackupId('app', at, (id) => taken.has(id))).toBe('20261123T014500Z-app-3')
    expect(['20261123T014500Z-app-2', '20261123T014459Z-app', '20261123T014500Z-app'].sort()).toEqual([
      '20261123T014459Z-app',
      '20261123T014500Z-app',
      '20261123T014500Z-app-2',
    ])
  })
})

describe('listBackups and leftovers', () => {
  it('lists complete backups oldest first; ignores temp files, manifests without artifacts, artifacts without manifests and junk', () => {
    const dir = folder()
    backup(dir, '20260102T000000Z-app', { startedAt: '2026-01-02T00:00:00.000Z' })
    backup(dir, '20260101T000000Z-app', { startedAt: '2026-01-01T00:00:00.000Z' })
    const orphan = backup(dir, '20260103T000000Z-app', { startedAt: '2026-01-03T00:00:00.000Z' })
    rmSync(path.join(dir, orphan.artifact))
    writeFileSync(path.join(dir, '.tmp-20260104T000000Z-app.sqlite'), 'partial')
    writeFileSync(path.join(dir, '20260105T000000Z-app.sqlite'), 'no manifest')
    writeFileSync(path.join(dir, '20260106T000000Z-app.manifest.json'), '{not json')
    // A pid above Linux's limit (2^22) is never alive; a live process's temporary manifest is not a leftover.
    writeFileSync(path.join(dir, '.20260107T000000Z-app.manifest.json.4194999.456.tmp'), '{}')
    writeFileSync(path.join(dir, `.20260102T000000Z-app.manifest.json.${process.pid}.456.tmp`), '{}')
    writeFileSync(path.join(dir, 'notes.txt'), 'a user file')
    mkdirSync(path.join(dir, '.tmp-20260108T000000Z-app.dir'))
    expect(listBackups(dir).map((manifest) => manifest.id)).toEqual(['20260101T000000Z-app', '20260102T000000Z-app'])
    expect(listBackups({ backup: { dir } })).toHaveLength(2)
    expect(incompleteEntries(dir).sort()).toEqual([
      '.20260107T000000Z-app.manifest.json.4194999.456.tmp',
      '.tmp-20260104T000000Z-app.sqlite',
      '.tmp-20260108T000000Z-app.dir',
      '20260105T000000Z-app.sqlite',
    ])
    expect(listBackups(path.join(dir, 'missing'))).toEqual([])
  })
})

describe('checkBackups', () => {
  const now = new Date('2026-01-02T12:00:00Z')
  it('critical without a backup or when the newest is too old; warning when small or shrunk; ok otherwise', async () => {
    const dir = folder()
    const target = { name: 'app', backup: { dir } }
    expect((await checkBackups(target, { now })).status).toBe('critical')
    backup(dir, '20260101T000000Z-app', {
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:00:01.000Z',
      sizeBytes: 10_000,
    })
    expect((await checkBackups(target, { now })).status).toBe('critical') // 36 h old, default limit 26 h
    expect((await checkBackups(target, { now, maxAgeMs: 48 * 3_600_000 })).status).toBe('ok')
    backup(dir, '20260102T000000Z-app', {
      startedAt: '2026-01-02T00:00:00.000Z',
      finishedAt: '2026-01-02T00:00:01.000Z',
      sizeBytes: 4000,
    })
    const shrunk = await checkBackups(target, { now })
    expect(shrunk.status).toBe('warn')
    expect(shrunk.findings.map((finding) => finding.check)).toEqual(['backup_age', 'backup_shrink'])
    expect(shrunk.ageSeconds).toBe(12 * 3600 - 1)
    expect(
      (await checkBackups(target, { now, minSizeBytes: 1 << 20 })).findings.find(
        (finding) => finding.check === 'backup_size',
      )?.severity,
    ).toBe('warn')
  })

  it('reads sizes with binary multiples', () => {
    expect(parseSize('1MB', '--min-size')).toBe(1 << 20)
    expect(parseSize('500 kb', '--min-size')).toBe(500 * 1024)
    expect(parseSize('2GiB', '--min-size')).toBe(2 * 1024 ** 3)
    expect(parseSize('1024', '--min-size')).toBe(1024)
    expect(() => parseSize('lots', '--min-size')).toThrow('--min-size: "lots" is not a size')
  })
})
