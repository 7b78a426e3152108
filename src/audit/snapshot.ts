import type { Engine } from '../backends/backend.js'

/** One key column of an index: a column name or an expression, with what decides whether two indexes are alike. */
export interface IndexKey {
  /** The column's name, or the expression as the database prints it. */
  text: string
  expression: boolean
  descending: boolean
  nullsFirst: boolean
  /** Collation identity (PostgreSQL: its oid, 0 for none; SQLite: its name). */
  collation: string
  /** Operator class identity (PostgreSQL oid); empty on SQLite. */
  opclass: string
  /** Column number in the table (PostgreSQL attnum, SQLite cid); undefined for expressions. */
  column?: number
}

export interface IndexInfo {
  schema: string
  table: string
  name: string
  /** Access method: btree, hash, gin, gist, brin... (SQLite: always btree). */
  method: string
  unique: boolean
  /** A unique index that treats NULLs as equal (PostgreSQL 15 NULLS NOT DISTINCT): it enforces more than a plain one. */
  nullsNotDistinct?: boolean
  primary: boolean
  keys: IndexKey[]
  /** INCLUDE columns (PostgreSQL). */
  include: string[]
  /** The WHERE clause of a partial index, as the database prints it. */
  predicate: string | null
  valid: boolean
  /** Writes maintain it (PostgreSQL indisready): false when a concurrent build failed before its first phase ended. */
  ready?: boolean
  /** A CREATE INDEX CONCURRENTLY (or REINDEX) is building it right now. */
  building: boolean
  /** Constraints that depend on this index: its own PK/UNIQUE/EXCLUDE constraint, or foreign keys referencing it. */
  backs: { name: string; type: string; table: string }[]
  /** Index scans since the statistics were reset; null where the engine keeps none (SQLite). */
  scans: number | null
  bytes: number | null
  /** The CREATE INDEX statement as the database prints it. */
  definition: string
  /** An index on a partitioned table (PostgreSQL relkind I). */
  partitioned: boolean
  /** A partition's index attached to a partitioned index: judged through its parent. */
  attached: boolean
  replicaIdentity: boolean
  exclusion: boolean
  /** Creation order among the indexes (PostgreSQL: its OID; SQLite: its row in sqlite_schema): lower is older. */
  createdOrder?: number
  /** The partitioned index an attached index belongs to. */
  parentIndex?: { schema: string; name: string }
}

export interface TableInfo {
  schema: string
  name: string
  /** `partition`: a partition of a partitioned table; `child`: a classic inheritance child. */
  kind: 'table' | 'partitioned' | 'partition' | 'child'
  /** The partitioned table a partition belongs to. */
  parent?: { schema: string; name: string }
  hasPrimaryKey: boolean
  withoutRowid: boolean
  /** Live rows (PostgreSQL n_live_tup; SQLite: counted, bounded, see SqliteAuditor). */
  liveRows: number | null
  seqScans: number | null
  seqRowsRead: number | null
  indexScans: number | null
  /** SQLite: the INTEGER PRIMARY KEY column, which is the rowid itself: lookups on it need no index. */
  rowidColumn?: number
  /** SQLite: rows recorded in sqlite_stat1 when the table was last analyzed; null when it has no row there. */
  analyzedRows?: number | null
}

export interface ForeignKeyInfo {
  schema: string
  table: string
  name: string
  columns: string[]
  /** Column numbers matching `columns` (PostgreSQL attnum, SQLite cid). */
  columnNumbers: number[]
  /** Collation identity of each column, as IndexKey.collation reads it (PostgreSQL: oid); undefined on SQLite. */
  collations?: string[]
  /** False for a NOT VALID foreign key (PostgreSQL). */
  validated?: boolean
  refSchema: string
  refTable: string
  refColumns: string[]
  /** What decides whether two foreign keys are the same: PostgreSQL's definition (actions, MATCH, deferral); SQLite's actions. */
  definition?: string
}

export interface ConstraintInfo {
  schema: string
  table: string
  name: string
  /** foreign key, check... */
  type: string
  validated: boolean
  definition: string
}

export interface BloatEstimate {
  schema: string
  table: string
  index: string
  bytes: number
  expectedBytes: number
}

export interface TableBloatEstimate {
  schema: string
  table: string
  bytes: number
  expectedBytes: number
}

/** What the audit rules look at: read in a fixed handful of catalog queries whatever the schema size. */
export interface SchemaSnapshot {
  engine: Engine
  tables: TableInfo[]
  indexes: IndexInfo[]
  foreignKeys: ForeignKeyInfo[]
  /** Constraints not yet validated (PostgreSQL NOT VALID). */
  unvalidated: ConstraintInfo[]
  /** Since when usage statistics accumulate (ISO time); null when unknown or not kept. */
  statisticsSince: string | null
  /** How `statisticsSince` was found, for the report. */
  statisticsSource: string
  statisticsAgeSeconds: number | null
  /** Index bloat estimates for indexes whose table statistics are fresh and readable; `skipped` says why not. */
  bloat: { estimates: BloatEstimate[]; skipped: { index: string; reason: string }[] }
  /** Heap bloat estimates for tables whose statistics are fresh and readable (PostgreSQL); `skipped` says why not. */
  tableBloat?: { estimates: TableBloatEstimate[]; skipped: { table: string; reason: string }[] }
  /** SQLite: whether sqlite_stat1 exists. */
  statisticsTable?: boolean
  /** Catalog queries sent to read this snapshot. */
  queries: number
}
