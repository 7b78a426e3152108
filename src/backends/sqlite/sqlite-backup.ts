import {
  chmodSync,
  chownSync,
  closeSync,
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs'
import { basename, dirname, join } from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import type { Target } from '../../targets/target.js'
import { pipeline } from 'node:stream/promises'
import type {
  ArtifactInput,
  BackupEngine,
  BackupFormat,
  DatabaseFacts,
  DatabaseIdentity,
  DumpOutcome,
  DumpRequest,
  DumpStream,
  RestoreOutcome,
  RestoreRequest,
  ScratchDatabase,
} from '../../backup/backup-engine.js'
import { DbopsError } from '../../errors.js'
import { quoteIdentifier } from '../../sql/query.js'
import { compareVersions } from '../../migrate/files.js'
import { fsyncDirectory, fsyncFile } from '../../output/atomic-write.js'
import { isDirectory, openFailureHint, openSqlite } from './sqlite-backend.js'
import { hashFiles } from '../../backup/create-backup.js'
import { processExists } from '../../processes.js'
import { temporaryDir } from '../../temporary-dirs.js'

/**
 * SQLite backups through the online backup API, all pages in one step: dbops is always a different connection from
 * the application's, and a step that leaves pages for later restarts whenever the application commits, so a busy
 * database would never finish. In WAL mode that one read transaction does not block writers. The copy is switched to
 * rollback-journal mode (a self-contained file) and must pass integrity_check before it is published.
 */
/** An error of the copy's own connection, explained as the backend explains a failed open. */
function copyFailure(target: Target, error: unknown): unknown {
  const code = (error as { code?: string }).code
  if (error instanceof DbopsError || code?.startsWith('SQLITE_') !== true) return error
  const path = sourcePath(target)
  const reason = isDirectory(path) ? 'it is a folder, not a database file' : (error as Error).message
  return new DbopsError('E_SQLITE', `cannot back up ${target.redactedUrl}: ${reason}`, {
    hint: code.startsWith('SQLITE_BUSY')
      ? 'a writer holding the database for longer than 5 s blocks the copy in rollback-journal mode; WAL mode avoids that'
      : openFailureHint(path, error),
    cause: error,
  })
}

export class SqliteBackupEngine implements BackupEngine {
  readonly formats: readonly BackupFormat[] = ['sqlite']
  readonly defaultFormat: BackupFormat = 'sqlite'

  extension(): string {
    return '.sqlite'
  }

  async preflight(target: Target): Promise<void> {
    const path = sourcePath(target)
    if (!existsSync(path)) {
      throw new DbopsError('E_NO_DATABASE', `the SQLite database ${path} does not exist`, {
        hint: 'check the URL (a relative path is relative to the config file)',
      })
    }
    // A folder or a file that is no database is refused now, before a backup folder is made for it.
    let probe: BetterSqlite3.Database | undefined
    try {
      probe = openSqlite(path, { readonly: true, fileMustExist: true })
      probe.prepare('SELECT count(*) FROM sqlite_master').get() // SQLite reads the header only now
    } catch (error) {
      throw copyFailure(target, error)
    } finally {
      probe?.close()
    }
    removeRestoreLeftovers(path)
  }

  /** The file's real path: `./app.db`, an absolute path and a symlink to it are one database. */
  async identify(target: Target): Promise<DatabaseIdentity> {
    const location = target.resolved.location
    const path = location.engine === 'sqlite' ? location.path : target.redactedUrl
    if (path === ':memory:') return { key: null, display: path }
    let real: string
    try {
      real = realpathSync(path)
    } catch {
      // Not created yet: the folder's real path and the name are what it will be.
      try {
        real = join(realpathSync(dirname(path)), basename(path))
      } catch {
        real = path
      }
    }
    return { key: `sqlite:${real}`, display: path }
  }

  async dump(target: Target, request: DumpRequest): Promise<DumpOutcome> {
    try {
      return await this.#dump(target, request)
    } catch (error) {
      throw copyFailure(target, error)
    }
  }

  async #dump(target: Target, request: DumpRequest): Promise<DumpOutcome> {
    const path = sourcePath(target)
    const source = openSqlite(path, { readonly: true, fileMustExist: true, timeout: 5000 })
    let journalMode: string
    let version: string
    try {
      journalMode = String(source.pragma('journal_mode', { simple: true }))
      version = String((source.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v)
      // Private from the first byte: better-sqlite3 would create the file with the default mode.
      closeSync(openSync(request.path, 'wx', 0o600))
      const pageSize = Number(source.pragma('page_size', { simple: true }))
      await source.backup(request.path, {
        progress: ({ totalPages, remainingPages }) => {
          request.onProgress?.({ bytes: (totalPages - remainingPages) * pageSize, elapsedMs: 0 })
          return 0x7fffffff
        },
      })
    } finally {
      source.close()
    }
    if (request.signal?.aborted) throw new DbopsError('E_INTERRUPTED', 'interrupted')
    const copy = openSqlite(request.path, { timeout: 0 })
    let facts: DatabaseFacts
    let hashing: Promise<string[]> | undefined
    try {
      copy.pragma('journal_mode = DELETE')
      // The file does not change from here on: hash it in a worker while integrity_check reads it here.
      hashing = hashFiles([request.path])
      hashing.catch(() => {})
      checkIntegrity(copy, 'the copy')
      facts = databaseFacts(copy, target.migrations.table)
    } finally {
      copy.close()
    }
    fsyncFile(request.path)
    const [sha256] = await hashing
    return { ...facts, serverVersion: version, tools: { sqlite: version }, extra: { journalMode }, sha256: sha256! }
  }

  /** The online backup API writes pages in place: it needs a file, which is then streamed to the destinations. */
  compressesItself(): boolean {
    return false
  }

  streams(): boolean {
    return false
  }

  dumpStream(): DumpStream {
    throw new Error('SQLite backups are written to a file first')
  }

  /** integrity_check reads a file; a restore copies the artifact into place, which a stream does as well. */
  needsFile(_format: BackupFormat, purpose: 'check' | 'restore'): boolean {
    return purpose === 'check'
  }

  async checkReadable(artifact: ArtifactInput): Promise<{ summary: string }> {
    if (!('path' in artifact)) throw new Error('SQLite reads a backup back from a file')
    const database = openSqlite(artifact.path, { readonly: true, fileMustExist: true })
    try {
      checkIntegrity(database, 'the backup')
    } finally {
      database.close()
    }
    return { summary: 'PRAGMA integrity_check: ok' }
  }

  async isEmpty(target: Target): Promise<boolean> {
    const path = target.resolved.location.engine === 'sqlite' ? target.resolved.location.path : ''
    if (!existsSync(path)) return true
    const database = openSqlite(path, { readonly: true, fileMustExist: true, timeout: 5000 })
    try {
      return (database.prepare('SELECT count(*) AS n FROM sqlite_master').get() as { n: number }).n === 0
    } finally {
      database.close()
    }
  }

  /**
   * Replaces the database file: the backup is copied next to it, fsynced, and renamed over it, so a crash leaves the
   * old file or the new one. Refuses while another connection has the database open (an application writing to the
   * old file would lose its writes); the stale -wal/-shm of the old file are removed, since SQLite would replay an old
   * WAL into the new file.
   */
  async restore(target: Target, request: RestoreRequest): Promise<RestoreOutcome> {
    const path = sourcePath(target)
    const staged = join(dirname(path), `${restorePrefix(path)}${process.pid}.tmp`)
    mkdirSync(dirname(path), { recursive: true })
    removeRestoreLeftovers(path)
    try {
      await stage(request, staged)
      keepOwnership(path, staged)
      const guard = existsSync(path) ? exclusiveGuard(path, request.force) : undefined
      try {
        for (const suffix of ['-wal', '-shm', '-journal']) rmSync(path + suffix, { force: true })
        renameSync(staged, path)
        fsyncDirectory(dirname(path))
      } finally {
        guard?.close()
      }
    } finally {
      rmSync(staged, { force: true })
    }
    const database = openSqlite(path, { timeout: 5000 })
    try {
      database.exec('ANALYZE')
    } finally {
      database.close()
    }
    return { method: 'file copy, fsync and rename', analyzed: true }
  }

  async scratch(target: Target): Promise<ScratchDatabase> {
    const dir = temporaryDir('verify')
    const path = join(dir, 'restored.db')
    return {
      description: `scratch file ${path}`,
      restore: async (request) => {
        await stage(request, path)
        return { method: 'file copy', analyzed: false }
      },
      facts: async () => {
        const database = openSqlite(path, { readonly: true, fileMustExist: true })
        try {
          checkIntegrity(database, 'the restored copy')
          return databaseFacts(database, target.migrations.table)
        } finally {
          database.close()
        }
      },
      drop: async () => rmSync(dir, { recursive: true, force: true }),
    }
  }
}

function sourcePath(target: Target): string {
  const location = target.resolved.location
  if (location.engine !== 'sqlite' || location.path === ':memory:') {
    throw new DbopsError('E_USAGE', 'an in-memory SQLite database has nothing to back up or restore', {
      hint: 'use a database file (sqlite:./app.db)',
    })
  }
  return location.path
}

function restorePrefix(path: string): string {
  return `.${basename(path)}.dbops-restore-`
}

/**
 * Removes staged copies left by restores of this database that were killed (SIGKILL, power loss): a full-size file
 * each. Only those whose process is gone: a restore running right now keeps its file.
 */
export function removeRestoreLeftovers(path: string): string[] {
  const prefix = restorePrefix(path)
  const removed: string[] = []
  let names: string[]
  try {
    names = readdirSync(dirname(path))
  } catch {
    return removed
  }
  for (const name of names) {
    // The staged copy, and its -wal/-shm/-journal when the kill came while its journal mode was being set.
    const match = name.startsWith(prefix) ? /^(\d+)\.tmp(?:-wal|-shm|-journal)?$/.exec(name.slice(prefix.length)) : null
    const pid = Number(match?.[1])
    if (!match || pid <= 0 || processExists(pid)) continue
    rmSync(join(dirname(path), name), { force: true })
    removed.push(name)
  }
  return removed
}

/**
 * The application opens the restored file as the same user as before: the staged copy gets the replaced file's mode,
 * owner and group. Changing the owner needs root (or the same owner); when it cannot be kept the restore is refused
 * before the file is replaced.
 */
function keepOwnership(path: string, staged: string): void {
  let old
  try {
    old = statSync(path)
  } catch {
    return
  }
  chmodSync(staged, old.mode & 0o7777)
  const mine = statSync(staged)
  if (mine.uid === old.uid && mine.gid === old.gid) return
  try {
    chownSync(staged, old.uid, old.gid)
  } catch (error) {
    throw new DbopsError(
      'E_RESTORE_OWNER',
      `cannot give the restored file the owner of ${path} (uid ${old.uid}, gid ${old.gid}): ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      {
        hint: 'run the restore as that user (or as root), so the application can still open the file',
        cause: error,
      },
    )
  }
}

/** Copies the artifact to `path` (private, fsynced) and puts back the journal mode the database had. */
async function stage(request: Pick<RestoreRequest, 'artifact' | 'extra'>, path: string): Promise<void> {
  if ('path' in request.artifact) copyFileSync(request.artifact.path, path)
  else await pipeline(request.artifact.stream, createWriteStream(path, { mode: 0o600 }))
  if (request.extra?.journalMode === 'wal') {
    const database = openSqlite(path, { timeout: 0 })
    try {
      database.pragma('journal_mode = WAL')
    } finally {
      database.close()
    }
  }
  fsyncFile(path)
}

/**
 * Holds the database exclusively (locking_mode=EXCLUSIVE + BEGIN EXCLUSIVE, no busy wait): fails when any other
 * connection has it open in WAL mode, or is reading or writing in rollback mode.
 */
function exclusiveGuard(path: string, force: boolean): { close(): void } | undefined {
  let database: BetterSqlite3.Database | undefined
  try {
    database = openSqlite(path, { timeout: 0 })
    database.pragma('locking_mode = EXCLUSIVE')
    database.exec('BEGIN EXCLUSIVE')
    database.exec('COMMIT')
    database.pragma('wal_checkpoint(TRUNCATE)')
    const held = database
    return { close: () => held.close() }
  } catch (error) {
    database?.close()
    if (force) return undefined
    throw new DbopsError('E_DATABASE_IN_USE', `another connection has ${path} open (${(error as Error).message})`, {
      hint: 'stop the application using it first, or pass --force to replace the file anyway (its writes to the old file are lost)',
      cause: error,
    })
  }
}

function checkIntegrity(database: BetterSqlite3.Database, what: string): void {
  const rows = database.prepare('PRAGMA integrity_check').all() as { integrity_check: string }[]
  if (rows.length !== 1 || rows[0]!.integrity_check !== 'ok') {
    throw new DbopsError(
      'E_BACKUP_CORRUPT',
      `${what} fails PRAGMA integrity_check: ${rows
        .slice(0, 3)
        .map((row) => row.integrity_check)
        .join('; ')}`,
    )
  }
}

function databaseFacts(database: BetterSqlite3.Database, ledgerTable: string): DatabaseFacts {
  const tables = (
    database
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
      )
      .all() as { name: string }[]
  ).map((row) => row.name)
  const rowCounts: Record<string, number> = {}
  for (const name of tables) {
    rowCounts[name] = (database.prepare(`SELECT count(*) AS n FROM ${quoteIdentifier(name)}`).get() as { n: number }).n
  }
  let migrationVersion: string | null = null
  if (tables.includes(ledgerTable)) {
    const rows = database
      .prepare(`SELECT version FROM ${quoteIdentifier(ledgerTable)} WHERE status IN ('applied', 'baselined')`)
      .all() as { version: string }[]
    for (const { version } of rows)
      if (migrationVersion === null || compareVersions(String(version), migrationVersion) > 0)
        migrationVersion = String(version)
  }
  return { migrationVersion, rowCounts }
}
