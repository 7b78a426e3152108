import { existsSync, rmSync, statSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { connectTarget, type Target } from '../targets/target.js'
import { ConfigError, DbopsError, UsageError } from '../errors.js'
import { databaseFolderName, parseDatabaseUrl, redactUrl } from '../config/database-url.js'
import { resolveConfig, type ResolvedConfig, type ResolvedTarget } from '../config/resolve-config.js'
import {
  byStart,
  hasArtifact,
  listStoredBackups,
  MANIFEST_SUFFIX,
  readManifest,
  verifyFailed,
  type BackupManifest,
} from './manifest.js'
import { openArtifact } from './artifact.js'
import { identitiesFor } from './artifact-transform.js'
import { destinationsOf, openDestinations, type BackupDestination } from './destinations.js'
import { FolderStorage } from '../storage/folder-storage.js'
import { isS3Url } from '../storage/s3-location.js'
import type { DatabaseIdentity } from './backup-engine.js'
import { identifyTarget, isFromDatabase, isLegacyOf, legacyFolder } from './ownership.js'
import { temporaryDir } from '../temporary-dirs.js'

export interface RestoreBackupOptions {
  /** Drop the backup's objects first (PostgreSQL: pg_restore --clean --if-exists); allows a non-empty database. */
  clean?: boolean
  /**
   * Restore into a protected target, a non-empty database, (SQLite) a database another connection has open, or a
   * backup whose last `backup verify` failed.
   */
  force?: boolean
  jobs?: number
  /** Skip ownership and privileges (pg_restore --no-owner --no-privileges), for servers without the same roles. */
  noOwner?: boolean
  /**
   * The database the backup was taken from, when it is not the one restored into (cloning production into staging):
   * a target name from the config or a URL. The backup is looked for in that database's backup folder and must have
   * been taken from it. A name means the target as `config` has it: the CLI resolves that config without --url, so
   * `restore --url <copy> --from prod` restores prod's backups into the copy.
   */
  from?: string
  /** Restore a backup of another database without naming it (`--allow-other-database`). */
  allowOtherDatabase?: boolean
  /**
   * The config whose targets' backup folders are searched for an id (default: resolved from the working directory,
   * as the CLI does). Backups of another database found there still need `from` or `allowOtherDatabase`.
   */
  config?: ResolvedConfig
  /** More folders to look for the id in. */
  searchDirs?: string[]
  /** age identities (`AGE-SECRET-KEY-1...`) for an encrypted backup; default: the DBOPS_AGE_IDENTITY variable. */
  identities?: readonly string[]
  /** Restore from this destination (a name from backup.destinations); default: the first that holds the id. */
  fromDestination?: string
  signal?: AbortSignal
  onEvent?: (event: { type: 'step'; target: string; message: string }) => void
}

export interface RestoreBackupResult {
  target: string
  /** The database restored into (redacted). */
  database: string
  /** The database the backup was taken from (redacted). */
  source: string
  id: string
  /** Where the artifact was read from (a path, or `s3://bucket/prefix/<artifact>`). */
  from: string
  /** The destination it was read from. */
  destination: string
  method: string
  analyzed: boolean
  durationMs: number
  migrationVersion: string | null
  tables: number | null
}

/** The `source` that means the newest backup (`dbops restore --latest`); no backup id or path is this word. */
export const LATEST = 'latest'

/**
 * Restores a backup (an id, a manifest path or an artifact path, or LATEST) into `target`. Refused before anything is touched:
 * a backup of another database (unless `from` names it or `allowOtherDatabase`), a backup whose last verify failed,
 * a protected target and a non-empty database (without force/clean), an engine mismatch, a wrong sha256.
 */
export async function restoreBackup(
  target: Target,
  source: string,
  options: RestoreBackupOptions = {},
): Promise<RestoreBackupResult> {
  const step = (message: string) => options.onEvent?.({ type: 'step', target: target.name, message })
  const config = options.config ?? (await resolveConfig().catch(() => undefined))
  const fromTarget = options.from === undefined ? undefined : resolveFrom(options.from, config, target)
  const identity = await identifyTarget(target)
  const candidates = await searchDestinations(target, fromTarget, config, options)
  const { manifest, destination } =
    source === LATEST
      ? await newestBackup(candidates, fromTarget ? undefined : identity, fromTarget && fromDisplay(fromTarget, config))
      : await locateBackup(target, source, candidates, identity)
  const dir = destination.location
  const sourceDisplay = manifest.database?.display ?? `${manifest.url} (target ${manifest.target})`
  const sameDatabase = manifest.database
    ? isFromDatabase(manifest, identity) === true
    : isLegacyOf(manifest, dir, target)
  if (!sameDatabase && !options.allowOtherDatabase) {
    if (!fromTarget) {
      throw new DbopsError(
        'E_USAGE',
        `backup ${manifest.id} was taken from ${sourceDisplay}, not from ${identity.display} (${target.name}), which it would replace`,
        {
          hint: `to copy that database into ${target.name} on purpose, name where it comes from: --from <target or URL of ${sourceDisplay}> (or --allow-other-database)`,
          details: { backup: manifest.id, source: sourceDisplay, target: identity.display },
        },
      )
    }
    await checkFrom(fromTarget, manifest, dir, sourceDisplay)
  }
  if (manifest.engine !== target.backend.engine) {
    throw new UsageError(
      `backup ${manifest.id} is a ${manifest.engine} backup and cannot be restored into ${target.name} (${target.backend.engine})`,
    )
  }
  // A missing identity is known before anything is read; a wrong one when the header is (openArtifact, below).
  const identities = await identitiesFor(manifest, options.identities, true)
  if (manifest.format === 'plain' && options.clean) {
    throw new UsageError(
      '--clean needs a custom or directory backup: a plain SQL dump has no drop statements to run first',
      'restore it into an empty database',
    )
  }
  if (verifyFailed(manifest) && !options.force) {
    const failure = manifest.verifyFailure!
    throw new DbopsError(
      'E_BACKUP_VERIFY_FAILED',
      `backup ${manifest.id} failed "backup verify" on ${failure.at} (${failure.message}); nothing was restored`,
      {
        hint: 'restore an older backup (see "dbops backup list"), or pass --force to restore this one anyway',
      },
    )
  }
  if (target.protected && !options.force) {
    throw new DbopsError('E_PROTECTED', `target ${target.name} is protected: restoring would overwrite it`, {
      hint: 'pass --force if you really mean to restore into it',
    })
  }
  const engine = await target.backend.backupEngine()
  if (!options.clean && !options.force && !(await engine.isEmpty(target))) {
    throw new DbopsError(
      'E_NOT_EMPTY',
      `${target.redactedUrl} is not empty: restoring would mix the backup with what is there`,
      {
        hint: "restore into an empty database, or pass --clean to drop the backup's objects first (--force to restore over it as is)",
      },
    )
  }
  // Shared with verifies: a prune waits until the backup has been read.
  const lock = {
    command: 'dbops restore',
    shared: true,
    wait: true,
    ...(options.signal && { signal: options.signal }),
    onWait: () => step(`waiting for another dbops working on ${dir}`),
  }
  const jobs = options.jobs ?? target.backup.jobs ?? 1
  return destination.storage.withLock(lock, async () => {
    const stored = await destination.storage.list()
    if (!hasArtifact(stored, manifest.artifact))
      throw new DbopsError('E_BACKUP_NOT_FOUND', `backup ${manifest.id} was removed from ${dir}`, {
        hint: 'restore another backup (see "dbops backup list")',
      })
    const needsFile = engine.needsFile(manifest.format, 'restore', jobs)
    let scratchDir: string | undefined
    try {
      if (destination.storage.kind !== 'folder')
        step(
          needsFile
            ? `downloading ${manifest.artifact} from ${dir} to a temporary file (${manifest.format === 'directory' ? 'a directory dump' : `pg_restore --jobs=${jobs}`} needs a seekable file)`
            : `streaming ${manifest.artifact} from ${dir}`,
        )
      const opened = await openArtifact(destination, manifest, {
        needsFile,
        identities,
        scratchDir: () => (scratchDir ??= temporaryDir('restore')),
      })
      // A local copy is checked before anything is touched; a stream is checked as it flows, and a mismatch at its
      // end stops the restore before it commits (pg_restore --single-transaction, psql, the SQLite file swap).
      if ('path' in opened.input) {
        step(`checking the sha256 of ${manifest.artifact}`)
        const sha256 = await opened.sha256()
        if (sha256 !== manifest.sha256) {
          throw new DbopsError(
            'E_BACKUP_CORRUPT',
            `backup ${manifest.id} is corrupt (sha256 differs from its manifest); nothing was restored`,
            { hint: 'restore an older backup' },
          )
        }
      }
      step(`restoring ${manifest.id} into ${target.redactedUrl}`)
      const started = performance.now()
      const outcome = await engine.restore(target, {
        artifact: opened.input,
        format: manifest.format,
        tools: manifest.tools,
        ...(manifest.extra && { extra: manifest.extra }),
        clean: options.clean === true,
        force: options.force === true,
        jobs,
        noOwner: options.noOwner === true,
        ...(options.signal && { signal: options.signal }),
      })
      return {
        target: target.name,
        database: identity.display,
        source: sourceDisplay,
        id: manifest.id,
        from: destination.storage.kind === 'folder' ? join(dir, manifest.artifact) : `${dir}/${manifest.artifact}`,
        destination: destination.name,
        method: outcome.method,
        analyzed: outcome.analyzed,
        durationMs: Math.round(performance.now() - started),
        migrationVersion: manifest.migrationVersion,
        tables: manifest.rowCounts ? Object.keys(manifest.rowCounts).length : null,
      }
    } finally {
      if (scratchDir) rmSync(scratchDir, { recursive: true, force: true })
    }
  })
}

/**
 * Where `restore <id>` looks: with `--from-destination`, that destination only (of the `--from` target when given);
 * with `--from`, that target's destinations; else the target's own destinations, its old shared `backups/default`,
 * every configured target's destinations (backups of production restore into staging, with --from), and
 * `searchDirs`. Without duplicates.
 */
async function searchDestinations(
  target: Target,
  fromTarget: ResolvedTarget | undefined,
  config: ResolvedConfig | undefined,
  options: RestoreBackupOptions,
): Promise<BackupDestination[]> {
  const owner = fromTarget ?? target.resolved
  if (options.fromDestination !== undefined) return openDestinations(owner.backup, options.fromDestination)
  if (fromTarget) return openDestinations(fromTarget.backup)
  const own = await openDestinations(target.backup)
  const seen = new Set(own.map((destination) => destination.location))
  const more: BackupDestination[] = []
  const folder = (dir: string): BackupDestination => ({
    name: dir,
    location: dir,
    storage: new FolderStorage(dir),
    retention: {},
  })
  for (const dir of restoreSearchDirs(target, config, options.searchDirs)) {
    if (!seen.has(dir)) {
      seen.add(dir)
      more.push(folder(dir))
    }
  }
  for (const entry of Object.values(config?.targets ?? {})) {
    for (const destination of destinationsOf(entry.backup)) {
      if (seen.has(destination.dir)) continue
      seen.add(destination.dir)
      more.push(...(await openDestinations({ ...entry.backup, destinations: [destination] })))
    }
  }
  return [...own, ...more]
}

/**
 * Where `restore <id>` looks for a backup: the target's own folder first (and the old shared `backups/default` for a
 * target without a config file), then every configured target's folder
 * (backups of production restore into staging, with --from), then `extra`. Without duplicates.
 */
export function restoreSearchDirs(target: Target, config?: ResolvedConfig, extra: readonly string[] = []): string[] {
  const legacy = legacyFolder(target)
  const dirs = [
    target.backup.dir,
    ...(legacy ? [legacy] : []),
    ...Object.values(config?.targets ?? {}).map((entry) => entry.backup.dir),
    ...extra,
  ]
    .filter((dir) => !isS3Url(dir))
    .map((dir) => resolve(dir))
  return [...new Set(dirs)]
}

/** `--from`: a target of the config, or a URL (whose backups are in its default folder beside the config). */
function resolveFrom(from: string, config: ResolvedConfig | undefined, target: Target): ResolvedTarget {
  const named = config?.targets[from]
  if (named) return named
  // Its URL names an unset variable (the CLI resolves --from without --url: the target as configured).
  const unresolved = config?.unresolved?.[from]
  if (unresolved)
    throw new ConfigError(unresolved, {
      ...(config?.file && { file: config.file }),
      hint: `set it, or give --from the URL of ${from}'s database`,
    })
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(from)) {
    throw new UsageError(
      `--from ${from}: no target by that name${config ? ` (known: ${Object.keys(config.targets).join(', ')})` : ''}, and not a database URL`,
      'give the name of the target the backup was taken from, or its URL',
    )
  }
  const baseDir = config?.baseDir ?? process.cwd()
  let location
  try {
    location = parseDatabaseUrl(from, baseDir)
  } catch (error) {
    throw new UsageError(`--from: ${(error as Error).message}`)
  }
  return {
    ...target.resolved,
    name: `from:${databaseFolderName(location)}`,
    url: from,
    redactedUrl: redactUrl(from),
    location,
    protected: true,
    backup: {
      ...target.resolved.backup,
      dir: resolve(baseDir, 'backups', databaseFolderName(location)),
      destinations: undefined,
    },
  }
}

/** `--from` as the user gave it: the target's name, or the URL (password redacted), not its internal folder name. */
function fromDisplay(from: ResolvedTarget, config: ResolvedConfig | undefined): string {
  return config?.targets[from.name] ? from.name : from.redactedUrl
}

/** The backup must come from the database `--from` names (asked of that database when it can be reached). */
async function checkFrom(
  from: ResolvedTarget,
  manifest: BackupManifest,
  dir: string,
  sourceDisplay: string,
): Promise<void> {
  let fromIdentity: DatabaseIdentity | undefined
  let matches: boolean
  if (manifest.database) {
    const opened = await connectTarget(from, { command: 'restore --from', create: false }).catch(() => undefined)
    try {
      fromIdentity = opened ? await identifyTarget(opened) : undefined
    } finally {
      await opened?.close().catch(() => {})
    }
    matches = fromIdentity !== undefined && isFromDatabase(manifest, fromIdentity) === true
  } else {
    // Made before identities were recorded: it belongs to the folder it is in.
    matches = resolve(dir) === resolve(from.backup.dir)
  }
  if (!matches) {
    throw new DbopsError(
      'E_USAGE',
      `backup ${manifest.id} was taken from ${sourceDisplay}, not from ${fromIdentity?.display ?? from.redactedUrl} (--from ${from.name})`,
      {
        hint: 'name the database the backup was taken from in --from (see the manifest\'s "database"), or pass --allow-other-database',
      },
    )
  }
}

type StoredBackup = { manifest: BackupManifest; destination: BackupDestination }

/**
 * The backups in each destination, in the destinations' order. A destination that cannot be listed (another
 * target's bucket that is unreachable) does not stop a restore found elsewhere: its error is kept in `listing`.
 */
async function* storedBackups(
  candidates: BackupDestination[],
  listing: { error?: unknown },
): AsyncGenerator<StoredBackup> {
  for (const destination of candidates) {
    let manifests: BackupManifest[]
    try {
      manifests = await listStoredBackups(destination.storage)
    } catch (error) {
      listing.error ??= error
      continue
    }
    for (const manifest of manifests) yield { manifest, destination }
  }
}

/**
 * The newest backup in the destinations searched, taken from `identity`'s database (with --from, the newest where
 * the --from target keeps its backups; checkFrom then proves where it came from). A backup whose last verify failed
 * is passed over for the one before it: a restore in a hurry wants the newest that is known to work.
 */
async function newestBackup(
  candidates: BackupDestination[],
  identity: DatabaseIdentity | undefined,
  fromName: string | undefined,
): Promise<StoredBackup> {
  let newest: StoredBackup | undefined
  const listing: { error?: unknown } = {}
  for await (const stored of storedBackups(candidates, listing)) {
    if (verifyFailed(stored.manifest)) continue
    if (identity && isFromDatabase(stored.manifest, identity) !== true) continue
    // On a tie the earlier destination wins (the local copy before the off-site one).
    if (!newest || byStart(newest.manifest, stored.manifest) < 0) newest = stored
  }
  if (newest) return newest
  if (listing.error) throw listing.error
  const of = identity ? identity.display : `--from ${fromName}`
  throw new DbopsError(
    'E_BACKUP_NOT_FOUND',
    `no backup of ${of} that can be restored in ${candidates.map((destination) => destination.location).join(', ')}`,
    {
      hint: 'list them with "dbops backup list"; a backup whose verify failed is restored only by its id, with --force',
    },
  )
}

async function locateBackup(
  target: Target,
  source: string,
  candidates: BackupDestination[],
  identity: DatabaseIdentity,
): Promise<{ manifest: BackupManifest; destination: BackupDestination }> {
  const looksLikePath =
    !isS3Url(source) && (source.includes('/') || source.endsWith(MANIFEST_SUFFIX) || existsSync(source))
  if (looksLikePath) {
    const path = resolve(source)
    if (!existsSync(path))
      throw new DbopsError('E_BACKUP_NOT_FOUND', `${path} does not exist`, {
        hint: 'give a backup id (see "dbops backup list") or the path of a backup',
      })
    const dir = dirname(path)
    const name = basename(path)
    const id = name.endsWith(MANIFEST_SUFFIX)
      ? name.slice(0, -MANIFEST_SUFFIX.length)
      : statSync(path).isDirectory()
        ? name.replace(/\.dir$/, '')
        : name.replace(/(\.(zst|gz|age))*$/, '').replace(/\.[^.]+$/, '')
    const manifest = readManifest(dir, id)
    if (!manifest || !existsSync(join(dir, manifest.artifact))) {
      throw new DbopsError(
        'E_BACKUP_NOT_FOUND',
        `${path} is not a complete dbops backup (no manifest ${id}${MANIFEST_SUFFIX} beside it)`,
        {
          hint: 'restore a backup made by "dbops backup create"; for other dumps use pg_restore or sqlite3 directly',
        },
      )
    }
    return { manifest, destination: { name: dir, location: dir, storage: new FolderStorage(dir), retention: {} } }
  }
  let found: StoredBackup | undefined
  const listing: { error?: unknown } = {}
  for await (const stored of storedBackups(candidates, listing)) {
    if (stored.manifest.id !== source) continue
    // The first destination holding this database's backup wins (the local copy before the off-site one).
    if (isFromDatabase(stored.manifest, identity) === true) return stored
    found ??= stored
  }
  if (found) return found
  if (listing.error) throw listing.error
  throw new DbopsError(
    'E_BACKUP_NOT_FOUND',
    `there is no backup "${source}" in ${candidates.map((destination) => destination.location).join(', ')}`,
    {
      hint: 'list them with "dbops backup list" (--destination <name> for another destination), or give the path of a backup',
    },
  )
}
