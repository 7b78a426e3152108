import type { Finding } from '../findings.js'
import type { FixDialect, FixSql } from './auditor.js'
import type { ForeignKeyInfo, IndexInfo, IndexKey, SchemaSnapshot } from './snapshot.js'
import { displayIdentifier } from '../sql/query.js'

/** Thresholds of the rules; every one has a default (see DEFAULT_AUDIT_THRESHOLDS). */
export interface AuditThresholds {
  /** Usage statistics younger than this do not condemn an index as unused (a fresh or restored database). */
  minStatisticsAgeMs: number
  /** Sequential-scan check: tables with fewer live rows are fine to scan. */
  seqScanMinRows: number
  /** Sequential-scan check: scans (sequential + index) needed before a table is judged. */
  seqScanMinScans: number
  /** Sequential-scan check: average rows read per sequential scan before it matters. */
  seqScanMinRowsPerScan: number
  /** Bloat: indexes smaller than this are not estimated; at least this much must be wasted. */
  bloatMinBytes: number
  /** Bloat: the share of an index that must be wasted. */
  bloatMinRatio: number
  /** SQLite statistics: rows a table must have gained or lost since ANALYZE (and at least a factor 2). */
  statisticsMinRowChange: number
}

export const DEFAULT_AUDIT_THRESHOLDS: AuditThresholds = {
  minStatisticsAgeMs: 7 * 86_400_000,
  seqScanMinRows: 10_000,
  seqScanMinScans: 100,
  seqScanMinRowsPerScan: 1000,
  bloatMinBytes: 10 * 1024 * 1024,
  bloatMinRatio: 0.5,
  statisticsMinRowChange: 500,
}

export interface RuleContext {
  snapshot: SchemaSnapshot
  dialect: FixDialect
  thresholds: AuditThresholds
  /** Records that (part of) the check could not judge something, with the reason: shown, never failing. */
  skip(reason: string): void
  /** The migration file that creates this index, when one does (the index to keep of two twins). */
  createdBy?(index: IndexInfo): string | undefined
}

/** One audit check. Rules read the snapshot only: no queries, no engine names. */
export interface AuditRule {
  check: string
  description: string
  run(context: RuleContext): Finding[]
}

/** A finding with its fix: `fix` is the up SQL, `detail.undo` the statement that reverses it. */
export function withFix(finding: Omit<Finding, 'fix'>, fix: FixSql | undefined): Finding {
  if (!fix) return finding
  return { ...finding, fix: fix.up, ...(fix.down && { detail: { ...finding.detail, undo: fix.down } }) }
}

export function sameKey(a: IndexKey, b: IndexKey): boolean {
  return (
    a.text === b.text &&
    a.expression === b.expression &&
    a.descending === b.descending &&
    a.nullsFirst === b.nullsFirst &&
    a.collation === b.collation &&
    a.opclass === b.opclass
  )
}

/** The same key read backwards: the other direction and the other nulls order. */
export function reversedKey(a: IndexKey, b: IndexKey): boolean {
  return sameKey(a, { ...b, descending: !b.descending, nullsFirst: !b.nullsFirst })
}

/** Same table, access method and predicate: the only indexes that can stand in for each other. */
export function comparable(a: IndexInfo, b: IndexInfo): boolean {
  return (
    a.schema === b.schema && a.table === b.table && a.method === b.method && (a.predicate ?? '') === (b.predicate ?? '')
  )
}

/** Indexes the duplicate, redundancy and usage rules may judge: usable, finished, not a partition's copy. */
export function judgeable(index: IndexInfo): boolean {
  return index.valid && !index.building && !index.attached
}

/** Indexes that can stand in for another: usable and finished, a partition's copy included (it cannot be dropped alone). */
export function usable(index: IndexInfo): boolean {
  return index.valid && !index.building
}

export function tableKey(schema: string, table: string): string {
  return `${schema}\u0000${table}`
}

export function describeKeys(index: IndexInfo): string {
  const keys = index.keys.map((key) => `${key.text}${key.descending ? ' DESC' : ''}`).join(', ')
  return `(${keys})${index.include.length ? ` INCLUDE (${index.include.join(', ')})` : ''}${index.predicate ? ` WHERE ${index.predicate}` : ''}`
}

/**
 * Whether `index` can serve lookups on exactly these columns: they are its leading key columns, in any order, with
 * the columns' own collations where known (an index under another collation cannot answer the foreign key's
 * equality). A partial index qualifies only when its predicate is `<column> IS NOT NULL` on those columns: the
 * foreign key's lookups compare with `=`, which implies it.
 */
export function supportsColumns(
  index: IndexInfo,
  columnNumbers: readonly number[],
  collations?: readonly string[],
): boolean {
  if (!index.valid || index.keys.length < columnNumbers.length) return false
  const leading = index.keys.slice(0, columnNumbers.length)
  if (leading.some((key) => key.expression || key.column === undefined)) return false
  const wanted = new Set(columnNumbers)
  if (
    !leading.every((key) => wanted.has(key.column!)) ||
    new Set(leading.map((key) => key.column)).size !== wanted.size
  )
    return false
  if (collations && leading.some((key) => key.collation !== collations[columnNumbers.indexOf(key.column!)]))
    return false
  return index.predicate === null || onlyNotNull(index.predicate, leading)
}

/** `a IS NOT NULL`, `(a IS NOT NULL) AND (b IS NOT NULL)`, as PostgreSQL prints them, on the given keys' columns. */
function onlyNotNull(predicate: string, keys: readonly IndexKey[]): boolean {
  const names = new Set(keys.map((key) => displayIdentifier(key.text)))
  return predicate.split(/\s+AND\s+/).every((part) => {
    const match = /^\(*\s*(.+?) IS NOT NULL\s*\)*$/.exec(part.trim())
    return match !== null && names.has(match[1]!)
  })
}

/**
 * Foreign keys by table, a partition's including those declared on its partitioned ancestors (PostgreSQL checks
 * those in each partition). A partition numbers its columns its own way: inherited ones are matched by name through
 * its index keys (-1 where no key has the column, which no index then serves).
 */
export function foreignKeysByTable(snapshot: SchemaSnapshot): Map<string, ForeignKeyInfo[]> {
  // Grouped once by table: a schema with thousands of partitions must not scan every index and foreign key for each.
  const declared = groupByTable(snapshot.foreignKeys, (fk) => [fk])
  const indexKeys = groupByTable(snapshot.indexes, (index) => index.keys)
  const byTable = new Map([...declared].map(([key, fks]) => [key, [...fks]]))
  const tables = new Map(snapshot.tables.map((table) => [tableKey(table.schema, table.name), table]))
  for (const table of snapshot.tables) {
    if (!table.parent) continue
    const id = tableKey(table.schema, table.name)
    const keys = indexKeys.get(id) ?? []
    const numberOf = (column: string) => keys.find((key) => !key.expression && key.text === column)?.column ?? -1
    const own = byTable.get(id) ?? []
    for (let parent = tables.get(tableKey(table.parent.schema, table.parent.name)); parent;) {
      for (const fk of declared.get(tableKey(parent.schema, parent.name)) ?? [])
        own.push({ ...fk, columnNumbers: fk.columns.map(numberOf) })
      parent = parent.parent ? tables.get(tableKey(parent.parent.schema, parent.parent.name)) : undefined
    }
    if (own.length > 0) byTable.set(id, own)
  }
  return byTable
}

/** `items` by tableKey of their schema and table, each contributing `values(item)`, in the items' order. */
function groupByTable<T extends { schema: string; table: string }, V>(
  items: readonly T[],
  values: (item: T) => readonly V[],
): Map<string, V[]> {
  const byTable = new Map<string, V[]>()
  for (const item of items) {
    const key = tableKey(item.schema, item.table)
    const list = byTable.get(key)
    if (list) list.push(...values(item))
    else byTable.set(key, [...values(item)])
  }
  return byTable
}
