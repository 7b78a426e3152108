import type { Finding, Severity } from '../findings.js'
import type { MetricFamily } from '../output/prometheus.js'
import { CHECKS_BY_NAME, formatValue, limitOf, resolveThresholds, type Thresholds } from './checks.js'
import type { HealthResult } from './check-health.js'

/**
 * The exit code of a health result: 0 ok, 1 warning, 2 critical or unreachable. A check that could not run
 * (`unknown`, e.g. a role without pg_monitor) exits 1: a check that silently cannot see is not a healthy check.
 * Exit 3 stays reserved for usage and configuration errors. Grant the privilege or `--skip` the check to clear it.
 */
export function healthExitCode(status: Severity): number {
  return status === 'ok' ? 0 : status === 'critical' ? 2 : 1
}

export const SEVERITY_NUMBER: Record<Severity, number> = { ok: 0, warn: 1, critical: 2, unknown: 3 }

const NAGIOS_STATE = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN']

/**
 * One Nagios/Icinga plugin line: `DBOPS HEALTH WARNING - 1 warning(s): connections 85% ... | perfdata`. The state
 * word matches the exit code. Perfdata follows the plugin guidelines: `'label'=value[UOM];warn;crit;min;max`, limits
 * in the value's unit, `n:` for checks where lower is worse. With several targets, labels are `target:check`.
 */
export function formatNagios(
  results: readonly HealthResult[],
  failures: readonly { target: string; message: string }[] = [],
): string {
  const code = Math.max(0, ...results.map((result) => healthExitCode(result.status)), ...failures.map(() => 3))
  const several = results.length + failures.length > 1
  const prefix = (result: HealthResult) => (several ? `${result.target}:` : '')
  const groups: Record<'critical' | 'warn' | 'unknown', string[]> = { critical: [], warn: [], unknown: [] }
  let total = 0
  for (const result of results) {
    for (const finding of result.checks) {
      total++
      if (finding.severity !== 'ok')
        groups[finding.severity].push(`${prefix(result)}${finding.check} ${shortValue(finding)}`.trim())
    }
  }
  const parts: string[] = failures.map((failure) => `${failure.target}: ${failure.message}`)
  if (groups.critical.length) parts.push(`${groups.critical.length} critical: ${groups.critical.join(', ')}`)
  if (groups.warn.length) parts.push(`${groups.warn.length} warning(s): ${groups.warn.join(', ')}`)
  if (groups.unknown.length) parts.push(`${groups.unknown.length} unknown: ${groups.unknown.join(', ')}`)
  if (parts.length === 0)
    parts.push(
      `${total} check(s) ok${several ? ` on ${results.length} targets` : results[0] ? ` on ${results[0].target}` : ''}`,
    )
  const perfdata = results.flatMap((result) =>
    result.checks.map((finding) => perfItem(finding, prefix(result), thresholdsOf(result))).filter(Boolean),
  )
  const text = `DBOPS HEALTH ${NAGIOS_STATE[code]} - ${parts
    .join('; ')
    .replace(/\|/g, '/')
    .replace(/\s*\n\s*/g, ' ')}`
  return perfdata.length > 0 ? `${text} | ${perfdata.join(' ')}` : text
}

/** The value a check is known by, for one-line summaries: "85%", "7m12s", "3 pending". */
export function shortValue(finding: Finding): string {
  const spec = CHECKS_BY_NAME.get(finding.check)
  const key = spec?.primary
  const value = key === undefined ? undefined : finding.values?.[key]
  if (finding.check === 'journal_mode' && finding.detail?.journalMode) return String(finding.detail.journalMode)
  if (finding.severity === 'unknown' || value === undefined || !spec) return `(${firstClause(finding.message)})`
  if (finding.check === 'integrity') return value === 0 ? 'ok' : `${value} error(s)`
  if (spec.unit === 'state') return firstClause(finding.message)
  if (finding.check === 'vacuum' || finding.check === 'analyze') return `${value.toFixed(1)}x`
  const unit = key === 'used_ratio' || key === 'max_used_ratio' ? 'ratio' : spec.unit
  return formatValue(unit, value)
}

function firstClause(message: string): string {
  const clause = message.split(/;\s/)[0]!
  return clause.length > 80 ? `${clause.slice(0, 79)}…` : clause
}

function thresholdsOf(result: HealthResult): Thresholds {
  return result.thresholds ?? resolveThresholds({}).thresholds
}

function perfItem(finding: Finding, prefix: string, thresholds: Thresholds): string | undefined {
  const spec = CHECKS_BY_NAME.get(finding.check)
  if (!spec?.primary || spec.unit === 'state') {
    return spec?.primary && finding.values?.[spec.primary] !== undefined
      ? `${perfLabel(prefix + finding.check)}=${round(finding.values[spec.primary]!)};;;0;`
      : undefined
  }
  const value = finding.values?.[spec.primary]
  if (value === undefined || finding.severity === 'unknown') return undefined
  const levels = thresholds[finding.check]
  let reference: number | undefined
  let scale = 1
  let uom = ''
  let min = '0'
  let max = ''
  if (finding.check === 'connections') {
    // Shown as a percentage of the usable slots; absolute thresholds are converted to it.
    const slots = finding.values?.max ?? 0
    reference = 1
    const toRatio = (limit: number | undefined, relative: boolean) =>
      limit === undefined ? undefined : relative ? limit : slots > 0 ? limit / slots : undefined
    const warn = levels?.warn ? toRatio(levels.warn.value, levels.warn.relative) : undefined
    const critical = levels?.critical ? toRatio(levels.critical.value, levels.critical.relative) : undefined
    return `${perfLabel(prefix + finding.check)}=${round(value * 100)}%;${warn === undefined ? '' : round(warn * 100)};${critical === undefined ? '' : round(critical * 100)};0;100`
  }
  if (finding.check === 'xid_wraparound') {
    const ratio = finding.values?.freeze_max_age_ratio
    reference = ratio ? value / ratio : undefined
    max = String(2 ** 31)
  }
  switch (spec.unit) {
    case 'ratio':
      if (spec.percent === 'ratio' && finding.check !== 'vacuum' && finding.check !== 'analyze') {
        scale = 100
        uom = '%'
        max = '100'
      }
      break
    case 'seconds':
      uom = 's'
      break
    case 'bytes':
      uom = 'B'
      break
  }
  const limit = (level: 'warn' | 'critical') => {
    const number = limitOf(levels?.[level] ?? null, reference)
    if (number === undefined) return ''
    return `${round(number * scale)}${spec.lowerIsWorse ? ':' : ''}`
  }
  // A share short of its bound must not round up to it: 99.99999% of a sequence with values left is not "100%".
  const shown = max && value * scale < Number(max) ? roundBelow(value * scale, Number(max)) : round(value * scale)
  return `${perfLabel(prefix + finding.check)}=${shown}${uom};${limit('warn')};${limit('critical')};${min};${max}`
}

/**
 * Perfdata numbers as Nagios parsers read them: integers (bytes, counts) exact, fractions to 6 significant digits
 * (never fewer than the integer part has), and never in e-notation (String(1e-7) is "1e-7", String(1e21) "1e+21").
 */
function round(value: number): string {
  if (Number.isInteger(value)) return BigInt(value).toString()
  const integerDigits = Math.abs(value) >= 1 ? Math.floor(Math.log10(Math.abs(value))) + 1 : 0
  return new Intl.NumberFormat('en-US', {
    useGrouping: false,
    maximumSignificantDigits: Math.min(21, Math.max(6, integerDigits)),
  }).format(value)
}

/** `value` as `round` prints it, with more digits while those would reach `bound` (which `value` is below). */
function roundBelow(value: number, bound: number): string {
  let text = round(value)
  for (let digits = 7; Number(text) >= bound && digits <= 21; digits++)
    text = new Intl.NumberFormat('en-US', { useGrouping: false, maximumSignificantDigits: digits }).format(value)
  return Number(text) >= bound ? String(value) : text
}

/** Labels with characters outside [A-Za-z0-9_:.-] are single-quoted, quotes doubled (Nagios plugin guidelines). */
function perfLabel(label: string): string {
  return /^[A-Za-z0-9_:.-]+$/.test(label) ? label : `'${label.replace(/'/g, "''")}'`
}

interface MetricSpec {
  name: string
  help: string
  labels?: Record<string, string>
}

/** One family, `dbops_migrations{state}`, for every ledger state. */
function migrationsByState(state: string): MetricSpec {
  return { name: 'dbops_migrations', help: 'Migrations by state against the dbops ledger.', labels: { state } }
}

/** Finding values exported as metrics, by `check.value`: base units, one unit per metric. */
const METRICS: Record<string, MetricSpec> = {
  'connection.latency_seconds': {
    name: 'dbops_latency_seconds',
    help: 'Round trip of one query (SQLite: opening the file read-only).',
  },
  'connections.used': { name: 'dbops_connections', help: 'Client connections in use.' },
  'connections.max': {
    name: 'dbops_connections_max',
    help: 'Usable connection slots: max_connections minus reserved ones.',
  },
  'connections.used_ratio': {
    name: 'dbops_connections_used_ratio',
    help: 'Client connections in use as a share of the usable slots.',
  },
  'long_queries.max_seconds': {
    name: 'dbops_longest_query_seconds',
    help: 'Run time of the longest-running active query.',
  },
  'idle_in_transaction.max_seconds': {
    name: 'dbops_longest_idle_in_transaction_seconds',
    help: 'Time the longest session has been idle inside a transaction.',
  },
  'transaction_age.max_seconds': {
    name: 'dbops_oldest_transaction_seconds',
    help: 'Age of the oldest open transaction (from xact_start).',
  },
  'wal_archiving.lag_seconds': {
    name: 'dbops_wal_archive_lag_seconds',
    help: 'Age of the oldest WAL segment waiting for archive_command (0 when none waits).',
  },
  'wal_archiving.ready': {
    name: 'dbops_wal_archive_ready_segments',
    help: 'WAL segments waiting for archive_command.',
  },
  'wal_archiving.failed': {
    name: 'dbops_wal_archive_failures',
    help: 'archive_command failures since the statistics were reset (pg_stat_archiver.failed_count).',
  },
  'prepared_transactions.max_seconds': {
    name: 'dbops_oldest_prepared_transaction_seconds',
    help: 'Age of the oldest prepared (two-phase) transaction.',
  },
  'prepared_transactions.count': {
    name: 'dbops_prepared_transactions',
    help: 'Prepared (two-phase) transactions on the server.',
  },
  'blocked_queries.count': {
    name: 'dbops_blocked_queries',
    help: 'Queries waiting for a lock held by another session.',
  },
  'blocked_queries.max_wait_seconds': {
    name: 'dbops_longest_lock_wait_seconds',
    help: 'Wait of the longest-blocked query.',
  },
  'cache_hit_ratio.ratio': {
    name: 'dbops_cache_hit_ratio',
    help: 'Share of block reads served from shared buffers since the statistics reset.',
  },
  'xid_wraparound.age': { name: 'dbops_xid_age', help: 'Transaction-ID age of the database, age(datfrozenxid).' },
  'xid_wraparound.table_age': {
    name: 'dbops_table_xid_age_max',
    help: 'Transaction-ID age of the oldest table of the database.',
  },
  'xid_wraparound.mxid_age': {
    name: 'dbops_mxid_age',
    help: 'Multixact-ID age of the database, mxid_age(datminmxid).',
  },
  'sequences.max_used_ratio': {
    name: 'dbops_sequence_used_ratio_max',
    help: "Used share of the most used sequence, against its own and its column type's limit.",
  },
  'replication.max_lag_seconds': {
    name: 'dbops_replication_lag_seconds',
    help: 'Replay lag of the most lagging standby (or of this standby).',
  },
  'replication.replicas': { name: 'dbops_replicas', help: 'Standbys connected to this server.' },
  'replication_slots.max_retained_bytes': {
    name: 'dbops_replication_slot_retained_bytes_max',
    help: 'WAL retained by the replication slot holding the most.',
  },
  'replication_slots.inactive': {
    name: 'dbops_replication_slots_inactive',
    help: 'Replication slots no consumer is connected to.',
  },
  'database_size.bytes': { name: 'dbops_database_size_bytes', help: 'Size of the database (SQLite: file plus WAL).' },
  'vacuum.tables': {
    name: 'dbops_vacuum_overdue_tables',
    help: "Tables past the autovacuum trigger of the server's formula.",
  },
  'analyze.tables': {
    name: 'dbops_analyze_overdue_tables',
    help: "Tables past the autoanalyze trigger of the server's formula.",
  },
  'integrity.errors': {
    name: 'dbops_integrity_errors',
    help: 'Problems found by PRAGMA quick_check or integrity_check (capped at 100).',
  },
  'foreign_keys.violations': {
    name: 'dbops_foreign_key_violations',
    help: 'Rows violating foreign keys (capped at 1000).',
  },
  'wal_size.bytes': { name: 'dbops_wal_size_bytes', help: 'Size of the SQLite -wal file.' },
  'freelist.ratio': { name: 'dbops_freelist_ratio', help: 'Share of the SQLite file that is free pages.' },
  'migrations.pending': migrationsByState('pending'),
  'migrations.failed': migrationsByState('failed'),
  'migrations.drifted': migrationsByState('drifted'),
  'migrations.missing': migrationsByState('missing'),
  'migrations.applied': migrationsByState('applied'),
  'backup_age.age_seconds': { name: 'dbops_backup_age_seconds', help: 'Age of the newest completed backup.' },
  'backup_age.last_success_timestamp_seconds': {
    name: 'dbops_backup_last_success_timestamp_seconds',
    help: 'Unix time the newest completed backup finished.',
  },
  'backup_age.size_bytes': { name: 'dbops_backup_size_bytes', help: 'Size of the newest completed backup.' },
}

/**
 * Metric families for results of one or more targets, each family once (formatPrometheus merges and drops repeated
 * series). `dbops_health_status` carries every check (0 ok, 1 warning, 2 critical, 3 unknown).
 */
export function healthMetrics(results: readonly HealthResult[]): MetricFamily[] {
  const families = new Map<string, MetricFamily>()
  const add = (name: string, help: string, labels: Record<string, string>, value: number) => {
    let family = families.get(name)
    if (!family) families.set(name, (family = { name, help, type: 'gauge', samples: [] }))
    family.samples.push({ labels, value })
  }
  for (const result of results) {
    const target = { target: result.target }
    add(
      'dbops_up',
      'Whether the database answered (1) or not (0).',
      { ...target, engine: result.engine },
      result.up ? 1 : 0,
    )
    add(
      'dbops_health_target_status',
      "Worst result of the target's health checks (0 ok, 1 warning, 2 critical, 3 unknown).",
      target,
      SEVERITY_NUMBER[result.status],
    )
    add('dbops_health_duration_seconds', 'Time the health checks of the target took.', target, result.durationMs / 1000)
    for (const finding of result.checks) {
      add(
        'dbops_health_status',
        'Result of a health check (0 ok, 1 warning, 2 critical, 3 unknown).',
        { ...target, check: finding.check },
        SEVERITY_NUMBER[finding.severity],
      )
      // A check that could not see everything exports its status only: no number rather than a wrong one.
      if (finding.severity === 'unknown') continue
      for (const [key, value] of Object.entries(finding.values ?? {})) {
        const metric = METRICS[`${finding.check}.${key}`]
        if (metric && Number.isFinite(value)) add(metric.name, metric.help, { ...target, ...metric.labels }, value)
      }
    }
  }
  return [...families.values()]
}
