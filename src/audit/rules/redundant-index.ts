import type { Finding } from '../../findings.js'
import type { IndexInfo } from '../snapshot.js'
import type { AuditRule } from '../rule.js'
import { comparable, describeKeys, reversedKey, sameKey, tableKey, usable, withFix } from '../rule.js'

/**
 * Whether `narrow` is a strict left prefix of `wide`: every key the same (name or expression, direction, nulls order,
 * collation, opclass). A unique `narrow` enforces something `wide` does not, so it is never redundant.
 */
function coveredBy(narrow: IndexInfo, wide: IndexInfo): boolean {
  if (narrow === wide || !comparable(narrow, wide) || narrow.method !== 'btree') return false
  if (narrow.unique || narrow.primary || narrow.replicaIdentity || narrow.backs.length > 0) return false
  if (narrow.keys.length > wide.keys.length) return false
  // One column read backwards serves the same equality, range and ORDER BY: (length) is covered by (length DESC, rating).
  const single = narrow.keys.length === 1 && reversedKey(narrow.keys[0]!, wide.keys[0]!)
  if (!single && !narrow.keys.every((key, i) => sameKey(key, wide.keys[i]!))) return false
  const wideInclude = new Set(wide.include)
  // Same keys: covered only by an index that carries strictly more INCLUDE columns (equal ones are duplicates).
  if (narrow.keys.length === wide.keys.length)
    return narrow.include.every((column) => wideInclude.has(column)) && wide.include.length > narrow.include.length
  const available = new Set([...wide.keys.map((key) => key.text), ...wide.include])
  return narrow.include.every((column) => available.has(column))
}

export const redundantIndex: AuditRule = {
  check: 'redundant_index',
  description:
    'indexes whose keys are the leading keys of another index on the same table (same method, order, collation, opclass, predicate)',
  run({ snapshot, dialect }) {
    const byTable = new Map<string, IndexInfo[]>()
    for (const index of snapshot.indexes) {
      if (!usable(index)) continue
      const key = tableKey(index.schema, index.table)
      byTable.set(key, [...(byTable.get(key) ?? []), index])
    }
    const findings: Finding[] = []
    for (const indexes of byTable.values()) {
      for (const narrow of indexes) {
        if (narrow.attached) continue
        const wide = indexes.find((candidate) => coveredBy(narrow, candidate))
        if (!wide) continue
        const subject = dialect.subject(narrow.schema, narrow.name)
        const by = dialect.subject(wide.schema, wide.name)
        findings.push(
          withFix(
            {
              check: 'redundant_index',
              severity: 'warn',
              subject,
              message: `${subject} ${describeKeys(narrow)} is ${narrow.keys.length === wide.keys.length ? `covered by ${by} ${describeKeys(wide)}, which has the same keys and more INCLUDE columns` : `a left prefix of ${by} ${describeKeys(wide)}`}: queries on its columns can use ${by}`,
              ...(narrow.bytes !== null && { values: { bytes: narrow.bytes } }),
              detail: {
                table: dialect.subject(narrow.schema, narrow.table),
                coveredBy: by,
                definition: narrow.definition,
              },
            },
            dialect.dropIndex(narrow),
          ),
        )
      }
    }
    return findings
  },
}
