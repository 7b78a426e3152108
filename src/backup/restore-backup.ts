import { existsSync, statSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import type { Target } from '../targets/target.js'
import { DbopsError, UsageError } from '../errors.js'
import { hashArtifact } from './create-backup.js'
import { listBackups, MANIFEST_SUFFIX, readManifest, type BackupManifest } from './manifest.js'

export interface RestoreBackupOptions {
  /** Drop the backup's objects first (PostgreSQL: pg_restore --clean --if-exists); allows a non-empty database. */
  clean?: boolean
  /** Restore into a protected target, a non-empty database, or (SQLite) a database another connection has open. */
  force?: boolean
  jobs?: number
  /** Skip ownership and privileges (pg_restore --no-owner --no-privileges), for servers without the same roles. */
  noOwner?: boolean
  /** Other backup folders to look for the id in (the other targets' folders): backups of prod restore into staging. */
  searchDirs?: string[]
  signal?: AbortSignal
  onEvent?: (event: { type: 'step'; target: string; message: string }) => void
}

export interface RestoreBackupResult {
  target: string
  id: string
  from: string
  method: string
  analyzed: boolean
  durationMs: number
  migrationVersion: string | null
  tables: number
}

/**
 * Restores a backup (an id, a manifest path or an artifact path) into `target`. The artifact's sha256 is checked
 * first; a protected target, a non-empty database (without --clean) and an engine mismatch are refused before anything
 * is touched.
 */
export async function restoreBackup(target: Target, source: string, options: RestoreBackupOptions = {}): Promise<RestoreBackupResult> {
  const { manifest, dir } = locateBackup(target, source, options.searchDirs ?? [])
  const step = (message: string) => options.onEvent?.({ type: 'step', target: target.name, message })
  if (manifest.engine !== target.backend.engine) {
    throw new UsageError(`backup ${manifest.id} is a ${manifest.engine} backup and cannot be restored into ${target.name} (${target.backend.engine})`)
  }
  if (manifest.format === 'plain' && options.clean) {
    throw new UsageError('--clean needs a custom or directory backup: a plain SQL dump has no drop statements to run first', 'restore it into an empty database')
  }
  if (target.protected && !options.force) {
    throw new DbopsError('E_PROTECTED', `target ${target.name} is protected: restoring would overwrite it`, { hint: 'pass --force if you really mean to restore into it' })
  }
  const engine = await target.backend.backupEngine()
  if (!options.clean && !options.force && !(await engine.isEmpty(target))) {
    throw new DbopsError('E_NOT_EMPTY', `${target.redactedUrl} is not empty: restoring would mix the backup with what is there`, {
      hint: 'restore into an empty database, or pass --clean to drop the backup\'s objects first (--force to restore over it as is)',
    })
  }
  const artifactPath = join(dir, manifest.artifact)
  step(`checking the sha256 of ${manifest.artifact}`)
  const sha256 = await hashArtifact(artifactPath)
  if (sha256 !== manifest.sha256) {
    throw new DbopsError('E_BACKUP_CORRUPT', `backup ${manifest.id} is corrupt (sha256 differs from its manifest); nothing was restored`, { hint: 'restore an older backup' })
  }
  step(`restoring ${manifest.id} into ${target.redactedUrl}`)
  const started = performance.now()
  const outcome = await engine.restore(target, {
    artifactPath,
    format: manifest.format,
    tools: manifest.tools,
    ...(manifest.extra && { extra: manifest.extra }),
    clean: options.clean === true,
    force: options.force === true,
    jobs: options.jobs ?? target.backup.jobs ?? 1,
    noOwner: options.noOwner === true,
    ...(options.signal && { signal: options.signal }),
  })
  return {
    target: target.name,
    id: manifest.id,
    from: artifactPath,
    method: outcome.method,
    analyzed: outcome.analyzed,
    durationMs: Math.round(performance.now() - started),
    migrationVersion: manifest.migrationVersion,
    tables: Object.keys(manifest.rowCounts).length,
  }
}

function locateBackup(target: Target, source: string, searchDirs: string[]): { manifest: BackupManifest; dir: string } {
  const looksLikePath = source.includes('/') || source.endsWith(MANIFEST_SUFFIX) || existsSync(source)
  if (looksLikePath) {
    const path = resolve(source)
    if (!existsSync(path)) throw new DbopsError('E_BACKUP_NOT_FOUND', `${path} does not exist`, { hint: 'give a backup id (see "dbops backup list") or the path of a backup' })
    const dir = dirname(path)
    const name = basename(path)
    const id = name.endsWith(MANIFEST_SUFFIX) ? name.slice(0, -MANIFEST_SUFFIX.length) : statSync(path).isDirectory() ? name.replace(/\.dir$/, '') : name.replace(/\.[^.]+$/, '')
    const manifest = readManifest(dir, id)
    if (!manifest || !existsSync(join(dir, manifest.artifact))) {
      throw new DbopsError('E_BACKUP_NOT_FOUND', `${path} is not a complete dbops backup (no manifest ${id}${MANIFEST_SUFFIX} beside it)`, {
        hint: 'restore a backup made by "dbops backup create"; for other dumps use pg_restore or sqlite3 directly',
      })
    }
    return { manifest, dir }
  }
  for (const dir of [target.backup.dir, ...searchDirs]) {
    const manifest = listBackups(dir).find((candidate) => candidate.id === source)
    if (manifest) return { manifest, dir }
  }
  throw new DbopsError('E_BACKUP_NOT_FOUND', `there is no backup "${source}" in ${target.backup.dir}${searchDirs.length ? ` or the other targets' backup folders` : ''}`, {
    hint: 'list them with "dbops backup list", or give the path of the backup',
  })
}
