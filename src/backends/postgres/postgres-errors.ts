import { DbopsError } from '../../errors.js'
import { formatDuration } from '../../output/format.js'

interface PgError extends Error {
  code?: string
  position?: string
  detail?: string
  hint?: string
}

/** Turns what pg throws while connecting into a one-line DbopsError that names the server (redacted). */
export function connectionError(
  error: unknown,
  redactedUrl: string,
  settings?: { timeoutMs: number; timeoutSetting: string; sslmode: string },
): DbopsError {
  if (error instanceof DbopsError) return error
  const pgError = error as PgError
  const reason = pgError?.message ?? String(error)
  if (reason === 'timeout expired' && settings) {
    return new DbopsError(
      'E_CONNECTION',
      `cannot connect to ${redactedUrl}: no answer within ${formatDuration(settings.timeoutMs)} (${settings.timeoutSetting})`,
      {
        hint: 'check that host and port point at a PostgreSQL server; if it is just slow, raise connect_timeout in the URL or PGCONNECT_TIMEOUT (seconds)',
        cause: error,
      },
    )
  }
  if (reason === 'The server does not support SSL connections' && settings) {
    return new DbopsError(
      'E_CONNECTION',
      `cannot connect to ${redactedUrl}: the server does not support TLS, and sslmode=${settings.sslmode} requires it`,
      {
        hint: 'turn ssl on in the server, or use sslmode=prefer (or disable) in the URL',
        cause: error,
      },
    )
  }
  switch (pgError?.code) {
    case '28P01':
    case '28000':
      return new DbopsError('E_AUTH', `authentication failed for ${redactedUrl}: ${reason}`, {
        hint: 'check the user and password in the URL (or PGPASSWORD / ~/.pgpass)',
        cause: error,
      })
    case '3D000':
      return new DbopsError('E_CONNECTION', `cannot connect to ${redactedUrl}: ${reason}`, {
        hint: 'create the database first (e.g. createdb), or fix the database name in the URL',
        cause: error,
      })
    default:
      return new DbopsError('E_CONNECTION', `cannot connect to ${redactedUrl}: ${describeNetworkError(pgError)}`, {
        hint: 'check that the server is running and that host, port and sslmode are right',
        cause: error,
      })
  }
}

function describeNetworkError(error: PgError & { errno?: string; address?: string }): string {
  switch (error?.code) {
    case 'ECONNREFUSED':
      return 'connection refused'
    case 'ENOTFOUND':
      return 'host not found'
    case 'ETIMEDOUT':
      return 'connection timed out'
    case 'ENOENT':
      return 'no server socket at that path'
    default:
      return error?.message || String(error)
  }
}

/** A query error that is about the connection itself (server gone, backend terminated). */
export function isConnectionLoss(error: unknown): boolean {
  const pgError = error as PgError
  if (pgError?.code && /^(57P0[1-3]|08)/.test(pgError.code)) return true
  return /Connection terminated|ECONNRESET|EPIPE|not queryable/i.test(pgError?.message ?? '')
}

export function sqlstateOf(error: unknown): string | undefined {
  const code = (error as PgError)?.code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}
