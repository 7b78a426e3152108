import { DbopsError } from '../errors.js'
import { formatDuration } from '../output/format.js'
import type { ResolvedTarget } from '../config/resolve-config.js'
import { connectTarget } from './target.js'

export interface WaitResult {
  target: string
  engine: string
  version: string
  attempts: number
  waitedMs: number
}

/**
 * Blocks until the target accepts connections (a CI step that starts the database right before migrating). A SQLite
 * file needs no server: it is ready as soon as it can be opened, and a missing file is left uncreated.
 */
export async function waitForTarget(
  resolved: ResolvedTarget,
  options: { timeoutMs: number; onRetry?: (error: DbopsError, attempt: number) => void },
): Promise<WaitResult> {
  const started = Date.now()
  const deadline = started + options.timeoutMs
  let lastError: unknown
  for (let attempt = 1; ; attempt++) {
    const target = await connectTarget(resolved, {
      command: 'wait',
      create: false,
      connectTimeoutMs: Math.max(1000, Math.min(5000, deadline - Date.now())),
    })
    try {
      const info = target.backend.exists()
        ? await target.backend.ping()
        : { engine: target.backend.engine, version: 'not created yet' }
      return {
        target: resolved.name,
        engine: info.engine,
        version: info.version,
        attempts: attempt,
        waitedMs: Date.now() - started,
      }
    } catch (error) {
      lastError = error
      if (error instanceof DbopsError && error.code === 'E_AUTH') throw error
      if (error instanceof DbopsError) options.onRetry?.(error, attempt)
    } finally {
      await target.close()
    }
    if (Date.now() >= deadline) break
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(1000, 100 * attempt, Math.max(0, deadline - Date.now()))),
    )
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError)
  throw new DbopsError(
    'E_WAIT_TIMEOUT',
    `${resolved.name} did not accept connections within ${formatDuration(options.timeoutMs)}: ${reason}`,
    {
      hint: 'check that the database service started and that the URL points at it, or raise --timeout',
      cause: lastError,
    },
  )
}
