import type { Target } from '../targets/target.js'
import type { DatabaseIdentity } from './backup-engine.js'
import { listBackups, type BackupManifest } from './manifest.js'

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

export interface TargetBackups {
  identity: DatabaseIdentity
  dir: string
  /** The complete backups of this database in its folder (older ones without an identity included), oldest first. */
  backups: BackupManifest[]
  /** Backups in the same folder taken from other databases: never listed, checked, verified, pruned or restored here. */
  otherDatabases: number
}

/** What `backup list`, `check`, `verify`, `prune` and health's backup_age see: this database's backups only. */
export async function targetBackups(target: Target, options: { identity?: DatabaseIdentity; offline?: boolean } = {}): Promise<TargetBackups> {
  const known = options.identity ?? (await identifyTarget(target, { offline: options.offline === true }))
  const all = listBackups(target.backup.dir)
  const backups = all.filter((manifest) => isFromDatabase(manifest, known) !== false)
  return { identity: known, dir: target.backup.dir, backups, otherDatabases: all.length - backups.length }
}
