import type { AuditRule } from '../rule.js'
import { foreignKeysByTable, supportsColumns, tableKey, withFix } from '../rule.js'
import { displayIdentifier } from '../../sql/query.js'
import { indexName } from '../names.js'
import type { ForeignKeyInfo, IndexInfo, TableInfo } from '../snapshot.js'

export const foreignKeyWithoutIndex: AuditRule = {
  check: 'fk_without_index',
  description: 'foreign keys whose columns are not the leading columns of any valid, non-partial index',
  run({ snapshot, dialect }) {
    const indexesByTable = new Map<string, IndexInfo[]>()
    // Index names are unique per schema (PostgreSQL) or per database (SQLite: one schema).
    const taken = new Map<string, Set<string>>()
    const namesIn = (schema: string) => taken.get(schema) ?? taken.set(schema, new Set()).get(schema)!
    for (const index of snapshot.indexes) {
      const key = tableKey(index.schema, index.table)
      indexesByTable.set(key, [...(indexesByTable.get(key) ?? []), index])
      namesIn(index.schema).add(index.name)
    }
    const tables = new Map<string, TableInfo>(
      snapshot.tables.map((table) => [tableKey(table.schema, table.name), table]),
    )
    const partitions = new Map<string, TableInfo[]>()
    for (const table of snapshot.tables) {
      if (!table.parent) continue
      const parent = tableKey(table.parent.schema, table.parent.name)
      // push, not a copy per partition: a parent may have thousands.
      const known = partitions.get(parent)
      if (known) known.push(table)
      else partitions.set(parent, [table])
    }
    /** The tables that hold rows under `table`: itself, or its partitions' leaves. */
    const leaves = (table: TableInfo): TableInfo[] =>
      table.kind === 'partitioned'
        ? (partitions.get(tableKey(table.schema, table.name)) ?? []).flatMap(leaves)
        : [table]
    // A partition numbers its columns its own way: foreignKeysByTable translates the parent's foreign keys.
    const inherited = foreignKeysByTable(snapshot)
    const served = (table: TableInfo, fk: ForeignKeyInfo) => {
      const key = tableKey(table.schema, table.name)
      const local = (inherited.get(key) ?? []).find(
        (other) => other.name === fk.name && other.schema === fk.schema && other.table === fk.table,
      )
      if (!local || local.columnNumbers.includes(-1)) return false
      return (indexesByTable.get(key) ?? []).some((index) =>
        supportsColumns(index, local.columnNumbers, local.collations),
      )
    }
    const finding = (fk: ForeignKeyInfo, table: TableInfo, note = '') => {
      const name = indexName(table.name, fk.columns, namesIn(table.schema), dialect.maxIdentifierBytes)
      namesIn(table.schema).add(name)
      const declaredOn = dialect.subject(fk.schema, fk.table)
      const subject = dialect.subject(table.schema, table.name)
      const references = dialect.subject(fk.refSchema, fk.refTable)
      return withFix(
        {
          check: 'fk_without_index',
          severity: 'warn',
          subject: `${subject}.${displayIdentifier(fk.name)}`,
          message: `foreign key ${fk.name} on ${declaredOn} (${fk.columns.join(', ')}) → ${references} has no index starting with its columns${note}: deletes and updates of ${references} scan ${subject}`,
          detail: { table: subject, constraint: fk.name, columns: fk.columns, references },
        },
        dialect.createIndex(table, fk.columns, name),
      )
    }
    return snapshot.foreignKeys.flatMap((fk) => {
      const table = tables.get(tableKey(fk.schema, fk.table))
      if (!table) return []
      if (fk.columnNumbers.length === 1 && fk.columnNumbers[0] === table.rowidColumn) return []
      if (served(table, fk)) return []
      if (table.kind !== 'partitioned') return [finding(fk, table)]
      // Declared on a partitioned table, it is checked in each partition: those with their own index are served.
      const missing = leaves(table).filter((leaf) => !served(leaf, fk))
      const all = leaves(table).length
      if (missing.length === all) return [finding(fk, table)]
      return missing.map((leaf) => finding(fk, leaf, ` in partition ${dialect.subject(leaf.schema, leaf.name)}`))
    })
  },
}
