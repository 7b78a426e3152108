import type { Finding } from '../../findings.js'
import type { IndexInfo } from '../snapshot.js'
import type { AuditRule } from '../rule.js'
import { comparable, describeKeys, judgeable, sameKey, withFix } from '../rule.js'

/** The index to keep of identical ones: the one a constraint needs, then the unique one, then the primary, then by name. */
function keepOrder(a: IndexInfo, b: IndexInfo): number {
  const rank = (index: IndexInfo) => (index.primary ? 0 : index.backs.length > 0 ? 1 : index.unique ? 2 : 3)
  return rank(a) - rank(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
}

function identical(a: IndexInfo, b: IndexInfo): boolean {
  return (
    comparable(a, b) &&
    a.keys.length === b.keys.length &&
    a.keys.every((key, i) => sameKey(key, b.keys[i]!)) &&
    [...a.include].sort().join('\u0000') === [...b.include].sort().join('\u0000')
  )
}

export const duplicateIndex: AuditRule = {
  check: 'duplicate_index',
  description: 'indexes identical to another on the same table (same method, keys, order, collation, opclass, predicate)',
  run({ snapshot, dialect }) {
    const findings: Finding[] = []
    const byTable = new Map<string, IndexInfo[]>()
    for (const index of snapshot.indexes) {
      if (!judgeable(index)) continue
      const key = `${index.schema}\u0000${index.table}`
      byTable.set(key, [...(byTable.get(key) ?? []), index])
    }
    for (const indexes of byTable.values()) {
      const done = new Set<IndexInfo>()
      for (const index of indexes) {
        if (done.has(index)) continue
        const group = indexes.filter((other) => !done.has(other) && identical(index, other))
        group.forEach((member) => done.add(member))
        if (group.length < 2) continue
        group.sort(keepOrder)
        const keeper = group[0]!
        for (const extra of group.slice(1)) {
          const subject = dialect.subject(extra.schema, extra.name)
          const kept = dialect.subject(keeper.schema, keeper.name)
          // Unique beats non-unique: a unique index is never the one called a duplicate of a plain one.
          if (extra.unique && !keeper.unique) continue
          const needed = extra.backs.length > 0 || extra.primary
          findings.push(
            withFix(
              {
                check: 'duplicate_index',
                severity: 'warn',
                subject,
                message: needed
                  ? `${subject} duplicates ${kept} ${describeKeys(extra)} but backs constraint ${extra.backs.map((c) => c.name).join(', ')}: drop one of the constraints`
                  : `${subject} duplicates ${kept} ${describeKeys(extra)}: every write maintains both`,
                ...(extra.bytes !== null && { values: { bytes: extra.bytes } }),
                detail: { table: dialect.subject(extra.schema, extra.table), duplicateOf: kept, definition: extra.definition },
              },
              needed ? undefined : dialect.dropIndex(extra),
            ),
          )
        }
      }
    }
    return findings
  },
}
