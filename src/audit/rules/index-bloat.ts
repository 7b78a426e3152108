import type { AuditRule } from '../rule.js'
import { formatBytes } from '../../output/format.js'
import { withFix } from '../rule.js'

const CRITICAL_WASTE_BYTES = 5 * 1024 ** 3

export const indexBloat: AuditRule = {
  check: 'index_bloat',
  description:
    'b-tree indexes much larger than their rows need (estimated only from fresh, readable planner statistics)',
  run({ snapshot, dialect, thresholds, skip }) {
    for (const skipped of snapshot.bloat.skipped) skip(`${skipped.index}: ${skipped.reason}`)
    return snapshot.bloat.estimates.flatMap((estimate) => {
      const wasted = estimate.bytes - estimate.expectedBytes
      const ratio = wasted / estimate.bytes
      if (wasted < thresholds.bloatMinBytes || ratio < thresholds.bloatMinRatio) return []
      const index = snapshot.indexes.find(
        (candidate) => candidate.schema === estimate.schema && candidate.name === estimate.index,
      )
      if (!index) return []
      const subject = dialect.subject(estimate.schema, estimate.index)
      return [
        withFix(
          {
            check: 'index_bloat',
            severity: wasted >= CRITICAL_WASTE_BYTES ? ('critical' as const) : ('warn' as const),
            subject,
            message: `${subject} takes ${formatBytes(estimate.bytes)} where its rows need about ${formatBytes(estimate.expectedBytes)}: ~${formatBytes(wasted)} (${Math.round(ratio * 100)}%) is reclaimable by a rebuild`,
            values: {
              bytes: estimate.bytes,
              expected_bytes: estimate.expectedBytes,
              wasted_bytes: wasted,
              bloat_ratio: ratio,
            },
            detail: { table: dialect.subject(estimate.schema, estimate.table) },
          },
          { up: dialect.rebuildIndex(index).up },
        ),
      ]
    })
  },
}
