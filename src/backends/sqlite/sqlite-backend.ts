import { closeSync, existsSync, fsyncSync, openSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import Database from 'better-sqlite3'
import type BetterSqlite3 from 'better-sqlite3'
import type { Kysely } from 'kysely'
import { sql, type SqlQuery } from '../../sql/query.js'
import { DbopsError } from '../../errors.js'
import type { Backend, LedgerSql, LockOptions, OpenOptions, ServerInfo, TransactionalUnit, UnitOutcome } from '../backend.js'
import { StatementFailure } from '../backend.js'
import type { Auditor } from '../../audit/auditor.js'
import type { Maintainer } from '../../maintain/maintainer.js'
import type { SchemaEngine } from '../../schema/schema-engine.js'
import type { BackupEngine } from '../../backup/backup-engine.js'
import type { Seeder } from '../../seed/seeder.js'

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
  #createdFile = false
  /** PRAGMA foreign_keys as opened; a transaction:false migration may change it for the connection. */
  #foreignKeys: number | undefined
  #sessionChanged = false
  /** The connection's PRAGMA synchronous, set per unit (it cannot change inside a transaction). */
  #synchronous: 'FULL' | 'NORMAL' | undefined

  constructor(path: string, readonly redactedUrl: string, options: OpenOptions) {
    this.#path = path
    this.#options = options
  }

  /** The better-sqlite3 handle, opened on first use. Read-only commands never create the file. */
  get database(): BetterSqlite3.Database {
    if (this.#database) return this.#database
    if (!this.#options.create && !this.exists()) {
      throw new DbopsError('E_NO_DATABASE', `the SQLite database ${this.#path} does not exist`, {
        hint: 'run "dbops migrate up" to create it, or check the URL',
      })
    }
    try {
      this.#createdFile = this.#path !== ':memory:' && !existsSync(this.#path)
      const binding = nativeBinding()
      const database = new Database(this.#path, { timeout: this.#options.busyTimeoutMs ?? 5000, ...(binding && { nativeBinding: binding }) })
      if (this.#path !== ':memory:') database.pragma('journal_mode = WAL')
      this.#foreignKeys = database.pragma('foreign_keys', { simple: true }) as number
      this.#database = database
    } catch (error) {
      throw new DbopsError('E_CONNECTION', `cannot open ${this.redactedUrl}: ${(error as Error).message}`, {
        hint: 'check that the directory exists and is writable',
        cause: error,
      })
    }
    return this.#database
  }

  async kysely(): Promise<Kysely<any>> {
    const { Kysely, SqliteDialect } = await import('kysely')
    this.#kysely ??= new Kysely({ dialect: new SqliteDialect({ database: async () => this.database }) })
    return this.#kysely
  }

  async seeder(): Promise<Seeder> {
    const { SqliteSeeder } = await import('./sqlite-seed.js')
    return new SqliteSeeder(this)
  }

  async query<Row>(query: SqlQuery): Promise<Row[]> {
    const statement = this.#prepare(query.sql)
    if (statement.reader) return statement.all(...query.parameters) as Row[]
    statement.run(...query.parameters)
    return []
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

  async withMigrationLock<T>(_lockName: string, _options: LockOptions, fn: () => Promise<T>): Promise<T> {
    // No run-wide lock: each migration takes the write lock with BEGIN IMMEDIATE and re-checks the ledger inside
    // it (TransactionalUnit.guard), so concurrent runs interleave safely and each migration is applied once.
    return fn()
  }

  async runTransactional(unit: TransactionalUnit): Promise<UnitOutcome> {
    const database = this.database
    const started = performance.now()
    this.#restoreSession()
    // In WAL mode, FULL syncs the WAL at commit (with every earlier frame); NORMAL leaves it to the next sync.
    const synchronous = unit.durable ? 'FULL' : 'NORMAL'
    if (this.#synchronous !== synchronous) {
      database.pragma(`synchronous = ${synchronous}`)
      this.#synchronous = synchronous
    }
    database.exec('BEGIN IMMEDIATE')
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
      throw failure(error, index >= 0 ? index : undefined)
    }
    return { skipped: false, elapsedMs: performance.now() - started }
  }

  /** Which statement of a plain script fails: run them one by one in a transaction that is rolled back. */
  #failingStatement(unit: TransactionalUnit): number {
    const database = this.database
    database.exec('BEGIN IMMEDIATE')
    try {
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
    try {
      this.database.exec(statement)
    } catch (error) {
      throw failure(error, 0)
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
    this.#statements.clear()
    const database = this.#database
    this.#database = undefined
    if (!database) return
    if (this.#createdFile && isEmpty(database)) {
      // This run created the file and committed nothing to it (its first migration failed): leave no file behind.
      database.close()
      for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(this.#path + suffix, { force: true })
      return
    }
    database.close()
  }
}

function isEmpty(database: BetterSqlite3.Database): boolean {
  try {
    return (database.prepare('SELECT count(*) AS n FROM sqlite_master').get() as { n: number }).n === 0
  } catch {
    return false
  }
}

function failure(error: unknown, statementIndex: number | undefined): StatementFailure {
  const code = (error as { code?: string })?.code
  return new StatementFailure((error as Error).message, statementIndex, undefined, code, { cause: error })
}
