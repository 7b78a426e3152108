import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Target } from '../targets/target.js'
import { DbopsError, UsageError } from '../errors.js'
import { fsyncDirectory } from '../output/atomic-write.js'
import { withBackupLock } from './backup-lock.js'
import { isVerified, manifestPath, type BackupManifest } from './manifest.js'
import { targetBackups } from './ownership.js'
import { applyRetention, isEmptyPolicy, type RetentionPolicy } from './retention.js'

export interface PruneBackupsOptions {
  /** Default: the target's `backup.retention` from the config. */
  policy?: RetentionPolicy
  dryRun?: boolean
  wait?: boolean
  signal?: AbortSignal
  now?: Date
}

export interface PrunedBackup {
  id: string
  startedAt: string
  sizeBytes: number
  verifiedAt: string | null
  /** Why it is kept (empty for removed backups). */
  reasons: string[]
}

export interface PruneBackupsResult {
  target: string
  /** The database whose backups were considered (others sharing the folder are left alone). */
  database: string
  dryRun: boolean
  policy: RetentionPolicy
  kept: PrunedBackup[]
  removed: PrunedBackup[]
  freedBytes: number
}

/**
 * Applies a retention policy (restic's `forget` rules, see applyRetention) to the complete backups of a target, and
 * deletes the rest unless `dryRun`. Guard rails: an empty policy is refused (it would delete everything), and the
 * newest verified backup is always kept. Each deletion removes the manifest first, so a crash halfway leaves an
 * incomplete artifact that the next `create` cleans up, never a manifest without its file.
 */
export async function pruneBackups(target: Target, options: PruneBackupsOptions = {}): Promise<PruneBackupsResult> {
  const policy = options.policy ?? target.backup.retention
  if (isEmptyPolicy(policy)) {
    throw new UsageError(
      'no retention policy: prune would delete every backup',
      'pass --keep-last/--keep-daily/... or --keep-within, or set backup.retention in the config',
    )
  }
  const dir = target.backup.dir
  const run = async (): Promise<PruneBackupsResult> => {
    // Read inside the lock. Only this database's backups take part; older backups without an identity only when
    // they were taken through this same URL (a folder shared before identities were recorded keeps the others').
    const listed = await targetBackups(target)
    const { identity } = listed
    // Backups left in the old shared backups/default are never pruned from here.
    const mine = listed.backups.filter((manifest) => listed.folderOf(manifest) === dir)
    const strangers = mine.filter((manifest) => !manifest.database && manifest.url !== target.redactedUrl)
    const backups = mine.filter((manifest) => !strangers.includes(manifest))
    const decisions = applyRetention(backups, (manifest) => new Date(manifest.startedAt), policy, options.now)
    const newestVerified = backups.filter(isVerified).at(-1)
    const kept: PrunedBackup[] = strangers.map((manifest) =>
      summary(manifest, [`no database identity (taken from ${manifest.url}, not ${target.redactedUrl})`]),
    )
    const removed: PrunedBackup[] = []
    for (const decision of decisions) {
      if (!decision.keep && decision.item.id === newestVerified?.id) decision.reasons.push('newest verified backup')
      ;(decision.reasons.length > 0 ? kept : removed).push(summary(decision.item, decision.reasons))
    }
    if (!options.dryRun) {
      for (const entry of removed) {
        const manifest = backups.find((candidate) => candidate.id === entry.id)!
        rmSync(manifestPath(dir, manifest.id), { force: true })
        rmSync(join(dir, manifest.artifact), { recursive: true, force: true })
        if (existsSync(manifestPath(dir, manifest.id)) || existsSync(join(dir, manifest.artifact))) {
          throw new DbopsError('E_PRUNE_FAILED', `could not delete backup ${manifest.id} from ${dir}`, {
            hint: 'check the folder permissions',
          })
        }
      }
      if (removed.length > 0) fsyncDirectory(dir)
    }
    return {
      target: target.name,
      database: identity.display,
      dryRun: options.dryRun === true,
      policy,
      kept,
      removed,
      freedBytes: removed.reduce((sum, entry) => sum + entry.sizeBytes, 0),
    }
  }
  if (options.dryRun || !existsSync(dir)) return run()
  // Exclusive: waits for running verifies and restores (shared holders) to finish reading.
  return withBackupLock(
    dir,
    { command: 'dbops backup prune', wait: options.wait === true, ...(options.signal && { signal: options.signal }) },
    run,
  )
}

function summary(manifest: BackupManifest, reasons: string[]): PrunedBackup {
  return {
    id: manifest.id,
    startedAt: manifest.startedAt,
    sizeBytes: manifest.sizeBytes,
    verifiedAt: manifest.verifiedAt,
    reasons,
  }
}
