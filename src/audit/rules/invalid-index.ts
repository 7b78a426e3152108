import type { AuditRule } from '../rule.js'
import { describeKeys, withFix } from '../rule.js'

/** Leftovers of a failed REINDEX CONCURRENTLY: never worth rebuilding, always dropped. */
export const LEFTOVER_INDEX = /_cc(new|old)\d*$/

export const invalidIndex: AuditRule = {
  check: 'invalid_index',
  description:
    'indexes left invalid by a failed CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY (not those being built now)',
  run({ snapshot, dialect, skip }) {
    return snapshot.indexes.flatMap((index) => {
      if (index.valid) return []
      const subject = dialect.subject(index.schema, index.name)
      if (index.building) {
        skip(`${subject} is being built right now (CREATE INDEX CONCURRENTLY or REINDEX in progress)`)
        return []
      }
      const leftover = LEFTOVER_INDEX.test(index.name)
      return [
        withFix(
          {
            check: 'invalid_index',
            severity: 'critical',
            subject,
            message: leftover
              ? `invalid index ${subject} on ${dialect.subject(index.schema, index.table)} is a leftover of a failed REINDEX CONCURRENTLY: drop it`
              : index.unique && !index.partitioned
                ? `invalid unique index ${subject} on ${dialect.subject(index.schema, index.table)}: no query can use it${index.ready === false ? ' and writes do not update it' : ' but writes maintain it'}; its build most likely failed on duplicate values ${describeKeys(index)}, which a REINDEX would meet again: remove the duplicates, then drop it and create it again concurrently`
                : index.ready === false
                  ? `invalid index ${subject} on ${dialect.subject(index.schema, index.table)}: no query can use it and writes do not update it (its build failed before it was ready)`
                  : `invalid index ${subject} on ${dialect.subject(index.schema, index.table)}: writes maintain it but no query can use it`,
            ...(index.bytes !== null && { values: { bytes: index.bytes } }),
            detail: { table: dialect.subject(index.schema, index.table), definition: index.definition },
          },
          leftover ? { up: dialect.dropIndex(index).up } : dialect.rebuildIndex(index),
        ),
      ]
    })
  },
}
