import type { AuditRule } from '../rule.js'
import { formatBytes } from '../../output/format.js'

const CRITICAL_WASTE_BYTES = 5 * 1024 ** 3

/**
 * Tables much larger than their rows need, estimated only from fresh, readable statistics (like index_bloat, with
 * the same thresholds). No fix: VACUUM FULL rewrites the table under an exclusive lock, and pg_repack is an extension.
 */
export const tableBloat: AuditRule = {
  check: 'table_bloat',
  description: 'tables much larger than their rows need (estimated only from fresh, readable planner statistics)',
  run({ snapshot, dialect, thresholds, skip }) {
    if (!snapshot.tableBloat) return []
    for (const skipped of snapshot.tableBloat.skipped) skip(`${skipped.table}: ${skipped.reason}`)
    return snapshot.tableBloat.estimates.flatMap((estimate) => {
      const wasted = estimate.bytes - estimate.expectedBytes
      const ratio = wasted / estimate.bytes
      if (wasted < thresholds.bloatMinBytes || ratio < thresholds.bloatMinRatio) return []
      const subject = dialect.subject(estimate.schema, estimate.table)
      return [
        {
          check: 'table_bloat',
          severity: wasted >= CRITICAL_WASTE_BYTES ? ('critical' as const) : ('warn' as const),
          subject,
          message: `${subject} takes ${formatBytes(estimate.bytes)} where its rows need about ${formatBytes(estimate.expectedBytes)}: ~${formatBytes(wasted)} (${Math.round(ratio * 100)}%) is free space inside the table; new rows reuse it, only a rewrite (VACUUM FULL, which locks the table, or pg_repack) returns it`,
          values: {
            bytes: estimate.bytes,
            expected_bytes: estimate.expectedBytes,
            wasted_bytes: wasted,
            bloat_ratio: ratio,
          },
        },
      ]
    })
  },
}
