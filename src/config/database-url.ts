import { isAbsolute, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse as parsePgUrl } from 'pg-connection-string'

/** Where a target's database lives, decided from its URL scheme alone (no connection is made). */
export type DatabaseLocation =
  | { engine: 'postgres'; url: string } // the connection string, passed to pg as is
  | { engine: 'sqlite'; path: string } // absolute file path, or ':memory:'

const SCHEMES = 'use postgres://, postgresql://, sqlite: or file:'
const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify']
// pg-connection-string reads these files from disk while parsing; validation must not, and must not fail on a
// target whose certificates only exist on the machine that deploys it.
const FILE_PARAMS = ['sslcert', 'sslkey', 'sslrootcert']

/**
 * Reads a database URL. Relative SQLite paths are resolved against `baseDir` (the config file's directory, or the
 * working directory without one). Throws a plain Error naming the problem; the message never repeats the URL, so it
 * cannot leak a password.
 *
 * PostgreSQL: `postgres://` or `postgresql://` with user, password, host (a unix socket directory either as
 * `?host=/var/run/postgresql` or percent-encoded as the host), port, database and query parameters such as
 * `sslmode` and `application_name`. SQLite: `sqlite:./app.db`, `sqlite:app.db`, `sqlite:///abs/app.db`,
 * `sqlite::memory:`, `file:./app.db`, `file:///abs/app.db`; `sqlite3:` is an alias of `sqlite:`.
 */
export function parseDatabaseUrl(url: string, baseDir: string): DatabaseLocation {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase()
  if (scheme === undefined) throw new Error(`missing scheme (${SCHEMES})`)
  if (scheme === 'postgres' || scheme === 'postgresql') return { engine: 'postgres', url: checkPostgresUrl(url) }
  if (scheme === 'sqlite' || scheme === 'sqlite3' || scheme === 'file') {
    return { engine: 'sqlite', path: sqlitePath(url, scheme, baseDir) }
  }
  throw new Error(`unsupported scheme "${scheme}" (${SCHEMES})`)
}

function checkPostgresUrl(url: string): string {
  if (!url.slice(url.indexOf(':') + 1).startsWith('//')) {
    throw new Error('a PostgreSQL URL starts with postgres:// (e.g. postgres://user@localhost:5432/app)')
  }
  const { query } = splitQuery(url)
  const params = new URLSearchParams(query)
  const sslmode = params.get('sslmode')
  if (sslmode !== null && !SSL_MODES.includes(sslmode)) {
    throw new Error(`unknown sslmode "${sslmode}" (use ${SSL_MODES.join(', ')})`)
  }
  const timeout = params.get('connect_timeout')
  if (timeout !== null && !/^\s*[+-]?\d+\s*$/.test(timeout))
    throw new Error(`invalid connect_timeout "${timeout}" (a whole number of seconds; 0 waits forever)`)
  const port = params.get('port')
  if (port !== null && !isPort(port)) throw new Error(`invalid port "${port}"`)

  try {
    // sslmode is checked above; leaving it out here also avoids pg's one-time deprecation warning at config time.
    parsePgUrl(withoutParams(url, [...FILE_PARAMS, 'sslmode']))
  } catch {
    // The URL constructor only says "Invalid URL". The port is never echoed: when a password holds an unencoded
    // '/', what looks like the port is part of the password.
    const authorityPort = /^[^:]+:\/\/(?:[^@/?#]*@)?[^:/?#]*:([^/?#]*)/.exec(url)?.[1]
    if (authorityPort !== undefined && authorityPort !== '' && !isPort(authorityPort)) {
      throw new Error(
        'invalid port in URL (must be a number from 1 to 65535; percent-encode "/", "@", ":" and "#" in a password)',
      )
    }
    throw new Error('invalid PostgreSQL URL (expected postgres://user:password@host:5432/database)')
  }
  return url
}

function isPort(text: string): boolean {
  return /^\d{1,5}$/.test(text) && Number(text) >= 1 && Number(text) <= 65535
}

function sqlitePath(url: string, scheme: string, baseDir: string): string {
  const rest = url.slice(scheme.length + 1)
  if (rest.includes('?')) throw new Error('SQLite URLs take no query parameters')
  let path: string
  if (scheme === 'file' && rest.startsWith('//')) {
    try {
      path = fileURLToPath(url)
    } catch (error) {
      throw new Error(`invalid file URL: ${(error as Error).message}`)
    }
  } else {
    // `sqlite:///abs.db` is absolute; `sqlite://dev.db` is read as the relative path it was almost certainly meant to be.
    path = decode(rest.startsWith('//') ? rest.slice(2) : rest)
  }
  if (path === ':memory:') return path
  if (path === '') throw new Error('no database file path (e.g. sqlite:./dev.db, or sqlite::memory:)')
  return isAbsolute(path) ? path : resolve(baseDir, path)
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** The database as output names it: a SQLite file's absolute path, or the URL with its password redacted. */
export function describeDatabase(location: DatabaseLocation, url: string): string {
  return location.engine === 'sqlite' ? location.path : redactUrl(url)
}

/**
 * Replaces passwords with `***`: the password in the userinfo (`postgres://user:***@host/db`) and `password=...`
 * in the query string. Never throws; on text that is not a valid URL it does its best, erring towards hiding more.
 */
export function redactUrl(url: string): string {
  const span = userinfoPassword(url)
  const text = span ? url.slice(0, span.start) + '***' + url.slice(span.end) : url
  return text.replace(/(password=)[^&\s]*/gi, '$1***')
}

/** The passwords a URL carries, as written (percent-encoded or not): in the userinfo and in `password=`. */
export function urlPasswords(url: string): string[] {
  const span = userinfoPassword(url)
  const query = [...url.matchAll(/[?&]password=([^&#\s]*)/gi)].map((match) => match[1]!)
  return [...(span ? [url.slice(span.start, span.end)] : []), ...query].filter((password) => password !== '')
}

/** Where the userinfo password is. It may contain unencoded '@', '/' or ':': the last '@' before the query ends it. */
function userinfoPassword(url: string): { start: number; end: number } | undefined {
  const schemeEnd = url.indexOf('://')
  if (schemeEnd === -1) return undefined
  const authorityStart = schemeEnd + 3
  const rest = url.slice(authorityStart)
  const queryStart = rest.indexOf('?')
  let at = (queryStart === -1 ? rest : rest.slice(0, queryStart)).lastIndexOf('@')
  if (at === -1) at = rest.lastIndexOf('@')
  const colon = at === -1 ? -1 : rest.slice(0, at).indexOf(':')
  return colon === -1 ? undefined : { start: authorityStart + colon + 1, end: authorityStart + at }
}

/** Redacts every URL password and `password=` value in free text, such as a loader's error message. */
export function redactSecrets(text: string): string {
  return text
    .replace(/([A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s:/?#@]*:)[^\s@]*@/g, '$1***@')
    .replace(/(password=)[^&\s]*/gi, '$1***')
}

function splitQuery(url: string): { base: string; query: string } {
  const index = url.indexOf('?')
  return index === -1 ? { base: url, query: '' } : { base: url.slice(0, index), query: url.slice(index + 1) }
}

function withoutParams(url: string, names: string[]): string {
  const { base, query } = splitQuery(url)
  if (query === '') return url
  const kept = query.split('&').filter((pair) => !names.includes(pair.split('=')[0] ?? ''))
  return kept.length === 0 ? base : `${base}?${kept.join('&')}`
}

/**
 * The default backup folder name of a database without a config file: the PostgreSQL database name or the SQLite
 * file's stem, so two `--url`s never share `backups/default`. Only characters safe in a folder name are kept.
 */
export function databaseFolderName(location: DatabaseLocation): string {
  let name: string
  if (location.engine === 'sqlite') {
    name =
      location.path === ':memory:'
        ? 'memory'
        : location.path
            .split(/[\\/]/)
            .pop()!
            .replace(/\.[^.]*$/, '')
  } else {
    const parsed = parsePgUrl(location.url.replace(/([?&])(sslcert|sslkey|sslrootcert|sslmode)=[^&]*/g, '$1'))
    name = parsed.database ?? parsed.user ?? 'postgres'
  }
  return name.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\.+/, '_') || 'default'
}
