import type { SqlQuery } from '../sql/query.js'

/** A table a data seed loads, as named by the file (or seeds.tables); `schema` only when the name says one. */
export interface SeedTableName {
  schema?: string
  name: string
}

/** What a value is converted to on the way in; decided once per column from its type. */
export type ColumnKind = 'integer' | 'real' | 'numeric' | 'boolean' | 'json' | 'array' | 'text' | 'other'

export interface ColumnInfo {
  name: string
  /** The declared type as the database reports it (`integer`, `timestamp with time zone`, `VARCHAR(20)`). */
  type: string
  kind: ColumnKind
}

export interface TableInfo {
  /** How messages name the table: `users`, `audit.events`. */
  display: string
  /** The quoted, qualified name for SQL. */
  sql: string
  /** As in the catalog. */
  name: string
  schema: string | null
  columns: ColumnInfo[]
}

/** Where a failure happened in a seed file, for messages: `fixtures/users.csv:3 (column age)`. */
export interface SeedLocation {
  line?: number
  /** 0-based element index of a JSON array file. */
  element?: number
  column?: string
  /** SQL files: 1-based position on the line. */
  character?: number
}

export type DataFormat = 'csv' | 'json' | 'ndjson'

/** One data file to load into one table, in one transaction with its ledger row. */
export interface DataLoad {
  /** Absolute path. */
  path: string
  /** How messages name the file. */
  display: string
  format: DataFormat
  table: TableInfo
  /** Statements run first inside the transaction (the ledger's creation on a first run). */
  setup: readonly string[]
  /** PostgreSQL lock_timeout for the load (migrations.lockTimeout): a seed must not queue behind a long query forever. */
  lockTimeoutMs: number
  /** SQLite: a query that returns a row when a concurrent run recorded this seed meanwhile (PostgreSQL holds a lock). */
  guard: SqlQuery
  /** The ledger write, committed with the data; gets the file's checksum, computed while it streams. */
  ledgerWrite(outcome: { checksum: string; rows: number; executionMs: number }): SqlQuery
}

export interface LoadOutcome {
  skipped: boolean
  rows: number
  checksum: string
  elapsedMs: number
}

/** Thrown by a seeder when a data file does not load; the seed layer names the file. */
export class LoadFailure extends Error {
  constructor(
    message: string,
    readonly location: SeedLocation,
    readonly sqlstate?: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options)
    this.name = 'LoadFailure'
  }
}

/**
 * The engine side of `dbops seed` (src/backends/<engine>/<engine>-seed.ts): bulk loading and the catalog. PostgreSQL
 * loads through COPY FROM STDIN, SQLite through one prepared INSERT in one BEGIN IMMEDIATE transaction.
 */
export interface Seeder {
  /** Columns of the tables, read from the catalog in one query; tables that do not exist are absent. */
  describe(tables: readonly SeedTableName[]): Promise<Map<string, TableInfo>>
  /** Streams one data file into its table; a failure rolls the whole file back and throws LoadFailure. */
  load(job: DataLoad, signal?: AbortSignal): Promise<LoadOutcome>
  /**
   * Empties `tables` (foreign-key-safe, identities restarted) and runs `after` (ledger cleanup) in one transaction.
   * Refuses when a table outside the set references one of them: emptying it would need CASCADE.
   */
  reset(tables: readonly TableInfo[], after: readonly SqlQuery[], lockTimeoutMs: number): Promise<void>
}

/** Whether a string is a key of the table's column list; case-insensitive when unambiguous. */
export function findColumn(table: TableInfo, name: string): ColumnInfo | undefined {
  const exact = table.columns.find((column) => column.name === name)
  if (exact) return exact
  const folded = table.columns.filter((column) => column.name.toLowerCase() === name.toLowerCase())
  return folded.length === 1 ? folded[0] : undefined
}

/** The table's columns for the names in a header (exact, else case-insensitive when unambiguous). */
export function matchColumns(table: TableInfo, names: readonly string[], line: number): ColumnInfo[] {
  const seen = new Set<string>()
  return names.map((name) => {
    const column = findColumn(table, name)
    if (!column) {
      throw new LoadFailure(
        `table ${table.display} has no column "${name}" (its columns: ${table.columns.map((candidate) => candidate.name).join(', ')})`,
        { line, column: name },
      )
    }
    if (seen.has(column.name)) throw new LoadFailure(`column "${name}" is named twice`, { line, column: name })
    seen.add(column.name)
    return column
  })
}
