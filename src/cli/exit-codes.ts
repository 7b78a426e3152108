import { DbopsError } from '../errors.js'

/**
 * Exit codes follow the monitoring-plugin convention so dbops drops into Nagios, cron and CI as is:
 * 0 ok; 1 ran fine but the answer is "no" (pending migrations with --check); 2 failed; 3 usage or configuration.
 */
export const EXIT = { ok: 0, no: 1, failed: 2, usage: 3 } as const

/** Errors whose exit code is not "failed". */
const EXIT_BY_ERROR_CODE: Record<string, number> = {
  E_CONFIG: EXIT.usage,
  E_USAGE: EXIT.usage,
  // A protected target refused without its flag (--allow-protected, --force): nothing ran, the command line decides.
  E_PROTECTED: EXIT.usage,
  // Another tool's ledger holds the history dbops' lacks: nothing ran, baseline or --ignore-other-ledgers decides.
  E_OTHER_LEDGER: EXIT.usage,
  // A missing or wrong age identity: nothing was restored, the command line (--identity) decides.
  E_BACKUP_IDENTITY: EXIT.usage,
  // Another run holds the backup lock: nothing failed, this run just did not happen (cron overlap).
  E_BACKUP_LOCKED: EXIT.no,
}

export function exitCodeFor(error: unknown): number {
  return (error instanceof DbopsError ? EXIT_BY_ERROR_CODE[error.code] : undefined) ?? EXIT.failed
}

/** Wraps a commander action that returns its exit code. */
export function exitWith<Args extends unknown[]>(
  action: (...args: Args) => Promise<number>,
): (...args: Args) => Promise<void> {
  return async (...args) => {
    process.exitCode = await action(...args)
  }
}
