import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  openSync,
  readSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs'
import { join } from 'node:path'
import type { Target } from '../targets/target.js'
import { DbopsError, UsageError } from '../errors.js'
import { fsyncDirectory } from '../output/atomic-write.js'
import { VERSION } from '../version.js'
import type { BackupFormat } from './backup-engine.js'
import type { CompressSetting } from '../config/resolve-config.js'
import { withBackupLock, type LockHolder } from './backup-lock.js'
import { incompleteEntries, newBackupId, sizeOf, TEMP_PREFIX, writeManifest, type BackupManifest } from './manifest.js'

export type BackupEvent =
  | { type: 'start'; target: string; id: string; format: BackupFormat }
  | { type: 'progress'; target: string; id: string; bytes: number; elapsedMs: number }
  | { type: 'done'; target: string; manifest: BackupManifest }
  | { type: 'lock-wait'; target: string; holder: LockHolder }
  | { type: 'cleaned'; target: string; names: string[] }

export interface CreateBackupOptions {
  format?: BackupFormat
  /** Parallel pg_dump jobs (directory format only). */
  jobs?: number
  label?: string
  /** Compression of plain dumps and SQLite copies, overriding backup.compress (`auto`: zstd, else gzip). */
  compress?: CompressSetting
  /** Wait for another dbops holding this target's backup lock instead of failing. */
  wait?: boolean
  signal?: AbortSignal
  onEvent?: (event: BackupEvent) => void
  /** For tests: the start time (ids are derived from it). */
  now?: () => Date
}

export interface CreateBackupResult {
  target: string
  backup: BackupManifest
  /** Leftovers of interrupted runs removed before this one. */
  cleaned: string[]
}

/**
 * Takes one backup of `target` into its backup folder: under the folder's lock, leftovers of interrupted runs are
 * removed, the engine writes the artifact under a temporary name, it is hashed, fsynced and renamed, and the manifest
 * is written last. Whatever happens before the manifest exists leaves no backup (and the next run cleans up).
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
  const dir = target.backup.dir
  prepareDirectory(dir)
  // The identity query rides along with the preflight's own round trips: no extra wait before pg_dump starts.
  const [database] = await Promise.all([engine.identify(target), engine.preflight(target, format)])
  // Alone among creates and prunes; verifies and restores reading complete backups may go on meanwhile.
  return withBackupLock(
    dir,
    {
      command: 'dbops backup create',
      excludeShared: false,
      wait: options.wait === true,
      ...(options.signal && { signal: options.signal }),
      onWait: (holder) => options.onEvent?.({ type: 'lock-wait', target: target.name, holder }),
    },
    async () => {
      const cleaned = removeIncomplete(dir)
      if (cleaned.length > 0) options.onEvent?.({ type: 'cleaned', target: target.name, names: cleaned })
      const started = options.now?.() ?? new Date()
      const extension = engine.extension(format)
      const taken = new Set(readdirSync(dir))
      const id = newBackupId(
        target.name,
        started,
        (candidate) => taken.has(`${candidate}${extension}`) || taken.has(`${candidate}.manifest.json`),
      )
      const artifact = `${id}${extension}`
      const temporary = join(dir, `${TEMP_PREFIX}${artifact}`)
      options.onEvent?.({ type: 'start', target: target.name, id, format })
      const startedMs = performance.now()
      try {
        const outcome = await engine.dump(target, {
          path: temporary,
          format,
          jobs,
          ...(options.signal && { signal: options.signal }),
          onProgress: ({ bytes }) =>
            options.onEvent?.({
              type: 'progress',
              target: target.name,
              id,
              bytes,
              elapsedMs: performance.now() - startedMs,
            }),
        })
        if (options.signal?.aborted) throw new DbopsError('E_INTERRUPTED', 'backup interrupted; nothing was published')
        const sha256 = outcome.sha256 ?? (await hashArtifact(temporary))
        const sizeBytes = sizeOf(temporary)
        // No folder fsync here: the manifest's own (writeManifest) makes both renames durable, in order, at once.
        renameSync(temporary, join(dir, artifact))
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
          sizeBytes,
          sha256,
          artifact,
          serverVersion: outcome.serverVersion,
          tools: { ...outcome.tools, dbops: VERSION },
          migrationVersion: outcome.migrationVersion,
          rowCounts: outcome.rowCounts ?? null,
          verifiedAt: null,
          verifiedBy: null,
          ...(outcome.extra && { extra: outcome.extra }),
        }
        writeManifest(dir, manifest)
        options.onEvent?.({ type: 'done', target: target.name, manifest })
        return { target: target.name, backup: manifest, cleaned }
      } catch (error) {
        rmSync(temporary, { recursive: true, force: true })
        if (!existsSync(join(dir, `${id}.manifest.json`))) rmSync(join(dir, artifact), { recursive: true, force: true })
        throw error
      }
    },
  )
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

/** Creates the folder (0700) and makes sure it is writable before any work starts. */
export function prepareDirectory(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    accessSync(dir, constants.W_OK | constants.X_OK)
  } catch (error) {
    throw new DbopsError(
      'E_BACKUP_DIR',
      `cannot write to the backup folder ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      {
        hint: 'set backup.dir in the config to a writable folder, or fix its permissions',
        cause: error,
      },
    )
  }
  if (!statSync(dir).isDirectory())
    throw new DbopsError('E_BACKUP_DIR', `the backup folder ${dir} is not a folder`, {
      hint: 'set backup.dir to a folder',
    })
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
  const files: string[] = []
  const walk = (relative: string) => {
    for (const name of readdirSync(join(path, relative)).sort()) {
      const child = relative ? `${relative}/${name}` : name
      if (statSync(join(path, child)).isDirectory()) walk(child)
      else files.push(child)
    }
  }
  walk('')
  const hashes = await hashFiles(files.map((file) => join(path, file)))
  const lines = files.map((file, index) => `${hashes[index]}  ${file}`).sort()
  const { createHash } = await import('node:crypto')
  return createHash('sha256')
    .update(lines.join('\n') + '\n')
    .digest('hex')
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
