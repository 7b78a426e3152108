import type { Finding } from '../../findings.js'
import type { IndexInfo } from '../snapshot.js'
import type { AuditRule, RuleContext } from '../rule.js'
import { comparable, describeKeys, reversedKey, sameKey, usable, withFix } from '../rule.js'

/**
 * How strongly `index` should be the one kept of identical ones, and why: a constraint needs it, it is unique, it
 * belongs to a partitioned index (it cannot be dropped alone), the migrations create it (dropping that one loses the
 * index wherever the fix is applied), else age.
 */
function keepReason(index: IndexInfo, createdBy: RuleContext['createdBy']): { rank: number; why: string } {
  if (index.primary) return { rank: 0, why: 'it is the primary key' }
  if (index.backs.length > 0)
    return { rank: 1, why: `constraint ${index.backs.map((c) => c.name).join(', ')} needs it` }
  if (index.replicaIdentity) return { rank: 1.5, why: 'it is the REPLICA IDENTITY of its table' }
  if (index.unique) return { rank: 2, why: 'it is unique' }
  if (index.attached) return { rank: 3, why: 'it belongs to a partitioned index and cannot be dropped alone' }
  const file = createdBy?.(index)
  if (file) return { rank: 4, why: `migration ${file} creates it` }
  return { rank: 5, why: index.createdOrder !== undefined ? 'it is the older one, created first' : 'first by name' }
}

/** Sorts identical indexes: the one to keep first. */
export function keepOrder(createdBy: RuleContext['createdBy']): (a: IndexInfo, b: IndexInfo) => number {
  return (a, b) =>
    keepReason(a, createdBy).rank - keepReason(b, createdBy).rank ||
    (a.createdOrder ?? 0) - (b.createdOrder ?? 0) ||
    (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
}

/**
 * Same keys, or (b-tree) one key read backwards: a scan runs either way, so `(a)` and `(a DESC)` serve the same
 * equality, ranges and orderings (issue 10 flags single columns whatever the direction, no more).
 */
export function identical(a: IndexInfo, b: IndexInfo): boolean {
  return (
    comparable(a, b) &&
    Boolean(a.nullsNotDistinct) === Boolean(b.nullsNotDistinct) &&
    a.keys.length === b.keys.length &&
    (a.keys.every((key, i) => sameKey(key, b.keys[i]!)) ||
      (a.method === 'btree' && a.keys.length === 1 && reversedKey(a.keys[0]!, b.keys[0]!))) &&
    [...a.include].sort().join('\u0000') === [...b.include].sort().join('\u0000')
  )
}

export const duplicateIndex: AuditRule = {
  check: 'duplicate_index',
  description:
    'indexes identical to another on the same table (same method, keys, order, collation, opclass, predicate)',
  run({ snapshot, dialect, createdBy }) {
    const findings: Finding[] = []
    const byTable = new Map<string, IndexInfo[]>()
    for (const index of snapshot.indexes) {
      // A partition's attached index takes part: a standalone index on the partition can duplicate it.
      if (!usable(index)) continue
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
        group.sort(keepOrder(createdBy))
        const keeper = group[0]!
        const reason = keepReason(keeper, createdBy).why
        for (const extra of group.slice(1)) {
          const subject = dialect.subject(extra.schema, extra.name)
          const kept = dialect.subject(keeper.schema, keeper.name)
          // Unique beats non-unique: a unique index is never the one called a duplicate of a plain one.
          if ((extra.unique && !keeper.unique) || extra.attached) continue
          const needed = extra.backs.length > 0 || extra.primary || extra.replicaIdentity
          findings.push(
            withFix(
              {
                check: 'duplicate_index',
                severity: 'warn',
                subject,
                message: extra.replicaIdentity
                  ? `${subject} duplicates ${kept} ${describeKeys(extra)} but is the REPLICA IDENTITY of its table: point REPLICA IDENTITY at ${kept} before dropping it`
                  : needed
                    ? `${subject} duplicates ${kept} ${describeKeys(extra)} but backs constraint ${extra.backs.map((c) => c.name).join(', ')}: drop one of the constraints`
                    : `${subject} duplicates ${kept} ${describeKeys(extra)}: every write maintains both; keep ${kept} (${reason})`,
                ...(extra.bytes !== null && { values: { bytes: extra.bytes } }),
                detail: {
                  table: dialect.subject(extra.schema, extra.table),
                  duplicateOf: kept,
                  kept: reason,
                  definition: extra.definition,
                },
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
