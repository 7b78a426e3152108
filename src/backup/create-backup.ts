import {
  accessSync,
  closeSync,
  existsSync,
  constants,
  openSync,
  readSync,
  mkdirSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
} from 'node:fs'
import { dirname, join } from 'node:path'
import type { Target } from '../targets/target.js'
import { DbopsError, UsageError, systemProblem } from '../errors.js'
import { fsyncDirectory } from '../output/atomic-write.js'
import { VERSION } from '../version.js'
import type { BackupFormat } from './backup-engine.js'
import type { CompressSetting } from '../config/resolve-config.js'
import type { LockHolder } from './backup-lock.js'
import type { BackupEngine, DumpOutcome } from './backup-engine.js'
import {
  incompleteEntries,
  MANIFEST_SUFFIX,
  newBackupId,
  orphanObjects,
  sizeOf,
  TEMP_PREFIX,
  writeStoredManifest,
  type BackupManifest,
} from './manifest.js'
import { openDestinations, type BackupDestination } from './destinations.js'
import {
  deliverLocal,
  deliverStream,
  encodeArtifact,
  encodesAsIs,
  folderSha256,
  listFiles,
  type ArtifactEncoding,
  type Delivery,
} from './artifact.js'
import { chooseSealing, sealedSuffix, type Sealing } from './artifact-transform.js'
import type { StorageLockOptions, StoredObject } from '../storage/storage.js'
import { temporaryDir } from '../temporary-dirs.js'

export type BackupEvent =
  | { type: 'start'; target: string; id: string; format: BackupFormat; destinations: string[] }
  | { type: 'progress'; target: string; id: string; bytes: number; elapsedMs: number }
  | { type: 'done'; target: string; manifest: BackupManifest }
  | { type: 'lock-wait'; target: string; holder: LockHolder; destination: string }
  | { type: 'cleaned'; target: string; names: string[]; destination: string }
  | { type: 'delivery-failed'; target: string; destination: string; message: string }

export interface CreateBackupOptions {
  format?: BackupFormat
  /** Parallel pg_dump jobs (directory format only). */
  jobs?: number
  label?: string
  /** Compression of plain dumps and SQLite copies, overriding backup.compress (`auto`: zstd, else gzip). */
  compress?: CompressSetting
  /** Wait for another dbops holding this target's backup lock instead of failing. */
  wait?: boolean
  /** Deliver to this destination only (a name from backup.destinations). */
  destination?: string
  signal?: AbortSignal
  onEvent?: (event: BackupEvent) => void
  /** For tests: the start time (ids are derived from it). */
  now?: () => Date
}

/** Whether the backup arrived in one destination. */
export interface DestinationResult {
  name: string
  location: string
  ok: boolean
  /** The error code and message when it did not arrive. */
  error?: { code: string; message: string }
}

export interface CreateBackupResult {
  target: string
  /** The manifest as written in the destinations it arrived in. */
  backup: BackupManifest
  /** Per destination, in the configured order. */
  destinations: DestinationResult[]
  /** Leftovers of interrupted runs removed before this one. */
  cleaned: string[]
}

/**
 * Takes one backup of `target` and delivers it to each destination (a folder, a bucket): under each destination's
 * lock, leftovers of interrupted runs are removed, the engine writes its artifact straight into the one folder it is
 * stored in as is (hashed after), or streams it (pg_dump custom/plain), or writes it to a temporary local file first
 * (directory format, SQLite) that then streams, to every destination at once, hashed on the way; each destination's
 * manifest is written last, once its upload completed. Whatever happens before a
 * manifest exists leaves no backup there (and the next run cleans up). A destination that fails does not stop the
 * others: the backup is kept where it arrived and the failure is reported (E_BACKUP_PARTIAL, exit 1).
 */
export async function createBackup(target: Target, options: CreateBackupOptions = {}): Promise<CreateBackupResult> {
  const engine = await target.backend.backupEngine()
  const format = chooseFormat(engine.formats, engine.defaultFormat, options.format, target.backup.format)
  const jobs = options.jobs ?? target.backup.jobs ?? 1
  if (options.jobs !== undefined && options.jobs > 1 && format !== 'directory') {
    throw new UsageError(
      `--jobs ${options.jobs} needs --format directory: pg_dump dumps in parallel only into a directory`,
      'add --format directory, or drop --jobs',
    )
  }
  const selfCompressed = engine.compressesItself(format)
  const sealing = chooseSealing(target.backup, {
    selfCompressed,
    ...(options.compress !== undefined && { compress: options.compress }),
  })
  if (format === 'directory' && sealing.recipients.length > 0) {
    throw new UsageError(
      'backup.encrypt does not apply to the directory format: a directory dump is many files, stored as they are',
      'use --format custom (pg_restore --jobs restores it in parallel too), or leave backup.encrypt out for this target',
    )
  }
  // Custom and directory dumps keep pg_dump's own compression: the level is handed to it, never applied twice.
  const compressLevel = selfCompressed ? target.backup.compressLevel : undefined
  // The identity query rides along with the preflight's own round trips (the connection, the dump tool's version),
  // which go on while the destinations are opened (a bucket's SDK loads) and their folders made: no extra wait
  // before pg_dump starts. Their errors still come before any lock is taken.
  const ready = Promise.all([engine.identify(target), engine.preflight(target, format)])
  ready.catch(() => {}) // Awaited below, unless opening the destinations failed first.
  const destinations = await openDestinations(target.backup, options.destination)
  const created = new Map<string, string>()
  for (const destination of destinations) {
    if (destination.storage.kind !== 'folder') continue
    const first = prepareDirectory(destination.location)
    if (first !== undefined) created.set(destination.location, first)
  }
  let database: Awaited<typeof ready>[0]
  try {
    ;[database] = await ready
  } catch (error) {
    // A database that is not there (or not one) leaves no empty backup folder behind.
    for (const [dir, first] of created) removeEmptyFolders(dir, first)
    throw error
  }
  const failures = new Map<BackupDestination, unknown>()
  const fail = (destination: BackupDestination, error: unknown) => {
    if (failures.has(destination)) return
    failures.set(destination, error)
    options.onEvent?.({
      type: 'delivery-failed',
      target: target.name,
      destination: destination.name,
      message: (error as Error).message,
    })
  }
  // Alone among creates and prunes; verifies and restores reading complete backups may go on meanwhile.
  const run = async (locked: BackupDestination[]): Promise<CreateBackupResult> => {
    const cleaned: string[] = []
    const objects = new Map<BackupDestination, StoredObject[]>()
    for (const destination of locked) {
      try {
        const { removed, remaining } = await cleanLeftovers(destination)
        if (removed.length > 0)
          options.onEvent?.({ type: 'cleaned', target: target.name, names: removed, destination: destination.name })
        cleaned.push(...removed)
        objects.set(destination, remaining)
      } catch (error) {
        fail(destination, error)
      }
    }
    const live = locked.filter((destination) => !failures.has(destination))
    if (live.length === 0) throw failures.get(locked[0]!)
    const started = options.now?.() ?? new Date()
    const extension = engine.extension(format) + sealedSuffix(sealing)
    const taken = new Set([...objects.values()].flat().map((object) => object.name.split('/')[0]!))
    const id = newBackupId(
      target.name,
      started,
      (candidate) => taken.has(`${candidate}${extension}`) || taken.has(`${candidate}${MANIFEST_SUFFIX}`),
    )
    const artifact = `${id}${extension}`
    options.onEvent?.({
      type: 'start',
      target: target.name,
      id,
      format,
      destinations: live.map((destination) => destination.name),
    })
    const startedMs = performance.now()
    const onProgress = (bytes: number) =>
      options.onEvent?.({ type: 'progress', target: target.name, id, bytes, elapsedMs: performance.now() - startedMs })
    const produced = await produce(
      target,
      engine,
      { format, jobs, sealing, ...(compressLevel !== undefined && { compressLevel }) },
      artifact,
      live,
      options,
      onProgress,
    )
    produced.deliveries.forEach((delivery, index) => {
      if (!delivery.ok) fail(live[index]!, delivery.error)
    })
    if (options.signal?.aborted) throw new DbopsError('E_INTERRUPTED', 'backup interrupted; nothing was published')
    const arrived = live.filter((destination) => !failures.has(destination))
    if (arrived.length === 0) throw failures.get(live[0]!)
    const first = produced.deliveries[live.indexOf(arrived[0]!)]! as Extract<Delivery, { ok: true }>
    const outcome = produced.outcome!
    const finished = new Date(started.getTime() + (performance.now() - startedMs))
    const manifest: BackupManifest = {
      manifestVersion: 1,
      id,
      target: target.name,
      url: target.redactedUrl,
      database,
      engine: target.backend.engine,
      format,
      label: options.label ?? null,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationMs: Math.round(finished.getTime() - started.getTime()),
      sizeBytes: first.result.size,
      sha256: first.result.sha256,
      artifact,
      serverVersion: outcome.serverVersion,
      tools: { ...outcome.tools, dbops: VERSION },
      migrationVersion: outcome.migrationVersion,
      rowCounts: outcome.rowCounts ?? null,
      verifiedAt: null,
      verifiedBy: null,
      ...(outcome.extra && { extra: outcome.extra }),
      ...produced.manifestFields,
    }
    // Written last, in each destination the artifact arrived in; a manifest that cannot be written there leaves an
    // artifact without one (not a backup; removed by the next run).
    for (const destination of arrived) {
      try {
        await writeStoredManifest(destination.storage, manifest)
      } catch (error) {
        fail(destination, error)
        await destination.storage.remove(artifact).catch(() => {})
      }
    }
    if (arrived.every((destination) => failures.has(destination))) throw failures.get(arrived[0]!)
    options.onEvent?.({ type: 'done', target: target.name, manifest })
    const results = destinations.map((destination): DestinationResult => {
      const error = failures.get(destination)
      return {
        name: destination.name,
        location: destination.location,
        ok: error === undefined,
        ...(error !== undefined && {
          error: { code: (error as DbopsError).code ?? 'E_STORAGE', message: (error as Error).message },
        }),
      }
    })
    // Arrived somewhere: a result, whose `destinations` name where it did not (the CLI exits 1 then).
    return { target: target.name, backup: manifest, destinations: results, cleaned }
  }
  return withLocks(
    destinations,
    {
      command: 'dbops backup create',
      excludeShared: false,
      wait: options.wait === true,
      ...(options.signal && { signal: options.signal }),
    },
    (destination, holder) =>
      options.onEvent?.({ type: 'lock-wait', target: target.name, holder, destination: destination.name }),
    fail,
    run,
  )
}

/**
 * Holds every destination's lock while `fn` runs. A destination whose lock cannot be had (unreachable, held) is
 * reported to `onFailure` and left out; when none can be had, the first one's error is thrown.
 */
async function withLocks<T>(
  destinations: readonly BackupDestination[],
  lock: Omit<StorageLockOptions, 'onWait'>,
  onWait: (destination: BackupDestination, holder: LockHolder) => void,
  onFailure: (destination: BackupDestination, error: unknown) => void,
  fn: (locked: BackupDestination[]) => Promise<T>,
): Promise<T> {
  const locked: BackupDestination[] = []
  let firstError: unknown
  const next = async (index: number): Promise<T> => {
    if (index === destinations.length) {
      if (locked.length === 0) throw firstError
      return fn([...locked])
    }
    const destination = destinations[index]!
    let entered = false
    try {
      return await destination.storage.withLock({ ...lock, onWait: (holder) => onWait(destination, holder) }, () => {
        entered = true
        locked.push(destination)
        return next(index + 1)
      })
    } catch (error) {
      if (entered || destinations.length === 1) throw error
      firstError ??= error
      onFailure(destination, error)
      return next(index + 1)
    }
  }
  return next(0)
}

/**
 * Writes the artifact once and delivers it to every destination: written by the engine straight into the one folder
 * destination when the bytes are stored as they are, else streamed from the engine when it can (pg_dump custom and
 * plain, no local copy), else through a temporary local file or folder that is removed afterwards.
 */
async function produce(
  target: Target,
  engine: BackupEngine,
  {
    format,
    jobs,
    sealing,
    compressLevel,
  }: { format: BackupFormat; jobs: number; sealing: Sealing; compressLevel?: number },
  artifact: string,
  destinations: BackupDestination[],
  options: CreateBackupOptions,
  onProgress: (bytes: number) => void,
): Promise<{ outcome: DumpOutcome | undefined; deliveries: Delivery[]; manifestFields: ArtifactEncoding }> {
  const signal = options.signal && { signal: options.signal }
  const only = destinations.length === 1 ? destinations[0]! : undefined
  // One folder, stored as is: the engine writes the file there itself (pg_dump --file), syncs it, and it is
  // renamed into place; nothing of the dump passes through dbops, which would compete with pg_dump for the CPU.
  const inPlace = only?.storage.kind === 'folder' && encodesAsIs(sealing)
  if (engine.streams(format) && !inPlace) {
    const dumped = engine.dumpStream(target, {
      format,
      jobs,
      ...(compressLevel !== undefined && { compressLevel }),
      ...signal,
    })
    const encoded = encodeArtifact(dumped.stream, { target, file: artifact, sealing })
    const delivering = deliverStream(destinations, artifact, encoded.stored, signal ?? {})
    // Progress is counted by a listener, not a stream of its own: pg_dump writes ~4 KiB at a time, and each hop
    // costs every chunk. Attached after the consumers (in this tick), so no chunk flows before they listen.
    let dumpedBytes = 0
    dumped.stream.on('data', (chunk: Buffer) => onProgress((dumpedBytes += chunk.length)))
    const deliveries = await delivering
    if (deliveries.every((delivery) => !delivery.ok)) {
      // Nowhere to go (a dump that failed fails every delivery with its own error): pg_dump is stopped.
      dumped.stream.destroy()
      await dumped.outcome.catch(() => {})
      return { outcome: undefined, deliveries, manifestFields: {} }
    }
    const outcome = await dumped.outcome
    return { outcome, deliveries, manifestFields: encoded.manifestFields() }
  }
  const scratch = scratchFolder(destinations)
  const temporary = join(scratch.dir, `${TEMP_PREFIX}${artifact}`)
  // The one destination is the folder the file is written in, stored as is: renamed into place, not copied.
  const storedAsIs = inPlace && only!.location === scratch.dir
  try {
    const outcome = await engine.dump(target, {
      path: temporary,
      format,
      jobs,
      sha256: storedAsIs,
      ...(compressLevel !== undefined && { compressLevel }),
      ...signal,
      onProgress: ({ bytes }) => onProgress(bytes),
    })
    if (options.signal?.aborted) throw new DbopsError('E_INTERRUPTED', 'backup interrupted; nothing was published')
    if (storedAsIs) {
      // The rename is made durable by the manifest's write just after (its folder is fsynced after its own rename).
      const result = { size: sizeOf(temporary), sha256: outcome.sha256 ?? (await hashArtifact(temporary)) }
      renameSync(temporary, join(only.location, artifact))
      return { outcome, deliveries: [{ ok: true, result }], manifestFields: {} }
    }
    const { deliveries, manifestFields } = await deliverLocal(
      destinations,
      target,
      temporary,
      artifact,
      sealing,
      signal ?? {},
    )
    return { outcome, deliveries, manifestFields }
  } finally {
    rmSync(temporary, { recursive: true, force: true })
    scratch.remove()
  }
}

/**
 * Where an artifact that cannot stream is written first: the first folder destination (same disk; its `.tmp-`
 * leftovers are cleaned by the next run), else a private temporary folder.
 */
function scratchFolder(destinations: readonly BackupDestination[]): { dir: string; remove(): void } {
  const folder = destinations.find((destination) => destination.storage.kind === 'folder')
  if (folder) return { dir: folder.location, remove: () => {} }
  const dir = temporaryDir('backup')
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/**
 * Removes what interrupted runs left in a destination: artifacts without a manifest, unfinished multipart uploads,
 * temporary files. Called under the destination's lock, so nothing removed belongs to a live run. Returns what was
 * removed and what remains (listed once: a bucket's listing is a request).
 */
export async function cleanLeftovers(
  destination: BackupDestination,
): Promise<{ removed: string[]; remaining: StoredObject[] }> {
  const { storage } = destination
  const removed = storage.kind === 'folder' ? removeIncomplete(storage.location) : []
  removed.push(...(await storage.removeLeftovers()))
  const objects = await storage.list()
  const orphans = new Set(orphanObjects(objects))
  for (const name of orphans) {
    await storage.remove(name)
    removed.push(name)
  }
  return { removed, remaining: objects.filter((object) => !orphans.has(object.name)) }
}

function chooseFormat(
  formats: readonly BackupFormat[],
  fallback: BackupFormat,
  flag: BackupFormat | undefined,
  configured: BackupFormat | undefined,
): BackupFormat {
  if (flag !== undefined) {
    if (!formats.includes(flag)) {
      throw new UsageError(
        `--format ${flag} does not apply here: this engine writes ${formats.join(', ')}`,
        formats.length === 1 ? 'leave --format out' : `use one of ${formats.join(', ')}`,
      )
    }
    return flag
  }
  // A shared config default (e.g. directory) applies to the engines that have it.
  return configured !== undefined && formats.includes(configured) ? configured : fallback
}

/**
 * Creates the folder (0700) and makes sure it is writable before any work starts. Returns the first folder it
 * created (undefined when the folder was there), for removeEmptyFolders.
 */
export function prepareDirectory(dir: string): string | undefined {
  let first: string | undefined
  try {
    first = mkdirSync(dir, { recursive: true, mode: 0o700 })
    accessSync(dir, constants.W_OK | constants.X_OK)
  } catch (error) {
    // mkdir says EEXIST for a file at the path and ENOTDIR for a file above it.
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST' || code === 'ENOTDIR')
      throw new DbopsError(
        'E_BACKUP_DIR',
        `the backup folder ${dir} is not a folder: ${code === 'EEXIST' ? 'a file has its name' : 'a part of its path is a file'}`,
        { hint: 'set backup.dir to a folder', cause: error },
      )
    const cause = blockingError(dir, error as NodeJS.ErrnoException)
    const where = cause.path !== undefined && cause.path !== dir ? `, at ${cause.path}` : ''
    const known = systemProblem(cause.code)
    const denied = cause.code === 'EACCES' || cause.code === 'EPERM' || !known
    throw new DbopsError(
      'E_BACKUP_DIR',
      `cannot write to the backup folder ${dir}: ${known?.problem ?? cause.message}${cause.code ? ` (${cause.code}${where})` : ''}`,
      {
        hint: denied
          ? 'make the folder writable by the user running dbops, or set backup.dir in the config to a folder it can write'
          : `${known.hint} (backup.dir in the config says where backups go)`,
        cause: error,
        details: { path: dir, ...(cause.code !== undefined && { errno: cause.code }) },
      },
    )
  }
  return first
}

/**
 * The error that stops writing to `dir`. A recursive mkdir under a read-only mount says ENOENT (Node 20), hiding the
 * real problem: then the nearest existing parent is asked whether it is writable, which names it (EROFS, EACCES).
 */
function blockingError(dir: string, error: NodeJS.ErrnoException): NodeJS.ErrnoException {
  if (error.code !== 'ENOENT') return error
  for (let parent = dirname(dir); ; parent = dirname(parent)) {
    if (existsSync(parent)) {
      try {
        accessSync(parent, constants.W_OK | constants.X_OK)
        return error
      } catch (denied) {
        return denied as NodeJS.ErrnoException
      }
    }
    if (dirname(parent) === parent) return error
  }
}

/** Removes `dir` and its parents up to `first` (the folders prepareDirectory made), each only while it is empty. */
function removeEmptyFolders(dir: string, first: string): void {
  for (let current = dir; ; current = dirname(current)) {
    try {
      rmdirSync(current)
    } catch {
      return // not empty (another run wrote to it meanwhile), or gone
    }
    if (current === first || dirname(current) === current) return
  }
}

/** Removes leftovers of interrupted runs. Called under the lock, so nothing listed belongs to a live run. */
export function removeIncomplete(dir: string): string[] {
  const removed: string[] = []
  for (const name of incompleteEntries(dir)) {
    try {
      rmSync(join(dir, name), { recursive: true, force: true })
      removed.push(name)
    } catch {
      // A pg_dump orphaned by a killed dbops may still be writing into its folder: left for the next run.
    }
  }
  if (removed.length > 0) fsyncDirectory(dir)
  return removed
}

/** sha256 of a file; of a directory, the sha256 of its sorted `<sha256>  <relative name>` lines. */
export async function hashArtifact(path: string): Promise<string> {
  if (!statSync(path).isDirectory()) return (await hashFiles([path]))[0]!
  const files = listFiles(path)
  const hashes = await hashFiles(files.map((file) => join(path, file)))
  return folderSha256(files.map((file, index) => `${hashes[index]}  ${file}`))
}

/**
 * Hashes files in a worker thread, reading through one large buffer: the main thread stays free for work that can
 * overlap (SQLite's integrity_check of the same copy) and for the spinner.
 */
export async function hashFiles(paths: readonly string[]): Promise<string[]> {
  // Below this a worker's start-up (tens of milliseconds) costs more than it saves.
  if (paths.reduce((sum, path) => sum + statSync(path).size, 0) < 64 << 20) {
    const { createHash } = await import('node:crypto')
    const buffer = Buffer.allocUnsafe(1 << 20)
    return paths.map((path) => {
      const hash = createHash('sha256')
      const fd = openSync(path, 'r')
      try {
        for (let read; (read = readSync(fd, buffer, 0, buffer.length, null)) > 0;) hash.update(buffer.subarray(0, read))
      } finally {
        closeSync(fd)
      }
      return hash.digest('hex')
    })
  }
  const { Worker } = await import('node:worker_threads')
  return new Promise((resolve, reject) => {
    const worker = new Worker(HASH_WORKER, { eval: true, workerData: paths })
    worker.once('message', (hashes: string[]) => resolve(hashes))
    worker.once('error', reject)
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`the hashing worker stopped with code ${code}`))
    })
  })
}

const HASH_WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const { openSync, readSync, closeSync } = require('node:fs')
const { createHash } = require('node:crypto')
const buffer = Buffer.allocUnsafe(4 << 20)
parentPort.postMessage(workerData.map((path) => {
  const hash = createHash('sha256')
  const fd = openSync(path, 'r')
  try {
    for (let read; (read = readSync(fd, buffer, 0, buffer.length, null)) > 0; ) hash.update(buffer.subarray(0, read))
  } finally {
    closeSync(fd)
  }
  return hash.digest('hex')
}))
`
