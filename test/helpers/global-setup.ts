// Vitest global setup: makes sure a PostgreSQL server is available to the whole suite.
//
// 1. Try DBOPS_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres): connect and `select 1`.
// 2. If that fails, start a throwaway cluster (initdb + pg_ctl) on a free port in a temp dir, and stop it
//    and remove the dir in teardown.
// 3. If neither works, throw: tests needing PostgreSQL must fail, never skip.
//
// The URL reaches test workers through `project.provide('pgUrl', url)` (read with `inject('pgUrl')`, see
// databases.ts) and through process.env.DBOPS_TEST_PG_URL, so spawned CLI processes inherit it too.
import { spawn, spawnSync } from 'node:child_process'
import { chownSync, writeFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string
  }
}

export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres'

export interface PgServer {
  url: string
  /** True when a throwaway cluster was started for this run. */
  started: boolean
  /** Data/socket directory of the throwaway cluster, if one was started. */
  dir?: string
  /** Stops the throwaway cluster and removes its directory (no-op for an external server). Idempotent. */
  stop(): Promise<void>
}

/** Connects, runs `select 1`, disconnects. Resolves to undefined on success, else the error. */
export async function probePg(url: string, timeoutMs = 3000): Promise<Error | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs })
  // A connection error after connect() resolved must not become an unhandled 'error' event.
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query('select 1')
    return undefined
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err))
  } finally {
    await client.end().catch(() => {})
  }
}

/** Directory holding initdb and pg_ctl: PATH first, then /usr/lib/postgresql/<version>/bin, highest version first. */
export function findPgBinDir(): string | undefined {
  const has = (dir: string) => existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'pg_ctl'))
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && has(dir)) return dir
  }
  const base = '/usr/lib/postgresql'
  let versions: string[] = []
  try {
    versions = readdirSync(base)
  } catch {
    return undefined
  }
  versions.sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a) || b.localeCompare(a))
  for (const v of versions) {
    const dir = path.join(base, v, 'bin')
    if (has(dir)) return dir
  }
  return undefined
}

/** Binds port 0 on 127.0.0.1, reads the port the OS chose, closes. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => (port ? resolve(port) : reject(new Error('could not pick a free port'))))
    })
  })
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0

/** initdb refuses to run as root: run cluster commands as the postgres user then. */
function command(bin: string, args: string[]): [string, string[]] {
  return isRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args]
}

function run(bin: string, args: string[], cwd: string, timeoutMs = 90_000): Promise<void> {
  const [cmd, argv] = command(bin, args)
  return new Promise((resolve, reject) => {
    // stdio must not be inherited by pg_ctl's postmaster, or vitest would wait on the pipe: log to a file instead
    // (pg_ctl -l) and only collect the short output of the command itself here.
    const child = spawn(cmd, argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', (err) => {
      clearTimeout(timer)
      reject(new Error(`${cmd} could not be started: ${err.message}`))
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve()
      else reject(new Error(`${[cmd, ...argv].join(' ')} failed (${signal ?? `exit ${code}`}):\n${out.trim()}`))
    })
  })
}

/**
 * Starts a throwaway cluster in a new temp dir on a free port. Throws (after cleaning up) if it cannot. With
 * `password`, the cluster requires SCRAM authentication and the postgres user has that password (the returned URL
 * carries it).
 */
export async function startThrowawayCluster(
  log: (msg: string) => void = () => {},
  options: {
    password?: string
    ssl?: { cert: string; key: string; ca?: string }
    hba?: string
    /** Server settings (`-c name=value`; values without spaces), e.g. { max_prepared_transactions: '2' }. */
    settings?: Record<string, string>
  } = {},
): Promise<PgServer> {
  const binDir = findPgBinDir()
  if (!binDir) throw new Error('initdb/pg_ctl not found on PATH nor under /usr/lib/postgresql/*/bin')
  const initdb = path.join(binDir, 'initdb')
  const pgCtl = path.join(binDir, 'pg_ctl')

  const dir = mkdtempSync(path.join(os.tmpdir(), 'dbops-pg-'))
  const dataDir = path.join(dir, 'data')
  const logFile = path.join(dir, 'server.log')
  let startedServer = false
  let stopped = false

  const stopSync = () => {
    if (stopped) return
    stopped = true
    if (startedServer) {
      const [cmd, argv] = command(pgCtl, ['-D', dataDir, 'stop', '-m', 'immediate', '-w'])
      spawnSync(cmd, argv, { cwd: dir, stdio: 'ignore', timeout: 30_000 })
    }
    rmSync(dir, { recursive: true, force: true })
  }
  // Safety net if vitest dies before teardown runs.
  process.once('exit', stopSync)

  try {
    if (isRoot()) {
      const pwd = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' })
      const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' })
      if (pwd.status !== 0 || gid.status !== 0) {
        throw new Error('running as root, but there is no "postgres" user to run initdb as')
      }
      chownSync(dir, Number(pwd.stdout.trim()), Number(gid.stdout.trim()))
    }
    const port = await freePort()
    log(`initdb in ${dataDir} (${binDir})`)
    const auth = ['-A', 'trust']
    if (options.password !== undefined) {
      const pwfile = path.join(dir, 'pwfile')
      writeFileSync(pwfile, `${options.password}\n`, { mode: 0o644 })
      auth.splice(0, 2, '-A', 'scram-sha-256', `--pwfile=${pwfile}`)
    }
    await run(initdb, ['-D', dataDir, ...auth, '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C'], dir)
    // TLS (ssl=on with the given certificate and key) and pg_hba.conf lines replacing initdb's, for connection tests.
    const owned = (file: string, text: string, mode: number) => {
      writeFileSync(file, text, { mode })
      if (isRoot()) {
        const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim())
        chownSync(file, id('-u'), id('-g'))
      }
    }
    if (options.ssl) {
      owned(path.join(dataDir, 'server.crt'), options.ssl.cert, 0o644)
      owned(path.join(dataDir, 'server.key'), options.ssl.key, 0o600)
      // The CA that client certificates must be signed by (for `hostssl ... cert` lines).
      if (options.ssl.ca !== undefined) owned(path.join(dataDir, 'root.crt'), options.ssl.ca, 0o644)
    }
    if (options.hba !== undefined) owned(path.join(dataDir, 'pg_hba.conf'), options.hba, 0o600)
    const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off${options.ssl ? ' -c ssl=on' : ''}${
      options.ssl?.ca !== undefined ? ' -c ssl_ca_file=root.crt' : ''
    }${Object.entries(options.settings ?? {})
      .map(([name, value]) => ` -c ${name}=${value}`)
      .join('')}`
    log(`pg_ctl start on port ${port}`)
    startedServer = true
    try {
      await run(pgCtl, ['-D', dataDir, '-l', logFile, '-o', opts, '-w', 'start'], dir)
    } catch (err) {
      let serverLog = ''
      try {
        serverLog = readFileSync(logFile, 'utf8').trim()
      } catch {}
      throw new Error(`${(err as Error).message}${serverLog ? `\nserver log:\n${serverLog}` : ''}`)
    }
    const credentials = options.password === undefined ? 'postgres' : `postgres:${encodeURIComponent(options.password)}`
    const url = `postgres://${credentials}@127.0.0.1:${port}/postgres`
    // With client certificates required over TCP, the probe comes in through the Unix socket.
    const probeUrl =
      options.ssl?.ca !== undefined
        ? `postgres://postgres@/postgres?host=${encodeURIComponent(dir)}&port=${port}`
        : options.ssl
          ? `${url}?sslmode=no-verify`
          : url
    const probe = await probePg(probeUrl, 10_000)
    if (probe) throw new Error(`throwaway cluster started but does not answer at ${url}: ${probe.message}`)
    return {
      url,
      started: true,
      dir,
      async stop() {
        if (stopped) return
        process.removeListener('exit', stopSync)
        stopped = true
        try {
          await run(pgCtl, ['-D', dataDir, 'stop', '-m', 'immediate', '-w'], dir, 30_000)
        } finally {
          rmSync(dir, { recursive: true, force: true })
        }
      },
    }
  } catch (err) {
    process.removeListener('exit', stopSync)
    stopSync()
    throw err
  }
}

/** The configured server if it answers, else a throwaway cluster; throws if neither is possible. */
export async function ensurePgServer(
  configuredUrl: string = process.env.DBOPS_TEST_PG_URL || DEFAULT_PG_URL,
  log: (msg: string) => void = (msg) => console.error(`[dbops test setup] ${msg}`),
): Promise<PgServer> {
  const probe = await probePg(configuredUrl)
  if (!probe) return { url: configuredUrl, started: false, async stop() {} }

  log(`PostgreSQL at ${redact(configuredUrl)} is not usable (${probe.message}); starting a throwaway cluster`)
  try {
    const server = await startThrowawayCluster(log)
    log(`throwaway cluster answering at ${server.url}`)
    return server
  } catch (err) {
    const ci = process.env.CI === 'true'
    throw new Error(
      [
        `No PostgreSQL server for the test suite${ci ? ' (CI=true: tests needing PostgreSQL must not be skipped)' : ''}.`,
        `  ${redact(configuredUrl)}: ${probe.message}`,
        `  throwaway cluster: ${(err as Error).message}`,
        'Point DBOPS_TEST_PG_URL at a server the tests may create and drop databases on, e.g.',
        '  DBOPS_TEST_PG_URL=postgres://postgres:secret@127.0.0.1:5432/postgres npm test',
        'or install the PostgreSQL server binaries (initdb, pg_ctl) so a throwaway cluster can be started.',
      ].join('\n'),
      { cause: err },
    )
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return url
  }
}

export default async function setup(project: Pick<TestProject, 'provide'>): Promise<() => Promise<void>> {
  const server = await ensurePgServer()
  project.provide('pgUrl', server.url)
  process.env.DBOPS_TEST_PG_URL = server.url
  return async () => {
    await server.stop()
  }
}
