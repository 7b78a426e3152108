import type { Engine } from '../backends/backend.js'
import type { Target } from '../targets/target.js'

/** What a schema is made of, in the words the reports use. */
export type CatalogKind =
  | 'extension'
  | 'schema'
  | 'enum'
  | 'domain'
  | 'composite type'
  | 'range type'
  | 'sequence'
  | 'table'
  | 'column'
  | 'constraint'
  | 'index'
  | 'view'
  | 'materialized view'
  | 'function'
  | 'procedure'
  | 'aggregate'
  | 'trigger'
  | 'policy'

/**
 * One object of a schema. Two catalogs are compared object by object (same kind and name) and attribute by
 * attribute: the attributes hold exactly what must agree (a column's type, an index's definition...), as the
 * database prints it, so the comparison needs no engine knowledge.
 */
export interface CatalogObject {
  kind: CatalogKind
  /** Unique within its kind: `schema.table`, `schema.table.column`, `schema.function(argument types)`; no schema on SQLite. */
  name: string
  /** The table (or view) it belongs to: ignoring a table ignores its columns, indexes, constraints and triggers. */
  table?: string
  attributes: Record<string, string | boolean | null>
}

/**
 * The definitions side of a schema snapshot (the audit's SchemaSnapshot is its usage side: statistics, sizes,
 * scans). Read in a fixed number of catalog queries whatever the schema size; objects belonging to extensions are
 * left out.
 */
export interface SchemaCatalog {
  engine: Engine
  objects: CatalogObject[]
  /** Catalog queries sent to read it. */
  queries: number
  /**
   * The engine's serialisation of `objects`, when it reads the catalog as one value (PostgreSQL): equal texts are
   * equal catalogs, which compareCatalogs checks before it looks at any object (which then need not be parsed).
   */
  readonly text?: string
}

/** dbops' own tables (the migrations and seeds ledgers): never drift, never part of what migrations build. */
export function ownTables(target: Pick<Target, 'migrations' | 'seeds' | 'backend'>): string[] {
  const schemas = target.backend.ledgerSql.schemas
  const ledger = schemas ? `${target.migrations.schema}.${target.migrations.table}` : target.migrations.table
  // The seeds ledger lives in the migrations' schema too (see SeedLedger).
  const seeds = schemas ? `${target.migrations.schema}.${target.seeds.table}` : target.seeds.table
  return [ledger, seeds]
}
