import type { Finding } from '../findings.js'
import { worstSeverity } from '../findings.js'

/** Which new findings fail the run: warnings and up (the default), criticals only, or none. */
export type FailOn = 'warn' | 'critical' | 'never'

/** 0 when nothing new reaches `failOn`; 1 for new warnings, 2 for new critical findings (the monitoring convention). */
export function auditExitCode(
  result: { findings: readonly Pick<Finding, 'severity'>[] },
  failOn: FailOn = 'warn',
): number {
  if (failOn === 'never') return 0
  const worst = worstSeverity(result.findings.map((finding) => finding.severity))
  if (worst === 'critical') return 2
  if (worst === 'warn' && failOn === 'warn') return 1
  return 0
}
