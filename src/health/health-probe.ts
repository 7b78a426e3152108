import type { Backend } from '../backends/backend.js'
import type { Finding } from '../findings.js'
import type { Thresholds } from './checks.js'

export interface ProbeContext {
  /** The checks to run (names from HEALTH_CHECKS for this engine); `connection` is always there. */
  checks: ReadonlySet<string>
  thresholds: Thresholds
  /** Per-statement limit (PostgreSQL statement_timeout); lock waits are limited to a fraction of it. */
  statementTimeoutMs: number
  /** SQLite: PRAGMA integrity_check instead of quick_check. */
  deep: boolean
  /** Called with each finding as soon as its check is done, so a deadline keeps what finished. */
  report(finding: Finding): void
}

export interface ProbeOutcome {
  /** false when the database could not be reached or opened: the other engine checks did not run. */
  up: boolean
  version?: string
}

/**
 * The engine side of `dbops health` (PostgreSQL: postgres-health.ts, SQLite: sqlite-health.ts). Every query it
 * sends is read-only and the number of queries does not depend on the size of the schema.
 */
export interface HealthProbe {
  /** Runs the engine's checks, reporting findings through `context.report`. Database problems are findings, not throws. */
  run(context: ProbeContext): Promise<ProbeOutcome>
  /**
   * A backend for reading the migration ledger on the probe's read-only session (for migrationStatus), once `run`
   * has connected; undefined when the database is not reachable.
   */
  ledgerBackend(): Backend | undefined
  /** Releases what the probe opened itself (the backend's own connection is the target's to close). */
  close(): Promise<void>
}
