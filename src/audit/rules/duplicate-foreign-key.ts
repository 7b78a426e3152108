import type { Finding } from '../../findings.js'
import type { ForeignKeyInfo } from '../snapshot.js'
import type { AuditRule } from '../rule.js'
import { withFix } from '../rule.js'
import { displayIdentifier } from '../../sql/query.js'

/** Same columns in the same order, same referenced columns, same actions: one of them checks every write for nothing. */
function sameForeignKey(a: ForeignKeyInfo, b: ForeignKeyInfo): boolean {
  return (
    a.schema === b.schema &&
    a.table === b.table &&
    a.refSchema === b.refSchema &&
    a.refTable === b.refTable &&
    a.columns.join('\u0000') === b.columns.join('\u0000') &&
    a.refColumns.join('\u0000') === b.refColumns.join('\u0000') &&
    (a.definition ?? '') === (b.definition ?? '')
  )
}

export const duplicateForeignKey: AuditRule = {
  check: 'duplicate_foreign_key',
  description:
    'foreign keys identical to another on the same table (columns, referenced columns, actions): every write checks both',
  run({ snapshot, dialect }) {
    const findings: Finding[] = []
    const done = new Set<ForeignKeyInfo>()
    for (const fk of snapshot.foreignKeys) {
      if (done.has(fk)) continue
      const group = snapshot.foreignKeys.filter((other) => !done.has(other) && sameForeignKey(fk, other))
      group.forEach((member) => done.add(member))
      if (group.length < 2) continue
      // The first by name stays: nothing else tells them apart.
      group.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      const keeper = group[0]!
      const table = dialect.subject(fk.schema, fk.table)
      for (const extra of group.slice(1)) {
        const fix = extra.name === keeper.name ? undefined : dialect.dropForeignKey?.(extra)
        findings.push(
          withFix(
            {
              check: 'duplicate_foreign_key',
              severity: 'warn',
              subject: `${table}.${displayIdentifier(extra.name)}`,
              message: `foreign key ${extra.name} on ${table} (${extra.columns.join(', ')}) → ${dialect.subject(extra.refSchema, extra.refTable)} duplicates ${keeper.name}: every insert and update checks both${fix ? '' : ' (SQLite: rebuild the table without one of them)'}`,
              detail: {
                table,
                constraint: extra.name,
                duplicateOf: keeper.name,
                columns: extra.columns,
                references: dialect.subject(extra.refSchema, extra.refTable),
              },
            },
            fix,
          ),
        )
      }
    }
    return findings
  },
}
