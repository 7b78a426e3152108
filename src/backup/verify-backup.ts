import { join } from 'node:path'
import type { Target } from '../targets/target.js'
import { DbopsError, UsageError } from '../errors.js'
import { hashArtifact } from './create-backup.js'
import { listBackups, readManifest, writeManifest, type BackupManifest } from './manifest.js'

export interface VerifyBackupOptions {
  /** A backup id; default (or `latest: true`) the newest backup. */
  id?: string
  latest?: boolean
  /** Restore into a scratch database and compare row counts and the ledger version with the manifest. */
  restore?: boolean
  jobs?: number
  signal?: AbortSignal
  onEvent?: (event: { type: 'step'; target: string; message: string }) => void
}

export interface VerifyBackupResult {
  target: string
  id: string
  verifiedBy: 'checksum' | 'restore'
  verifiedAt: string
  /** What was checked, one line each. */
  checks: string[]
  tables: number
  rows: number
}

/** The backup `id` of a target, or its newest one; a clear error when there is none. */
export function findBackup(target: Target, id: string | undefined): BackupManifest {
  const backups = listBackups(target)
  if (id === undefined || id === 'latest') {
    const newest = backups.at(-1)
    if (!newest) throw new DbopsError('E_BACKUP_NOT_FOUND', `${target.name} has no backups in ${target.backup.dir}`, { hint: 'create one with "dbops backup create"' })
    return newest
  }
  const found = backups.find((manifest) => manifest.id === id)
  if (!found) {
    throw new DbopsError('E_BACKUP_NOT_FOUND', `there is no backup "${id}" in ${target.backup.dir}`, { hint: 'list them with "dbops backup list"' })
  }
  return found
}

/**
 * Proves a backup: its sha256 matches the manifest and the engine reads all of it (pg_restore over every entry,
 * SQLite's integrity_check); with `restore`, a real restore into a scratch database (dropped afterwards, whatever
 * happens) whose per-table row counts and ledger version must equal the manifest's. Success is recorded in the
 * manifest (verifiedAt); a failure throws E_BACKUP_CORRUPT / E_VERIFY_MISMATCH and changes nothing.
 */
export async function verifyBackup(target: Target, options: VerifyBackupOptions = {}): Promise<VerifyBackupResult> {
  if (options.id !== undefined && options.latest) throw new UsageError('give a backup id or --latest, not both')
  const manifest = findBackup(target, options.id)
  const step = (message: string) => options.onEvent?.({ type: 'step', target: target.name, message })
  const engine = await target.backend.backupEngine()
  if (manifest.engine !== target.backend.engine) {
    throw new UsageError(`backup ${manifest.id} is a ${manifest.engine} backup, but ${target.name} is ${target.backend.engine}`)
  }
  const artifactPath = join(target.backup.dir, manifest.artifact)
  const checks: string[] = []
  step(`checking the sha256 of ${manifest.artifact}`)
  const sha256 = await hashArtifact(artifactPath)
  if (sha256 !== manifest.sha256) {
    throw new DbopsError('E_BACKUP_CORRUPT', `backup ${manifest.id} is corrupt: the sha256 of ${manifest.artifact} is ${sha256.slice(0, 12)}…, the manifest says ${manifest.sha256.slice(0, 12)}…`, {
      hint: 'the file changed after it was written (disk, copy or edit); take a new backup and keep this one for inspection',
      details: { expected: manifest.sha256, actual: sha256 },
    })
  }
  checks.push(`sha256 ${sha256.slice(0, 12)}… matches`)
  step('reading the whole backup')
  try {
    checks.push(await engine.checkReadable(artifactPath, manifest.format, manifest.tools))
  } catch (error) {
    throw new DbopsError('E_BACKUP_CORRUPT', `backup ${manifest.id} cannot be read back: ${(error as Error).message}`, { hint: 'take a new backup', cause: error })
  }
  let verifiedBy: 'checksum' | 'restore' = 'checksum'
  if (options.restore) {
    const scratch = await engine.scratch(target)
    try {
      step(`restoring into ${scratch.description}`)
      const outcome = await scratch.restore({
        artifactPath,
        format: manifest.format,
        tools: manifest.tools,
        ...(manifest.extra && { extra: manifest.extra }),
        jobs: options.jobs ?? target.backup.jobs ?? 1,
        noOwner: true,
        ...(options.signal && { signal: options.signal }),
      })
      const facts = await scratch.facts()
      const problems = compareFacts(manifest, facts)
      if (problems.length > 0) {
        throw new DbopsError('E_VERIFY_MISMATCH', `backup ${manifest.id} restores, but differs from what was backed up: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`, {
          hint: 'do not rely on this backup; take a new one and report the difference',
          details: { problems },
        })
      }
      checks.push(`restored with ${outcome.method}: ${Object.keys(facts.rowCounts).length} table(s), row counts and migration version ${facts.migrationVersion ?? '(no ledger)'} match`)
      verifiedBy = 'restore'
    } finally {
      await scratch.drop().catch(() => {})
    }
  }
  const verifiedAt = new Date().toISOString()
  // Read again: a prune may have removed it meanwhile, and then there is nothing to record.
  const current = readManifest(target.backup.dir, manifest.id)
  if (current) writeManifest(target.backup.dir, { ...current, verifiedAt, verifiedBy })
  const counts = Object.values(manifest.rowCounts)
  return { target: target.name, id: manifest.id, verifiedBy, verifiedAt, checks, tables: counts.length, rows: counts.reduce((sum, n) => sum + n, 0) }
}

function compareFacts(manifest: BackupManifest, facts: { migrationVersion: string | null; rowCounts: Record<string, number> }): string[] {
  const problems: string[] = []
  if ((manifest.migrationVersion ?? null) !== facts.migrationVersion) {
    problems.push(`migration version ${facts.migrationVersion ?? 'none'} restored, ${manifest.migrationVersion ?? 'none'} backed up`)
  }
  for (const [table, count] of Object.entries(manifest.rowCounts)) {
    const restored = facts.rowCounts[table]
    if (restored === undefined) problems.push(`table ${table} is missing`)
    else if (restored !== count) problems.push(`${table} has ${restored} rows, ${count} backed up`)
  }
  for (const table of Object.keys(facts.rowCounts)) if (!(table in manifest.rowCounts)) problems.push(`table ${table} was not in the backup`)
  return problems
}
