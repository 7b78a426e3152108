import { DbopsError } from '../errors.js'

/**
 * Exit codes follow the monitoring-plugin convention so dbops drops into Nagios, cron and CI as is:
 * 0 ok; 1 ran fine but the answer is "no" (pending migrations with --check); 2 failed; 3 usage or configuration.
 */
export const EXIT = { ok: 0, no: 1, failed: 2, usage: 3 } as const

export function exitCodeFor(error: unknown): number {
  if (error instanceof DbopsError && (error.code === 'E_CONFIG' || error.code === 'E_USAGE' || error.code === 'E_PROTECTED')) return EXIT.usage
  // Another run holds the backup lock: nothing failed, this run just did not happen (cron overlap).
  if (error instanceof DbopsError && error.code === 'E_BACKUP_LOCKED') return EXIT.no
  return EXIT.failed
}

/** Wraps a commander action that returns its exit code. */
export function exitWith<Args extends unknown[]>(action: (...args: Args) => Promise<number>): (...args: Args) => Promise<void> {
  return async (...args) => {
    process.exitCode = await action(...args)
  }
}
