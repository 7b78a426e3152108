import type { AuditRule } from '../rule.js'

export const tableWithoutPrimaryKey: AuditRule = {
  check: 'table_without_pk',
  description: 'tables without a primary key (partitions are judged through their partitioned table)',
  run({ snapshot, dialect }) {
    return snapshot.tables
      .filter((table) => !table.hasPrimaryKey && !table.withoutRowid && table.kind !== 'partition')
      .map((table) => {
        const subject = dialect.subject(table.schema, table.name)
        return {
          check: 'table_without_pk',
          severity: 'warn' as const,
          subject,
          message: `${subject} has no primary key: rows cannot be addressed reliably (logical replication, ORMs, deduplication)`,
          detail: { kind: table.kind },
        }
      })
  },
}
