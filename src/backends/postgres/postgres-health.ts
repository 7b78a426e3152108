import { worstSeverity, type Finding, type Severity } from '../../findings.js'
import { formatBytes, formatDuration, oneLine } from '../../output/format.js'
import { displayIdentifier, displayQualified, quoteLiteral } from '../../sql/query.js'
import { formatValue, grade, limitOf, type Thresholds } from '../../health/checks.js'
import type { HealthProbe, ProbeContext, ProbeOutcome } from '../../health/health-probe.js'
import type { Backend } from '../backend.js'
import type { PostgresBackend } from './postgres-backend.js'
import { autovacuumTablesSql } from './postgres-autovacuum.js'

type Row = Record<string, any>

/**
 * PostgreSQL health on the target's own session, made read-only (default_transaction_read_only) with a
 * statement_timeout and a lock_timeout first. A fixed set of catalog queries, each serving several checks, whatever
 * the number of tables: settings and database statistics, pg_stat_activity, per-table statistics (aggregated in the
 * query), sequences, replication. A query that fails turns its checks into `unknown` with the server's reason.
 */
export class PostgresHealthProbe implements HealthProbe {
  #connected = false

  constructor(private readonly backend: PostgresBackend) {}

  async run(context: ProbeContext): Promise<ProbeOutcome> {
    const { checks, thresholds, report } = context
    const database = this.backend.redactedUrl
    let version: string
    try {
      const info = await this.backend.ping()
      version = info.version
      const lockTimeoutMs = Math.max(100, Math.min(1000, Math.round(context.statementTimeoutMs / 5)))
      const started = performance.now()
      await this.#query(
        `SET default_transaction_read_only = on; SET statement_timeout = '${Math.round(context.statementTimeoutMs)}ms'; SET lock_timeout = '${lockTimeoutMs}ms'; SET idle_in_transaction_session_timeout = '${Math.round(context.statementTimeoutMs)}ms'`,
      )
      const latency = (performance.now() - started) / 1000
      this.#connected = true
      report({
        check: 'connection',
        severity: grade(thresholds, 'connection', latency),
        subject: database,
        message: `PostgreSQL ${version}, round trip ${formatDuration(latency * 1000)} (connect ${formatDuration(info.latencyMs)})`,
        values: { latency_seconds: latency, connect_seconds: info.latencyMs / 1000 },
        detail: { version },
      })
    } catch (error) {
      report({ check: 'connection', severity: 'critical', subject: database, message: (error as Error).message })
      return { up: false }
    }

    const wants = (...names: string[]) => names.some((name) => checks.has(name))
    let overview: Row | undefined
    if (wants('connections', 'cache_hit_ratio', 'xid_wraparound', 'database_size')) {
      overview = await this.#guarded(
        report,
        ['connections', 'cache_hit_ratio', 'xid_wraparound', 'database_size'],
        async () => (await this.#query(OVERVIEW))[0],
      )
      if (overview) {
        if (checks.has('database_size')) report(databaseSize(overview, thresholds))
        if (checks.has('cache_hit_ratio')) report(cacheHit(overview, thresholds))
      }
    }
    if (wants('connections', 'long_queries', 'idle_in_transaction', 'transaction_age', 'blocked_queries')) {
      const names = ['connections', 'long_queries', 'idle_in_transaction', 'transaction_age', 'blocked_queries']
      const lowest = (check: string) => {
        const limits = [limitOf(thresholds[check]!.warn), limitOf(thresholds[check]!.critical)].filter(
          (limit) => limit !== undefined,
        )
        return limits.length > 0 ? Math.min(...limits) : null
      }
      const activity = await this.#guarded(
        report,
        names,
        async () =>
          (
            await this.#query(ACTIVITY, [
              lowest('long_queries'),
              lowest('idle_in_transaction'),
              lowest('blocked_queries'),
              lowest('transaction_age'),
            ])
          )[0],
      )
      if (activity) {
        if (checks.has('connections') && overview) report(connections(activity, overview, thresholds))
        if (checks.has('long_queries')) report(longQueries(activity, thresholds))
        if (checks.has('idle_in_transaction')) report(idleInTransaction(activity, thresholds))
        if (checks.has('transaction_age')) report(transactionAge(activity, thresholds))
        if (checks.has('blocked_queries')) report(blockedQueries(activity, thresholds))
      }
    }
    if (wants('vacuum', 'analyze', 'xid_wraparound')) {
      const versionNumber = Number(overview?.version_num ?? 150000)
      const tables = await this.#guarded(
        report,
        ['vacuum', 'analyze', 'xid_wraparound'],
        async () => (await this.#query(tablesQuery(versionNumber)))[0],
      )
      if (tables) {
        if (checks.has('vacuum'))
          report(overdue('vacuum', tables.vacuum_count, tables.vacuum_worst, thresholds, tables.autovacuum_server))
        if (checks.has('analyze'))
          report(overdue('analyze', tables.analyze_count, tables.analyze_worst, thresholds, tables.autovacuum_server))
        if (checks.has('xid_wraparound') && overview) report(wraparound(overview, tables, thresholds))
      }
    }
    if (checks.has('sequences')) {
      const sequences = await this.#guarded(report, ['sequences'], async () => (await this.#query(SEQUENCES))[0])
      if (sequences) report(sequenceUsage(sequences, thresholds))
    }
    if (wants('replication', 'replication_slots')) {
      const versionNumber = Number(overview?.version_num ?? 150000)
      const replication = await this.#guarded(
        report,
        ['replication', 'replication_slots'],
        async () => (await this.#query(replicationQuery(versionNumber)))[0],
      )
      if (replication) {
        const lag = checks.has('replication') ? replicationLag(replication, thresholds) : undefined
        if (lag) report(lag)
        const slots = checks.has('replication_slots') ? replicationSlots(replication, thresholds) : undefined
        if (slots) report(slots)
      }
    }
    if (wants('wal_archiving', 'prepared_transactions')) {
      const lowestPrepared =
        limitOf(thresholds.prepared_transactions!.warn) ?? limitOf(thresholds.prepared_transactions!.critical) ?? null
      const server = await this.#guarded(
        report,
        ['wal_archiving', 'prepared_transactions'],
        async () => (await this.#query(ARCHIVER_AND_PREPARED, [lowestPrepared]))[0],
      )
      if (server) {
        if (checks.has('wal_archiving')) {
          // pg_ls_archive_statusdir needs pg_monitor: without it, the archiver's own counters still tell a failure.
          const waiting =
            server.archive_mode === 'off'
              ? undefined
              : await this.#query(ARCHIVE_STATUS).then(
                  (rows) => rows[0],
                  () => null,
                )
          report(walArchiving(server, waiting, thresholds))
        }
        if (checks.has('prepared_transactions')) report(preparedTransactions(server, thresholds))
      }
    }
    return { up: true, version }
  }

  ledgerBackend(): Backend | undefined {
    return this.#connected ? this.backend : undefined
  }

  async close(): Promise<void> {
    // The session belongs to the target, which closes it.
  }

  async #query(text: string, parameters: unknown[] = []): Promise<Row[]> {
    return this.backend.query<Row>({ sql: text, parameters })
  }

  /** Runs one query; when it fails, every check it serves is reported unknown with the reason. */
  async #guarded<T>(report: (finding: Finding) => void, names: string[], fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn()
    } catch (error) {
      const reason =
        (error as { code?: string }).code === '42501'
          ? `${(error as Error).message} (grant the role pg_monitor)`
          : (error as Error).message
      for (const check of names)
        report({ check, severity: 'unknown', subject: this.backend.redactedUrl, message: `could not run: ${reason}` })
      return undefined
    }
  }
}

const OVERVIEW = `SELECT current_database() AS database,
  current_setting('server_version_num')::int AS version_num,
  current_setting('max_connections')::int AS max_connections,
  current_setting('superuser_reserved_connections')::int
    + coalesce(nullif(current_setting('reserved_connections', true), '')::int, 0) AS reserved_connections,
  current_setting('autovacuum_freeze_max_age')::float8 AS freeze_max_age,
  current_setting('autovacuum_multixact_freeze_max_age')::float8 AS mxid_freeze_max_age,
  pg_database_size(d.oid)::float8 AS database_bytes,
  age(d.datfrozenxid)::float8 AS xid_age,
  mxid_age(d.datminmxid)::float8 AS mxid_age,
  s.blks_hit::float8 AS blks_hit,
  s.blks_read::float8 AS blks_read,
  extract(epoch FROM now() - s.stats_reset)::float8 AS stats_age_seconds,
  (SELECT json_build_object('name', o.datname, 'age', age(o.datfrozenxid)::float8) FROM pg_database o ORDER BY age(o.datfrozenxid) DESC LIMIT 1) AS oldest_database
FROM pg_database d
LEFT JOIN pg_stat_database s ON s.datid = d.oid
WHERE d.datname = current_database()`

// $1..$4: the lowest long-query, idle-in-transaction, blocked-wait and transaction-age thresholds in seconds, to count sessions past them.
const ACTIVITY = `WITH a AS (
  SELECT pid, datname, usename::text AS usename, application_name, client_addr::text AS client_addr, state, wait_event_type, wait_event,
    query = '<insufficient privilege>' AS hidden,
    extract(epoch FROM clock_timestamp() - query_start)::float8 AS query_seconds,
    extract(epoch FROM clock_timestamp() - state_change)::float8 AS state_seconds,
    extract(epoch FROM clock_timestamp() - xact_start)::float8 AS xact_seconds,
    -- A single statement's transaction starts with it (the extended protocol may set query_start a moment later):
    -- long_queries judges that one.
    query_start - xact_start >= interval '1 second' AS several_statements,
    CASE WHEN wait_event_type = 'Lock' THEN pg_blocking_pids(pid) END AS blocked_by,
    left(query, 300) AS query
  FROM pg_stat_activity
  -- Sessions hidden from a role without pg_read_all_stats show no backend_type: those with a user are clients.
  WHERE (backend_type = 'client backend' OR (backend_type IS NULL AND usesysid IS NOT NULL)) AND pid <> pg_backend_pid()
), here AS (
  -- Sessions on the target's database; connections count the whole server, as max_connections does.
  SELECT * FROM a WHERE datname = current_database()
), blocked AS (
  SELECT a.*, (
    SELECT json_agg(json_build_object('pid', b.pid, 'usename', b.usename::text, 'application_name', b.application_name, 'state', b.state,
      'xact_seconds', extract(epoch FROM clock_timestamp() - b.xact_start)::float8, 'query', left(b.query, 300)) ORDER BY b.pid)
    FROM pg_stat_activity b WHERE b.pid = ANY (a.blocked_by)) AS blockers
  FROM here a WHERE cardinality(a.blocked_by) > 0
)
SELECT
  (SELECT count(*) FROM a)::int + 1 AS connections,
  (SELECT count(*) FROM here WHERE hidden)::int AS hidden,
  (SELECT json_object_agg(state, n) FROM (SELECT coalesce(state, 'unknown') AS state, count(*)::int AS n FROM a GROUP BY 1) s) AS by_state,
  (SELECT count(*) FROM here WHERE state = 'active' AND query_seconds >= $1::float8)::int AS long_count,
  (SELECT json_agg(x) FROM (SELECT pid, usename, application_name, client_addr, query_seconds AS seconds, wait_event_type, query
     FROM here WHERE state = 'active' AND query_seconds IS NOT NULL ORDER BY query_seconds DESC LIMIT 5) x) AS long_worst,
  (SELECT count(*) FROM here WHERE state LIKE 'idle in transaction%' AND state_seconds >= $2::float8)::int AS idle_count,
  (SELECT json_agg(x) FROM (SELECT pid, usename, application_name, client_addr, state, state_seconds AS seconds, xact_seconds, query
     FROM here WHERE state LIKE 'idle in transaction%' ORDER BY state_seconds DESC LIMIT 5) x) AS idle_worst,
  (SELECT count(*) FROM here WHERE several_statements AND xact_seconds >= $4::float8)::int AS xact_count,
  (SELECT json_agg(x) FROM (SELECT pid, usename, application_name, client_addr, state, xact_seconds AS seconds, query
     FROM here WHERE several_statements ORDER BY xact_seconds DESC LIMIT 5) x) AS xact_worst,
  (SELECT count(*) FROM blocked)::int AS blocked_total,
  (SELECT count(*) FROM blocked WHERE query_seconds >= $3::float8)::int AS blocked_count,
  (SELECT json_agg(x) FROM (SELECT pid, usename, application_name, query_seconds AS seconds, wait_event, blocked_by, blockers, query
     FROM blocked ORDER BY query_seconds DESC NULLS LAST LIMIT 5) x) AS blocked_worst`

/** Per-table statistics against autovacuum's formula (shared with maintain --auto), aggregated in the query (no per-table rows). */
function tablesQuery(versionNumber: number): string {
  return `WITH r AS (${autovacuumTablesSql(versionNumber)}), ratios AS (SELECT * FROM r WHERE user_table)
SELECT
  current_setting('autovacuum')::bool AS autovacuum_server,
  (SELECT count(*) FROM ratios)::int AS tables,
  (SELECT count(*) FROM ratios WHERE vacuum_trigger IS NOT NULL)::int AS vacuum_count,
  (SELECT json_agg(x) FROM (SELECT schema, "table", dead, inserted, reltuples, vacuum_trigger AS trigger,
     CASE WHEN vacuum_trigger = 'insert' THEN insert_threshold ELSE vacuum_threshold END AS threshold,
     vacuum_threshold AS dead_threshold, insert_threshold, vacuum_ratio AS ratio,
     autovacuum_server, autovacuum_table, last_vacuum AS last
     FROM ratios WHERE vacuum_trigger IS NOT NULL ORDER BY vacuum_ratio DESC LIMIT 10) x) AS vacuum_worst,
  (SELECT count(*) FROM ratios WHERE modified > analyze_threshold)::int AS analyze_count,
  (SELECT json_agg(x) FROM (SELECT schema, "table", modified, reltuples, analyze_threshold AS threshold, analyze_ratio AS ratio,
     autovacuum_server, autovacuum_table, last_analyze AS last
     FROM ratios WHERE modified > analyze_threshold ORDER BY analyze_ratio DESC LIMIT 10) x) AS analyze_worst,
  (SELECT json_build_object('schema', schema, 'table', "table", 'age', xid_age) FROM r ORDER BY xid_age DESC LIMIT 1) AS xid_worst`
}

/**
 * Sequences against the lower of their own limit and the type of the column they feed (an integer column fed by a
 * bigint sequence fails at 2^31-1): one query for all of them. A sequence feeds a column through OWNED BY or an
 * identity (pg_depend 'a'/'i') or through a column default calling nextval() without OWNED BY (pagila, hand-written
 * DDL): the tightest such column counts. Values are read as text too, so that the bigint limit prints exactly.
 */
const SEQUENCES = `WITH links AS (
  SELECT d.objid AS seq, d.refobjid AS rel, d.refobjsubid AS attnum
  FROM pg_depend d
  WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0
  UNION
  SELECT d.refobjid, ad.adrelid, ad.adnum
  FROM pg_attrdef ad
  JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid AND d.refclassid = 'pg_class'::regclass
), q AS (
  SELECT s.schemaname AS schema, s.sequencename AS sequence, s.data_type::text AS sequence_type,
    has_sequence_privilege(sc.oid, 'SELECT,USAGE') AS readable,
    s.last_value::float8 AS last_value, s.last_value::text AS last_text, s.increment_by::float8 AS increment, s.increment_by::text AS increment_text,
    s.min_value::float8 AS min_value, s.max_value::float8 AS max_value, s.min_value::text AS min_text, s.max_value::text AS max_text, s.cycle,
    f.owner_schema, f.owner_table, f.owner_column, f.column_type, f.column_max, f.column_min
  FROM pg_sequences s
  JOIN pg_namespace n ON n.nspname = s.schemaname
  JOIN pg_class sc ON sc.relname = s.sequencename AND sc.relnamespace = n.oid
  LEFT JOIN LATERAL (
    SELECT tn.nspname AS owner_schema, tc.relname AS owner_table, a.attname AS owner_column, format_type(a.atttypid, a.atttypmod) AS column_type,
      CASE a.atttypid WHEN 'int2'::regtype THEN 32767 WHEN 'int4'::regtype THEN 2147483647 END::float8 AS column_max,
      CASE a.atttypid WHEN 'int2'::regtype THEN -32768 WHEN 'int4'::regtype THEN -2147483648 END::float8 AS column_min
    FROM links l
    JOIN pg_class tc ON tc.oid = l.rel
    JOIN pg_namespace tn ON tn.oid = tc.relnamespace
    JOIN pg_attribute a ON a.attrelid = l.rel AND a.attnum = l.attnum AND NOT a.attisdropped
    WHERE l.seq = sc.oid
    -- The narrowest column first; a partition's copy of its parent's default names the parent.
    ORDER BY CASE a.atttypid WHEN 'int2'::regtype THEN 1 WHEN 'int4'::regtype THEN 2 ELSE 3 END, tc.relispartition, tn.nspname, tc.relname, a.attname
    LIMIT 1) f ON true
), u AS (
  SELECT q.*,
    CASE WHEN q.increment > 0 THEN least(q.max_value, coalesce(q.column_max, q.max_value))
         ELSE greatest(q.min_value, coalesce(q.column_min, q.min_value)) END AS limit_value,
    CASE WHEN q.increment > 0 THEN CASE WHEN q.column_max < q.max_value THEN q.column_max::bigint::text ELSE q.max_text END
         ELSE CASE WHEN q.column_min > q.min_value THEN q.column_min::bigint::text ELSE q.min_text END END AS limit_text
  FROM q
), r AS (
  -- A CYCLE sequence that wraps at its own bound never runs out; one that the column's type cuts short still does.
  SELECT u.*, CASE WHEN u.last_value IS NULL THEN 0
                   WHEN u.cycle AND u.limit_value = CASE WHEN u.increment > 0 THEN u.max_value ELSE u.min_value END THEN 0
                   ELSE greatest(u.last_value / nullif(u.limit_value, 0), 0) END AS used_ratio
  FROM u
)
SELECT
  (SELECT count(*) FROM r)::int AS total,
  (SELECT count(*) FROM r WHERE NOT readable)::int AS unreadable,
  (SELECT json_agg(x) FROM (SELECT schema, sequence, sequence_type, last_value, limit_value, last_text, limit_text, increment_text AS increment, used_ratio,
     owner_schema, owner_table, owner_column, column_type
     FROM r WHERE readable ORDER BY used_ratio DESC LIMIT 10) x) AS worst,
  (SELECT json_agg(x) FROM (SELECT schema, sequence FROM r WHERE NOT readable ORDER BY 1, 2 LIMIT 10) x) AS unreadable_names`

// $1: the lowest prepared-transaction threshold in seconds, to count those past it (pg_prepared_xacts lists every database's).
const ARCHIVER_AND_PREPARED = `SELECT current_setting('archive_mode') AS archive_mode,
  a.archived_count::float8 AS archived_count, a.failed_count::float8 AS failed_count, a.last_archived_wal, a.last_failed_wal,
  extract(epoch FROM now() - a.last_archived_time)::float8 AS archived_seconds_ago,
  extract(epoch FROM now() - a.last_failed_time)::float8 AS failed_seconds_ago,
  coalesce(a.last_failed_time > coalesce(a.last_archived_time, '-infinity'), false) AS failing,
  current_setting('max_prepared_transactions')::int AS max_prepared,
  (SELECT count(*) FROM pg_prepared_xacts)::int AS prepared,
  (SELECT count(*) FROM pg_prepared_xacts WHERE extract(epoch FROM now() - prepared) >= $1::float8)::int AS prepared_count,
  (SELECT json_agg(x) FROM (SELECT gid, database::text, owner::text, extract(epoch FROM now() - prepared)::float8 AS seconds
     FROM pg_prepared_xacts ORDER BY prepared LIMIT 5) x) AS prepared_worst
FROM pg_stat_archiver a`

/** Segments waiting for archive_command, and since when (check_postgres archive_ready counts the same files). */
const ARCHIVE_STATUS = `SELECT count(*)::int AS ready, extract(epoch FROM now() - min(modification))::float8 AS oldest_seconds
FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'`

/** Exported for unit tests: the test server does not archive. */
export function walArchiving(server: Row, waiting: Row | null | undefined, thresholds: Thresholds): Finding {
  if (server.archive_mode === 'off') {
    return {
      check: 'wal_archiving',
      severity: 'ok',
      subject: 'archiver',
      message: 'WAL archiving is off (archive_mode = off)',
      values: { lag_seconds: 0 },
    }
  }
  const ready = waiting ? Number(waiting.ready) : null
  const lag = waiting && ready! > 0 ? Number(waiting.oldest_seconds ?? 0) : 0
  let severity = grade(thresholds, 'wal_archiving', lag)
  const parts: string[] = []
  if (server.failing) {
    // archive_command fails right now: WAL piles up in pg_wal until it works again.
    if (severity === 'ok') severity = 'warn'
    parts.push(
      `archive_command is failing: ${server.last_failed_wal} failed ${formatDuration(Number(server.failed_seconds_ago) * 1000)} ago (${Number(server.failed_count).toLocaleString('en-US')} failures since the statistics were reset)`,
    )
  }
  if (ready === null) parts.push('cannot count the WAL waiting to be archived (grant the role pg_monitor)')
  else
    parts.push(
      ready === 0
        ? 'no WAL waiting to be archived'
        : `${ready} WAL segment(s) waiting to be archived, the oldest for ${formatDuration(lag * 1000)}`,
    )
  if (server.last_archived_wal)
    parts.push(
      `last archived ${server.last_archived_wal} ${formatDuration(Number(server.archived_seconds_ago) * 1000)} ago`,
    )
  return {
    check: 'wal_archiving',
    severity: ready === null && severity === 'ok' ? 'unknown' : severity,
    subject: 'archiver',
    message: parts.join('; '),
    values: { lag_seconds: lag, failed: Number(server.failed_count ?? 0), ...(ready !== null && { ready }) },
    detail: {
      archiveMode: server.archive_mode,
      lastArchivedWal: server.last_archived_wal,
      lastFailedWal: server.last_failed_wal,
      failing: server.failing,
    },
  }
}

export function preparedTransactions(server: Row, thresholds: Thresholds): Finding {
  const worst: Row[] = server.prepared_worst ?? []
  const top = worst[0]
  const seconds = Number(top?.seconds ?? 0)
  const severity = grade(thresholds, 'prepared_transactions', seconds)
  const describe = (row: Row) =>
    `'${row.gid}' in ${row.database} by ${row.owner}, prepared ${formatDuration(Number(row.seconds) * 1000)} ago`
  return {
    check: 'prepared_transactions',
    severity,
    subject: top ? String(top.gid) : 'prepared transactions',
    message: top
      ? `${server.prepared} prepared transaction(s)${severity !== 'ok' ? `, ${server.prepared_count} past the threshold` : ''}; oldest ${describe(top)}`
      : Number(server.max_prepared) === 0
        ? 'none (max_prepared_transactions = 0)'
        : 'none',
    values: { max_seconds: seconds, count: Number(server.prepared ?? 0) },
    detail: { transactions: worst },
    ...(top &&
      severity !== 'ok' && {
        fix: `COMMIT PREPARED ${quoteLiteral(top.gid)}; -- or ROLLBACK PREPARED, from database ${top.database}, once you know which`,
      }),
  }
}

function replicationQuery(versionNumber: number): string {
  const walStatus = versionNumber >= 130000 ? 'wal_status' : 'NULL'
  const here = 'CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END'
  return `SELECT pg_is_in_recovery() AS standby,
  CASE WHEN pg_is_in_recovery() THEN
    CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
         ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END
  END::float8 AS standby_lag_seconds,
  (SELECT json_agg(json_build_object('name', application_name, 'client', client_addr::text, 'state', state, 'sync_state', sync_state,
     'lag_seconds', extract(epoch FROM replay_lag)::float8, 'lag_bytes', pg_wal_lsn_diff(${here}, replay_lsn)::float8))
   FROM pg_stat_replication) AS replicas,
  (SELECT json_agg(json_build_object('name', slot_name, 'type', slot_type, 'database', database, 'active', active, 'wal_status', ${walStatus},
     'retained_bytes', pg_wal_lsn_diff(${here}, restart_lsn)::float8) ORDER BY slot_name)
   FROM pg_replication_slots) AS slots`
}

function databaseSize(overview: Row, thresholds: Thresholds): Finding {
  const bytes = Number(overview.database_bytes)
  return {
    check: 'database_size',
    severity: grade(thresholds, 'database_size', bytes),
    subject: overview.database,
    message: `${overview.database}: ${formatBytes(bytes)}`,
    values: { bytes },
  }
}

/** Too few block reads make the ratio noise (a fresh start reads everything from disk once). */
const MIN_BLOCK_READS = 10_000

function cacheHit(overview: Row, thresholds: Thresholds): Finding {
  const hit = Number(overview.blks_hit ?? 0)
  const read = Number(overview.blks_read ?? 0)
  const total = hit + read
  if (total < MIN_BLOCK_READS) {
    return {
      check: 'cache_hit_ratio',
      severity: 'ok',
      subject: overview.database,
      message: `only ${total} block reads since the statistics were reset: too few to judge`,
      values: { reads: total },
    }
  }
  const ratio = hit / total
  return {
    check: 'cache_hit_ratio',
    severity: grade(thresholds, 'cache_hit_ratio', ratio),
    subject: overview.database,
    message: `${formatValue('ratio', ratio)} of ${total.toLocaleString('en-US')} block reads served from shared buffers`,
    values: { ratio, reads: total },
    detail: { blocksHit: hit, blocksRead: read, statsAgeSeconds: overview.stats_age_seconds },
  }
}

function connections(activity: Row, overview: Row, thresholds: Thresholds): Finding {
  const used = Number(activity.connections)
  const usable = Number(overview.max_connections) - Number(overview.reserved_connections)
  const ratio = usable > 0 ? used / usable : 1
  return {
    check: 'connections',
    severity: grade(thresholds, 'connections', used, usable),
    subject: overview.database,
    message: `${used} of ${usable} usable connections (${formatValue('ratio', ratio)}; max_connections ${overview.max_connections}, ${overview.reserved_connections} reserved)`,
    values: { used, max: usable, used_ratio: ratio },
    detail: { byState: activity.by_state ?? {} },
  }
}

function hiddenNote(activity: Row): string {
  return `${activity.hidden} session(s) of other roles are hidden from this role (grant it pg_monitor or pg_read_all_stats)`
}

/** A check over sessions: the longest one graded; sessions this role cannot see make a clean answer unknown. */
function sessionFinding(
  check: string,
  activity: Row,
  rows: Row[] | null,
  count: number,
  thresholds: Thresholds,
  describe: (row: Row) => string,
  noun: string,
): Finding {
  const worst = rows?.[0]
  const seconds = Number(worst?.seconds ?? 0)
  let severity: Severity = grade(thresholds, check, seconds)
  const hidden = Number(activity.hidden)
  let message =
    worst && severity !== 'ok'
      ? `${count} ${noun}; longest ${describe(worst)}`
      : worst
        ? `longest ${formatDuration(seconds * 1000)}`
        : `none`
  if (hidden > 0 && severity === 'ok') {
    // The hidden sessions may be the long ones: no number rather than a wrong one.
    return {
      check,
      severity: 'unknown',
      subject: 'sessions',
      message: `${hiddenNote(activity)}; among the visible ones: ${message}`,
      detail: { sessions: rows ?? [], hiddenSessions: hidden },
    }
  }
  if (hidden > 0) message += `; ${hiddenNote(activity)}`
  return {
    check,
    severity,
    subject: 'sessions',
    message,
    values: { max_seconds: seconds, count },
    detail: { sessions: rows ?? [], hiddenSessions: hidden },
  }
}

function who(row: Row): string {
  return `pid ${row.pid} (${[row.usename, row.application_name].filter(Boolean).join(', ')})`
}

function longQueries(activity: Row, thresholds: Thresholds): Finding {
  return sessionFinding(
    'long_queries',
    activity,
    activity.long_worst,
    Number(activity.long_count),
    thresholds,
    (row) => `${formatDuration(row.seconds * 1000)}: ${who(row)} ${oneLine(row.query, 80)}`,
    'long-running queries',
  )
}

function idleInTransaction(activity: Row, thresholds: Thresholds): Finding {
  return sessionFinding(
    'idle_in_transaction',
    activity,
    activity.idle_worst,
    Number(activity.idle_count),
    thresholds,
    (row) => `${formatDuration(row.seconds * 1000)}: ${who(row)} after ${oneLine(row.query, 60)}`,
    'sessions idle in transaction',
  )
}

/** check_postgres txn_time: a transaction of short statements is neither a long query nor idle for long, yet holds xmin. */
function transactionAge(activity: Row, thresholds: Thresholds): Finding {
  return sessionFinding(
    'transaction_age',
    activity,
    activity.xact_worst,
    Number(activity.xact_count),
    thresholds,
    (row) => `${formatDuration(row.seconds * 1000)}: ${who(row)} [${row.state}] ${oneLine(row.query, 60)}`,
    'transactions open too long',
  )
}

function blockedQueries(activity: Row, thresholds: Thresholds): Finding {
  const rows: Row[] = activity.blocked_worst ?? []
  const finding = sessionFinding(
    'blocked_queries',
    activity,
    rows,
    Number(activity.blocked_count),
    thresholds,
    (row) =>
      `${formatDuration(row.seconds * 1000)}: ${who(row)} waits for ${(row.blockers ?? []).map((blocker: Row) => `${who(blocker)} [${blocker.state}]`).join(', ') || `pid ${row.blocked_by?.join(', ')}`}`,
    'blocked queries',
  )
  if (finding.values)
    finding.values = { max_wait_seconds: finding.values.max_seconds!, count: Number(activity.blocked_total) }
  if (finding.severity === 'ok' && rows.length > 0)
    finding.message = `${rows.length} waiting, longest ${formatDuration(Number(rows[0]!.seconds) * 1000)}`
  return finding
}

/** The hard stop: PostgreSQL refuses new transaction IDs about 3 million short of 2^31; vacuum_failsafe_age is 1.6 billion. */
const FAILSAFE_AGE = 1_600_000_000

function wraparound(overview: Row, tables: Row, thresholds: Thresholds): Finding {
  const age = Number(overview.xid_age)
  const freezeMaxAge = Number(overview.freeze_max_age)
  const mxidAge = Number(overview.mxid_age ?? 0)
  const mxidFreezeMaxAge = Number(overview.mxid_freeze_max_age)
  // Multixact IDs wrap around the same way, against their own freeze age.
  const mxidSeverity = grade(thresholds, 'xid_wraparound', mxidAge, mxidFreezeMaxAge)
  let severity = worstSeverity([grade(thresholds, 'xid_wraparound', age, freezeMaxAge), mxidSeverity])
  if (age >= FAILSAFE_AGE || mxidAge >= FAILSAFE_AGE) severity = 'critical'
  const table = tables.xid_worst as Row | null
  const tableName = table ? displayQualified(table.schema, table.table) : undefined
  return {
    check: 'xid_wraparound',
    severity,
    subject: overview.database,
    message: `database age ${age.toLocaleString('en-US')} XIDs (${formatValue('ratio', age / freezeMaxAge)} of autovacuum_freeze_max_age ${freezeMaxAge.toLocaleString('en-US')})${tableName ? `; oldest table ${tableName} ${Number(table!.age).toLocaleString('en-US')}` : ''}${mxidSeverity !== 'ok' ? `; multixact age ${mxidAge.toLocaleString('en-US')} (${formatValue('ratio', mxidAge / mxidFreezeMaxAge)} of autovacuum_multixact_freeze_max_age)` : ''}`,
    values: {
      age,
      freeze_max_age_ratio: age / freezeMaxAge,
      table_age: Number(table?.age ?? 0),
      mxid_age: mxidAge,
      remaining: 2 ** 31 - age,
    },
    detail: { oldestTable: table, oldestDatabase: overview.oldest_database },
    ...(tableName && severity !== 'ok' && { fix: `VACUUM (FREEZE, VERBOSE) ${tableName};` }),
  }
}

/** Exported for unit tests: autovacuum cannot be switched off server-wide on a shared test server. */
export function overdue(
  check: 'vacuum' | 'analyze',
  count: number,
  worst: Row[] | null,
  thresholds: Thresholds,
  autovacuumServer = true,
): Finding {
  const top = worst?.[0]
  const ratio = Number(top?.ratio ?? 0)
  const severity = grade(thresholds, check, ratio)
  const name = (row: Row) => displayQualified(row.schema, row.table)
  const what =
    check === 'analyze'
      ? (row: Row) => `${Number(row.modified).toLocaleString('en-US')} changed tuples, trigger`
      : (row: Row) =>
          row.trigger === 'insert'
            ? `${Number(row.inserted).toLocaleString('en-US')} inserted tuples, insert trigger`
            : `${Number(row.dead).toLocaleString('en-US')} dead tuples, dead-tuple trigger`
  // Autovacuum off for the whole server is one setting to fix, not a property of the worst table.
  const serverOff = !autovacuumServer || (top && !top.autovacuum_server)
  const off = serverOff
    ? '; autovacuum is off for the whole server (autovacuum = off)'
    : top && !top.autovacuum_table
      ? ', autovacuum disabled for it (autovacuum_enabled = false)'
      : ''
  const message = top
    ? `${count} table(s) past the auto${check} trigger; worst ${name(top)}: ${what(top)} ${Math.round(Number(top.threshold)).toLocaleString('en-US')} (${ratio.toFixed(1)}x)${off}`
    : `no table past the auto${check} trigger${off}`
  return {
    check,
    severity,
    subject: top ? name(top) : 'tables',
    message,
    values: { tables: Number(count), max_ratio: ratio },
    detail: { tables: worst ?? [] },
    ...(top &&
      severity !== 'ok' && {
        fix: `${check === 'vacuum' ? 'VACUUM (ANALYZE)' : 'ANALYZE'} ${name(top)}; -- or: dbops maintain --auto`,
      }),
  }
}

/** Values a used sequence can still hand out before its limit, exactly (bigint arithmetic on the catalog's text). */
function valuesLeft(row: Row): bigint {
  const left = (BigInt(row.limit_text) - BigInt(row.last_text)) / BigInt(row.increment)
  return left > 0n ? left : 0n
}

/**
 * float8 makes 100 values short of 2^63-1 a ratio of exactly 1: while values are left, the ratio is the largest
 * number below 1, so that neither the message, the table nor the metrics say "100%" of a sequence that still works.
 */
function usedRatio(row: Row | undefined): number {
  const ratio = Number(row?.used_ratio ?? 0)
  return row && row.last_text !== null && ratio >= 1 && valuesLeft(row) > 0n ? 1 - Number.EPSILON / 2 : ratio
}

function sequenceUsage(sequences: Row, thresholds: Thresholds): Finding {
  const worst: Row[] = sequences.worst ?? []
  const top = worst[0]
  const ratio = usedRatio(top)
  let severity = grade(thresholds, 'sequences', ratio)
  const unreadable = Number(sequences.unreadable)
  const name = (row: Row) => displayQualified(row.schema, row.sequence)
  const owner = (row: Row) =>
    row.owner_table
      ? ` feeding ${displayQualified(row.owner_schema, row.owner_table)}.${displayIdentifier(row.owner_column)} (${row.column_type})`
      : ''
  let message = top
    ? `${name(top)}${owner(top)} at ${formatValue('ratio', ratio)} (${top.last_text === null ? 'never used' : `${BigInt(top.last_text).toLocaleString('en-US')} of ${BigInt(top.limit_text).toLocaleString('en-US')}, ${valuesLeft(top).toLocaleString('en-US')} values left`})`
    : 'no sequences'
  const unreadableNote = `${unreadable} sequence(s) this role cannot read (grant it SELECT or USAGE on them, or pg_monitor)`
  if (unreadable > 0 && severity === 'ok') {
    return {
      check: 'sequences',
      severity: 'unknown',
      subject: 'sequences',
      message: `${unreadableNote}; among the readable ones: ${message}`,
      detail: {
        sequences: worst.filter((row) => Number(row.used_ratio) > 0).slice(0, 10),
        unreadable: sequences.unreadable_names ?? [],
      },
    }
  }
  if (unreadable > 0) message += `; ${unreadableNote}`
  // Widening helps only a smallint/integer column or a narrower sequence; a bigint one at its limit needs a redesign.
  const narrowColumn = top?.owner_table && ['smallint', 'integer'].includes(top.column_type)
  const fix =
    !top || severity === 'ok'
      ? undefined
      : narrowColumn
        ? `ALTER TABLE ${displayQualified(top.owner_schema, top.owner_table)} ALTER COLUMN ${displayIdentifier(top.owner_column)} TYPE bigint; ALTER SEQUENCE ${name(top)} AS bigint;`
        : top.sequence_type !== 'bigint'
          ? `ALTER SEQUENCE ${name(top)} AS bigint;`
          : undefined
  return {
    check: 'sequences',
    severity,
    subject: top ? name(top) : 'sequences',
    message,
    values: { max_used_ratio: ratio, count: Number(sequences.total), unreadable },
    detail: {
      sequences: worst.filter((row) => Number(row.used_ratio) > 0).slice(0, 10),
      unreadable: sequences.unreadable_names ?? [],
    },
    ...(fix && { fix }),
  }
}

/** Exported for unit tests: a test server has no standby to plant lag on. */
export function replicationLag(replication: Row, thresholds: Thresholds): Finding | undefined {
  if (replication.standby) {
    const seconds = Number(replication.standby_lag_seconds ?? 0)
    return {
      check: 'replication',
      severity: grade(thresholds, 'replication', seconds),
      subject: 'standby',
      message: `this standby replays ${formatDuration(seconds * 1000)} behind its primary`,
      values: { max_lag_seconds: seconds, replicas: 0 },
    }
  }
  const replicas: Row[] = replication.replicas ?? []
  if (replicas.length === 0) return undefined
  if (replicas.some((replica) => replica.state === null)) {
    return {
      check: 'replication',
      severity: 'unknown',
      subject: 'replicas',
      message: `${replicas.length} replica(s) this role cannot inspect (grant it pg_monitor)`,
      values: { replicas: replicas.length },
    }
  }
  const worst = [...replicas].sort((a, b) => Number(b.lag_seconds ?? 0) - Number(a.lag_seconds ?? 0))[0]!
  // replay_lag is NULL once an idle standby has caught up.
  const seconds = Number(worst.lag_seconds ?? 0)
  let severity = grade(thresholds, 'replication', seconds)
  const notStreaming = replicas.filter((replica) => replica.state !== 'streaming')
  if (severity === 'ok' && notStreaming.length > 0) severity = 'warn'
  return {
    check: 'replication',
    severity,
    subject: String(worst.name || worst.client || 'replica'),
    message: `${replicas.length} replica(s); most behind: ${worst.name || worst.client} ${formatDuration(seconds * 1000)} (${formatBytes(Number(worst.lag_bytes ?? 0))})${notStreaming.length ? `; not streaming: ${notStreaming.map((replica) => `${replica.name} (${replica.state})`).join(', ')}` : ''}`,
    values: { max_lag_seconds: seconds, max_lag_bytes: Number(worst.lag_bytes ?? 0), replicas: replicas.length },
    detail: { replicas },
  }
}

export function replicationSlots(replication: Row, thresholds: Thresholds): Finding | undefined {
  const slots: Row[] = replication.slots ?? []
  if (slots.length === 0) return undefined
  const worst = [...slots].sort((a, b) => Number(b.retained_bytes ?? 0) - Number(a.retained_bytes ?? 0))[0]!
  const retained = Number(worst.retained_bytes ?? 0)
  let severity = grade(thresholds, 'replication_slots', retained)
  const inactive = slots.filter((slot) => !slot.active)
  const lost = slots.filter((slot) => slot.wal_status === 'lost' || slot.wal_status === 'unreserved')
  if (lost.length > 0) severity = 'critical'
  else if (severity === 'ok' && inactive.length > 0) severity = 'warn'
  const parts = [`${slots.length} slot(s)`, `most WAL retained: ${worst.name} ${formatBytes(retained)}`]
  if (inactive.length > 0) parts.push(`inactive: ${inactive.map((slot) => slot.name).join(', ')}`)
  if (lost.length > 0) parts.push(`WAL ${lost.map((slot) => `${slot.wal_status} for ${slot.name}`).join(', ')}`)
  return {
    check: 'replication_slots',
    severity,
    subject: String(worst.name),
    message: parts.join('; '),
    values: { max_retained_bytes: retained, inactive: inactive.length, slots: slots.length },
    detail: { slots },
    ...(inactive.length > 0 && {
      fix: inactive.map((slot) => `SELECT pg_drop_replication_slot(${quoteLiteral(slot.name)});`).join(' '),
    }),
  }
}
