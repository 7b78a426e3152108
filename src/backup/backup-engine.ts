import type { Readable } from 'node:stream'
import type { Target } from '../targets/target.js'

/** An artifact handed to the engine: a local path (file or folder), or a stream of a single-file artifact. */
export type ArtifactInput = { path: string } | { stream: Readable }

/** How an artifact is laid out: pg_dump's formats, or a SQLite database file. */
export type BackupFormat = 'custom' | 'directory' | 'plain' | 'sqlite'

export interface DumpProgress {
  bytes: number
  elapsedMs: number
}

export interface DumpRequest {
  /** Where the artifact goes: a temporary local name that does not exist yet. */
  path: string
  format: BackupFormat
  jobs: number
  /** The engine's own compression level (pg_dump -Z), for formats it compresses itself. */
  compressLevel?: number
  signal?: AbortSignal
  onProgress?: (progress: DumpProgress) => void
  /** The caller stores the file as it is and needs its sha256: the engine hashes it while it syncs it. */
  sha256?: boolean
}

/** What the database looked like in the snapshot that was dumped. */
export interface DatabaseFacts {
  /** Newest applied version in the migration ledger; null without a ledger. */
  migrationVersion: string | null
  /** Exact row count of every table, keyed by its quoted name (`public."Order Items"`). */
  rowCounts: Record<string, number>
}

export interface DumpOutcome {
  migrationVersion: string | null
  /** Exact rows per table when the engine counts them cheaply in the same snapshot (SQLite); else verify counts them. */
  rowCounts?: Record<string, number>
  serverVersion: string
  /** Versions of the programs that wrote the artifact, e.g. `{ pg_dump: '15.20' }` or `{ sqlite: '3.50.4' }`. */
  tools: Record<string, string>
  /** Engine facts a restore needs (SQLite: the journal mode to put back). */
  extra?: Record<string, unknown>
  /** The artifact's sha256 when the engine computed it alongside its own checks (else the caller hashes it). */
  sha256?: string
}

/**
 * Which database a backup came from. `key` is stable across URLs that reach the same database (PostgreSQL: the
 * cluster's system_identifier plus the database name; SQLite: the file's real path); null when it could not be
 * read (server down), then `display` is compared instead. `display` (host:port/database, or the path) is for people.
 */
export interface DatabaseIdentity {
  key: string | null
  display: string
}

/** A dump written to a stream (pg_dump's stdout) while it is produced; `outcome` settles after the stream ended. */
export interface DumpStream {
  /** Ends only when the dump succeeded; errors (instead of ending) when it failed, so no upload completes. */
  stream: Readable
  outcome: Promise<DumpOutcome>
}

/** Where a restore goes. */
export interface RestoreRequest {
  artifact: ArtifactInput
  format: BackupFormat
  /** The pg_dump version that wrote the artifact, when known (pg_restore must be at least as new). */
  tools: Record<string, string>
  extra?: Record<string, unknown>
  /** Drop the backup's objects before creating them again (PostgreSQL). */
  clean: boolean
  /** Restore even though the database holds objects, or (SQLite) another connection has it open. */
  force: boolean
  jobs: number
  noOwner: boolean
  signal?: AbortSignal
}

export interface RestoreOutcome {
  /** The programs used, e.g. `pg_restore 15.20 -j 2`. */
  method: string
  analyzed: boolean
}

/** A throwaway database for `backup verify --restore`, dropped by `drop` whatever happened. */
export interface ScratchDatabase {
  /** Shown to the user (redacted). */
  description: string
  restore(request: Omit<RestoreRequest, 'clean' | 'force'>): Promise<RestoreOutcome>
  facts(): Promise<DatabaseFacts>
  drop(): Promise<void>
}

/**
 * The engine side of backups: everything about pg_dump/pg_restore or SQLite's backup API. The backup capability
 * (src/backup) does files, manifests, locks and retention, and reaches this only through `Backend.backupEngine()`.
 */
export interface BackupEngine {
  readonly formats: readonly BackupFormat[]
  readonly defaultFormat: BackupFormat
  /** Artifact file (or folder) name suffix for a format, e.g. `.dump`. */
  extension(format: BackupFormat): string
  /**
   * Fails before any work when the tools cannot do the job (no pg_dump, pg_dump older than the server), so a cron
   * run reports the real cause instead of a half-written file.
   */
  preflight(target: Target, format: BackupFormat): Promise<void>
  /** Writes a consistent copy to `request.path` (fsynced) and reports the facts of the same snapshot. */
  dump(target: Target, request: DumpRequest): Promise<DumpOutcome>
  /** Whether the format is compressed by the engine itself (pg_dump custom, directory): dbops then adds none. */
  compressesItself(format: BackupFormat): boolean
  /** Whether `dumpStream` can produce this format (a single stream, no local file): pg_dump custom and plain. */
  streams(format: BackupFormat): boolean
  /** The dump as a stream, for the formats `streams` accepts. */
  dumpStream(target: Target, request: Omit<DumpRequest, 'path'>): DumpStream
  /**
   * Whether reading back (`check`) or restoring this format needs a local, seekable copy (pg_restore -j, a directory
   * dump, SQLite): the caller then downloads a stored artifact to a temporary file first.
   */
  needsFile(format: BackupFormat, purpose: 'check' | 'restore', jobs: number): boolean
  /**
   * Reads the whole artifact; throws when it cannot be read back. Returns what was checked and, where the artifact
   * shows them (pg_dump's COPY blocks), the rows of each table.
   */
  checkReadable(
    artifact: ArtifactInput,
    format: BackupFormat,
    tools: Record<string, string>,
  ): Promise<{ summary: string; rowCounts?: Record<string, number> }>
  /** Whether the database holds any user object (restore refuses a non-empty target without --clean/--force). */
  isEmpty(target: Target): Promise<boolean>
  /**
   * The identity of the target's database; never throws (key null when it cannot be read). `offline` asks nothing of
   * the server (a health run whose connection failed must not wait for it again).
   */
  identify(target: Target, options?: { offline?: boolean }): Promise<DatabaseIdentity>
  restore(target: Target, request: RestoreRequest): Promise<RestoreOutcome>
  scratch(target: Target): Promise<ScratchDatabase>
}
