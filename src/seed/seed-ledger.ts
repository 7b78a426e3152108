import type { Backend } from '../backends/backend.js'
import { identifier, raw, render, sql, type SqlFragment, type SqlQuery } from '../sql/query.js'
import { VERSION } from '../version.js'
import { appliedBy } from '../migrate/ledger.js'

/** One row of the seeds ledger (`dbops_seeds`): a seed file as it was last applied. */
export interface SeedLedgerRow {
  name: string
  checksum: string
  appliedAt: string
  /** Rows loaded (data files); null for scripts and modules. */
  rows: number | null
  executionMs: number | null
  appliedBy: string | null
}

/**
 * The seeds ledger: one row per seed file, replaced when the seed runs again (`--force`, `--reset`). Written in the
 * same transaction as the seed's data, so a row means "this file, with this checksum, is in the database". Lives next
 * to the migrations ledger (same schema on PostgreSQL).
 */
export class SeedLedger {
  readonly #backend: Backend
  readonly #table: SqlFragment
  readonly #schema: string
  readonly qualifiedName: string

  constructor(backend: Backend, table: string, schema: string) {
    this.#backend = backend
    this.#schema = schema
    const schemas = backend.ledgerSql.schemas
    this.#table = schemas ? identifier(schema, table) : identifier(table)
    this.qualifiedName = schemas ? `${schema}.${table}` : table
  }

  /** The rows, or undefined when the ledger does not exist yet (no seed ever ran). Creates nothing. */
  async read(): Promise<SeedLedgerRow[] | undefined> {
    if (!this.#backend.exists()) return undefined
    try {
      const rows = await this.#backend.query(this.#render(sql`SELECT * FROM ${this.#table} ORDER BY name`))
      return rows.map((row) => ({
        name: String(row.name),
        checksum: String(row.checksum),
        appliedAt: row.applied_at instanceof Date ? row.applied_at.toISOString() : String(row.applied_at),
        rows: row.rows === null ? null : Number(row.rows),
        executionMs: row.execution_ms === null ? null : Number(row.execution_ms),
        appliedBy: (row.applied_by as string | null) ?? null,
      }))
    } catch (error) {
      if (this.#backend.isMissingTable(error)) return undefined
      throw error
    }
  }

  /** Statements creating the ledger, run inside the first seed's transaction so a failed first seed leaves nothing. */
  async creationStatements(): Promise<string[]> {
    const statements: string[] = []
    if (this.#backend.ledgerSql.schemas && !(await this.#backend.schemaExists(this.#schema))) {
      statements.push(this.#render(sql`CREATE SCHEMA IF NOT EXISTS ${identifier(this.#schema)}`).sql)
    }
    statements.push(
      this.#render(sql`CREATE TABLE IF NOT EXISTS ${this.#table} (
  name text PRIMARY KEY,
  checksum text NOT NULL,
  applied_at ${raw(this.#backend.ledgerSql.timestamp)} NOT NULL,
  "rows" bigint,
  execution_ms integer,
  applied_by text,
  dbops_version text
)`).sql,
    )
    return statements
  }

  writeQuery(entry: {
    name: string
    checksum: string
    rows: number | null
    executionMs: number | SqlFragment
  }): SqlQuery {
    const now = new Date().toISOString()
    return this
      .#render(sql`INSERT INTO ${this.#table} (name, checksum, applied_at, "rows", execution_ms, applied_by, dbops_version)
  VALUES (${entry.name}, ${entry.checksum}, ${now}, ${entry.rows}, ${typeof entry.executionMs === 'number' ? Math.round(entry.executionMs) : entry.executionMs}, ${appliedBy()}, ${VERSION})
  ON CONFLICT (name) DO UPDATE SET checksum = excluded.checksum, applied_at = excluded.applied_at, "rows" = excluded."rows",
    execution_ms = excluded.execution_ms, applied_by = excluded.applied_by, dbops_version = excluded.dbops_version`)
  }

  /** Returns a row when `name` is recorded (with `checksum`, when given): a concurrent run did this seed already. */
  recordedQuery(name: string, checksum?: string): SqlQuery {
    return checksum === undefined
      ? this.#render(sql`SELECT 1 AS recorded FROM ${this.#table} WHERE name = ${name}`)
      : this.#render(sql`SELECT 1 AS recorded FROM ${this.#table} WHERE name = ${name} AND checksum = ${checksum}`)
  }

  deleteQuery(name: string): SqlQuery {
    return this.#render(sql`DELETE FROM ${this.#table} WHERE name = ${name}`)
  }

  #render(fragment: SqlFragment): SqlQuery {
    return render(fragment, this.#backend.ledgerSql.placeholder)
  }
}
