import { existsSync } from 'node:fs'
import Database from 'better-sqlite3'
import { Kysely, SqliteDialect, sql } from 'kysely'
import { DbopsError } from '../../errors.js'
import type { Backend, LedgerSql, LockOptions, OpenOptions, ServerInfo, TransactionalUnit, UnitOutcome } from '../backend.js'
import { StatementFailure } from '../backend.js'

export class SqliteBackend implements Backend {
  readonly engine = 'sqlite' as const
  readonly ledgerSql: LedgerSql = {
    timestamp: 'text',
    schemas: false,
    // julianday('now') is read when the ledger insert runs, after the migration's statements.
    elapsedMsSince: (startedAt) => sql<number>`CAST((julianday('now') - julianday(${startedAt})) * 86400000 AS INTEGER)`,
  }
  readonly #path: string
  readonly #options: OpenOptions
  #database: Database.Database | undefined
  #db: Kysely<any> | undefined

  constructor(path: string, readonly redactedUrl: string, options: OpenOptions) {
    this.#path = path
    this.#options = options
  }

  /** The better-sqlite3 handle, opened on first use. Read-only commands never create the file. */
  get database(): Database.Database {
    if (this.#database) return this.#database
    if (!this.#options.create && !this.exists()) {
      throw new DbopsError('E_NO_DATABASE', `the SQLite database ${this.#path} does not exist`, {
        hint: 'run "dbops migrate up" to create it, or check the URL',
      })
    }
    try {
      const database = new Database(this.#path, { timeout: this.#options.busyTimeoutMs ?? 5000 })
      if (this.#path !== ':memory:') database.pragma('journal_mode = WAL')
      this.#database = database
    } catch (error) {
      throw new DbopsError('E_CONNECTION', `cannot open ${this.redactedUrl}: ${(error as Error).message}`, {
        hint: 'check that the directory exists and is writable',
        cause: error,
      })
    }
    return this.#database
  }

  get db(): Kysely<any> {
    this.#db ??= new Kysely({ dialect: new SqliteDialect({ database: async () => this.database }) })
    return this.#db
  }

  exists(): boolean {
    return this.#database !== undefined || this.#path === ':memory:' || existsSync(this.#path)
  }

  async ping(): Promise<ServerInfo> {
    const started = performance.now()
    const row = this.database.prepare('SELECT sqlite_version() AS version').get() as { version: string }
    return { engine: 'sqlite', version: row.version, latencyMs: performance.now() - started }
  }

  async ensureSchema(): Promise<void> {
    // SQLite has no schemas to create: the ledger lives in the main database.
  }

  async withMigrationLock<T>(_lockName: string, _options: LockOptions, fn: () => Promise<T>): Promise<T> {
    // No run-wide lock: each migration takes the write lock with BEGIN IMMEDIATE and re-checks the ledger inside
    // it (TransactionalUnit.guard), so concurrent runs interleave safely and each migration is applied once.
    return fn()
  }

  async runTransactional(unit: TransactionalUnit): Promise<UnitOutcome> {
    const database = this.database
    const started = performance.now()
    database.exec('BEGIN IMMEDIATE')
    let index = -1
    try {
      if (database.prepare(unit.guard.sql).get(...(unit.guard.parameters as unknown[])) !== undefined) {
        database.exec('ROLLBACK')
        return { skipped: true, elapsedMs: performance.now() - started }
      }
      for (index = 0; index < unit.statements.length; index++) database.exec(unit.statements[index]!.text)
      database.prepare(unit.ledgerWrite.sql).run(...(unit.ledgerWrite.parameters as unknown[]))
      database.exec('COMMIT')
    } catch (error) {
      if (database.inTransaction) database.exec('ROLLBACK')
      throw failure(error, index >= 0 ? index : undefined)
    }
    return { skipped: false, elapsedMs: performance.now() - started }
  }

  async runStatement(statement: string): Promise<void> {
    // lock_timeout and statement_timeout have no SQLite equivalent; the busy timeout bounds lock waits.
    try {
      this.database.exec(statement)
    } catch (error) {
      throw failure(error, 0)
    }
  }

  isMissingTable(error: unknown): boolean {
    return /no such table/i.test((error as Error)?.message ?? '')
  }

  async close(): Promise<void> {
    this.#database?.close()
    this.#database = undefined
  }
}

function failure(error: unknown, statementIndex: number | undefined): StatementFailure {
  const code = (error as { code?: string })?.code
  return new StatementFailure((error as Error).message, statementIndex, undefined, code, { cause: error })
}
