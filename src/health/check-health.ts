import { existsSync, readdirSync, statSync } from 'node:fs'
import type { Engine } from '../backends/backend.js'
import type { ThresholdSetting } from '../config/resolve-config.js'
import { worstSeverity, type Finding, type Severity } from '../findings.js'
import { migrationStatus } from '../migrate/run.js'
import { MANIFEST_SUFFIX, verifyFailed, type BackupManifest } from '../backup/manifest.js'
import { targetBackups } from '../backup/ownership.js'
import type { BackupDestination } from '../backup/destinations.js'
import type { Target } from '../targets/target.js'
import { formatDuration } from '../output/format.js'
import { CHECKS_BY_NAME, grade, levelOn, resolveThresholds, selectChecks, type Thresholds } from './checks.js'
import type { HealthProbe } from './health-probe.js'

export interface HealthOptions {
  /** Thresholds over the config's `health.thresholds`, e.g. from `--threshold` (check → {warn, critical}). */
  thresholds?: Record<string, ThresholdSetting>
  /** Run only these checks (connection always runs). */
  only?: readonly string[]
  skip?: readonly string[]
  /** SQLite: full PRAGMA integrity_check instead of quick_check. */
  deep?: boolean
  /** The whole run's deadline (default 30 s): checks not done by then are reported unknown, a connection not made critical. */
  timeoutMs?: number
  /** Per query (default 5 s). */
  statementTimeoutMs?: number
  /** Config names under health.thresholds that are no health check (the section is shared with audit). */
  onWarning?: (message: string) => void
  /** Aborting (Ctrl-C) ends the run like the deadline: what finished is reported. */
  signal?: AbortSignal
  /** For tests: the clock backup ages are measured against. */
  now?: Date
}

export interface HealthResult {
  target: string
  engine: Engine
  /** The redacted URL. */
  url: string
  /** The worst severity of all checks. */
  status: Severity
  /** Whether the database answered. */
  up: boolean
  version: string | null
  durationMs: number
  checks: Finding[]
  /** The thresholds the checks that ran were graded with (parsed: base units, or a share of a reference when relative). */
  thresholds: Thresholds
}

const DEFAULT_TIMEOUT_MS = 30_000
const DEFAULT_STATEMENT_TIMEOUT_MS = 5_000

/**
 * Runs the health checks of one target. Problems of the database (unreachable, a check that fails or lacks
 * privileges) are findings, never throws: only bad thresholds or check names throw (UsageError/ConfigError). Every
 * query is read-only, has a statement timeout, and the whole run has a deadline, so cron and monitoring agents
 * never hang on it. The target stays open; the caller closes it.
 */
export async function checkHealth(target: Target, options: HealthOptions = {}): Promise<HealthResult> {
  const started = performance.now()
  const engine = target.backend.engine
  const { thresholds, unknownConfigChecks } = resolveThresholds({
    config: target.health.thresholds,
    ...(options.thresholds !== undefined && { overrides: options.thresholds }),
  })
  for (const name of unknownConfigChecks)
    options.onWarning?.(`health.thresholds.${name}: no health check by that name, ignored`)
  const checks = selectChecks(engine, options.only, options.skip)
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const findings = new Map<string, Finding>()
  const report = (finding: Finding) => {
    if (checks.has(finding.check) && !findings.has(finding.check)) findings.set(finding.check, finding)
  }

  let probe: HealthProbe | undefined
  let outcome: { up: boolean; version?: string } | undefined
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<'deadline'>((resolve) => {
    timer = setTimeout(() => resolve('deadline'), timeoutMs)
    options.signal?.addEventListener('abort', () => resolve('deadline'), { once: true })
  })
  const work = (async () => {
    probe = await target.backend.healthProbe()
    outcome = await probe.run({
      checks,
      thresholds,
      statementTimeoutMs: Math.min(options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS, timeoutMs),
      deep: options.deep === true,
      report,
    })
    if (outcome.up && checks.has('migrations')) await ledgerCheck(target, probe, thresholds, report)
    if (outcome.up && checks.has('schema_drift'))
      await (await import('../schema/drift-health.js')).schemaDriftCheck(target, thresholds, report, options.signal)
  })()
  work.catch(() => {}) // Raced below; after the deadline nobody waits for it.
  let timedOut = false
  let failure: string | undefined
  try {
    const winner = await Promise.race([work.then(() => 'done' as const), deadline])
    timedOut = winner === 'deadline'
  } catch (error) {
    failure = `the check failed: ${(error as Error).message}`
  } finally {
    clearTimeout(timer)
    await probe?.close().catch(() => {})
  }

  // The database's identity is only asked of a server that answered in time (nothing may wait past the deadline).
  const offline = outcome?.up !== true || timedOut || failure !== undefined
  if (checks.has('backup_age')) await backupAgeCheck(target, thresholds, options.now ?? new Date(), report, offline)

  const late = options.signal?.aborted
    ? 'interrupted before it finished'
    : `did not finish within the ${formatDuration(timeoutMs)} deadline (--timeout)`
  if (!findings.has('connection')) {
    report({
      check: 'connection',
      severity: 'critical',
      subject: target.name,
      message: timedOut
        ? `no answer from ${target.redactedUrl}: ${late}`
        : (failure ?? `${target.redactedUrl} did not answer`),
    })
  }
  // Connected but not done (deadline, or a failure of dbops itself): the connection finding is there, the outcome not.
  const connection = findings.get('connection')!
  const up = outcome?.up ?? ((timedOut || failure !== undefined) && connection.severity !== 'critical')
  if (up && (timedOut || failure !== undefined)) {
    for (const name of checks) {
      if (!findings.has(name) && name !== 'backup_age')
        report({ check: name, severity: 'unknown', subject: target.name, message: timedOut ? late : failure! })
    }
  }
  const ordered = [...findings.values()].sort((a, b) => order(a.check) - order(b.check))
  return {
    target: target.name,
    engine,
    url: target.redactedUrl,
    status: worstSeverity(ordered.map((finding) => finding.severity)),
    up,
    version: outcome?.version ?? (typeof connection.detail?.version === 'string' ? connection.detail.version : null),
    durationMs: Math.round(performance.now() - started),
    checks: ordered,
    thresholds: Object.fromEntries(Object.entries(thresholds).filter(([name]) => findings.has(name))),
  }
}

const ORDER = new Map([...CHECKS_BY_NAME.keys()].map((name, index) => [name, index]))
function order(check: string): number {
  return ORDER.get(check) ?? ORDER.size
}

/** The dbops ledger through the probe's read-only session, against the migration files when they are there. */
async function ledgerCheck(
  target: Target,
  probe: HealthProbe,
  thresholds: Thresholds,
  report: (finding: Finding) => void,
): Promise<void> {
  const backend = probe.ledgerBackend()
  if (!backend) return
  const subject = backend.ledgerSql.schemas
    ? `${target.migrations.schema}.${target.migrations.table}`
    : target.migrations.table
  try {
    const dirExists = existsSync(target.migrations.dir)
    const status = await migrationStatus({ ...target, backend })
    const { summary } = status
    const values = {
      applied: summary.applied,
      pending: summary.pending,
      drifted: summary.drifted,
      failed: summary.failed,
      missing: summary.missing,
    }
    const failed = status.migrations.filter((entry) => entry.state === 'failed' || entry.state === 'running')
    const detail = {
      ledger: status.ledger,
      migrationsDir: status.migrationsDir,
      problems: status.migrations
        .filter((entry) => !['applied', 'baselined'].includes(entry.state))
        .slice(0, 20)
        .map((entry) => ({
          version: entry.version,
          name: entry.name,
          state: entry.state,
          ...(entry.error && { error: entry.error }),
        })),
    }
    if (!dirExists) {
      // Without the files only the ledger's own state is known: failures yes, pending or changed files no.
      if (status.migrations.length === 0) return // Neither files nor ledger: not a database dbops migrates.
      const failed = status.migrations.filter((entry) => entry.error !== null)
      const severity: Severity =
        failed.length > 0 && levelOn(thresholds, 'migrations', 'critical') ? 'critical' : 'unknown'
      report({
        check: 'migrations',
        severity,
        subject,
        message:
          failed.length > 0
            ? `${failed.length} failed migration(s) in the ledger: ${failed[0]!.version}_${failed[0]!.name} ${failed[0]!.error ?? ''}`.trim()
            : `the migrations directory ${target.migrations.dir} does not exist: cannot tell pending or changed migrations (${status.migrations.length} in the ledger)`,
        values: { applied: status.migrations.length - failed.length, failed: failed.length },
        detail,
        ...(failed.length > 0 && { fix: `dbops migrate resolve ${failed[0]!.version} --applied|--rolled-back` }),
      })
      return
    }
    const warnings = summary.pending + summary.drifted + summary.missing
    let severity: Severity = 'ok'
    if (summary.failed > 0 && levelOn(thresholds, 'migrations', 'critical')) severity = 'critical'
    else if ((warnings > 0 || summary.failed > 0) && levelOn(thresholds, 'migrations', 'warn')) severity = 'warn'
    const parts: string[] = []
    if (summary.failed)
      parts.push(`${summary.failed} failed (${failed.map((entry) => `${entry.version}_${entry.name}`).join(', ')})`)
    if (summary.pending) parts.push(`${summary.pending} pending`)
    if (summary.drifted) parts.push(`${summary.drifted} changed after they were applied`)
    if (summary.missing) parts.push(`${summary.missing} applied but missing from ${target.migrations.dir}`)
    report({
      check: 'migrations',
      severity,
      subject,
      message:
        parts.length === 0
          ? `${summary.applied} applied, up to date`
          : `${parts.join(', ')}; ${summary.applied} applied`,
      values,
      detail,
      ...(summary.failed > 0 && { fix: `dbops migrate resolve ${failed[0]!.version} --applied|--rolled-back` }),
      ...(summary.failed === 0 && summary.pending > 0 && { fix: 'dbops migrate up' }),
    })
  } catch (error) {
    report({
      check: 'migrations',
      severity: 'unknown',
      subject,
      message: `cannot read the migrations: ${(error as Error).message}`,
    })
  }
}

/**
 * The newest complete backup in the target's backup folder, as `dbops backup list` sees it (a manifest that parses
 * and an artifact beside it: a backup without its manifest did not finish). No folder: no finding, backups are not
 * set up here.
 */
async function backupAgeCheck(
  target: Target,
  thresholds: Thresholds,
  now: Date,
  report: (finding: Finding) => void,
  offline: boolean,
): Promise<void> {
  const { openDestinations } = await import('../backup/destinations.js')
  let destinations
  try {
    destinations = await openDestinations(target.backup)
  } catch (error) {
    report({
      check: 'backup_age',
      severity: 'unknown',
      subject: target.backup.dir,
      message: `cannot open the backup destination: ${(error as Error).message}`,
    })
    return
  }
  // Each destination is graded on its own: a stale off-site copy is a finding even when the local one is fresh.
  for (const destination of destinations) {
    await destinationAge(target, destination, thresholds, now, report, offline)
  }
}

async function destinationAge(
  target: Target,
  destination: BackupDestination,
  thresholds: Thresholds,
  now: Date,
  report: (finding: Finding) => void,
  offline: boolean,
): Promise<void> {
  const dir = destination.location
  if (destination.storage.kind === 'folder') {
    try {
      if (!statSync(dir).isDirectory()) return
      readdirSync(dir)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
      report({
        check: 'backup_age',
        severity: 'unknown',
        subject: dir,
        message: `cannot read the backup folder: ${(error as Error).message}`,
      })
      return
    }
  }
  // This database's backups only (a folder may be shared), and none whose last verify failed.
  let listed
  try {
    listed = await targetBackups(target, { offline, destination })
  } catch (error) {
    report({
      check: 'backup_age',
      severity: 'unknown',
      subject: dir,
      message: `cannot list the backups in ${dir}: ${(error as Error).message}`,
    })
    return
  }
  const backups = listed.backups.filter((backup) => !verifyFailed(backup))
  const newest = backups.reduce<BackupManifest | undefined>(
    (latest, backup) => (!latest || backup.finishedAt > latest.finishedAt ? backup : latest),
    undefined,
  )
  if (!newest) {
    report({
      check: 'backup_age',
      severity: thresholds.backup_age?.critical ? 'critical' : thresholds.backup_age?.warn ? 'warn' : 'ok',
      subject: dir,
      message: `no completed backup in ${dir}`,
      fix: `dbops backup create --target ${target.name}`,
    })
    return
  }
  const finishedAt = new Date(newest.finishedAt)
  const ageSeconds = Math.max(0, (now.getTime() - finishedAt.getTime()) / 1000)
  report({
    check: 'backup_age',
    severity: grade(thresholds, 'backup_age', ageSeconds),
    subject: dir,
    message: `newest backup ${newest.id} finished ${formatDuration(ageSeconds * 1000)} ago${newest.verifiedAt ? ', verified' : ', not verified'}`,
    values: {
      age_seconds: ageSeconds,
      last_success_timestamp_seconds: finishedAt.getTime() / 1000,
      size_bytes: newest.sizeBytes,
      count: backups.length,
    },
    detail: {
      id: newest.id,
      manifest: `${newest.id}${MANIFEST_SUFFIX}`,
      finishedAt: finishedAt.toISOString(),
      verifiedAt: newest.verifiedAt,
    },
  })
}
