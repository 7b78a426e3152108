import { hostname, userInfo } from 'node:os'
import { sql, type CompiledQuery, type Kysely } from 'kysely'
import type { Backend } from '../backends/backend.js'
import { VERSION } from '../version.js'

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
 * The ledger table (`dbops_migrations` by default): one row per migration version, never a bare "dirty" flag. Queries
 * are built with kysely so both backends share them; the transactional ledger write is compiled here and executed by
 * the backend inside the migration's own transaction.
 */
export class Ledger {
  readonly #backend: Backend
  readonly #location: LedgerLocation
  readonly qualifiedName: string

  constructor(backend: Backend, location: LedgerLocation) {
    this.#backend = backend
    this.#location = location
    this.qualifiedName = backend.ledgerSql.schemas ? `${location.schema}.${location.table}` : location.table
  }

  get #db(): Kysely<any> {
    const db = this.#backend.db
    return this.#backend.ledgerSql.schemas ? db.withSchema(this.#location.schema) : db
  }

  /** The rows ordered by application, or undefined when the ledger does not exist yet (nothing was ever applied). */
  async read(): Promise<LedgerRow[] | undefined> {
    if (!this.#backend.exists()) return undefined
    try {
      const rows = await this.#db.selectFrom(this.#location.table).selectAll().orderBy('applied_seq').execute()
      return rows.map(toLedgerRow)
    } catch (error) {
      if (this.#backend.isMissingTable(error)) return undefined
      throw error
    }
  }

  async create(): Promise<void> {
    if (this.#backend.ledgerSql.schemas) await this.#backend.ensureSchema(this.#location.schema)
    await this.#db.schema
      .createTable(this.#location.table)
      .ifNotExists()
      .addColumn('version', 'text', (column) => column.primaryKey())
      .addColumn('name', 'text', (column) => column.notNull())
      .addColumn('checksum', 'text', (column) => column.notNull())
      .addColumn('status', 'text', (column) => column.notNull())
      .addColumn('applied_seq', 'integer', (column) => column.notNull())
      .addColumn('applied_at', this.#backend.ledgerSql.timestamp, (column) => column.notNull())
      .addColumn('execution_ms', 'integer')
      .addColumn('applied_by', 'text')
      .addColumn('owner', 'text')
      .addColumn('statements_total', 'integer')
      .addColumn('statements_done', 'integer')
      .addColumn('error', 'text')
      .addColumn('error_statement', 'text')
      .addColumn('error_location', 'text')
      .addColumn('dbops_version', 'text')
      .execute()
  }

  /** A query that returns a row when `version` is already recorded. */
  recordedQuery(version: string): CompiledQuery {
    return this.#db.selectFrom(this.#location.table).select('status').where('version', '=', version).compile()
  }

  /** A query that returns a row when `version` is no longer recorded (someone else rolled it back). */
  notRecordedQuery(version: string): CompiledQuery {
    const recorded = this.#db.selectFrom(this.#location.table).select('version').where('version', '=', version)
    return this.#backend.db.selectNoFrom(sql<number>`1`.as('gone')).where(({ not, exists }) => not(exists(recorded))).compile()
  }

  insertQuery(entry: NewLedgerEntry): CompiledQuery {
    const table = this.#location.table
    const startedAt = new Date().toISOString()
    return this.#db
      .insertInto(table)
      .values({
        version: entry.version,
        name: entry.name,
        checksum: entry.checksum,
        status: entry.status,
        applied_seq: sql`(SELECT COALESCE(MAX(applied_seq), 0) + 1 FROM ${this.#tableRef()})`,
        applied_at: startedAt,
        execution_ms: entry.executionMs === 'measured' ? this.#backend.ledgerSql.elapsedMsSince(startedAt) : (entry.executionMs ?? null),
        applied_by: appliedBy(),
        owner: entry.status === 'running' ? `${hostname()}:${process.pid}` : null,
        statements_total: entry.statementsTotal ?? null,
        statements_done: entry.statementsDone ?? null,
        dbops_version: VERSION,
      })
      .compile()
  }

  deleteQuery(version: string): CompiledQuery {
    return this.#db.deleteFrom(this.#location.table).where('version', '=', version).compile()
  }

  async insert(entry: NewLedgerEntry): Promise<void> {
    await this.#db.executeQuery(this.insertQuery(entry))
  }

  async delete(version: string): Promise<void> {
    await this.#db.executeQuery(this.deleteQuery(version))
  }

  async update(version: string, changes: LedgerUpdate): Promise<void> {
    const values: Record<string, unknown> = {}
    if (changes.status !== undefined) values.status = changes.status
    if (changes.checksum !== undefined) values.checksum = changes.checksum
    if (changes.executionMs !== undefined) values.execution_ms = changes.executionMs
    if (changes.statementsDone !== undefined) values.statements_done = changes.statementsDone
    if (changes.error !== undefined) values.error = changes.error
    if (changes.errorStatement !== undefined) values.error_statement = changes.errorStatement
    if (changes.errorLocation !== undefined) values.error_location = changes.errorLocation
    if (changes.owner !== undefined) values.owner = changes.owner
    if (changes.touch) {
      values.applied_at = new Date().toISOString()
      values.applied_by = appliedBy()
    }
    await this.#db.updateTable(this.#location.table).set(values).where('version', '=', version).execute()
  }

  #tableRef() {
    return this.#backend.ledgerSql.schemas
      ? sql.table(`${this.#location.schema}.${this.#location.table}`)
      : sql.table(this.#location.table)
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

let cachedAppliedBy: string | undefined
function appliedBy(): string {
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
