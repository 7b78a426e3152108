import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { ConnectionOptions } from 'node:tls'
import pg from 'pg'
import { parse as parsePgUrl } from 'pg-connection-string'
import { DbopsError } from '../../errors.js'

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full'

/**
 * The libpq connection settings dbops honours, as libpq reads them: the URL's query string first, then the PG*
 * environment variables, then the defaults (sslmode prefer; connect_timeout 10 s, where libpq waits forever).
 * The same settings reach node-postgres (`pgClientSsl`, `connectTimeoutMs`) and pg_dump/pg_restore/psql
 * (`libpqConnectionEnvironment`), so a URL means the same to both.
 * https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-PARAMKEYWORDS
 */
export interface LibpqSettings {
  sslmode: SslMode
  /** A file, or "system" (the platform's trusted CAs). Unset: ~/.postgresql/root.crt when it exists. */
  sslrootcert?: string
  sslcert?: string
  sslkey?: string
  /** Seconds; 0 waits forever. */
  connectTimeoutSeconds: number
  /** Where connectTimeoutSeconds came from, for the timeout error. */
  connectTimeoutSource: 'connect_timeout' | 'PGCONNECT_TIMEOUT' | 'the default'
}

export const DEFAULT_CONNECT_TIMEOUT_SECONDS = 10
const SSL_MODES: readonly string[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']
/** Query parameters dbops interprets itself; node-postgres must not see them (it reads sslmode differently and warns). */
const LIBPQ_PARAMS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'connect_timeout', 'uselibpqcompat']

export function libpqSettings(url: string, env: NodeJS.ProcessEnv = process.env): LibpqSettings {
  const query = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '')
  const pick = (param: string, variable: string) => {
    const value = query.get(param) ?? env[variable]
    return value === undefined || value === '' ? undefined : value
  }
  let sslmode = pick('sslmode', 'PGSSLMODE') ?? 'prefer'
  // node-postgres' no-verify is libpq's require (encrypt, do not check the certificate).
  if (sslmode === 'no-verify') sslmode = 'require'
  if (!SSL_MODES.includes(sslmode)) {
    throw new DbopsError('E_CONFIG', `invalid sslmode "${sslmode}"${query.has('sslmode') ? '' : ' in PGSSLMODE'}`, {
      hint: `use one of ${SSL_MODES.join(', ')}`,
    })
  }
  const fromUrl = query.get('connect_timeout')
  const source = fromUrl !== null ? 'connect_timeout' : env.PGCONNECT_TIMEOUT ? 'PGCONNECT_TIMEOUT' : 'the default'
  const settings: LibpqSettings = {
    sslmode: sslmode as SslMode,
    connectTimeoutSeconds:
      source === 'the default'
        ? DEFAULT_CONNECT_TIMEOUT_SECONDS
        : parseConnectTimeout(fromUrl ?? env.PGCONNECT_TIMEOUT!, source),
    connectTimeoutSource: source,
  }
  const rootcert = pick('sslrootcert', 'PGSSLROOTCERT')
  const cert = pick('sslcert', 'PGSSLCERT')
  const key = pick('sslkey', 'PGSSLKEY')
  if (rootcert !== undefined) settings.sslrootcert = rootcert
  if (cert !== undefined) settings.sslcert = cert
  if (key !== undefined) settings.sslkey = key
  return settings
}

/**
 * libpq's reading of connect_timeout: a whole number of seconds; zero or less waits forever; 1 counts as 2, since
 * rounding could otherwise fail a connection almost at once.
 */
export function parseConnectTimeout(text: string, source: string): number {
  const trimmed = text.trim()
  if (!/^[+-]?\d+$/.test(trimmed)) {
    throw new DbopsError('E_CONFIG', `invalid ${source} "${text}": a whole number of seconds`, {
      hint: 'e.g. ?connect_timeout=10 (0 waits forever)',
    })
  }
  const seconds = Number(trimmed)
  return seconds <= 0 ? 0 : Math.max(2, seconds)
}

/** The connection timeout for node-postgres in ms (0: none), capped by a command's own deadline. */
export function connectTimeoutMs(settings: LibpqSettings, deadlineMs?: number): number {
  const own = settings.connectTimeoutSeconds * 1000
  if (deadlineMs === undefined) return own
  return own === 0 ? deadlineMs : Math.min(own, deadlineMs)
}

/** The URL without the parameters dbops interprets itself (node-postgres would read sslmode its own way and warn). */
export function withoutLibpqParams(url: string): string {
  const index = url.indexOf('?')
  if (index === -1) return url
  const kept = url
    .slice(index + 1)
    .split('&')
    .filter((pair) => !LIBPQ_PARAMS.includes(decodeURIComponent(pair.split('=')[0] ?? '')))
  return kept.length === 0 ? url.slice(0, index) : `${url.slice(0, index)}?${kept.join('&')}`
}

/**
 * node-postgres' `ssl` for the first attempt: false (plaintext) or Node TLS options. `prefer` and `allow` get a
 * second attempt the other way (`fallbackSsl`). As in libpq, `require` and `prefer` verify the chain (not the host)
 * when a root certificate is given or ~/.postgresql/root.crt exists, and `verify-*` without one trust the system CAs.
 */
export function pgClientSsl(settings: LibpqSettings, home = homedir()): false | ConnectionOptions {
  if (settings.sslmode === 'disable' || settings.sslmode === 'allow') return false
  const rootcert = settings.sslrootcert ?? existingFile(join(home, '.postgresql', 'root.crt'))
  const options: ConnectionOptions = {}
  const cert = settings.sslcert ?? existingFile(join(home, '.postgresql', 'postgresql.crt'))
  const key = settings.sslkey ?? existingFile(join(home, '.postgresql', 'postgresql.key'))
  if (cert !== undefined && key !== undefined) {
    options.cert = readSslFile(cert, 'sslcert')
    options.key = readSslFile(key, 'sslkey')
  }
  const verifyFull = settings.sslmode === 'verify-full'
  if (rootcert === undefined && !settings.sslmode.startsWith('verify-'))
    return { ...options, rejectUnauthorized: false }
  if (rootcert !== undefined && rootcert !== 'system') options.ca = readSslFile(rootcert, 'sslrootcert')
  options.rejectUnauthorized = true
  if (!verifyFull) options.checkServerIdentity = () => undefined
  return options
}

/** The other way to try when the first attempt of `prefer` (TLS) or `allow` (plaintext) is refused; undefined: none. */
export function fallbackSsl(settings: LibpqSettings, error: unknown): false | ConnectionOptions | undefined {
  if (settings.sslmode === 'prefer' && isTlsRefusal(error)) return false
  // allow: the server refused the plaintext session (pg_hba.conf hostssl), so it wants TLS.
  if (
    settings.sslmode === 'allow' &&
    typeof (error as { code?: unknown })?.code === 'string' &&
    /^28/.test((error as { code: string }).code)
  ) {
    return { rejectUnauthorized: false }
  }
  return undefined
}

/**
 * Asks the CLI's and library's node-postgres (patched at build time, scripts/build.mjs) to go on in plaintext on the
 * same connection when the server refuses TLS, as libpq's prefer does; unpatched (tests on src/) it retries instead.
 */
const PLAINTEXT_IF_REFUSED = 'dbopsPlaintextIfRefused'

/**
 * A connected node-postgres client for `url` as libpq would connect (sslmode with its fallback, connect_timeout);
 * `config` adds or overrides the rest (application_name, another database). The only way dbops opens a session.
 */
export async function connectPgClient(
  url: string,
  config: Omit<pg.ClientConfig, 'connectionString' | 'ssl' | 'connectionTimeoutMillis'> = {},
  options: { settings?: LibpqSettings; deadlineMs?: number; onClient?: (client: pg.Client) => void } = {},
): Promise<pg.Client> {
  const settings = options.settings ?? libpqSettings(url)
  const open = async (ssl: false | ConnectionOptions) => {
    const client = new pg.Client({
      connectionString: withoutLibpqParams(url),
      ...config,
      connectionTimeoutMillis: connectTimeoutMs(settings, options.deadlineMs),
      ssl,
    })
    // An idle client whose server goes away emits 'error'; the next query reports it, so don't crash here.
    client.on('error', () => {})
    options.onClient?.(client)
    await client.connect()
    return client
  }
  // libpq never uses TLS on a Unix-domain socket, whatever sslmode says (the server does not offer it there).
  if (usesUnixSocket(url)) return open(false)
  const ssl = pgClientSsl(settings)
  try {
    return await open(
      ssl && settings.sslmode === 'prefer' ? ({ ...ssl, [PLAINTEXT_IF_REFUSED]: true } as ConnectionOptions) : ssl,
    )
  } catch (error) {
    const retry = fallbackSsl(settings, error)
    if (retry === undefined) throw error
    return open(retry)
  }
}

export function usesUnixSocket(url: string): boolean {
  try {
    return parsePgUrl(withoutLibpqParams(url)).host?.startsWith('/') === true
  } catch {
    return false
  }
}

function isTlsRefusal(error: unknown): boolean {
  const { message = '', code = '' } = (error ?? {}) as { message?: string; code?: string }
  return (
    message === 'The server does not support SSL connections' ||
    /^ERR_SSL|CERT|SELF_SIGNED|UNABLE_TO_/.test(String(code))
  )
}

/**
 * The same settings for libpq programs (pg_dump, pg_restore, psql), as environment variables: never as arguments,
 * which `ps` shows to every user. Only what was set explicitly is passed; libpq finds ~/.postgresql files itself.
 */
export function libpqConnectionEnvironment(url: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const settings = libpqSettings(url, env)
  return {
    PGCONNECT_TIMEOUT: String(settings.connectTimeoutSeconds),
    PGSSLMODE: settings.sslmode,
    ...(settings.sslrootcert !== undefined && { PGSSLROOTCERT: settings.sslrootcert }),
    ...(settings.sslcert !== undefined && { PGSSLCERT: settings.sslcert }),
    ...(settings.sslkey !== undefined && { PGSSLKEY: settings.sslkey }),
  }
}

function existingFile(path: string): string | undefined {
  return existsSync(path) ? path : undefined
}

function readSslFile(path: string, setting: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    throw new DbopsError(
      'E_CONFIG',
      `cannot read ${setting} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      {
        hint: `fix the ${setting} path in the URL (or PG${setting.toUpperCase()}), or make the file readable`,
        cause: error,
      },
    )
  }
}
