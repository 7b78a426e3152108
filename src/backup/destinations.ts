import type { ResolvedBackup, ResolvedDestination } from '../config/resolve-config.js'
import { UsageError } from '../errors.js'
import { openStorage } from '../storage/open-storage.js'
import type { Storage } from '../storage/storage.js'

/** One place a target's backups go, opened: a folder or a bucket prefix. */
export interface BackupDestination {
  name: string
  /** A folder path or `s3://bucket/prefix` (never a credential). */
  location: string
  storage: Storage
  retention: ResolvedDestination['retention']
}

/** The configured destinations; `backup.dir` alone is the one destination `default`. */
export function destinationsOf(backup: Pick<ResolvedBackup, 'dir' | 's3' | 'retention' | 'destinations'>) {
  return (
    backup.destinations ?? [
      { name: 'default', dir: backup.dir, ...(backup.s3 && { s3: backup.s3 }), retention: backup.retention },
    ]
  )
}

/**
 * Opens a target's destinations (all, or the one `only` names). Opening a bucket loads the AWS SDK and makes no
 * request yet.
 */
export async function openDestinations(
  backup: Pick<ResolvedBackup, 'dir' | 's3' | 'retention' | 'destinations'>,
  only?: string,
): Promise<BackupDestination[]> {
  const configured = destinationsOf(backup)
  const chosen = only === undefined ? configured : configured.filter((entry) => entry.name === only)
  if (chosen.length === 0) {
    throw new UsageError(
      `no backup destination "${only}" (configured: ${configured.map((entry) => entry.name).join(', ')})`,
      'name one of backup.destinations, or leave the option out',
    )
  }
  return Promise.all(
    chosen.map(async (entry) => ({
      name: entry.name,
      location: entry.dir,
      storage: await openStorage(entry.dir, entry.s3),
      retention: entry.retention,
    })),
  )
}

/** The destination the single-destination commands (verify, restore) read from: the named one, else the first. */
export async function primaryDestination(
  backup: Pick<ResolvedBackup, 'dir' | 's3' | 'retention' | 'destinations'>,
  only?: string,
): Promise<BackupDestination> {
  return (await openDestinations(backup, only ?? destinationsOf(backup)[0]!.name))[0]!
}
