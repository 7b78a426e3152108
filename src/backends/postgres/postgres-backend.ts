import type { Socket } from 'node:net'
import pg from 'pg'
import type { Kysely } from 'kysely'
import { sql, type SqlQuery } from '../../sql/query.js'
import { DbopsError } from '../../errors.js'
import type {
  Backend,
  LedgerSql,
  LockOptions,
  OpenOptions,
  ServerInfo,
  TransactionalUnit,
  UnitOutcome,
} from '../backend.js'
import { StatementFailure } from '../backend.js'
import type { Auditor } from '../../audit/auditor.js'
import type { Maintainer } from '../../maintain/maintainer.js'
import type { SchemaEngine } from '../../schema/schema-engine.js'
import type { BackupEngine } from '../../backup/backup-engine.js'
import { connectionError, isConnectionLoss, sqlstateOf } from './postgres-errors.js'
import { inlineParameters } from './postgres-literal.js'
import { withAdvisoryLock } from './postgres-lock.js'
import {
  connectPgClient,
  connectTimeoutMs,
  libpqSettings,
  withoutLibpqParams,
  type LibpqSettings,
} from './postgres-connection.js'
import { leftBehindAfter } from './postgres-leftovers.js'
import type { Seeder } from '../../seed/seeder.js'

/** Counts completed statements of a multi-statement simple query, so a failure can be pinned to its statement. */
class CountingQuery extends pg.Query {
  completed = 0
  /** A COMMIT completed: a transactional unit rejects transaction control, so only its own final one does. */
  committed = false
  handleCommandComplete(message: unknown, connection: unknown): void {
    this.completed++
    if ((message as { text?: string }).text === 'COMMIT') this.committed = true
    // @ts-expect-error: part of pg's Submittable protocol, not in its type declarations
    super.handleCommandComplete(message, connection)
  }
}

export class PostgresBackend implements Backend {
  readonly engine = 'postgres' as const
  readonly ledgerSql: LedgerSql = {
    timestamp: 'timestamptz',
    schemas: true,
    // statement_timestamp() is when the migration's message arrived: the whole unit is one message.
    elapsedMsSince: () => sql`(extract(epoch from clock_timestamp() - statement_timestamp()) * 1000)::integer`,
    // The time the server began reading the unit's message: for a unit sent ahead, after the one before it ended.
    unitStartedAt: sql`statement_timestamp()`,
    placeholder: (index) => `$${index}`,
  }
  #client: pg.Client
  readonly #connectionString: string
  readonly #options: OpenOptions
  readonly #libpq: LibpqSettings
  #connected: Promise<void> | undefined
  #kysely: Kysely<any> | undefined
  /** Whether the server knows client_connection_check_interval (PostgreSQL 14+). */
  #checksClient = false
  readonly pipelinesUnits = true
  /** Units sent ahead (TransactionalUnit.after) whose outcome is not in yet: the client is in pipeline mode meanwhile. */
  #ahead = 0
  /** When the last unit's outcome came in: a unit sent ahead is timed from then, not from when it was sent. */
  #lastUnitEnded = 0
  /**
   * A second session, opened with the first unit sent ahead: stopSendingAhead takes an advisory lock there that the
   * `after` check of every unit sent ahead needs in shared mode, a channel that does not queue behind those units.
   */
  #stopper: Promise<pg.Client | undefined> | undefined
  readonly #stopKey = Math.floor(Math.random() * 2 ** 31)

  constructor(
    connectionString: string,
    readonly redactedUrl: string,
    options: OpenOptions,
  ) {
    this.#connectionString = connectionString
    this.#options = options
    // Settings errors (a bad PGSSLMODE) surface on connect, as every connection problem does.
    let libpq: LibpqSettings
    try {
      libpq = libpqSettings(connectionString)
    } catch (error) {
      libpq = { sslmode: 'disable', connectTimeoutSeconds: 0, connectTimeoutSource: 'the default' }
      this.#connected = Promise.reject(error)
      this.#connected.catch(() => {})
    }
    this.#libpq = libpq
    // Replaced by the connected session in connect(); until then a client that was never connected.
    this.#client = new pg.Client({ connectionString: withoutLibpqParams(connectionString), ssl: false })
  }

  /** Connects as libpq would with the URL's sslmode: prefer falls back to plaintext, allow to TLS. */
  async #open(): Promise<void> {
    await connectPgClient(
      this.#connectionString,
      { application_name: this.#options.applicationName },
      {
        settings: this.#libpq,
        ...(this.#options.connectTimeoutMs !== undefined && { deadlineMs: this.#options.connectTimeoutMs }),
        // Set before connecting: Ctrl-C during a slow connect closes this client (close()).
        onClient: (client) => {
          this.#client = client
        },
      },
    )
  }

  async kysely(): Promise<Kysely<any>> {
    const { Kysely, PostgresDialect } = await import('kysely')
    this.#kysely ??= new Kysely({
      dialect: new PostgresDialect({
        // kysely shares the backend's one session: the advisory lock and SET commands live on it.
        pool: {
          connect: async () => {
            await this.connect()
            return Object.assign(this.#client, { release() {} })
          },
          end: async () => {},
        },
      }),
    })
    return this.#kysely
  }

  async seeder(): Promise<Seeder> {
    const { PostgresSeeder } = await import('./postgres-seed.js')
    // Connected first: the session's client is only final once connected (sslmode prefer may retry in plaintext).
    await this.connect()
    return new PostgresSeeder(this, this.#client)
  }

  async query<Row>(query: SqlQuery): Promise<Row[]> {
    return (await this.#query(query.sql, [...query.parameters])).rows as Row[]
  }

  exists(): boolean {
    return true
  }

  async connect(): Promise<void> {
    this.#connected ??= this.#open().catch((error: unknown) => {
      const timeoutMs = connectTimeoutMs(this.#libpq, this.#options.connectTimeoutMs)
      const own = this.#libpq.connectTimeoutSeconds * 1000
      const timeoutSetting =
        timeoutMs !== own
          ? "the command's deadline"
          : this.#libpq.connectTimeoutSource === 'the default'
            ? 'default connect_timeout'
            : this.#libpq.connectTimeoutSource
      throw connectionError(error, this.redactedUrl, { timeoutMs, timeoutSetting, sslmode: this.#libpq.sslmode })
    })
    return this.#connected
  }

  async ping(): Promise<ServerInfo> {
    const started = performance.now()
    await this.connect()
    const { rows } = await this.#query('SHOW server_version')
    return { engine: 'postgres', version: String(rows[0]?.server_version), latencyMs: performance.now() - started }
  }

  async schemaExists(schema: string): Promise<boolean> {
    // Checked first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when the schema exists.
    const { rows } = await this.#query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])
    return rows.length > 0
  }

  async existingTables(names: readonly string[]): Promise<string[]> {
    const { rows } = await this.#query(
      `SELECT name FROM unnest($1::text[]) AS name WHERE to_regclass((
         SELECT string_agg(quote_ident(part), '.' ORDER BY n) FROM unnest(string_to_array(name, '.')) WITH ORDINALITY AS p(part, n)
       )) IS NOT NULL`,
      [names],
    )
    return rows.map((row) => String(row.name))
  }

  async withMigrationLock<T>(lockName: string, options: LockOptions, fn: () => Promise<T>): Promise<T> {
    await this.connect()
    // PostgreSQL 14+: notice a vanished client during a long statement, so a killed dbops releases its lock quickly.
    this.#checksClient = await this.#client.query(`SET client_connection_check_interval = '2s'`).then(
      () => true,
      () => false,
    )
    return withAdvisoryLock(this.#client, lockName, options, fn)
  }

  async runTransactional(unit: TransactionalUnit): Promise<UnitOutcome> {
    await this.connect()
    const session = this.#sessionSettings(unit, 'SET LOCAL')
    if (!unit.durable) session.push('SET LOCAL synchronous_commit = off')
    // Sent ahead: the unit stops at this check (division by zero), under its own lock_timeout, before any of its own
    // statements, unless the one before it committed.
    const after = unit.after
      ? [
          `SELECT 1 / ((SELECT count(*)::integer FROM (${inlineParameters(unit.after.sql, unit.after.parameters)}) AS previous) * pg_try_advisory_xact_lock_shared(${STOP_LOCK_CLASS}, ${this.#stopKey})::integer) AS previous_committed`,
        ]
      : []
    const prefix = `BEGIN;${[...session, ...after, ...unit.setup].map((statement) => `${statement};`).join('')}\n`
    const prefixStatements = 1 + session.length + after.length + unit.setup.length
    const ledgerWrite = inlineParameters(unit.ledgerWrite.sql, unit.ledgerWrite.parameters)
    const text = `${prefix}${unit.script}\n;${ledgerWrite};COMMIT${unit.followUp ? `;${unit.followUp}` : ''}`
    const query = new CountingQuery(text)
    const started = performance.now()
    const client = this.#client as pg.Client & { pipeline: boolean }
    // pg's pipeline mode writes a query while the one before it runs. It is on only while units sent ahead are out:
    // off once the last one's outcome is in and nothing written meanwhile (a failed unit's ROLLBACK) is still
    // unanswered, so a query that cannot share a pipelined connection (COPY, a cursor) finds it off.
    const ahead = unit.after !== undefined
    if (ahead) this.#stopper ??= this.#openStopper()
    const settled = () => {
      if (!ahead || --this.#ahead > 0) return
      const written = (client as unknown as { _sentQueryQueue?: unknown[] })._sentQueryQueue ?? []
      if (written.length === 0) client.pipeline = false
      else
        client.once('drain', () => {
          if (this.#ahead === 0) client.pipeline = false
        })
    }
    let results: pg.QueryResult | pg.QueryResult[]
    try {
      results = await new Promise<pg.QueryResult | pg.QueryResult[]>((resolve, reject) => {
        query.on('end', (result: pg.QueryResult | pg.QueryResult[]) => {
          settled()
          resolve(result)
        })
        query.on('error', (error: Error) => {
          settled()
          reject(error)
        })
        if (ahead) {
          this.#ahead++
          client.pipeline = true
        }
        client.query(query)
      })
    } catch (error) {
      this.#lastUnitEnded = performance.now()
      await this.#client.query('ROLLBACK').catch(() => {})
      if (isConnectionLoss(error)) throw this.#lostConnection(error)
      // The unit committed and its follow-up failed: the unit's outcome stands, the caller does without the results.
      if (query.committed) return { skipped: false, elapsedMs: performance.now() - started }
      const statementIndex = query.completed - prefixStatements
      throw new StatementFailure(
        (error as Error).message,
        statementIndex >= 0 ? statementIndex : undefined,
        scriptOffset(text, (error as { position?: string }).position, prefix.length, unit.script.length),
        sqlstateOf(error),
        { cause: error },
      )
    }
    const ended = performance.now()
    const elapsedMs = ended - Math.max(started, this.#lastUnitEnded)
    this.#lastUnitEnded = ended
    if (!unit.followUp) return { skipped: false, elapsedMs }
    // What follows the unit's COMMIT, the first one (the script holds no transaction control).
    const all = results as pg.QueryResult[]
    return {
      skipped: false,
      elapsedMs,
      followUp: all.slice(all.findIndex((result) => result.command === 'COMMIT') + 1),
    }
  }

  async stopSendingAhead(): Promise<void> {
    // Nothing sent ahead yet, or no second session (it could not connect): nothing to stop, and no cancel either,
    // which would hit the unit under way. A unit sent ahead then runs if it gets there first, and is reported.
    const stopper = await this.#stopper
    await stopper?.query(`SELECT pg_advisory_lock(${STOP_LOCK_CLASS}, ${this.#stopKey})`)
  }

  #openStopper(): Promise<pg.Client | undefined> {
    const opened = connectPgClient(
      this.#connectionString,
      { application_name: this.#options.applicationName },
      {
        settings: this.#libpq,
      },
    ).then(
      (client) => {
        client.on('error', () => {})
        return client
      },
      () => undefined,
    )
    return opened
  }

  async prepareSession(timeouts: { lockTimeoutMs: number; statementTimeoutMs: number }): Promise<void> {
    await this.#query(this.#sessionSettings(timeouts, 'SET').join(';'))
  }

  /**
   * Asks the server to cancel what this session is running, as psql does on Ctrl-C: PostgreSQL's CancelRequest on a
   * short connection of its own, carrying the session's pid and secret key (no authentication involved).
   */
  async cancelRunning(): Promise<void> {
    const client = this.#client as unknown as {
      processID?: number | null
      secretKey?: number | null
      host: string
      port: number
    }
    if (client.processID == null || client.secretKey == null) return
    const { connect } = await import('node:net')
    const request = Buffer.alloc(16)
    request.writeInt32BE(16, 0)
    request.writeInt32BE(80877102, 4)
    request.writeInt32BE(client.processID, 8)
    request.writeInt32BE(client.secretKey, 12)
    const address = client.host.startsWith('/')
      ? { path: `${client.host}/.s.PGSQL.${client.port}` }
      : { host: client.host, port: client.port }
    await new Promise<void>((resolve) => {
      const socket = connect(address, () => socket.end(request))
      socket.setTimeout(5000, () => socket.destroy())
      socket.on('close', () => resolve())
      socket.on('error', () => resolve())
    })
  }

  async runStatement(statement: string): Promise<void> {
    await this.connect()
    try {
      await this.#client.query(statement)
    } catch (error) {
      if (isConnectionLoss(error)) throw this.#lostConnection(error)
      const offset = (error as { position?: string }).position
      const leftBehind = await leftBehindAfter(
        statement,
        async (text, parameters) => (await this.#client.query(text, parameters)).rows,
      )
      throw new StatementFailure(
        (error as Error).message,
        0,
        offset ? Number(offset) - 1 : undefined,
        sqlstateOf(error),
        {
          cause: error,
          ...(leftBehind && { leftBehind }),
        },
      )
    }
  }

  /**
   * Every migration starts from the settings of a fresh session plus its own timeouts: a migration's `SET
   * lock_timeout = 0` or `set_config('search_path', '', false)` (pg_dump output has both) must not leak into the
   * migrations after it, or the outcome would depend on how many run in one go.
   */
  #sessionSettings(
    timeouts: { lockTimeoutMs: number; statementTimeoutMs: number },
    set: 'SET' | 'SET LOCAL',
  ): string[] {
    return [
      'RESET ALL',
      `${set} lock_timeout = '${timeouts.lockTimeoutMs}ms'`,
      `${set} statement_timeout = '${timeouts.statementTimeoutMs}ms'`,
      ...(this.#checksClient ? [`${set} client_connection_check_interval = '2s'`] : []),
    ]
  }

  async flushCommits(): Promise<void> {
    // A transaction with an xid writes a commit record and, at the session's (server default) synchronous_commit,
    // waits until the WAL up to it is flushed: every earlier asynchronous commit is flushed with it.
    await this.#query('BEGIN;SELECT txid_current();COMMIT')
  }

  isMissingTable(error: unknown): boolean {
    const code = sqlstateOf(error) ?? sqlstateOf((error as { cause?: unknown })?.cause)
    return code === '42P01' || code === '3F000'
  }

  async auditor(): Promise<Auditor> {
    const { PostgresAuditor } = await import('./postgres-audit.js')
    return new PostgresAuditor(this)
  }

  async schemaEngine(): Promise<SchemaEngine> {
    const { PostgresSchemaEngine } = await import('./postgres-schema.js')
    await this.connect()
    return new PostgresSchemaEngine(this, this.#client)
  }

  async maintainer(): Promise<Maintainer> {
    const { PostgresMaintainer } = await import('./postgres-maintain.js')
    return new PostgresMaintainer(this)
  }

  async healthProbe() {
    const { PostgresHealthProbe } = await import('./postgres-health.js')
    return new PostgresHealthProbe(this)
  }

  async backupEngine(): Promise<BackupEngine> {
    const { PostgresBackupEngine } = await import('./postgres-backup.js')
    return new PostgresBackupEngine()
  }

  async close(): Promise<void> {
    const stopper = this.#stopper
    this.#stopper = undefined
    if (stopper) void stopper.then((client) => client?.end().catch(() => {}))
    if (!this.#connected) return
    const stream = (this.#client as unknown as { connection?: { stream?: Socket } }).connection?.stream
    // A server that hangs (or a connect still under way after Ctrl-C) must not keep a finished command alive, so the
    // socket is dropped after a second.
    let timer: NodeJS.Timeout | undefined
    const dropped = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        stream?.destroy()
        resolve()
      }, 1000)
    })
    const ended = this.#client.end().catch(() => {})
    // The session is over once Terminate has left ('finish'); the server closes its side only after its backend
    // process has exited, several ms later, which nothing here waits on (locks were released before).
    const sent = new Promise<void>((resolve) => {
      if (!stream || stream.writableFinished) resolve()
      else stream.once('finish', resolve)
    })
    await Promise.race([ended, sent, dropped])
    clearTimeout(timer)
    stream?.unref()
  }

  async #query(sql: string, parameters?: unknown[]): Promise<pg.QueryResult> {
    await this.connect()
    try {
      return await this.#client.query(sql, parameters)
    } catch (error) {
      if (isConnectionLoss(error)) throw this.#lostConnection(error)
      throw error
    }
  }

  #lostConnection(error: unknown): DbopsError {
    return new DbopsError(
      'E_CONNECTION_LOST',
      `lost the connection to ${this.redactedUrl}: ${(error as Error).message}`,
      {
        // Only a migration leaves something to explain: every other command's work is rolled back or was read-only.
        hint: /\bmigrate\b/.test(this.#options.applicationName)
          ? 'the server closed the session (restart, pg_terminate_backend, network); the interrupted migration was rolled back unless it was transaction:false. Run the command again'
          : `the server closed the session (restart, pg_terminate_backend, network); what it had not committed was rolled back. Run "${this.#options.applicationName}" again`,
        cause: error,
        details: { sqlstate: sqlstateOf(error) },
      },
    )
  }
}

/** The advisory lock class of stopSendingAhead (the migration lock's class is 0x64626f70, "dbop"). */
const STOP_LOCK_CLASS = 0x64626f71

/** Maps PostgreSQL's 1-based character position in the whole message to an offset in the migration script. */
function scriptOffset(text: string, position: string | undefined, start: number, length: number): number | undefined {
  if (!position) return undefined
  let remaining = Number(position) - 1
  let offset = 0
  // PostgreSQL counts characters (code points); JavaScript indexes UTF-16 units.
  while (remaining > 0 && offset < text.length) {
    offset += text.codePointAt(offset)! > 0xffff ? 2 : 1
    remaining--
  }
  const inScript = offset - start
  return inScript >= 0 && inScript <= length ? inScript : undefined
}
