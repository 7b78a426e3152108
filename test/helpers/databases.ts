// Helpers shared by integration and e2e tests: throwaway PostgreSQL databases, temp dirs / SQLite URLs,
// one-shot queries, and running the built CLI (bin/dbops.js) as a child process.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterAll, beforeAll, inject } from 'vitest'
import type {} from './global-setup.js' // ProvidedContext['pgUrl']

export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres'

/** Repository root (this file is <repo>/test/helpers/databases.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
/** The CLI entry point the tests spawn. Needs `npm run build` first. */
export const CLI_BIN = path.join(REPO_ROOT, 'bin', 'dbops.js')

// ---------------------------------------------------------------------------------------------- PostgreSQL

/** URL of the server the suite runs against (from the global setup; env var / default as fallback). */
export function pgServerUrl(): string {
  let provided: string | undefined
  try {
    provided = inject('pgUrl')
  } catch {
    // not inside a vitest worker
  }
  return provided || process.env.DBOPS_TEST_PG_URL || DEFAULT_PG_URL
}

/** `url` with its database name replaced by `database`. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${encodeURIComponent(database)}`
  return u.toString()
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/** Opens a client, runs one query, closes; returns the rows. */
export async function pgQuery<R extends Record<string, any> = Record<string, any>>(
  url: string,
  sql: string,
  params?: unknown[],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 })
  client.on('error', () => {})
  await client.connect()
  try {
    const res = await client.query<R>(sql, params as any[] | undefined)
    return res.rows
  } finally {
    await client.end().catch(() => {})
  }
}

export interface PgDatabase {
  url: string
  name: string
  /** DROP DATABASE IF EXISTS ... WITH (FORCE); safe to call more than once. */
  drop(): Promise<void>
}

/** Creates a uniquely named database (`<prefix>_<pid>_<random>`) on the test server. */
export async function createPgDatabase(prefix = 'dbops_test'): Promise<PgDatabase> {
  if (!/^[a-z_][a-z0-9_]*$/.test(prefix) || prefix.length > 40) {
    throw new Error(`createPgDatabase: prefix must be a short lower-case identifier, got ${JSON.stringify(prefix)}`)
  }
  const server = pgServerUrl()
  const name = `${prefix}_${process.pid}_${randomBytes(5).toString('hex')}`
  // Concurrent CREATE DATABASE from other test files can briefly find template1 in use (SQLSTATE 55006): retry.
  for (let attempt = 1; ; attempt++) {
    try {
      await pgQuery(server, `CREATE DATABASE ${quoteIdent(name)}`)
      break
    } catch (err) {
      if ((err as { code?: string }).code !== '55006' || attempt >= 10) throw err
      await new Promise((r) => setTimeout(r, 100 * attempt))
    }
  }
  return {
    name,
    url: withDatabase(server, name),
    async drop() {
      await pgQuery(server, `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`)
    },
  }
}

/**
 * A new database holding `items` (id, name, payload) with `rows` rows, for the backup e2e tests: md5 text barely
 * compresses, so a plain dump of 400k rows is ~30 MB.
 */
export async function createPgItemsDatabase(prefix: string, rows: number): Promise<PgDatabase> {
  const database = await createPgDatabase(prefix)
  await pgQuery(
    database.url,
    `CREATE TABLE items (id serial PRIMARY KEY, name text, payload text);
    INSERT INTO items (name, payload) SELECT 'item ' || i, md5(i::text) || md5((i * 7)::text) FROM generate_series(1, ${rows}) AS i`,
  )
  return database
}

/**
 * Creates a database in beforeAll and drops it in afterAll of the enclosing describe (or file).
 * Read `.url` / `.name` inside tests or hooks, not at collection time.
 */
export function usePgDatabase(prefix?: string): { readonly url: string; readonly name: string } {
  let db: PgDatabase | undefined
  beforeAll(async () => {
    db = await createPgDatabase(prefix)
  })
  afterAll(async () => {
    await db?.drop()
    db = undefined
  })
  const get = () => {
    if (!db) throw new Error('usePgDatabase(): database not created yet; read .url inside a test or hook')
    return db
  }
  return {
    get url() {
      return get().url
    },
    get name() {
      return get().name
    },
  }
}

// ----------------------------------------------------------------------------------------- temp dirs, SQLite

const madeDirs: string[] = []
// Every tempDir() is removed after the test file that made it, whether or not the test removes it itself.
afterAll(() => {
  for (const dir of madeDirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** A new directory under os.tmpdir(), removed after the test file (earlier by the caller, or use useTempDir()). */
export function tempDir(prefix = 'dbops-test'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `${prefix}-`))
  madeDirs.push(dir)
  return dir
}

/**
 * tempDir() holding `files` (paths relative to it, folders made as needed; a path ending in / is an empty folder),
 * removed after the test file like tempDir's.
 */
export function tempTree(files: Record<string, string>, prefix = 'dbops-test'): string {
  const dir = tempDir(prefix)
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(dir, name)
    if (name.endsWith('/')) mkdirSync(file, { recursive: true })
    else {
      mkdirSync(path.dirname(file), { recursive: true })
      writeFileSync(file, text)
    }
  }
  return dir
}

/** tempDir() created in beforeAll and removed in afterAll; read `.path` inside tests or hooks. */
export function useTempDir(prefix?: string): { readonly path: string } {
  let dir: string | undefined
  beforeAll(() => {
    dir = tempDir(prefix)
  })
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true })
    dir = undefined
  })
  return {
    get path() {
      if (!dir) throw new Error('useTempDir(): directory not created yet; read .path inside a test or hook')
      return dir
    },
  }
}

/** Whether this process may bind-mount (root with CAP_SYS_ADMIN): read-only storage for fault tests. */
export function canBindMount(): boolean {
  if (process.getuid?.() !== 0) return false
  const probe = tempDir('dbops-mount-probe')
  try {
    execFileSync('mount', ['--bind', probe, probe], { stdio: 'ignore' })
    execFileSync('umount', [probe], { stdio: 'ignore' })
    return true
  } catch {
    return false
  } finally {
    rmSync(probe, { recursive: true, force: true })
  }
}

/** `sqlite:<absolute path>` for a database file in `dir`. */
export function sqliteUrl(dir: string, name = 'test.db'): string {
  return `sqlite:${path.resolve(dir, name)}`
}

// ------------------------------------------------------------------------------------------------------ CLI

export interface CliOptions {
  cwd?: string
  /** Merged over process.env (plus NO_COLOR=1, FORCE_COLOR removed); `undefined` deletes a variable. */
  env?: Record<string, string | undefined>
  /** Written to stdin, which is then closed (stdin is always closed, so prompts never hang). */
  input?: string
  /** runCli: SIGKILL the process after this long (default 45 s, under the 60 s test timeout). */
  timeoutMs?: number
  /** Run as this user (root only), e.g. nobodyUser(): for a folder this user may not write, which root always may. */
  user?: { uid: number; gid: number }
}

/** nobody:nogroup's ids, when this process is root and they exist: to run the CLI as a user without privileges. */
export function nobodyUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  const uid = Number(spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout.trim())
  const gid = Number(spawnSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).stdout.trim())
  return uid > 0 && gid > 0 ? { uid, gid } : undefined
}

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

function cliEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', DBOPS_TEST_PG_URL: pgServerUrl() }
  delete env.FORCE_COLOR // chalk honours FORCE_COLOR over everything; output under test must be plain
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[key]
    else env[key] = value
  }
  return env
}

/** Spawns `node bin/dbops.js ...args` with piped stdio; for fault tests (e.g. child.kill('SIGKILL')). */
export function spawnCli(args: string[], opts: CliOptions = {}): ChildProcess {
  const child = spawn(process.execPath, [CLI_BIN, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: cliEnv(opts.env),
    stdio: ['pipe', 'pipe', 'pipe'],
    ...opts.user,
  })
  child.stdin?.on('error', () => {}) // EPIPE if the child exits before reading its input
  child.stdin?.end(opts.input ?? '')
  return child
}

/** Runs the CLI to completion and collects its output. Never throws on a non-zero exit. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const child = spawnCli(args, opts)
  return collect(child, opts.timeoutMs ?? 45_000)
}

/** Waits for a spawned CLI (spawnCli) to exit and returns its output (attach before it produces much output). */
export function waitForExit(child: ChildProcess, timeoutMs = 45_000): Promise<CliResult> {
  return collect(child, timeoutMs)
}

function collect(child: ChildProcess, timeoutMs: number): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    let stdout = ''
    let stderr = ''
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

/** Resolves with the accumulated stdout once it matches `pattern` (rejects on exit or timeout). */
export function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = ''
    const done = (fn: () => void) => {
      clearTimeout(timer)
      child.stdout?.off('data', onData)
      child.off('close', onClose)
      fn()
    }
    const onData = (d: Buffer | string) => {
      seen += d.toString()
      if (pattern.test(seen)) done(() => resolve(seen))
    }
    const onClose = (code: number | null) =>
      done(() => reject(new Error(`CLI exited (${code}) before printing ${pattern}; stdout:\n${seen}`)))
    const timer = setTimeout(
      () => done(() => reject(new Error(`timed out waiting for ${pattern}; stdout:\n${seen}`))),
      timeoutMs,
    )
    child.stdout?.on('data', onData)
    child.on('close', onClose)
  })
}
