import type { DbopsError } from '../errors.js'
import type { Kysely } from 'kysely'
import type { SqlFragment, SqlQuery } from '../sql/query.js'
import type { SqlStatement } from '../sql/split-statements.js'
import type { Auditor } from '../audit/auditor.js'
import type { Maintainer } from '../maintain/maintainer.js'
import type { HealthProbe } from '../health/health-probe.js'
import type { BackupEngine } from '../backup/backup-engine.js'
import type { Seeder } from '../seed/seeder.js'
import type { SchemaEngine } from '../schema/schema-engine.js'

export type Engine = 'postgres' | 'sqlite'

export interface ServerInfo {
  engine: Engine
  /** The server's (PostgreSQL) or library's (SQLite) version string. */
  version: string
  latencyMs: number
}

/**
 * A transactional unit of migration work, rendered by the backend in its cheapest form: PostgreSQL sends it as one
 * simple-query round trip (BEGIN ... COMMIT), SQLite runs it in-process under BEGIN IMMEDIATE. Most of a migration's
 * cost is the commit's fsync; every extra round trip shows up directly against the psql floor.
 */
export interface TransactionalUnit {
  /** Parameterless statements run first in the transaction: the ledger's creation on a database's first migration. */
  setup: readonly string[]
  /** The section's text exactly as written (PostgreSQL sends it verbatim so error positions map to the file). */
  script: string
  /** The same text split into statements (possibly on first access): for locating a failure. */
  readonly statements: readonly SqlStatement[]
  /**
   * Nothing in the script needs running statement by statement (see PreparedSection.plain): SQLite runs it whole
   * and, only when it fails, again statement by statement inside a transaction it rolls back, to know which one
   * failed.
   */
  plain: boolean
  /**
   * Returns a row when the work is already done. SQLite evaluates it inside BEGIN IMMEDIATE (there is no run-wide
   * lock there); PostgreSQL ignores it because the migration lock is held for the whole run.
   */
  guard: SqlQuery
  /** The ledger write committed in the same transaction as the migration. */
  ledgerWrite: SqlQuery
  lockTimeoutMs: number
  statementTimeoutMs: number
  /**
   * false lets the commit return before the disk has it (PostgreSQL `synchronous_commit = off`, SQLite `synchronous =
   * NORMAL`). A run makes only its last migration durable: that commit flushes the log in order, so every earlier
   * commit of the run becomes durable with it: one disk flush per run instead of one per migration. A crash before
   * then leaves the database at an earlier migration boundary, never between two (each migration and its ledger
   * row commit together either way).
   */
  durable: boolean
  /**
   * Read-only SQL run after the commit, in the same message where that saves a round trip (PostgreSQL; SQLite
   * ignores it): `migrate test` reads the catalog after each step this way. It runs only once the unit committed.
   */
  followUp?: string
  /**
   * Set on a unit sent while the one before it is still running (Backend.pipelinesUnits): a query that returns a
   * row only once that unit committed. It runs first in the unit's transaction, and the unit fails there, committing
   * nothing, when it returns none: a unit never runs after the one before it failed, wherever that one failed
   * (a statement, its ledger write, the COMMIT itself).
   */
  after?: SqlQuery
}

export interface UnitOutcome {
  skipped: boolean
  elapsedMs: number
  /** The follow-up's result sets; undefined when it was not sent or failed (the unit committed either way). */
  followUp?: unknown[]
}

/** Thrown by a backend when a migration statement fails; the migrate layer turns it into file:line:column. */
export class StatementFailure extends Error {
  constructor(
    message: string,
    /** Index into `statements` of the statement that failed, when known. */
    readonly statementIndex: number | undefined,
    /** 0-based UTF-16 offset into `script` of the error, when the database reported one. */
    readonly scriptOffset: number | undefined,
    readonly sqlstate: string | undefined,
    options: { cause?: unknown; leftBehind?: string; outsideTransaction?: string } = {},
  ) {
    super(message, options)
    this.name = 'StatementFailure'
    this.leftBehind = options.leftBehind
    this.outsideTransaction = options.outsideTransaction
  }

  /** What the failed statement left in the database, as the backend found it (a half-built index). */
  readonly leftBehind: string | undefined
  /**
   * Why the statement fails inside the migration's transaction and what it needs around it outside one, as the
   * backend knows it (SQLite: foreign keys can be switched off only between transactions). The migrate layer adds
   * how the file's format says "no transaction".
   */
  readonly outsideTransaction: string | undefined
}

export interface LockOptions {
  /** How long to wait for another dbops holding the lock; 0 = fail at once. */
  timeoutMs: number
  /** Called once while waiting, with who holds the lock. */
  onWait?: (holder: string) => void
}

/** What the ledger needs to know where engines differ. */
export interface LedgerSql {
  timestamp: 'timestamptz' | 'text'
  /** Whether tables live in named schemas (PostgreSQL) or not (SQLite: the configured schema is ignored). */
  schemas: boolean
  /**
   * Milliseconds since `startedAt` (ISO), evaluated by the database when the ledger row is written, so the
   * migration's execution time is recorded in the same transaction without another round trip.
   */
  elapsedMsSince(startedAt: string): SqlFragment
  /**
   * When the database began the unit being written, for the ledger's applied_at of a unit sent ahead of time (see
   * Backend.pipelinesUnits): its client-side start would be the time it was queued, not the time it ran.
   */
  unitStartedAt?: SqlFragment
  /** Bind placeholder number `index` (1-based): `$1` on PostgreSQL, `?` on SQLite. */
  placeholder(index: number): string
}

/**
 * Everything that differs between databases. Capabilities (migrate, seed, backup...) ask the backend and never
 * branch on `engine` themselves. One connection per backend: PostgreSQL session state (the advisory lock,
 * application_name) and SQLite transactions both live on it.
 */
export interface Backend {
  readonly engine: Engine
  readonly redactedUrl: string
  /**
   * A kysely instance on the backend's one connection, for capabilities that build queries (loaded on first use:
   * kysely is too heavy for the start-up path of every command).
   */
  kysely(): Promise<Kysely<any>>
  /** Runs one parameterised query (placeholders in the backend's style) and returns its rows. */
  query<Row = Record<string, unknown>>(query: SqlQuery): Promise<Row[]>
  readonly ledgerSql: LedgerSql
  /** Whether the database exists yet (a SQLite file that was never created does not; nothing creates it on read). */
  exists(): boolean
  /**
   * The error as a DbopsError when it is one this engine can explain: E_LOCK_TIMEOUT for its "gave up waiting for a
   * lock" (SQLite's SQLITE_BUSY once the busy timeout ran out), naming the lock and the setting; E_FILESYSTEM for a
   * write to a file this user may only read (SQLite's SQLITE_READONLY). undefined for any other error.
   */
  explainError?(error: unknown): DbopsError | undefined
  ping(): Promise<ServerInfo>
  /** Whether a schema exists (PostgreSQL; SQLite has only `main`, so always true). */
  schemaExists(schema: string): Promise<boolean>
  /**
   * Which of these table names exist, without errors: `table` where the session looks for it (the search path), or
   * `schema.table` (PostgreSQL).
   */
  existingTables(names: readonly string[]): Promise<string[]>
  /** Runs `fn` holding the migration lock for `lockName`; state must be read inside `fn`. */
  withMigrationLock<T>(lockName: string, options: LockOptions, fn: () => Promise<T>): Promise<T>
  runTransactional(unit: TransactionalUnit): Promise<UnitOutcome>
  /**
   * runTransactional may be called again before the previous call settled, with `after` set: the units go to the
   * database at once and run one after the other in call order, so the next one is there the moment the previous
   * one commits (PostgreSQL: no client round trip between two migrations of a run).
   */
  readonly pipelinesUnits?: boolean
  /**
   * From now on, a unit sent ahead that has not started yet fails at its `after` check instead of running (an
   * interrupted run: the migration under way finishes, no other starts). Resolves once that holds.
   */
  stopSendingAhead?(): Promise<void>
  /**
   * Before a transaction:false migration: the session's settings as on a fresh connection, plus the migration's
   * timeouts (transactional units do the same inside their own transaction).
   */
  prepareSession(timeouts: { lockTimeoutMs: number; statementTimeoutMs: number }): Promise<void>
  /** Asks the database to cancel the statement this connection is running (SQLite runs in-process: nothing to do). */
  cancelRunning(): Promise<void>
  /** Runs one statement as its own message, outside dbops' transactions (transaction:false migrations). */
  runStatement(statement: string): Promise<void>
  /** Makes every commit this connection has made durable (a run that stops before its durable last migration). */
  flushCommits(): Promise<void>
  /** true when `error` says the table does not exist (the ledger before the first migration). */
  isMissingTable(error: unknown): boolean
  close(): Promise<void>

  // Each capability's engine side, in backends/<engine>/<engine>-<capability>.ts, imported on first use.
  /** Bulk loading for `dbops seed`. */
  seeder(): Promise<Seeder>
  /** pg_dump/pg_restore or SQLite's backup API, for `dbops backup` and `dbops restore`. */
  backupEngine(): Promise<BackupEngine>
  /** The engine side of `dbops health`. */
  healthProbe(): Promise<HealthProbe>
  /** `dbops audit`: catalog introspection and fix SQL. */
  auditor(): Promise<Auditor>
  /** `dbops maintain`: what is due, and running it. */
  maintainer(): Promise<Maintainer>
  /** `dbops schema` and `dbops migrate test`: catalog reading, schema dumps, scratch databases. */
  schemaEngine(): Promise<SchemaEngine>
}

export interface OpenOptions {
  /** Shown to operators: PostgreSQL application_name, e.g. "dbops migrate up". */
  applicationName: string
  /** Create the database file if it is missing (SQLite). Read-only commands pass false and create nothing. */
  create: boolean
  /** The command only reads: SQLite opens the file read-only, so nothing (not even the journal mode) can change. */
  readOnly?: boolean
  /** How long a SQLite connection waits on a locked database. */
  busyTimeoutMs?: number
  /** The setting `busyTimeoutMs` came from, for the lock timeout error (default "migrations.lockWaitTimeout"). */
  busyTimeoutSetting?: string
  /** A command's own deadline capping the PostgreSQL connect timeout (the URL's connect_timeout, PGCONNECT_TIMEOUT, or 10 s). */
  connectTimeoutMs?: number
  /** Ctrl-C / SIGTERM: ends a wait for another connection's lock (SQLite's busy wait) with E_INTERRUPTED. */
  signal?: AbortSignal
}
