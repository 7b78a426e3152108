import type { Finding } from '../../findings.js'
import type { ForeignKeyInfo } from '../snapshot.js'
import type { AuditRule } from '../rule.js'
import { withFix } from '../rule.js'
import { displayIdentifier } from '../../sql/query.js'

/** A NOT VALID foreign key checks new writes exactly as its validated twin does: the definitions compare without it. */
function definitionOf(fk: ForeignKeyInfo): string {
  return (fk.definition ?? '').replace(/\s+NOT VALID$/, '')
}

/** Same columns in the same order, same referenced columns, same actions: one of them checks every write for nothing. */
function sameForeignKey(a: ForeignKeyInfo, b: ForeignKeyInfo): boolean {
  return (
    a.schema === b.schema &&
    a.table === b.table &&
    a.refSchema === b.refSchema &&
    a.refTable === b.refTable &&
    a.columns.join('\u0000') === b.columns.join('\u0000') &&
    a.refColumns.join('\u0000') === b.refColumns.join('\u0000') &&
    definitionOf(a) === definitionOf(b)
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
      // A validated one stays (it also vouches for the old rows), else the first by name: nothing else tells them apart.
      group.sort(
        (a, b) =>
          Number(a.validated === false) - Number(b.validated === false) ||
          (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
      )
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
              message: `foreign key ${extra.name} on ${table} (${extra.columns.join(', ')}) → ${dialect.subject(extra.refSchema, extra.refTable)} duplicates ${keeper.name}${extra.validated === false && keeper.validated !== false ? ' (which is validated; this one is NOT VALID)' : ''}: every insert and update checks both${fix ? '' : ' (SQLite: rebuild the table without one of them)'}`,
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
