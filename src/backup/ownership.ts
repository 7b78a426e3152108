import { basename, dirname, join, resolve } from 'node:path'
import type { Target } from '../targets/target.js'
import type { DatabaseIdentity } from './backup-engine.js'
import { byStart, listBackups, listStoredBackups, type BackupManifest } from './manifest.js'
import { primaryDestination, type BackupDestination } from './destinations.js'
import { FolderStorage } from '../storage/folder-storage.js'

/** The identity of the database `target` points at, asked of its backend. */
export async function identifyTarget(target: Target, options: { offline?: boolean } = {}): Promise<DatabaseIdentity> {
  return (await target.backend.backupEngine()).identify(target, options)
}

/**
 * Whether `manifest` was taken from the database `identity` names: true, false, or undefined for a backup made
 * before identities were recorded (it belongs to whoever owns the folder it is in).
 */
export function isFromDatabase(manifest: BackupManifest, identity: DatabaseIdentity): boolean | undefined {
  const source = manifest.database
  if (!source) return undefined
  if (identity.key !== null && source.key !== null) return source.key === identity.key
  return source.display === identity.display
}

/**
 * Where a target's backups went before the default folder was named after the database: `backups/default`, shared
 * by every `--url` without a config file. Only for such a target (named `default`, its folder named otherwise).
 */
export function legacyFolder(target: Pick<Target, 'name' | 'backup'>): string | undefined {
  if (target.name !== 'default' || basename(target.backup.dir) === 'default') return undefined
  return join(dirname(resolve(target.backup.dir)), 'default')
}

/**
 * Whether a backup without an identity (made before they were recorded) is `target`'s: it is in the target's folder,
 * or in the old shared `backups/default` and was taken through the target's URL.
 */
export function isLegacyOf(
  manifest: BackupManifest,
  dir: string,
  target: Pick<Target, 'name' | 'backup' | 'redactedUrl'>,
): boolean {
  if (manifest.database) return false
  if (resolve(dir) === resolve(target.backup.dir)) return true
  return resolve(dir) === legacyFolder(target) && manifest.url === target.redactedUrl
}

export interface TargetBackups {
  identity: DatabaseIdentity
  /** The destination's location (a folder or `s3://bucket/prefix`). */
  dir: string
  destination: BackupDestination
  /**
   * The complete backups of this database, oldest first: those in its destination (older ones without an identity
   * included), and, for a folder, its older ones in the old shared `backups/default` (see `older`).
   */
  backups: BackupManifest[]
  /** Backups in the same place taken from other databases: never listed, checked, verified, pruned or restored here. */
  otherDatabases: number
  /** This database's backups left in the old shared `backups/default`: listed, checked and restorable, never pruned. */
  older: { dir: string; ids: string[] } | null
  /** The folder or bucket prefix a listed backup is in. */
  folderOf(manifest: BackupManifest): string
  /** The destination a listed backup is in. */
  destinationOf(manifest: BackupManifest): BackupDestination
}

/**
 * What `backup list`, `check`, `verify`, `prune` and health's backup_age see: this database's backups only, in one
 * destination (the named one, else the first).
 */
export async function targetBackups(
  target: Target,
  options: { identity?: DatabaseIdentity; offline?: boolean; destination?: string | BackupDestination } = {},
): Promise<TargetBackups> {
  const known = options.identity ?? (await identifyTarget(target, { offline: options.offline === true }))
  const destination =
    typeof options.destination === 'object'
      ? options.destination
      : await primaryDestination(target.backup, options.destination)
  const dir = destination.location
  const all = await listStoredBackups(destination.storage)
  const own = all.filter((manifest) => isFromDatabase(manifest, known) !== false)
  const legacy = destination.storage.kind === 'folder' && dir === target.backup.dir ? legacyFolder(target) : undefined
  const older = legacy ? listBackups(legacy).filter((manifest) => isLegacyOf(manifest, legacy, target)) : []
  const legacyDestination = legacy
    ? { ...destination, location: legacy, storage: new FolderStorage(legacy) }
    : destination
  return {
    identity: known,
    dir,
    destination,
    backups: [...own, ...older].sort(byStart),
    otherDatabases: all.length - own.length,
    older: older.length > 0 ? { dir: legacy!, ids: older.map((manifest) => manifest.id) } : null,
    folderOf: (manifest) => (older.includes(manifest) ? legacy! : dir),
    destinationOf: (manifest) => (older.includes(manifest) ? legacyDestination : destination),
  }
}
