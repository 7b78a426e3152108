import type { Target } from '../../targets/target.js'
import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough, type Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import type {
  ArtifactInput,
  BackupEngine,
  BackupFormat,
  DatabaseFacts,
  DatabaseIdentity,
  DumpOutcome,
  DumpRequest,
  DumpStream,
  RestoreOutcome,
  RestoreRequest,
  ScratchDatabase,
} from '../../backup/backup-engine.js'
import { DbopsError, UsageError } from '../../errors.js'
import { compareVersions } from '../../migrate/files.js'
import { pipeInBatches } from '../../processes.js'
import { quoteQualified } from '../../sql/query.js'
import { createScratchDatabase } from './postgres-scratch.js'
import { sizeOf } from '../../backup/manifest.js'
import { hashArtifact } from '../../backup/create-backup.js'
import { fsyncFile, fsyncFileInBackground } from '../../output/atomic-write.js'
import {
  dbnameArgument,
  findPgTool,
  libpqEnvironment,
  majorOf,
  toolEnvironment,
  warmPgTool,
  type FoundTool,
} from './postgres-dump-tools.js'

type Query = (text: string, parameters?: unknown[]) => Promise<Record<string, unknown>[]>

const EXTENSIONS: Record<string, string> = { custom: '.dump', directory: '.dir', plain: '.sql' }
/** pg_dump writes this line last; a plain dump without it was cut short. */
const PLAIN_TRAILER = '-- PostgreSQL database dump complete'

/**
 * Backups with pg_dump and restores with pg_restore/psql, each spawned with an argument array and the
 * connection (password included) in the environment. The ledger version is read in the snapshot pg_dump dumps
 * (pg_export_snapshot + --snapshot); row counts are read from the archive by `backup verify`, off the dump's path.
 */
export class PostgresBackupEngine implements BackupEngine {
  readonly formats: readonly BackupFormat[] = ['custom', 'directory', 'plain']
  readonly defaultFormat: BackupFormat = 'custom'

  #server(target: Target): Promise<{ version: string; major: number }> {
    let server = this.#servers.get(target.name)
    if (!server) {
      server = serverVersion(queryOf(target))
      this.#servers.set(target.name, server)
    }
    return server
  }

  extension(format: BackupFormat): string {
    return EXTENSIONS[format] ?? '.dump'
  }

  readonly #servers = new Map<string, Promise<{ version: string; major: number }>>()

  async preflight(target: Target): Promise<void> {
    // pg_dump's version is asked while the connection is made: both sit on the path to the first byte dumped.
    const [server] = await Promise.all([this.#server(target), warmPgTool('pg_dump')])
    await findPgTool('pg_dump', server.major, 'the server')
  }

  async dump(target: Target, request: DumpRequest): Promise<DumpOutcome> {
    // A single file is synced here rather than by pg_dump (--no-sync, pg_dump 10+), so that its fsync and the
    // caller's sha256 read of the same file overlap after pg_dump exits instead of following each other.
    const singleFile = request.format !== 'directory'
    const outcome = await this.#inSnapshot(
      target,
      request,
      (pgDump) => [`--file=${request.path}`, ...(singleFile && pgDump.major >= 10 ? ['--no-sync'] : [])],
      (run) =>
        run(() => {
          try {
            request.onProgress?.({ bytes: sizeOf(request.path), elapsedMs: 0 })
          } catch {
            // Not created yet.
          }
        }),
    )
    if (!singleFile) {
      // pg_dump 12+ fsyncs a directory's files before it exits; whatever an older pg_dump wrote is synced here.
      if (dumpMajor(outcome.tools) < 12) syncFolder(request.path)
      return outcome
    }
    const synced = fsyncFileInBackground(request.path)
    const [sha256] = await Promise.all([request.sha256 ? hashArtifact(request.path) : undefined, synced])
    return { ...outcome, ...(sha256 !== undefined && { sha256 }) }
  }

  streams(format: BackupFormat): boolean {
    return format === 'custom' || format === 'plain'
  }

  compressesItself(format: BackupFormat): boolean {
    return format === 'custom' || format === 'directory'
  }

  /** pg_dump writing to its stdout: the stream ends only after pg_dump exited 0, else it errors. */
  dumpStream(target: Target, request: Omit<DumpRequest, 'path'>): DumpStream {
    const stream = new PassThrough({ highWaterMark: 1 << 20 })
    // A reader that gives up (every upload failed) destroys the stream: pg_dump is stopped instead of blocking on a
    // full pipe.
    const stop = new AbortController()
    request.signal?.addEventListener('abort', () => stop.abort(), { once: true })
    stream.once('close', () => {
      if (!stream.writableFinished) stop.abort()
    })
    const outcome = this.#inSnapshot(
      target,
      { ...request, signal: stop.signal },
      () => [],
      (run) =>
        run(undefined, (stdout) => {
          // pg_dump's 4 KiB writes are taken in batches (see pipeInBatches); else piped as they come.
          if (!pipeInBatches(stdout, stream)) stdout.pipe(stream, { end: false })
        }),
    ).then(
      (result) => {
        stream.end()
        return result
      },
      (error: unknown) => {
        stream.destroy(error as Error)
        throw error
      },
    )
    outcome.catch(() => {})
    return { stream, outcome }
  }

  needsFile(format: BackupFormat, purpose: 'check' | 'restore', jobs: number): boolean {
    return format === 'directory' || (purpose === 'restore' && format === 'custom' && jobs > 1)
  }

  /** Runs pg_dump in an exported snapshot, and reads the ledger version in the same snapshot. */
  async #inSnapshot(
    target: Target,
    request: Omit<DumpRequest, 'path'>,
    output: (pgDump: FoundTool) => string[],
    start: (run: (onTick?: () => void, onStdout?: (stdout: Readable) => void) => Promise<void>) => Promise<void>,
  ): Promise<DumpOutcome> {
    const query = queryOf(target)
    const server = await this.#server(target)
    const pgDump = await findPgTool('pg_dump', server.major, 'the server')
    await query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    try {
      const snapshot = String((await query('SELECT pg_export_snapshot() AS snapshot'))[0]!.snapshot)
      const args = [
        `--format=${request.format}`,
        `--snapshot=${snapshot}`,
        '--no-password',
        ...(request.format === 'directory' && request.jobs > 1 ? [`--jobs=${request.jobs}`] : []),
        ...(request.compressLevel !== undefined && this.compressesItself(request.format)
          ? [`--compress=${request.compressLevel}`]
          : []),
        ...output(pgDump),
      ]
      const env = libpqEnvironment(target.resolved.url, { applicationName: 'dbops backup' })
      const dumping = start((onTick, onStdout) =>
        runTool(pgDump, args, env, request.signal, onTick, undefined, { ...(onStdout && { stdoutStream: onStdout }) }),
      )
      // Only the ledger version is read here, in the snapshot pg_dump dumps (one indexed query). Exact row counts
      // would compete with pg_dump and its server process for the CPU for the whole dump: `backup verify` counts
      // them from the archive instead.
      const [version, dumped] = await Promise.allSettled([ledgerVersion(query, target.migrations), dumping])
      if (dumped.status === 'rejected') throw dumped.reason
      if (version.status === 'rejected') throw version.reason
      return { migrationVersion: version.value, serverVersion: server.version, tools: { pg_dump: pgDump.version } }
    } finally {
      await query('COMMIT').catch(() => {})
    }
  }

  async checkReadable(
    artifact: ArtifactInput,
    format: BackupFormat,
    tools: Record<string, string>,
  ): Promise<{ summary: string; rowCounts: Record<string, number> }> {
    const counter = new CopyRowCounter()
    if (format === 'plain') {
      const { createReadStream } = await import('node:fs')
      const input = 'path' in artifact ? createReadStream(artifact.path, { highWaterMark: 1 << 20 }) : artifact.stream
      // The trailer is looked for in the last bytes read: the script is read once, from a file or from the store.
      let tail = Buffer.alloc(0)
      for await (const chunk of input) {
        counter.push(chunk as Buffer)
        tail = Buffer.concat([tail, chunk as Buffer]).subarray(-4096)
      }
      if (!tail.toString('utf8').includes(PLAIN_TRAILER))
        throw new Error('the SQL script is cut short (no "dump complete" trailer)')
      return { summary: `the SQL script ends with pg_dump's trailer; ${counter.summary()}`, rowCounts: counter.counts }
    }
    const pgRestore = await findPgTool('pg_restore', dumpMajor(tools), 'the pg_dump that wrote the backup')
    const env = toolEnvironment()
    if ('path' in artifact) await runTool(pgRestore, ['--list', artifact.path], env)
    // The whole script, streamed: reads (and decompresses) every data block, and each COPY block's lines are its rows.
    await runTool(
      pgRestore,
      ['--file=-', ...('path' in artifact ? [artifact.path] : [])],
      env,
      undefined,
      undefined,
      (chunk) => counter.push(chunk),
      'stream' in artifact ? { stdin: artifact.stream } : {},
    )
    return {
      summary: `pg_restore ${pgRestore.version} read every entry; ${counter.summary()}`,
      rowCounts: counter.counts,
    }
  }

  async isEmpty(target: Target): Promise<boolean> {
    return isEmptyDatabase(queryOf(target))
  }

  /** The cluster's system_identifier survives restarts, renames of the host and port forwarding; the name tells databases apart. */
  async identify(target: Target, options: { offline?: boolean } = {}): Promise<DatabaseIdentity> {
    const env = libpqEnvironment(target.resolved.url)
    const display = `${env.PGHOST ?? 'localhost'}:${env.PGPORT ?? '5432'}/${env.PGDATABASE ?? env.PGUSER ?? ''}`
    if (options.offline) return { key: null, display }
    try {
      const [row] = await queryOf(target)(
        'SELECT system_identifier::text AS id, current_database() AS name FROM pg_control_system()',
      )
      return {
        key: `postgres:${String(row!.id)}/${String(row!.name)}`,
        display: `${env.PGHOST ?? 'localhost'}:${env.PGPORT ?? '5432'}/${String(row!.name)}`,
      }
    } catch {
      return { key: null, display }
    }
  }

  async restore(target: Target, request: RestoreRequest): Promise<RestoreOutcome> {
    const query = queryOf(target)
    const outcome = await restoreInto(target.resolved.url, undefined, request)
    await query('ANALYZE')
    return { ...outcome, analyzed: true }
  }

  async scratch(target: Target): Promise<ScratchDatabase> {
    const query = queryOf(target)
    // The same encoding and locale as the database backed up: text that fits there must fit here.
    const { name, drop } = await createScratchDatabase(query, 'dbops_verify', {
      code: 'E_VERIFY_SCRATCH',
      hint: 'verify --restore needs the CREATEDB privilege on the server; verify without --restore checks the checksum and reads the archive',
    })
    const url = target.resolved.url
    return {
      description: `scratch database ${name}`,
      restore: (request) => restoreInto(url, name, { ...request, clean: false, force: false }),
      facts: async () => {
        const { connectPgClient } = await import('./postgres-connection.js')
        const client = await connectPgClient(url, { database: name, application_name: 'dbops backup verify' })
        try {
          return await databaseFacts(
            async (text, parameters) => (await client.query(text, parameters)).rows,
            target.migrations,
          )
        } finally {
          await client.end().catch(() => {})
        }
      },
      drop,
    }
  }
}

/** fsyncs a dump pg_dump did not sync itself: a folder's files and the folder. */
function syncFolder(path: string): void {
  for (const name of readdirSync(path)) fsyncFile(join(path, name))
  fsyncFile(path)
}

function queryOf(target: Target): Query {
  return (text, parameters = []) => target.backend.query({ sql: text, parameters })
}

async function serverVersion(query: Query): Promise<{ version: string; major: number }> {
  const rows = await query(
    `SELECT current_setting('server_version') AS version, current_setting('server_version_num')::int AS num`,
  )
  return { version: String(rows[0]!.version).split(' ')[0]!, major: majorOf(Number(rows[0]!.num)) }
}

function dumpMajor(tools: Record<string, string>): number {
  const [major, minor] = (tools.pg_dump ?? '0').split('.').map(Number) as [number, number | undefined]
  return major >= 10 ? major : major + (minor ?? 0) / 10
}

async function isEmptyDatabase(query: Query): Promise<boolean> {
  const rows = await query(`SELECT
    (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%')
    + (SELECT count(*) FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'public') AND nspname NOT LIKE 'pg\\_%')
    AS objects`)
  return Number(rows[0]!.objects) === 0
}

/** Exact row counts of every table pg_dump dumps the data of, and the ledger's newest applied version. */
async function databaseFacts(query: Query, ledger: { schema: string; table: string }): Promise<DatabaseFacts> {
  const tables = (
    await query(`SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
      ORDER BY 1`)
  ).map((row) => String(row.name))
  const rowCounts: Record<string, number> = {}
  for (let start = 0; start < tables.length; start += 200) {
    const batch = tables.slice(start, start + 200)
    const text = batch
      .map((name, index) => `SELECT ${start + index} AS i, count(*) AS n FROM ${name}`)
      .join(' UNION ALL ')
    for (const row of await query(text)) rowCounts[tables[Number(row.i)]!] = Number(row.n)
  }
  return { migrationVersion: await ledgerVersion(query, ledger), rowCounts }
}

/**
 * The newest applied (or baselined) version in the migration ledger; null without a ledger, or one this role may not
 * read. It never fails on the ledger itself: during a dump it runs in the transaction whose snapshot pg_dump imports,
 * and an error there would end that snapshot under pg_dump ("could not import the requested snapshot") instead of
 * letting pg_dump report the table it may not read.
 */
async function ledgerVersion(query: Query, ledger: { schema: string; table: string }): Promise<string | null> {
  const qualified = quoteQualified(ledger.schema, ledger.table)
  let migrationVersion: string | null = null
  const [readable] = await query(`SELECT coalesce(has_table_privilege(to_regclass($1), 'SELECT'), false) AS present`, [
    qualified,
  ])
  if (readable!.present === true) {
    const versions = await query(`SELECT version FROM ${qualified} WHERE status IN ('applied', 'baselined')`)
    for (const { version } of versions) {
      if (migrationVersion === null || compareVersions(String(version), migrationVersion) > 0)
        migrationVersion = String(version)
    }
  }
  return migrationVersion
}

async function restoreInto(
  url: string,
  database: string | undefined,
  request: RestoreRequest,
): Promise<{ method: string; analyzed: boolean }> {
  const env = libpqEnvironment(url, { applicationName: 'dbops restore', ...(database !== undefined && { database }) })
  const dbname = dbnameArgument(env.PGDATABASE ?? '')
  const needMajor = Math.max(dumpMajor(request.tools), 0)
  if (request.format === 'plain') {
    if (request.clean) {
      throw new UsageError(
        '--clean needs a custom or directory backup: a plain SQL dump has no drop statements to run first',
        'restore it into an empty database',
      )
    }
    const psql = await findPgTool('psql', needMajor, 'the pg_dump that wrote the backup')
    // NOTICEs (e.g. "table does not exist, skipping") are not worth a line each.
    env.PGOPTIONS = `${env.PGOPTIONS ?? ''} -c client_min_messages=warning`.trim()
    await runTool(
      psql,
      [
        '--no-psqlrc',
        '--quiet',
        '--no-password',
        '--set=ON_ERROR_STOP=1',
        '--single-transaction',
        `--dbname=${dbname}`,
        ...('path' in request.artifact ? [`--file=${request.artifact.path}`] : []),
      ],
      env,
      request.signal,
      undefined,
      undefined,
      'stream' in request.artifact ? { stdin: request.artifact.stream } : {},
    )
    return { method: `psql ${psql.version} --single-transaction`, analyzed: false }
  }
  const pgRestore = await findPgTool('pg_restore', needMajor, 'the pg_dump that wrote the backup')
  // -j and --single-transaction cannot be combined: parallel restores commit per object, the rest all at once.
  const parallel = request.jobs > 1
  const args = [
    `--dbname=${dbname}`,
    '--no-password',
    '--exit-on-error',
    ...(parallel ? [`--jobs=${request.jobs}`] : ['--single-transaction']),
    ...(request.clean ? ['--clean', '--if-exists'] : []),
    ...(request.noOwner ? ['--no-owner', '--no-privileges'] : []),
    ...('path' in request.artifact ? [request.artifact.path] : []),
  ]
  await runTool(
    pgRestore,
    args,
    env,
    request.signal,
    undefined,
    undefined,
    'stream' in request.artifact ? { stdin: request.artifact.stream } : {},
  )
  return {
    method: `pg_restore ${pgRestore.version} ${parallel ? `--jobs=${request.jobs}` : '--single-transaction'}`,
    analyzed: false,
  }
}

/**
 * Runs a client program; a failure becomes one line naming the program and its own error message. `io.stdin` is
 * fed to the program (an artifact streamed from a store); when it fails (a sha256 mismatch, the store gone), the
 * program is killed before it sees the end of its input, so a restore in one transaction rolls back. `io.stdoutStream`
 * receives the program's stdout as a stream, with back-pressure (pg_dump to an upload).
 */
async function runTool(
  tool: FoundTool,
  args: string[],
  env: Record<string, string>,
  signal?: AbortSignal,
  onTick?: () => void,
  onStdout?: (chunk: Buffer) => void,
  io: { stdin?: Readable; stdoutStream?: (stdout: Readable) => void } = {},
): Promise<void> {
  const name = tool.path.split('/').pop()!
  const stdoutPiped = onStdout !== undefined || io.stdoutStream !== undefined
  if (signal?.aborted) throw new DbopsError('E_INTERRUPTED', `${name} was stopped (interrupted)`)
  // Files the program creates (pg_dump's output) are private from the first byte: umask is inherited at spawn.
  const umask = process.umask(0o077)
  let child: ChildProcess
  try {
    child = spawn(tool.path, args, {
      env,
      stdio: [io.stdin ? 'pipe' : 'ignore', stdoutPiped ? 'pipe' : 'ignore', 'pipe'],
    })
  } finally {
    process.umask(umask)
  }
  // The whole of stderr up to 1 MiB (its first error line is the message), then its last 4000 characters.
  const stderr: Buffer[] = []
  let stderrBytes = 0
  let stderrTail = ''
  child.stderr!.on('data', (chunk: Buffer) => {
    if (stderrBytes < 1 << 20) stderr.push(chunk)
    stderrBytes += chunk.length
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-4000)
  })
  let canceled = false
  const cancel = () => {
    canceled = true
    child.kill('SIGTERM')
    // Its output is not wanted any more: a reader that stopped must not keep this waiting for the pipe's end.
    child.stdout?.destroy()
  }
  signal?.addEventListener('abort', cancel, { once: true })
  const exited = new Promise<{ exitCode: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>(
    (resolve) => {
      child.once('error', (error) => resolve({ exitCode: null, signal: null, spawnError: error }))
      child.once('exit', (exitCode, exitSignal) => resolve({ exitCode, signal: exitSignal }))
    },
  ).then(async (result) => {
    // A program that succeeded is done once its output has been read to the end (the last bytes of a dump); one
    // that failed, once its error messages have.
    if (result.exitCode !== 0) child.stdout?.destroy()
    await Promise.all([child.stderr, child.stdout].map((stream) => stream && finished(stream).catch(() => {})))
    return result
  })
  if (onStdout) child.stdout!.on('data', onStdout)
  if (io.stdoutStream) io.stdoutStream(child.stdout!)
  let inputError: unknown
  if (io.stdin) {
    const input = io.stdin
    const stdin = child.stdin!
    const stop = (error: unknown) => {
      inputError ??= error
      child.kill('SIGKILL')
    }
    // A small artifact may have been read (and found corrupt) before the program started.
    if (input.errored) stop(input.errored)
    input.once('error', stop)
    // A program that exits before the end of its input (it failed) releases the input, so nothing waits on it.
    void exited.then((result) => {
      if (!input.readableEnded && inputError === undefined && result.exitCode !== 0) {
        input.unpipe()
        input.destroy()
      }
    })
    // A program that stops reading (it failed) closes the pipe: that is its own error, reported below.
    stdin.on('error', () => {})
    input.pipe(stdin)
  }
  const timer = onTick ? setInterval(onTick, 500) : undefined
  try {
    const result = await exited
    if (io.stdin && !io.stdin.readableEnded && inputError === undefined && result.exitCode === 0) {
      // The program stopped reading before the end (trailing bytes): the rest is read too, so it is hashed.
      const rest = io.stdin
      rest.unpipe()
      await new Promise<void>((resolve) => {
        rest.once('end', resolve)
        rest.once('error', resolve)
        rest.resume()
      })
    }
    if (canceled) throw new DbopsError('E_INTERRUPTED', `${name} was stopped (interrupted)`)
    if (inputError !== undefined) throw inputError
    if (result.exitCode !== 0) {
      const output = Buffer.concat(stderr).toString('utf8')
      const lines = output.split('\n').filter((line) => line.trim() !== '')
      const error =
        lines.find((line) => /error:|FATAL:|ERROR:/.test(line)) ??
        lines.at(-1) ??
        (result.spawnError ? result.spawnError.message : `exit code ${result.exitCode ?? result.signal}`)
      throw new DbopsError('E_PG_TOOL_FAILED', `${name} failed: ${error.replace(/^\S+: (error: )?/, '')}`, {
        hint: `the full output of ${name} is in --json (details.stderr)`,
        details: {
          tool: name,
          exitCode: result.exitCode,
          signal: result.signal,
          stderr: stderrTail,
        },
      })
    }
  } finally {
    if (timer) clearInterval(timer)
    signal?.removeEventListener('abort', cancel)
  }
}

/**
 * Counts the rows of each table in pg_dump's SQL output: every line of a `COPY <table> (...) FROM stdin;` block up to
 * its `\.` line is one row (newlines inside values are escaped in COPY's text format). Table names come out quoted as
 * quote_ident quotes them, so they compare with the counts of a restored database.
 */
export class CopyRowCounter {
  readonly counts: Record<string, number> = {}
  #table: string | null = null
  #rest: Buffer = Buffer.alloc(0)

  push(chunk: Buffer): void {
    const buffer = this.#rest.length > 0 ? Buffer.concat([this.#rest, chunk]) : chunk
    let start = 0
    for (let end; (end = buffer.indexOf(10, start)) !== -1; start = end + 1) {
      if (this.#table !== null) {
        if (end - start === 2 && buffer[start] === 0x5c && buffer[start + 1] === 0x2e) this.#table = null
        else this.counts[this.#table]!++
      } else if (buffer[start] === 0x43 && buffer.toString('latin1', start, start + 5) === 'COPY ') {
        const line = buffer.toString('utf8', start, end)
        if (line.endsWith(' FROM stdin;')) {
          this.#table = copyTableName(line.slice(5))
          this.counts[this.#table] ??= 0
        }
      }
    }
    this.#rest = Buffer.from(buffer.subarray(start))
  }

  summary(): string {
    const counts = Object.values(this.counts)
    return `${counts.length} table(s), ${counts.reduce((sum, n) => sum + n, 0)} row(s) counted`
  }
}

/** `public."Order Items" (a, b) FROM stdin;` → `public."Order Items"`. */
function copyTableName(text: string): string {
  let i = 0
  for (;;) {
    if (text[i] === '"') {
      for (i++; i < text.length; i++) {
        if (text[i] === '"') {
          if (text[i + 1] === '"') i++
          else break
        }
      }
      i++
    } else {
      while (i < text.length && text[i] !== '.' && text[i] !== ' ') i++
    }
    if (text[i] !== '.') return text.slice(0, i)
    i++
  }
}
