import {
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  statfsSync,
  statSync,
} from 'node:fs'
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { basename, dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import type BetterSqlite3 from 'better-sqlite3'
import type { Kysely } from 'kysely'
import { sql, type SqlQuery } from '../../sql/query.js'
import { leadingWords } from '../../sql/split-statements.js'
import { DbopsError } from '../../errors.js'
import { formatDuration } from '../../output/format.js'
import { fsyncFile } from '../../output/atomic-write.js'
import type {
  Backend,
  LedgerSql,
  LockOptions,
  OpenOptions,
  ServerInfo,
  TransactionalUnit,
  UnitOutcome,
} from '../backend.js'
import { StatementFailure } from '../backend.js'
import type { Auditor } from '../../audit/auditor.js'
import type { Maintainer } from '../../maintain/maintainer.js'
import type { SchemaEngine } from '../../schema/schema-engine.js'
import type { BackupEngine } from '../../backup/backup-engine.js'
import type { Seeder } from '../../seed/seeder.js'
import { processExists } from '../../processes.js'

/**
 * The compiled addon, named directly: the CLI bundles better-sqlite3's JavaScript (its ~15 files cost ~8 ms to
 * require), and from a bundle better-sqlite3's own lookup (the `bindings` package) cannot find the addon.
 */
export function nativeBinding(): string | undefined {
  try {
    return createRequire(import.meta.url).resolve('better-sqlite3/build/Release/better_sqlite3.node')
  } catch {
    return undefined // Not built where expected: let better-sqlite3 look for it itself.
  }
}

/** A better-sqlite3 connection of its own (backups, restores), with the addon found as the backend finds it. */
export function openSqlite(path: string, options: BetterSqlite3.Options = {}): BetterSqlite3.Database {
  const binding = nativeBinding()
  return new Database(path, { ...options, ...(binding && { nativeBinding: binding }) })
}

export class SqliteBackend implements Backend {
  readonly engine = 'sqlite' as const
  readonly ledgerSql: LedgerSql = {
    timestamp: 'text',
    schemas: false,
    // julianday('now') is read when the ledger insert runs, after the migration's statements.
    elapsedMsSince: (startedAt) => sql`CAST((julianday('now') - julianday(${startedAt})) * 86400000 AS INTEGER)`,
    placeholder: () => '?',
  }
  readonly #path: string
  readonly #options: OpenOptions
  #database: BetterSqlite3.Database | undefined
  #kysely: Kysely<any> | undefined
  readonly #statements = new Map<string, BetterSqlite3.Statement>()
  /** `PRAGMA busy_timeout = <ms>` statements of beginImmediate, by ms. */
  readonly #busyTimeouts = new Map<number, BetterSqlite3.Statement>()
  /** The file a new database is built in until its first commit publishes it at #path (see `database`). */
  #staging: string | undefined
  #wal = false
  /** PRAGMA foreign_keys as opened; a transaction:false migration may change it for the connection. */
  #foreignKeys: number | undefined
  #sessionChanged = false
  /** The connection's PRAGMA synchronous, set per unit (it cannot change inside a transaction). */
  #synchronous: 'FULL' | 'NORMAL' | undefined

  constructor(
    path: string,
    readonly redactedUrl: string,
    options: OpenOptions,
  ) {
    this.#path = path
    this.#options = options
  }

  /**
   * The better-sqlite3 handle, opened on first use. Read-only commands never create the file, and with
   * `readOnly` open it read-only. A missing file is built aside (`<file>.dbops-new-<pid>-<random>`) and linked into
   * place by its first commit: a run whose first migration fails leaves no file, and a file at #path is never
   * removed again, so concurrent runs never use a file another run deletes.
   */
  get database(): BetterSqlite3.Database {
    if (this.#database) return this.#database
    if (!this.#options.create && !this.exists()) {
      throw new DbopsError('E_NO_DATABASE', `the SQLite database ${this.#path} does not exist`, {
        hint: 'run "dbops migrate up" to create it, or check the URL',
      })
    }
    try {
      const options: BetterSqlite3.Options = { timeout: this.#options.busyTimeoutMs ?? 5000 }
      let path = this.#path
      if (this.#options.readOnly) Object.assign(options, { readonly: true, fileMustExist: true })
      else if (path !== ':memory:' && !existsSync(path)) {
        // `sqlite:./data/app.db` on a fresh clone: commands that create the database create its folder too.
        mkdirSync(dirname(path), { recursive: true })
        removeDeadStagings(path)
        path = this.#staging = `${path}.dbops-new-${process.pid}-${randomBytes(4).toString('hex')}`
      }
      const database = openSqlite(path, options)
      // The first read opens the -wal/-shm files: a full disk or a read-only folder shows here, as an open failure.
      database.prepare('SELECT count(*) FROM sqlite_master').get()
      this.#foreignKeys = database.pragma('foreign_keys', { simple: true }) as number
      this.#database = database
    } catch (error) {
      const locked = this.lockTimeoutError(error, 'lock to open it')
      if (locked) throw locked
      // SQLite says "disk I/O error" or "unable to open database file" for a folder.
      const reason = isDirectory(this.#path) ? 'it is a folder, not a database file' : (error as Error).message
      throw new DbopsError('E_CONNECTION', `cannot open ${this.redactedUrl}: ${reason}`, {
        hint: openFailureHint(this.#path, error),
        cause: error,
      })
    }
    return this.#database
  }

  /**
   * The handle for applying migrations and seeds: the first use switches the file to WAL (persistent), so readers
   * keep reading while a migration or seed runs and a run of migrations needs one fsync (TransactionalUnit.durable).
   * Other commands (reads, ledger edits, maintenance) leave the journal mode as it is. A database being built aside
   * stays in rollback-journal mode (one self-contained file) until it is published.
   */
  writable(): BetterSqlite3.Database {
    const database = this.database
    if (
      !this.#wal &&
      this.#staging === undefined &&
      this.#path !== ':memory:' &&
      !database.inTransaction &&
      !database.readonly
    ) {
      try {
        database.pragma('journal_mode = WAL')
        this.#wal = true
      } catch (error) {
        // Another connection is writing: SQLite refuses the switch at once, without its busy wait. The work goes on
        // in rollback-journal mode (BEGIN IMMEDIATE waits for that writer); the switch is tried again next time.
        if (!isBusy(error)) throw this.explainError(error) ?? error
      }
    }
    return database
  }

  /**
   * Links the database built aside into place after its first commit. false when another run created the file
   * first: this run's copy is dropped and the caller does its work again in that file (where the guard may find
   * it done).
   */
  #publish(): boolean {
    const staging = this.#staging!
    const database = this.#database!
    this.#staging = undefined
    this.#closeHandle()
    database.close()
    try {
      fsyncFile(staging)
      try {
        linkSync(staging, this.#path)
      } catch (error) {
        if (!NO_HARD_LINKS.has((error as NodeJS.ErrnoException).code ?? '')) throw error
        // A file system without hard links (some network and FAT mounts): an exclusive copy, not atomic but never
        // over another run's file.
        copyFileSync(staging, this.#path, constants.COPYFILE_EXCL)
        fsyncFile(this.#path)
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
      throw new DbopsError('E_CONNECTION', `cannot create ${this.#path}: ${(error as Error).message}`, {
        hint: 'check that the directory is writable',
        cause: error,
      })
    } finally {
      for (const suffix of ['', '-journal']) rmSync(staging + suffix, { force: true })
    }
    this.writable()
    return true
  }

  #closeHandle(): void {
    this.#statements.clear()
    this.#busyTimeouts.clear()
    this.#kysely = undefined
    this.#database = undefined
    this.#synchronous = undefined
    this.#sessionChanged = false
  }

  async kysely(): Promise<Kysely<any>> {
    const { Kysely, SqliteDialect } = await import('kysely')
    this.#kysely ??= new Kysely({
      dialect: new SqliteDialect({ database: async () => transactionGuard(this.database) }),
    })
    return this.#kysely
  }

  async seeder(): Promise<Seeder> {
    const { SqliteSeeder } = await import('./sqlite-seed.js')
    return new SqliteSeeder(this)
  }

  async query<Row>(query: SqlQuery): Promise<Row[]> {
    try {
      const statement = this.#prepare(query.sql)
      if (statement.reader) return statement.all(...query.parameters) as Row[]
      statement.run(...query.parameters)
      return []
    } catch (error) {
      throw this.explainError(error) ?? error
    }
  }

  /** Backend.explainError: a lock timeout, or a write refused because this user may only read the file. */
  explainError(error: unknown, lock?: string): DbopsError | undefined {
    return this.lockTimeoutError(error, lock) ?? this.#readOnlyError(error)
  }

  /**
   * SQLite opens a file it may not write read-only without a word, and says "attempt to write a readonly database"
   * at the first write: name the file and what to change.
   */
  #readOnlyError(error: unknown): DbopsError | undefined {
    if (error instanceof DbopsError) return undefined
    const code = sqliteCode(error)
    if (!code?.startsWith('SQLITE_READONLY')) return undefined
    return new DbopsError(
      'E_FILESYSTEM',
      `cannot write to the SQLite database ${this.#path}: ${this.#options.readOnly ? 'it was opened read-only' : 'this user may only read it'} (${code})`,
      {
        hint: `give the user running dbops write access to ${this.#path} and its folder ${dirname(this.#path)} (SQLite writes its -journal or -wal file there), or run a read-only command`,
        cause: error,
        details: { errno: code, path: this.#path },
      },
    )
  }

  /**
   * SQLITE_BUSY means better-sqlite3's busy timeout (migrations.lockWaitTimeout, or a command's deadline) ran out
   * while another connection held the database: E_LOCK_TIMEOUT naming the file, the lock and the setting.
   */
  lockTimeoutError(error: unknown, lock = 'database lock'): DbopsError | undefined {
    if (error instanceof DbopsError) return error.code === 'E_LOCK_TIMEOUT' ? error : undefined
    if (!isBusy(error)) return undefined
    const waited = this.#options.busyTimeoutMs ?? 5000
    const setting = this.#options.busyTimeoutSetting ?? 'migrations.lockWaitTimeout'
    return new DbopsError(
      'E_LOCK_TIMEOUT',
      `another connection held the SQLite database ${this.#path} longer than ${setting} (${formatDuration(waited)}) while dbops waited for its ${lock}`,
      {
        hint: `run again when the other process (see "fuser ${this.#path}") has finished writing, or raise ${setting}`,
        cause: error,
        details: { lock, waitedMs: waited, setting },
      },
    )
  }

  /**
   * BEGIN IMMEDIATE, waiting for another writer as long as the busy timeout allows. SQLite's own busy wait blocks
   * the event loop (Ctrl-C would wait for it to run out), so the wait is done here in short slices, with the event
   * loop turning in between: the open options' signal (Ctrl-C, SIGTERM) ends it with E_INTERRUPTED. Uncontended,
   * it is one attempt with no wait.
   */
  async beginImmediate(database: BetterSqlite3.Database, lock = 'write lock'): Promise<void> {
    const total = this.#options.busyTimeoutMs ?? 5000
    const deadline = performance.now() + total
    for (let slice = 0; ; slice = Math.min(BUSY_SLICE_MS, Math.max(0, Math.ceil(deadline - performance.now())))) {
      this.#busyTimeout(database, slice)
      try {
        database.exec('BEGIN IMMEDIATE')
        return
      } catch (error) {
        if (!isBusy(error) || performance.now() >= deadline) throw this.explainError(error, lock) ?? error
      } finally {
        this.#busyTimeout(database, total)
      }
      await new Promise((resolve) => setTimeout(resolve, 0))
      const signal = this.#options.signal
      if (signal?.aborted) {
        throw new DbopsError(
          'E_INTERRUPTED',
          `interrupted (${String(signal.reason)}) while waiting for the ${lock} on the SQLite database ${this.#path}, held by another connection; nothing was changed by the wait`,
          { hint: `run again when the other process (see "fuser ${this.#path}") has finished writing` },
        )
      }
    }
  }

  #busyTimeout(database: BetterSqlite3.Database, ms: number): void {
    let statement = this.#busyTimeouts.get(ms)
    if (!statement) this.#busyTimeouts.set(ms, (statement = database.prepare(`PRAGMA busy_timeout = ${ms}`)))
    statement.get()
  }

  /** Prepared statements are cached: the same ledger queries run once per migration. */
  #prepare(text: string): BetterSqlite3.Statement {
    let statement = this.#statements.get(text)
    if (!statement) {
      statement = this.database.prepare(text)
      this.#statements.set(text, statement)
    }
    return statement
  }

  exists(): boolean {
    return this.#database !== undefined || this.#path === ':memory:' || existsSync(this.#path)
  }

  async ping(): Promise<ServerInfo> {
    const started = performance.now()
    const row = this.database.prepare('SELECT sqlite_version() AS version').get() as { version: string }
    return { engine: 'sqlite', version: row.version, latencyMs: performance.now() - started }
  }

  async schemaExists(): Promise<boolean> {
    // No schemas to create: the ledger lives in the main database.
    return true
  }

  async existingTables(names: readonly string[]): Promise<string[]> {
    if (!this.exists()) return []
    const rows = await this.query<{ name: string }>({
      sql: `SELECT name FROM sqlite_master WHERE type = 'table' AND name IN (${names.map(() => '?').join(', ')})`,
      parameters: [...names],
    })
    return rows.map((row) => row.name)
  }

  async withMigrationLock<T>(_lockName: string, _options: LockOptions, fn: () => Promise<T>): Promise<T> {
    // No run-wide lock: each migration takes the write lock with BEGIN IMMEDIATE and re-checks the ledger inside
    // it (TransactionalUnit.guard), so concurrent runs interleave safely and each migration is applied once.
    return fn()
  }

  async runTransactional(unit: TransactionalUnit): Promise<UnitOutcome> {
    const database = this.writable()
    const started = performance.now()
    this.#restoreSession()
    // In WAL mode, FULL syncs the WAL at commit (with every earlier frame); NORMAL leaves it to the next sync.
    const synchronous = unit.durable ? 'FULL' : 'NORMAL'
    if (this.#synchronous !== synchronous) {
      database.pragma(`synchronous = ${synchronous}`)
      this.#synchronous = synchronous
    }
    await this.beginImmediate(database)
    let index = -1
    try {
      for (const statement of unit.setup) database.exec(statement)
      if (this.#prepare(unit.guard.sql).get(...unit.guard.parameters) !== undefined) {
        database.exec('ROLLBACK')
        return { skipped: true, elapsedMs: performance.now() - started }
      }
      if (unit.plain) {
        index = -2
        database.exec(unit.script)
        index = -1
      } else {
        for (index = 0; index < unit.statements.length; index++) database.exec(unit.statements[index]!.text)
      }
      this.#prepare(unit.ledgerWrite.sql).run(...unit.ledgerWrite.parameters)
      database.exec('COMMIT')
    } catch (error) {
      if (database.inTransaction) database.exec('ROLLBACK')
      if (index === -2) index = this.#failingStatement(unit)
      throw failure(error, index >= 0 ? index : undefined, unit.statements[index]?.text)
    }
    if (this.#staging !== undefined && !this.#publish()) return this.runTransactional(unit)
    return { skipped: false, elapsedMs: performance.now() - started }
  }

  /**
   * Which statement of a plain script fails: run them one by one in a transaction that is rolled back. The first
   * failure ends it (an error that makes SQLite roll back by itself included), so nothing runs outside it.
   */
  #failingStatement(unit: TransactionalUnit): number {
    const database = this.database
    try {
      database.exec('BEGIN IMMEDIATE')
      for (const statement of unit.setup) database.exec(statement)
      for (let index = 0; index < unit.statements.length; index++) {
        try {
          database.exec(unit.statements[index]!.text)
        } catch {
          return index
        }
      }
      return -1
    } catch {
      return -1
    } finally {
      if (database.inTransaction) database.exec('ROLLBACK')
    }
  }

  async prepareSession(): Promise<void> {
    // lock_timeout and statement_timeout have no SQLite equivalent; the busy timeout bounds lock waits.
    this.#restoreSession()
    this.#sessionChanged = true
  }

  /**
   * A transaction:false migration may turn foreign keys off for the connection (a sqlite3 .dump starts with
   * `PRAGMA foreign_keys=OFF`): the migrations after it run as they would on a fresh connection, whatever ran before.
   */
  #restoreSession(): void {
    if (!this.#sessionChanged) return
    this.database.pragma(`foreign_keys = ${this.#foreignKeys ?? 1}`)
    this.#sessionChanged = false
  }

  async cancelRunning(): Promise<void> {
    // Statements run synchronously in this process: by the time anything could ask, they are done.
  }

  async runStatement(statement: string): Promise<void> {
    const database = this.writable()
    try {
      database.exec(statement)
    } catch (error) {
      throw this.explainError(error) ?? failure(error, 0)
    }
  }

  async flushCommits(): Promise<void> {
    if (!this.#database || this.#path === ':memory:') return
    // fsync applies to the file, whichever descriptor asks: syncing the WAL makes every committed frame durable,
    // which a checkpoint would not do while a reader holds it back.
    let fd: number | undefined
    try {
      fd = openSync(`${this.#path}-wal`, 'r')
    } catch {
      return // No WAL file: every commit is in the database file, synced by the checkpoint that removed the WAL.
    }
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  }

  isMissingTable(error: unknown): boolean {
    return /no such table/i.test((error as Error)?.message ?? '')
  }

  async auditor(): Promise<Auditor> {
    const { SqliteAuditor } = await import('./sqlite-audit.js')
    return new SqliteAuditor(this)
  }

  async schemaEngine(): Promise<SchemaEngine> {
    const { SqliteSchemaEngine } = await import('./sqlite-schema.js')
    return new SqliteSchemaEngine(this)
  }

  async maintainer(): Promise<Maintainer> {
    const { SqliteMaintainer } = await import('./sqlite-maintain.js')
    return new SqliteMaintainer(this)
  }

  async healthProbe() {
    const { SqliteHealthProbe } = await import('./sqlite-health.js')
    return new SqliteHealthProbe(this, this.#path, this.#options.busyTimeoutMs ?? 5000)
  }

  async backupEngine(): Promise<BackupEngine> {
    const { SqliteBackupEngine } = await import('./sqlite-backup.js')
    return new SqliteBackupEngine()
  }

  async close(): Promise<void> {
    // Committed outside runTransactional (a module seed through kysely, migrate baseline): publish it now.
    if (this.#database && this.#staging !== undefined && !isEmpty(this.#database) && !this.#publish()) {
      throw new DbopsError(
        'E_CONNECTION',
        `another run created ${this.#path} while this one built it: this run's changes were not kept`,
        { hint: 'run the command again' },
      )
    }
    const database = this.#database
    this.#closeHandle()
    if (!database) return
    database.close()
    if (this.#staging !== undefined) {
      // Nothing was committed (the first migration failed): nothing appears at the database's path.
      for (const suffix of ['', '-journal']) rmSync(this.#staging + suffix, { force: true })
      this.#staging = undefined
    }
  }
}

function isEmpty(database: BetterSqlite3.Database): boolean {
  try {
    return (database.prepare('SELECT count(*) AS n FROM sqlite_master').get() as { n: number }).n === 0
  } catch {
    return false
  }
}

/**
 * The handle kysely gets. After an error that makes SQLite roll a transaction back by itself (SQLITE_FULL,
 * SQLITE_IOERR), a statement run by code that caught the error (a module seed ignoring a failed insert) would run
 * and commit on its own, outside the transaction, and the ledger row with it. Here it fails instead, and kysely's
 * ROLLBACK of the lost transaction is a no-op, so the error that ended it is the one reported.
 */
function transactionGuard(database: BetterSqlite3.Database): BetterSqlite3.Database {
  let open = false
  const noop = { reader: false, run: () => ({ changes: 0, lastInsertRowid: 0 }) }
  const guarded = {
    prepare(text: string) {
      if (open && !database.inTransaction) {
        if (text === 'rollback') {
          open = false
          return noop
        }
        throw Object.assign(
          new Error(
            'SQLite rolled the transaction back after an earlier error (a full disk, an I/O error): nothing more runs in it, and nothing of it was committed',
          ),
          { code: 'SQLITE_ABORT_ROLLBACK' },
        )
      }
      if (text === 'begin') open = true
      else if (text === 'commit' || text === 'rollback') open = false
      return database.prepare(text)
    },
    close: () => database.close(),
  }
  return guarded as unknown as BetterSqlite3.Database
}

const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'])

/** Databases left half-built aside by runs that died (killed before their first commit). */
function removeDeadStagings(path: string): void {
  const prefix = `${basename(path)}.dbops-new-`
  let names: string[]
  try {
    names = readdirSync(dirname(path)).filter((name) => name.startsWith(prefix))
  } catch {
    return
  }
  for (const name of names) {
    const pid = Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1])
    if (!Number.isInteger(pid) || pid === process.pid || processExists(pid)) continue
    rmSync(join(dirname(path), name), { force: true })
  }
}

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

/** How long one slice of beginImmediate's wait blocks the event loop at most. */
const BUSY_SLICE_MS = 50

/** better-sqlite3's error code (`SQLITE_BUSY`, `SQLITE_READONLY_DIRECTORY`, ...), also of a StatementFailure's cause. */
function sqliteCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code ?? (error as { cause?: { code?: unknown } })?.cause?.code
  return typeof code === 'string' ? code : undefined
}

function isBusy(error: unknown): boolean {
  return sqliteCode(error)?.startsWith('SQLITE_BUSY') === true
}

/** `text`: the failed statement of a transactional migration, to tell what it needs outside the transaction. */
function failure(error: unknown, statementIndex: number | undefined, text?: string): StatementFailure {
  const code = (error as { code?: string })?.code
  return new StatementFailure((error as Error).message, statementIndex, undefined, code, {
    cause: error,
    outsideTransaction: text === undefined ? undefined : outsideTransaction(code, text),
  })
}

/**
 * Step 1 of SQLite's table rebuild (https://www.sqlite.org/lang_altertable.html#otheralter) switches foreign keys off:
 * with them on, DROP TABLE deletes the rows other tables reference and fails. PRAGMA foreign_keys is a no-op inside a
 * transaction (and PRAGMA defer_foreign_keys only moves the failure to COMMIT), so the rebuild has to run outside one.
 */
function outsideTransaction(code: string | undefined, text: string): string | undefined {
  const [first, second] = leadingWords(text, 2, 'sqlite')
  if (code !== 'SQLITE_CONSTRAINT_FOREIGNKEY' || first !== 'DROP' || second !== 'TABLE') return undefined
  return 'DROP TABLE deletes the rows first, and rows of other tables reference them: a table rebuild needs foreign keys off, and PRAGMA foreign_keys=OFF does nothing inside a transaction. Run this migration outside one, starting "PRAGMA foreign_keys=OFF; BEGIN;" and ending "PRAGMA foreign_key_check; COMMIT;" (dbops turns foreign keys back on after it)'
}

/**
 * Why a file could not be opened, as far as can be told: SQLite says "disk I/O error" when a full disk leaves no room
 * for the -wal or -shm file, so the free space is asked of the file system itself.
 */
export function openFailureHint(path: string, error: unknown): string {
  const dir = dirname(path)
  if (!existsSync(dir)) return `the folder ${dir} does not exist: create it, or check the URL`
  if (isDirectory(path)) return `the URL names the database file itself (e.g. sqlite:./data/app.db)`
  if ((error as { code?: string }).code === 'SQLITE_NOTADB')
    return `${path} is not a SQLite database: check the URL (or restore the file from a backup)`
  try {
    if ((error as { code?: string }).code === 'SQLITE_FULL' || statfsSync(dir).bavail === 0)
      return `the disk holding ${dir} is full: free some space, then run again`
  } catch {
    // statfs unsupported here: fall through to the general hint.
  }
  return `check that ${dir} and the database file (with its -wal and -shm files) are writable`
}
