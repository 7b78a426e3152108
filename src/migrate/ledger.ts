import { hostname, userInfo } from 'node:os'
import type { Backend } from '../backends/backend.js'
import { identifier, join, raw, render, sql, type SqlFragment, type SqlQuery } from '../sql/query.js'
import { VERSION } from '../version.js'
import { processExists } from '../processes.js'

export type LedgerStatus = 'applied' | 'baselined' | 'running' | 'failed'

/** One row of the ledger table: the state of one migration version in the database. */
export interface LedgerRow {
  version: string
  name: string
  /** sha256 of the up section when it was applied. */
  checksum: string
  status: LedgerStatus
  /** Order of application, so `down` undoes migrations in the reverse of the order they were applied. */
  appliedSeq: number
  appliedAt: string
  executionMs: number | null
  appliedBy: string | null
  /** `host:pid` of the process running a non-transactional migration. */
  owner: string | null
  statementsTotal: number | null
  statementsDone: number | null
  error: string | null
  errorStatement: string | null
  errorLocation: string | null
}

export interface LedgerLocation {
  table: string
  schema: string
}

/**
 * The ledger table (`dbops_migrations` by default): one row per migration version, never a bare "dirty" flag. The
 * queries are written once for both backends (the SQL they need is common to PostgreSQL and SQLite); the
 * transactional ledger write is built here and executed by the backend inside the migration's own transaction.
 */
export class Ledger {
  readonly #backend: Backend
  readonly #location: LedgerLocation
  readonly #table: SqlFragment
  readonly qualifiedName: string
  #creation: string[] | undefined

  constructor(backend: Backend, location: LedgerLocation) {
    this.#backend = backend
    this.#location = location
    const schemas = backend.ledgerSql.schemas
    this.#table = schemas ? identifier(location.schema, location.table) : identifier(location.table)
    this.qualifiedName = schemas ? `${location.schema}.${location.table}` : location.table
  }

  /** The rows ordered by application, or undefined when the ledger does not exist yet (nothing was ever applied). */
  async read(): Promise<LedgerRow[] | undefined> {
    if (!this.#backend.exists()) return undefined
    try {
      const rows = await this.#backend.query(this.#render(sql`SELECT * FROM ${this.#table} ORDER BY applied_seq`))
      return rows.map(toLedgerRow)
    } catch (error) {
      if (this.#backend.isMissingTable(error)) return undefined
      throw error
    }
  }

  /**
   * Plans the ledger's creation for the first migration's transaction, so a run whose first migration fails leaves
   * no trace, not even an empty ledger. `creation` holds the statements until `created()` is called.
   */
  async deferCreation(): Promise<void> {
    this.#creation = await this.#creationStatements()
  }

  /** Statements that create the ledger, when its creation is deferred and has not happened yet. */
  get creation(): readonly string[] {
    return this.#creation ?? []
  }

  created(): void {
    this.#creation = undefined
  }

  /** Creates the ledger now (deferred or not). */
  async create(): Promise<void> {
    for (const statement of this.#creation ?? (await this.#creationStatements()))
      await this.#backend.query({ sql: statement, parameters: [] })
    this.#creation = undefined
  }

  async #creationStatements(): Promise<string[]> {
    const statements: string[] = []
    const { schema } = this.#location
    if (this.#backend.ledgerSql.schemas && !(await this.#backend.schemaExists(schema))) {
      statements.push(
        render(sql`CREATE SCHEMA IF NOT EXISTS ${identifier(schema)}`, this.#backend.ledgerSql.placeholder).sql,
      )
    }
    const timestamp = raw(this.#backend.ledgerSql.timestamp)
    statements.push(
      this.#render(sql`CREATE TABLE IF NOT EXISTS ${this.#table} (
  version text PRIMARY KEY,
  name text NOT NULL,
  checksum text NOT NULL,
  status text NOT NULL,
  applied_seq integer NOT NULL,
  applied_at ${timestamp} NOT NULL,
  execution_ms integer,
  applied_by text,
  owner text,
  statements_total integer,
  statements_done integer,
  error text,
  error_statement text,
  error_location text,
  dbops_version text
)`).sql,
    )
    // Each insert reads MAX(applied_seq): without an index that is a scan per migration, quadratic over a long history.
    const index = identifier(`${this.#location.table}_applied_seq`)
    statements.push(this.#render(sql`CREATE INDEX IF NOT EXISTS ${index} ON ${this.#table} (applied_seq)`).sql)
    return statements
  }

  /** A query that returns a row when `version` is already recorded. */
  recordedQuery(version: string): SqlQuery {
    return this.#render(sql`SELECT status FROM ${this.#table} WHERE version = ${version}`)
  }

  /** A query that returns a row when `version` is no longer recorded (someone else rolled it back). */
  notRecordedQuery(version: string): SqlQuery {
    return this.#render(
      sql`SELECT 1 AS gone WHERE NOT EXISTS (SELECT 1 FROM ${this.#table} WHERE version = ${version})`,
    )
  }

  /** A query that returns a row once `version` is recorded as applied (TransactionalUnit.after). */
  appliedQuery(version: string): SqlQuery {
    return this.#render(sql`SELECT 1 FROM ${this.#table} WHERE version = ${version} AND status = 'applied'`)
  }

  insertQuery(entry: NewLedgerEntry): SqlQuery {
    const startedAt = new Date().toISOString()
    const unitStartedAt = entry.appliedAt === 'database' ? this.#backend.ledgerSql.unitStartedAt : undefined
    const executionMs =
      entry.executionMs === 'measured'
        ? this.#backend.ledgerSql.elapsedMsSince(startedAt)
        : sql`${entry.executionMs ?? null}`
    const owner = entry.status === 'running' ? `${hostname()}:${process.pid}` : null
    return this.#render(sql`INSERT INTO ${this.#table}
  (version, name, checksum, status, applied_seq, applied_at, execution_ms, applied_by, owner, statements_total, statements_done, dbops_version)
  VALUES (${entry.version}, ${entry.name}, ${entry.checksum}, ${entry.status},
    (SELECT COALESCE(MAX(applied_seq), 0) + 1 FROM ${this.#table}), ${unitStartedAt ?? startedAt}, ${executionMs}, ${appliedBy()}, ${owner},
    ${entry.statementsTotal ?? null}, ${entry.statementsDone ?? null}, ${VERSION})`)
  }

  deleteQuery(version: string): SqlQuery {
    return this.#render(sql`DELETE FROM ${this.#table} WHERE version = ${version}`)
  }

  async insert(entry: NewLedgerEntry): Promise<void> {
    await this.#backend.query(this.insertQuery(entry))
  }

  async delete(version: string): Promise<void> {
    await this.#backend.query(this.deleteQuery(version))
  }

  async update(version: string, changes: LedgerUpdate): Promise<void> {
    const columns: Record<string, unknown> = {
      status: changes.status,
      checksum: changes.checksum,
      execution_ms: changes.executionMs,
      statements_done: changes.statementsDone,
      error: changes.error,
      error_statement: changes.errorStatement,
      error_location: changes.errorLocation,
      owner: changes.owner,
      ...(changes.touch && { applied_at: new Date().toISOString(), applied_by: appliedBy() }),
    }
    const assignments = Object.entries(columns)
      .filter(([, value]) => value !== undefined)
      .map(([column, value]) => sql`${raw(column)} = ${value}`)
    if (assignments.length === 0) return
    await this.#backend.query(
      this.#render(sql`UPDATE ${this.#table} SET ${join(assignments)} WHERE version = ${version}`),
    )
  }

  #render(fragment: SqlFragment): SqlQuery {
    return render(fragment, this.#backend.ledgerSql.placeholder)
  }
}

export interface NewLedgerEntry {
  version: string
  name: string
  checksum: string
  status: LedgerStatus
  /** 'measured': the database computes it when the row is written, at the end of the migration's transaction. */
  executionMs?: number | 'measured'
  statementsTotal?: number
  statementsDone?: number
  /**
   * 'database': applied_at is when the database began the unit (LedgerSql.unitStartedAt), for a unit sent ahead of
   * time; by default it is this process's clock when the row's SQL is built.
   */
  appliedAt?: 'database'
}

export interface LedgerUpdate {
  status?: LedgerStatus
  checksum?: string
  executionMs?: number
  statementsDone?: number
  error?: string | null
  errorStatement?: string | null
  errorLocation?: string | null
  owner?: string | null
  /** Set applied_at and applied_by to now and this user. */
  touch?: boolean
}

/**
 * Whether the process that owns a `running` row is still there: 'alive' or 'gone' when it ran on this host,
 * 'unknown' for another host (or no owner recorded).
 */
export function ownerState(row: LedgerRow): 'alive' | 'gone' | 'unknown' {
  if (!row.owner) return 'unknown'
  const separator = row.owner.lastIndexOf(':')
  const pid = Number(row.owner.slice(separator + 1))
  if (row.owner.slice(0, separator) !== hostname() || !Number.isInteger(pid) || pid <= 0) return 'unknown'
  if (pid === process.pid) return 'alive'
  return processExists(pid) ? 'alive' : 'gone'
}

let cachedAppliedBy: string | undefined
export function appliedBy(): string {
  if (cachedAppliedBy) return cachedAppliedBy
  let user = process.env.USER ?? 'unknown'
  try {
    user = userInfo().username
  } catch {
    // No passwd entry for this uid (some containers): keep $USER.
  }
  cachedAppliedBy = `${user}@${hostname()}`
  return cachedAppliedBy
}

function toLedgerRow(row: Record<string, unknown>): LedgerRow {
  const appliedAt = row.applied_at instanceof Date ? row.applied_at.toISOString() : String(row.applied_at)
  return {
    version: String(row.version),
    name: String(row.name),
    checksum: String(row.checksum),
    status: row.status as LedgerStatus,
    appliedSeq: Number(row.applied_seq),
    appliedAt,
    executionMs: row.execution_ms === null ? null : Number(row.execution_ms),
    appliedBy: (row.applied_by as string | null) ?? null,
    owner: (row.owner as string | null) ?? null,
    statementsTotal: row.statements_total === null ? null : Number(row.statements_total),
    statementsDone: row.statements_done === null ? null : Number(row.statements_done),
    error: (row.error as string | null) ?? null,
    errorStatement: (row.error_statement as string | null) ?? null,
    errorLocation: (row.error_location as string | null) ?? null,
  }
}
