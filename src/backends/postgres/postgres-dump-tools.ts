import { execFile } from 'node:child_process'
import { closeSync, existsSync, openSync, readdirSync, readSync, realpathSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { parse as parsePgUrl } from 'pg-connection-string'
import { DbopsError } from '../../errors.js'
import { libpqConnectionEnvironment } from './postgres-connection.js'

export type PgTool = 'pg_dump' | 'pg_restore' | 'psql'

export interface FoundTool {
  path: string
  /** As printed by `--version`, e.g. `15.20`. */
  version: string
  major: number
}

/**
 * Where PostgreSQL client programs are installed besides PATH (Debian/Ubuntu, RHEL, Homebrew, Postgres.app).
 * DBOPS_PG_INSTALL_DIRS (a PATH-style list, `*` allowed in the last-but-one part) replaces the list.
 */
const INSTALL_DIRS = [
  '/usr/lib/postgresql/*/bin',
  '/usr/pgsql-*/bin',
  '/opt/homebrew/opt/postgresql@*/bin',
  '/usr/local/opt/postgresql@*/bin',
  '/Applications/Postgres.app/Contents/Versions/*/bin',
]

const versions = new Map<string, Promise<FoundTool | undefined>>()

/**
 * A `tool` whose major version is at least `minMajor` (the server's: pg_dump refuses a newer server, and the
 * "server version mismatch" is the failure cron and CI backup scripts report most). PGBINDIR, when set, is the only
 * place looked at; otherwise PATH and the usual install folders, and the newest suitable one wins. Fails before any
 * work starts, naming both versions.
 */
export async function findPgTool(tool: PgTool, minMajor: number, why: string): Promise<FoundTool> {
  const explicit = process.env.PGBINDIR
  const candidates = explicit ? [join(explicit, tool)] : candidatePaths(tool)
  // Programs first; wrapper scripts (Debian's pg_wrapper starts Perl) are only run when no program will do.
  const programs = candidates.filter((path) => !isScript(path))
  let found = (await Promise.all(programs.map(probe))).filter((entry): entry is FoundTool => entry !== undefined)
  let suitable = found.filter((entry) => entry.major >= minMajor).sort((a, b) => b.major - a.major)
  if (!suitable[0]) {
    const scripts = (await Promise.all(candidates.filter((path) => isScript(path)).map(probe))).filter(
      (entry): entry is FoundTool => entry !== undefined,
    )
    found = [...found, ...scripts]
    suitable = scripts.filter((entry) => entry.major >= minMajor).sort((a, b) => b.major - a.major)
  }
  if (suitable[0]) return suitable[0]
  const where = explicit ? `PGBINDIR (${explicit})` : `PATH and ${installDirs().join(', ')}`
  if (found.length === 0) {
    throw new DbopsError('E_PG_TOOL_MISSING', `${tool} was not found in ${where}`, {
      hint: `install the PostgreSQL ${minMajor} client programs (e.g. postgresql-client-${minMajor}), or set PGBINDIR to their bin folder`,
    })
  }
  const newest = found.sort((a, b) => b.major - a.major)[0]!
  throw new DbopsError(
    'E_PG_TOOL_VERSION',
    `${tool} ${newest.version} (${newest.path}) is older than ${why} (PostgreSQL ${minMajor}): ${tool} ${minMajor} or newer is needed`,
    {
      hint: `install postgresql-client-${minMajor} (or newer), or set PGBINDIR to the bin folder of PostgreSQL ${minMajor}+`,
      details: { tool, found: found.map(({ path, version }) => ({ path, version })), needMajor: minMajor },
    },
  )
}

/** Starts asking the candidate programs for their versions (cached), so a later findPgTool does not wait for it. */
export async function warmPgTool(tool: PgTool): Promise<void> {
  if (process.env.PGBINDIR) await probe(join(process.env.PGBINDIR, tool))
  else
    await Promise.all(
      candidatePaths(tool)
        .filter((path) => !isScript(path))
        .map(probe),
    )
}

function isScript(path: string): boolean {
  try {
    const fd = openSync(path, 'r')
    try {
      const head = Buffer.alloc(2)
      readSync(fd, head, 0, 2, 0)
      return head.toString() === '#!'
    } finally {
      closeSync(fd)
    }
  } catch {
    return false
  }
}

function installDirs(): string[] {
  const configured = process.env.DBOPS_PG_INSTALL_DIRS
  return configured === undefined ? INSTALL_DIRS : configured.split(delimiter).filter(Boolean)
}

function candidatePaths(tool: PgTool): string[] {
  const paths = new Set<string>()
  for (const dir of (process.env.PATH ?? '').split(delimiter))
    if (dir && existsSync(join(dir, tool))) paths.add(join(dir, tool))
  for (const pattern of installDirs()) {
    const star = pattern.indexOf('*')
    if (star === -1) {
      if (existsSync(join(pattern, tool))) paths.add(join(pattern, tool))
      continue
    }
    const parent = pattern.slice(0, pattern.lastIndexOf('/', star))
    const [prefix, suffix] = pattern.slice(parent.length + 1).split('*') as [string, string]
    let names: string[] = []
    try {
      names = readdirSync(parent)
    } catch {
      continue
    }
    for (const name of names) {
      if (!name.startsWith(prefix)) continue
      const dir = join(parent, name) + (suffix.startsWith('/') ? suffix : `/${suffix}`)
      if (existsSync(join(dir, tool))) paths.add(join(dir, tool))
    }
  }
  // /bin and /usr/bin are often the same folder: one probe per real file.
  const real = new Map<string, string>()
  for (const path of paths) {
    try {
      const key = realpathSync(path)
      if (!real.has(key)) real.set(key, path)
    } catch {
      // Dangling link: not a candidate.
    }
  }
  return [...real.values()]
}

function probe(path: string): Promise<FoundTool | undefined> {
  let pending = versions.get(path)
  if (!pending) {
    pending = (async () => {
      const result = await printedVersion(path)
      // "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)", "pg_dump (PostgreSQL) 9.6.24"
      const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(result.stdout)
      if (!result.ok || !match) return undefined
      const major = Number(match[1]) >= 10 ? Number(match[1]) : Number(`${match[1]}.${match[2] ?? 0}`)
      const version = [match[1], match[2], match[3]].filter((part) => part !== undefined).join('.')
      return { path, version, major }
    })().catch(() => undefined)
    versions.set(path, pending)
  }
  return pending
}

/**
 * What `<path> --version` prints. node:child_process rather than execa: this runs at the start of every backup,
 * where loading execa alone cost tens of milliseconds before the first byte was dumped.
 */
function printedVersion(path: string): Promise<{ ok: boolean; stdout: string }> {
  return new Promise((resolve) => {
    execFile(path, ['--version'], { timeout: 10_000, encoding: 'utf8' }, (error, stdout) =>
      resolve({ ok: error === null, stdout }),
    ).stdin?.end()
  })
}

/**
 * The environment of a client program: dbops' own, without the cloud credentials it may hold for a bucket
 * (AWS_*): pg_dump and pg_restore have no use for them, and a child's environment is readable by more tools.
 */
export function toolEnvironment(): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env))
    if (value !== undefined && !/^AWS_/i.test(key)) env[key] = value
  return env
}

/**
 * The environment a libpq program needs to reach the database of `url`: the password travels in PGPASSWORD, never
 * on the command line (`ps` shows arguments to every user on the machine). Inherited PG* connection variables are
 * dropped so they cannot redirect the child somewhere else than the URL says.
 */
export function libpqEnvironment(
  url: string,
  overrides: { database?: string; applicationName?: string } = {},
): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(toolEnvironment())) {
    if (
      /^PG(HOST|HOSTADDR|PORT|DATABASE|USER|PASSWORD|SERVICE|SERVICEFILE|OPTIONS|APPNAME|SSL.*|TARGETSESSIONATTRS|CONNECT_TIMEOUT|REQUIRESSL|GSSENCMODE|CHANNELBINDING)$/.test(
        key,
      )
    )
      continue
    env[key] = value
  }
  const withoutFileParams = url.replace(/([?&])(sslcert|sslkey|sslrootcert|sslmode)=[^&]*/g, '$1').replace(/[?&]+$/, '')
  const parsed = parsePgUrl(withoutFileParams)
  const set = (key: string, value: unknown) => {
    if (value !== undefined && value !== null && value !== '') env[key] = String(value)
  }
  set('PGHOST', parsed.host)
  set('PGPORT', parsed.port)
  set('PGUSER', parsed.user)
  set('PGPASSWORD', parsed.password)
  set('PGDATABASE', overrides.database ?? parsed.database)
  set('PGOPTIONS', parsed.options)
  set('PGAPPNAME', overrides.applicationName ?? parsed.application_name)
  // sslmode, certificates and connect_timeout exactly as dbops' own connection reads them (URL, then PG* variables).
  Object.assign(env, libpqConnectionEnvironment(url))
  return env
}

/** `dbname='...'` for --dbname: a conninfo string, so a database named like a URL or `a=b` is taken literally. */
export function dbnameArgument(database: string): string {
  return `dbname='${database.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

/** The major version of a `server_version_num` (150020 → 15, 90624 → 9.6). */
export function majorOf(versionNum: number): number {
  return versionNum >= 100_000
    ? Math.floor(versionNum / 10_000)
    : Math.floor(versionNum / 10_000) + (Math.floor(versionNum / 100) % 100) / 10
}
