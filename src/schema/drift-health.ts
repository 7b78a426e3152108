import type { Target } from '../targets/target.js'
import type { Finding } from '../findings.js'
import { grade, type Thresholds } from '../health/checks.js'
import { schemaDrift } from './drift.js'
import { connectTarget } from '../targets/target.js'

/** `dbops health --only schema_drift`: the number of differences `schema drift` finds, graded (default warn at 1). */
export async function schemaDriftCheck(
  target: Target,
  thresholds: Thresholds,
  report: (finding: Finding) => void,
  signal?: AbortSignal,
): Promise<void> {
  const subject = target.name
  try {
    // A session of its own: health's is read-only, and the scratch database is created and dropped from it.
    const own = await connectTarget(target.resolved, { command: 'health', create: false })
    const result = await schemaDrift(own, signal ? { signal } : {}).finally(() => own.close())
    const count = result.differences.length
    report({
      check: 'schema_drift',
      severity: grade(thresholds, 'schema_drift', count),
      subject,
      message:
        count === 0
          ? `no drift from the ${result.migrations.length} applied migration(s)`
          : `${count} difference(s) from the applied migrations: ${result.differences
              .slice(0, 3)
              .map((difference) => difference.message)
              .join('; ')}${count > 3 ? '; ...' : ''} (see "dbops schema drift")`,
      values: { differences: count },
      detail: { differences: result.differences.map((difference) => difference.message) },
    })
  } catch (error) {
    report({
      check: 'schema_drift',
      severity: 'unknown',
      subject,
      message: `could not check: ${(error as Error).message}`,
    })
  }
}
