import type { AuditRule } from '../rule.js'
import { supportsColumns, tableKey, withFix } from '../rule.js'
import { displayIdentifier } from '../../sql/query.js'
import { indexName } from '../names.js'
import type { IndexInfo, TableInfo } from '../snapshot.js'

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
    return snapshot.foreignKeys.flatMap((fk) => {
      const key = tableKey(fk.schema, fk.table)
      const table = tables.get(key)
      if (!table) return []
      if (fk.columnNumbers.length === 1 && fk.columnNumbers[0] === table.rowidColumn) return []
      if ((indexesByTable.get(key) ?? []).some((index) => supportsColumns(index, fk.columnNumbers))) return []
      const name = indexName(fk.table, fk.columns, namesIn(fk.schema), dialect.maxIdentifierBytes)
      namesIn(fk.schema).add(name)
      const subject = dialect.subject(fk.schema, fk.table)
      const columns = fk.columns.join(', ')
      return [
        withFix(
          {
            check: 'fk_without_index',
            severity: 'warn',
            subject: `${subject}.${displayIdentifier(fk.name)}`,
            message: `foreign key ${fk.name} on ${subject} (${columns}) → ${dialect.subject(fk.refSchema, fk.refTable)} has no index starting with its columns: deletes and updates of ${dialect.subject(fk.refSchema, fk.refTable)} scan ${subject}`,
            detail: {
              table: subject,
              constraint: fk.name,
              columns: fk.columns,
              references: dialect.subject(fk.refSchema, fk.refTable),
            },
          },
          dialect.createIndex(table, fk.columns, name),
        ),
      ]
    })
  },
}
