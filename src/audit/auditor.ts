import type { ConstraintInfo, ForeignKeyInfo, IndexInfo, SchemaSnapshot, TableInfo } from './snapshot.js'

export interface IntrospectOptions {
  /** Indexes smaller than this are not estimated for bloat. */
  bloatMinBytes: number
}

/** A fix and, where one exists, the statement that undoes it (a migration's down section). */
export interface FixSql {
  up: string
  down?: string
}

/** The engine's SQL for the suggested fixes. Every identifier is quoted; nothing from the database is spliced raw. */
export interface FixDialect {
  /** How a finding names an object: `schema.name` with quotes only where needed (SQLite: the name alone). */
  subject(schema: string, name: string): string
  dropIndex(index: IndexInfo): FixSql
  rebuildIndex(index: IndexInfo): FixSql
  createIndex(table: TableInfo, columns: string[], name: string): FixSql
  validateConstraint(constraint: ConstraintInfo): FixSql
  analyze(table?: TableInfo): FixSql
  /** Undefined where the engine cannot drop a constraint on its own (SQLite rebuilds the table). */
  dropForeignKey?(fk: ForeignKeyInfo): FixSql | undefined
  /** The longest identifier the engine keeps, in bytes (PostgreSQL truncates at 63). */
  maxIdentifierBytes: number
}

/** The engine side of `dbops audit`: read the schema, and say how to fix what the rules find. */
export interface Auditor {
  introspect(options: IntrospectOptions): Promise<SchemaSnapshot>
  /**
   * Fills in `definition` of these indexes (the ones findings name) and whatever the dialect needs to recreate them;
   * returns the queries sent. Separate because deparsing every index of a big schema costs more than the audit.
   */
  describeIndexes(indexes: IndexInfo[]): Promise<number>
  readonly dialect: FixDialect
}
