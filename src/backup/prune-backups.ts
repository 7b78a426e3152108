import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Target } from '../targets/target.js'
import { DbopsError, UsageError } from '../errors.js'
import { fsyncDirectory } from '../output/atomic-write.js'
import { isVerified, manifestName, type BackupManifest } from './manifest.js'
import { openDestinations, type BackupDestination } from './destinations.js'
import { targetBackups } from './ownership.js'
import { applyRetention, isEmptyPolicy, type RetentionPolicy } from './retention.js'

export interface PruneBackupsOptions {
  /** Default: each destination's retention (`keep`, else `backup.retention`). */
  policy?: RetentionPolicy
  /** Prune this destination only (a name from backup.destinations). */
  destination?: string
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
  /** The destination it is in. */
  destination: string
}

export interface PruneBackupsResult {
  target: string
  /** The database whose backups were considered (others sharing the folder are left alone). */
  database: string
  dryRun: boolean
  /** The policy of the first destination (each destination's own is in `destinations`). */
  policy: RetentionPolicy
  /** Every destination's, each tagged with its destination. */
  kept: PrunedBackup[]
  removed: PrunedBackup[]
  freedBytes: number
  destinations: { name: string; location: string; policy: RetentionPolicy; kept: number; removed: number }[]
}

/**
 * Applies a retention policy (restic's `forget` rules, see applyRetention) to the complete backups of a target in
 * each destination (its own policy), and deletes the rest unless `dryRun`. Guard rails: an empty policy is refused
 * (it would delete everything), and the newest verified backup is always kept. Each deletion removes the manifest
 * first, so a crash halfway leaves an artifact without a manifest that the next `create` cleans up, never a manifest
 * without its artifact.
 */
export async function pruneBackups(target: Target, options: PruneBackupsOptions = {}): Promise<PruneBackupsResult> {
  const destinations = await openDestinations(target.backup, options.destination)
  const results: PruneOne[] = []
  for (const destination of destinations)
    results.push(await pruneDestination(target, destination, options.policy ?? destination.retention, options))
  const kept = results.flatMap((result) => result.kept)
  const removed = results.flatMap((result) => result.removed)
  return {
    target: target.name,
    database: results[0]!.database,
    dryRun: options.dryRun === true,
    policy: results[0]!.policy,
    kept,
    removed,
    freedBytes: removed.reduce((sum, entry) => sum + entry.sizeBytes, 0),
    destinations: results.map((result, index) => ({
      name: destinations[index]!.name,
      location: destinations[index]!.location,
      policy: result.policy,
      kept: result.kept.length,
      removed: result.removed.length,
    })),
  }
}

interface PruneOne {
  database: string
  policy: RetentionPolicy
  kept: PrunedBackup[]
  removed: PrunedBackup[]
}

async function pruneDestination(
  target: Target,
  destination: BackupDestination,
  policy: RetentionPolicy,
  options: PruneBackupsOptions,
): Promise<PruneOne> {
  if (isEmptyPolicy(policy)) {
    throw new UsageError(
      `no retention policy${destination.name === 'default' ? '' : ` for destination ${destination.name}`}: prune would delete every backup`,
      "pass --keep-last/--keep-daily/... or --keep-within, or set backup.retention (or the destination's keep) in the config",
    )
  }
  const dir = destination.location
  const { storage } = destination
  const summary = (manifest: BackupManifest, reasons: string[]): PrunedBackup => ({
    id: manifest.id,
    startedAt: manifest.startedAt,
    sizeBytes: manifest.sizeBytes,
    verifiedAt: manifest.verifiedAt,
    reasons,
    destination: destination.name,
  })
  const run = async (): Promise<PruneOne> => {
    // Read inside the lock. Only this database's backups take part; older backups without an identity only when
    // they were taken through this same URL (a folder shared before identities were recorded keeps the others').
    const listed = await targetBackups(target, { destination })
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
    if (!options.dryRun && removed.length > 0) {
      const objects = await storage.list()
      for (const entry of removed) {
        const manifest = backups.find((candidate) => candidate.id === entry.id)!
        try {
          await storage.remove(manifestName(manifest.id))
          for (const object of objects)
            if (object.name === manifest.artifact || object.name.startsWith(`${manifest.artifact}/`))
              await storage.remove(object.name)
          if (storage.kind === 'folder') rmSync(join(dir, manifest.artifact), { recursive: true, force: true })
        } catch (error) {
          throw new DbopsError(
            'E_PRUNE_FAILED',
            `could not delete backup ${manifest.id} from ${dir}: ${(error as Error).message}`,
            {
              hint: storage.kind === 'folder' ? 'check the folder permissions' : 'check the bucket permissions',
              cause: error,
            },
          )
        }
      }
      if (storage.kind === 'folder') fsyncDirectory(dir)
    }
    return { database: identity.display, policy, kept, removed }
  }
  if (options.dryRun || (storage.kind === 'folder' && !existsSync(dir))) return run()
  // Exclusive: waits for running verifies and restores (shared holders) to finish reading.
  return storage.withLock(
    { command: 'dbops backup prune', wait: options.wait === true, ...(options.signal && { signal: options.signal }) },
    run,
  )
}
