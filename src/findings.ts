/**
 * What health checks and audits report, one shape for both so CI, cron and monitoring read them the same way.
 * `unknown` means the check could not run (missing privilege, not applicable): it never stands for a guessed value.
 */
export type Severity = 'ok' | 'warn' | 'critical' | 'unknown'

export interface Finding {
  /** Stable check name, e.g. `connections`, `duplicate_index`. Baselines and thresholds refer to it. */
  check: string
  severity: Severity
  /** The object concerned, e.g. `public.users` or `public."Order Items"_idx`; the database for database-wide checks. */
  subject: string
  /** One line for a human. */
  message: string
  /** Measured values in base units (seconds, bytes, ratios 0..1), for JSON, perfdata and metrics. */
  values?: Record<string, number>
  /** Extra facts (who blocks whom, the index definition...). */
  detail?: Record<string, unknown>
  /** A suggested fix in SQL, when there is one. */
  fix?: string
}

const RANK: Record<Severity, number> = { ok: 0, unknown: 1, warn: 2, critical: 3 }

/** The worst severity, ordering ok < unknown < warn < critical. */
export function worstSeverity(severities: Iterable<Severity>): Severity {
  let worst: Severity = 'ok'
  for (const severity of severities) if (RANK[severity] > RANK[worst]) worst = severity
  return worst
}
