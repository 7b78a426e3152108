import type { Engine } from '../backends/backend.js'
import type { ThresholdSetting } from '../config/resolve-config.js'
import { parseDuration } from '../config/duration.js'
import { ConfigError, UsageError } from '../errors.js'
import type { Severity } from '../findings.js'
import { formatBytes, formatDuration, parseBytes } from '../output/format.js'

/** What a check measures, which decides how its thresholds are written and its value is shown. */
export type CheckUnit = 'seconds' | 'bytes' | 'ratio' | 'count' | 'state'

export interface CheckSpec {
  name: string
  engines: readonly Engine[]
  description: string
  unit: CheckUnit
  /**
   * What "80%" means in a threshold: 'ratio' when the value itself is a ratio (cache hit ratio), 'relative' when it
   * is a share of a reference the check knows (usable connection slots, autovacuum_freeze_max_age) and a plain
   * number is an absolute count. Absent: percentages are refused.
   */
  percent?: 'ratio' | 'relative'
  /** Lower values are worse (cache hit ratio): a threshold is the value at or below which the level applies. */
  lowerIsWorse?: boolean
  defaults: ThresholdSetting
  /** The key of Finding.values shown as the check's value (human table, Nagios perfdata). */
  primary?: string
  /** Costly: runs only when named with --only (schema_drift builds a scratch database). */
  optIn?: boolean
}

const PG: readonly Engine[] = ['postgres']
const LITE: readonly Engine[] = ['sqlite']
const BOTH: readonly Engine[] = ['postgres', 'sqlite']

/**
 * Every health check, in report order. Defaults follow check_postgres and pghero where they have one (see
 * shared/research/ops-anchors.md §1.4, §4) and are meant for paging, not for tuning advice.
 */
export const HEALTH_CHECKS: readonly CheckSpec[] = [
  {
    name: 'connection',
    engines: BOTH,
    description: 'connect, round-trip latency and server version',
    unit: 'seconds',
    defaults: { warn: '1s', critical: '5s' },
    primary: 'latency_seconds',
  },
  {
    name: 'connections',
    engines: PG,
    description: 'client connections used of max_connections minus superuser_reserved_connections',
    unit: 'count',
    percent: 'relative',
    defaults: { warn: '80%', critical: '95%' },
    primary: 'used_ratio',
  },
  {
    name: 'long_queries',
    engines: PG,
    description: 'the longest-running active query',
    unit: 'seconds',
    defaults: { warn: '5m', critical: '30m' },
    primary: 'max_seconds',
  },
  {
    name: 'idle_in_transaction',
    engines: PG,
    description: 'the longest session idle inside an open transaction',
    unit: 'seconds',
    defaults: { warn: '1m', critical: '10m' },
    primary: 'max_seconds',
  },
  {
    name: 'transaction_age',
    engines: PG,
    description:
      "the oldest transaction of several statements (from xact_start), however short each is: it holds back vacuum and keeps its locks (one long statement is long_queries' business)",
    unit: 'seconds',
    defaults: { warn: '1m', critical: '10m' },
    primary: 'max_seconds',
  },
  {
    name: 'blocked_queries',
    engines: PG,
    description: "the longest wait of a query blocked by another session's lock",
    unit: 'seconds',
    defaults: { warn: '30s', critical: '5m' },
    primary: 'max_wait_seconds',
  },
  {
    name: 'cache_hit_ratio',
    engines: PG,
    description: 'share of block reads served from shared buffers (once there are 10,000 reads)',
    unit: 'ratio',
    percent: 'ratio',
    lowerIsWorse: true,
    defaults: { warn: '95%' },
    primary: 'ratio',
  },
  {
    name: 'xid_wraparound',
    engines: PG,
    description:
      'transaction-ID and multixact age of the database (and the table holding it back); % = of autovacuum_(multixact_)freeze_max_age',
    unit: 'count',
    percent: 'relative',
    defaults: { warn: '150%', critical: '500%' },
    primary: 'age',
  },
  {
    name: 'sequences',
    engines: PG,
    description: "the most used sequence, against its own limit and its column type's",
    unit: 'ratio',
    percent: 'ratio',
    defaults: { warn: '85%', critical: '95%' },
    primary: 'max_used_ratio',
  },
  {
    name: 'replication',
    engines: PG,
    description: 'replication lag of standbys (or of this standby); only where there is replication',
    unit: 'seconds',
    defaults: { warn: '30s', critical: '5m' },
    primary: 'max_lag_seconds',
  },
  {
    name: 'replication_slots',
    engines: PG,
    description: 'inactive replication slots and the WAL slots retain; only where there are slots',
    unit: 'bytes',
    defaults: { warn: '1GB', critical: '10GB' },
    primary: 'max_retained_bytes',
  },
  {
    name: 'wal_archiving',
    engines: PG,
    description:
      'WAL waiting to be archived (age of the oldest segment not yet archived) and a failing archive_command; ok when archiving is off',
    unit: 'seconds',
    defaults: { warn: '15m', critical: '1h' },
    primary: 'lag_seconds',
  },
  {
    name: 'prepared_transactions',
    engines: PG,
    description:
      'the oldest prepared (two-phase) transaction: a forgotten one holds back vacuum and keeps its locks, across restarts',
    unit: 'seconds',
    defaults: { warn: '1m', critical: '10m' },
    primary: 'max_seconds',
  },
  {
    name: 'vacuum',
    engines: PG,
    description:
      "tables past the autovacuum trigger (dead or inserted tuples over the server's formula), as a multiple of it",
    unit: 'ratio',
    percent: 'ratio',
    defaults: { warn: 3 },
    primary: 'max_ratio',
  },
  {
    name: 'analyze',
    engines: PG,
    description: "tables past the autoanalyze trigger (changed tuples over the server's formula), as a multiple of it",
    unit: 'ratio',
    percent: 'ratio',
    defaults: { warn: 3 },
    primary: 'max_ratio',
  },
  {
    name: 'integrity',
    engines: LITE,
    description: 'PRAGMA quick_check (integrity_check with --deep)',
    unit: 'state',
    defaults: { critical: 'on' },
    primary: 'errors',
  },
  {
    name: 'foreign_keys',
    engines: LITE,
    description: 'rows violating foreign keys (PRAGMA foreign_key_check)',
    unit: 'count',
    defaults: { warn: 1 },
    primary: 'violations',
  },
  {
    name: 'journal_mode',
    engines: LITE,
    description: 'journal mode other than WAL (readers and the writer block each other)',
    unit: 'state',
    defaults: { warn: 'on' },
  },
  {
    name: 'wal_size',
    engines: LITE,
    description: 'size of the -wal file (a growing WAL means checkpoints are starved)',
    unit: 'bytes',
    defaults: { warn: '256MB', critical: '1GB' },
    primary: 'bytes',
  },
  {
    name: 'freelist',
    engines: LITE,
    description: 'share of the file that is free pages (VACUUM reclaims them)',
    unit: 'ratio',
    percent: 'ratio',
    defaults: { warn: '50%' },
    primary: 'ratio',
  },
  {
    name: 'database_size',
    engines: BOTH,
    description: 'database size (SQLite: file plus WAL)',
    unit: 'bytes',
    defaults: {},
    primary: 'bytes',
  },
  {
    name: 'migrations',
    engines: BOTH,
    description: 'the dbops ledger against the migration files: pending, changed, failed or missing migrations',
    unit: 'state',
    defaults: { warn: 'on', critical: 'on' },
    primary: 'pending',
  },
  {
    name: 'backup_age',
    engines: BOTH,
    description: 'age of the newest completed backup (a manifest in backup.dir); only once the folder exists',
    unit: 'seconds',
    defaults: { warn: '26h', critical: '50h' },
    primary: 'age_seconds',
  },
  {
    name: 'schema_drift',
    engines: BOTH,
    description:
      'the database against what its applied migrations build in a scratch database (dropped); only with --only schema_drift',
    unit: 'count',
    defaults: { warn: 1 },
    primary: 'differences',
    optIn: true,
  },
]

export const CHECKS_BY_NAME: ReadonlyMap<string, CheckSpec> = new Map(HEALTH_CHECKS.map((spec) => [spec.name, spec]))

/** A parsed threshold: a value in the check's base unit, or a share of the check's reference when `relative`. */
export interface Threshold {
  value: number
  relative: boolean
}

/** Parsed thresholds per check; a level set to null is switched off. */
export type Thresholds = Record<string, { warn: Threshold | null; critical: Threshold | null }>

export interface ThresholdSources {
  /** From the config file (`health.thresholds`); problems are configuration errors. */
  config?: Record<string, ThresholdSetting>
  /** From the command line (`--threshold`); problems are usage errors. */
  overrides?: Record<string, ThresholdSetting>
}

/**
 * Defaults, then the config file, then command-line overrides, each level separately. Unparseable values are
 * errors (exit 3), collected all at once. Names of unknown checks are errors on the command line and ignored in the
 * config (the section is shared with `dbops audit`), reported through `unknownConfigChecks`.
 */
export function resolveThresholds(sources: ThresholdSources): {
  thresholds: Thresholds
  unknownConfigChecks: string[]
} {
  const thresholds: Thresholds = {}
  const configProblems: string[] = []
  const usageProblems: string[] = []
  const unknownConfigChecks: string[] = []
  for (const spec of HEALTH_CHECKS) {
    thresholds[spec.name] = {
      warn: parseLevel(spec, spec.defaults.warn, 'default', []),
      critical: parseLevel(spec, spec.defaults.critical, 'default', []),
    }
  }
  const layers: [Record<string, ThresholdSetting> | undefined, string, string[], boolean][] = [
    [sources.config, 'health.thresholds', configProblems, false],
    [sources.overrides, '--threshold', usageProblems, true],
  ]
  for (const [layer, prefix, problems, strict] of layers) {
    for (const [check, setting] of Object.entries(layer ?? {})) {
      const spec = CHECKS_BY_NAME.get(check)
      if (!spec) {
        if (strict)
          problems.push(
            `${prefix} ${check}: no health check by that name (known: ${HEALTH_CHECKS.map((known) => known.name).join(', ')})`,
          )
        else unknownConfigChecks.push(check)
        continue
      }
      for (const level of ['warn', 'critical'] as const) {
        if (setting[level] === undefined) continue
        thresholds[check]![level] = parseLevel(
          spec,
          setting[level],
          strict ? `${prefix} ${check}.${level}` : `${prefix}.${check}.${level}`,
          problems,
        )
      }
    }
  }
  if (usageProblems.length > 0) throw new UsageError(usageProblems.join('; '), thresholdHint())
  if (configProblems.length > 0) throw new ConfigError(configProblems, { hint: thresholdHint() })
  return { thresholds, unknownConfigChecks }
}

function thresholdHint(): string {
  return 'durations like 30s or 5m, sizes like 512MB or 10GB, ratios like 80% or 0.8, counts like 100 or 1.5B, or "off"; see "dbops health --help"'
}

const OFF = /^(off|none|false|disabled)$/i
const ON = /^(on|true|enabled)$/i

function parseLevel(
  spec: CheckSpec,
  setting: number | string | undefined,
  path: string,
  problems: string[],
): Threshold | null {
  if (setting === undefined) return null
  const text = typeof setting === 'string' ? setting.trim() : undefined
  if (text !== undefined && OFF.test(text)) return null
  const problem = (why: string) => {
    problems.push(`${path}: ${JSON.stringify(setting)} ${why}`)
    return null
  }
  if (spec.unit === 'state') {
    if (text !== undefined && ON.test(text)) return { value: 1, relative: false }
    return problem(`is not "on" or "off" (the ${spec.name} check has no numeric threshold)`)
  }
  if (text !== undefined && text.endsWith('%')) {
    if (!spec.percent) return problem(`cannot be a percentage for ${spec.name} (it is measured in ${spec.unit})`)
    const number = Number(text.slice(0, -1).trim())
    if (!Number.isFinite(number) || number < 0) return problem('is not a percentage')
    return { value: number / 100, relative: spec.percent === 'relative' }
  }
  const value = parseValue(spec.unit, setting)
  if (value === undefined || !Number.isFinite(value) || value < 0) {
    const examples: Record<Exclude<CheckUnit, 'state'>, string> = {
      seconds: 'a duration such as 30s, 5m or 26h',
      bytes: 'a size such as 512MB or 10GB',
      ratio: 'a ratio such as 0.8 or 80%',
      count: 'a count such as 100, 250k or 1.5B',
    }
    return problem(`is not ${examples[spec.unit]}`)
  }
  return { value, relative: false }
}

const COUNT_UNITS: Record<string, number> = { '': 1, k: 1e3, m: 1e6, b: 1e9 }

/** A threshold written as a number (base unit) or a string with a unit; undefined when it does not parse. */
export function parseValue(unit: Exclude<CheckUnit, 'state'>, setting: number | string): number | undefined {
  if (typeof setting === 'number') return setting
  const text = setting.trim()
  if (unit === 'seconds') {
    // Written as everywhere else in dbops (5s, 1m30s, 26h); a bare number is seconds.
    if (/^\d+(\.\d+)?$/.test(text)) return Number(text)
    try {
      return parseDuration(text, 'threshold') / 1000
    } catch {
      return undefined
    }
  }
  const match = /^(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)$/i.exec(text)
  if (!match) return undefined
  const number = Number(match[1])
  const suffix = match[2]!.toLowerCase()
  switch (unit) {
    case 'bytes':
      return parseBytes(text)
    case 'ratio':
      return suffix === '' || suffix === 'x' ? number : undefined
    case 'count':
      return COUNT_UNITS[suffix] === undefined ? undefined : number * COUNT_UNITS[suffix]!
  }
}

/**
 * The severity of `value` for `check`: critical is tested first, so setting warn and critical to the same value
 * leaves only critical. `reference` resolves relative thresholds (e.g. usable connection slots).
 */
export function grade(thresholds: Thresholds, check: string, value: number, reference?: number): Severity {
  const spec = CHECKS_BY_NAME.get(check)!
  const levels = thresholds[check]!
  for (const level of ['critical', 'warn'] as const) {
    const limit = limitOf(levels[level], reference)
    if (limit === undefined) continue
    if (spec.lowerIsWorse ? value <= limit : value >= limit) return level
  }
  return 'ok'
}

/** A threshold in the check's base unit; undefined when it is off or relative without a reference. */
export function limitOf(threshold: Threshold | null, reference?: number): number | undefined {
  if (!threshold) return undefined
  if (!threshold.relative) return threshold.value
  return reference === undefined ? undefined : threshold.value * reference
}

/** Whether a level of a state check (journal_mode, integrity, migrations) is switched on. */
export function levelOn(thresholds: Thresholds, check: string, level: 'warn' | 'critical'): boolean {
  return thresholds[check]?.[level] != null
}

/**
 * Parses `--threshold <check>.<level>=<value>` flags into the config's shape. `<check>=<value>` sets warn. Each
 * problem is a usage error.
 */
export function parseThresholdFlags(flags: readonly string[]): Record<string, ThresholdSetting> {
  const overrides: Record<string, ThresholdSetting> = {}
  for (const flag of flags) {
    const match = /^([a-z_]+)(?:\.(warn|warning|critical|crit))?\s*=\s*(.+)$/i.exec(flag.trim())
    if (!match) {
      throw new UsageError(
        `--threshold "${flag}": write <check>.warn=<value> or <check>.critical=<value>`,
        'e.g. --threshold connections.warn=70% --threshold long_queries.critical=10m',
      )
    }
    const level = match[2]?.toLowerCase().startsWith('crit') ? 'critical' : 'warn'
    const raw = match[3]!.trim()
    ;(overrides[match[1]!.toLowerCase()] ??= {})[level] = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw
  }
  return overrides
}

/** The check names an engine runs, after --only and --skip (unknown names are usage errors). */
export function selectChecks(
  engine: Engine,
  only: readonly string[] | undefined,
  skip: readonly string[] | undefined,
): Set<string> {
  for (const [flag, names] of [
    ['--only', only],
    ['--skip', skip],
  ] as const) {
    const unknown = (names ?? []).filter((name) => !CHECKS_BY_NAME.has(name))
    if (unknown.length > 0) {
      throw new UsageError(
        `${flag}: no health check named ${unknown.map((name) => `"${name}"`).join(', ')}`,
        `known checks: ${HEALTH_CHECKS.map((spec) => spec.name).join(', ')}`,
      )
    }
  }
  const selected = HEALTH_CHECKS.filter(
    (spec) => spec.engines.includes(engine) && (!spec.optIn || (only ?? []).includes(spec.name)),
  )
    .map((spec) => spec.name)
    .filter((name) => (only && only.length > 0 ? only.includes(name) : true) && !(skip ?? []).includes(name))
  // The connection is what every other check stands on: it always runs.
  return new Set(['connection', ...selected])
}

/** A value for people: 0.0021 s → "2.1ms", 3.2e9 bytes → "3.0 GB", 0.853 → "85.3%". */
export function formatValue(unit: CheckUnit, value: number): string {
  switch (unit) {
    case 'seconds':
      return formatDuration(value * 1000)
    case 'bytes':
      return formatBytes(value)
    case 'ratio':
      // Rounding must not reach a bound that was not reached: 0.99996 is "99.9%", not "100%".
      if (value === 0 || value >= 1) return `${(value * 100).toFixed(0)}%`
      return `${(value < 1 && value > 0.999 ? Math.floor(value * 1000) / 10 : value * 100).toFixed(1)}%`
    default:
      return Number.isInteger(value) ? value.toLocaleString('en-US') : value.toFixed(2)
  }
}
