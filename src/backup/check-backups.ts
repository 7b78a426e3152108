import type { Target } from '../targets/target.js'
import { worstSeverity, type Finding, type Severity } from '../findings.js'
import { listBackups, verifyFailed, type BackupManifest } from './manifest.js'
import { targetBackups } from './ownership.js'
import { openDestinations, type BackupDestination } from './destinations.js'
import { formatBytes, formatDuration, parseBytes } from '../output/format.js'

export interface CheckBackupsOptions {
  /** Check this destination only (a name from backup.destinations); default each. */
  destination?: string
  /** Older than this is critical. Default 26 hours (a nightly backup plus slack). */
  maxAgeMs?: number
  /** Smaller than this is a warning. */
  minSizeBytes?: number
  now?: Date
}

export interface CheckBackupsResult {
  target: string
  /** The database whose backups were checked (redacted); absent when checked by folder only. */
  database?: string
  status: Severity
  findings: Finding[]
  newest: Pick<BackupManifest, 'id' | 'finishedAt' | 'sizeBytes' | 'verifiedAt' | 'format'> | null
  ageSeconds: number | null
  /** Per destination (the fields above are the first destination's, the status the worst). */
  destinations: {
    name: string
    location: string
    status: Severity
    newest: CheckBackupsResult['newest']
    ageSeconds: number | null
  }[]
}

export const DEFAULT_MAX_AGE_MS = 26 * 3_600_000

/**
 * Freshness for monitoring (Barman's last_backup_maximum_age / minimum_size): critical when there is no backup or the
 * newest complete one is older than `maxAgeMs`; a warning when it is smaller than `minSizeBytes` or less than half the
 * size of the one before it (a dump that suddenly shrank usually lost data, not weight).
 */
export async function checkBackups(
  target: Target | { name: string; backup: { dir: string } },
  options: CheckBackupsOptions = {},
): Promise<CheckBackupsResult> {
  if (!('backend' in target)) return checkDestination(target, undefined, options, '')
  const destinations = await openDestinations(target.backup, options.destination)
  const results: Omit<CheckBackupsResult, 'destinations'>[] = []
  // Several destinations: each message names its destination ("offsite: newest backup ... is 26h old").
  const named = destinations.length > 1 || destinations[0]!.name !== 'default'
  for (const destination of destinations) {
    results.push(await checkDestination(target, destination, options, named ? `${destination.name}: ` : ''))
  }
  const first = results[0]!
  return {
    ...first,
    status: worstSeverity(results.map((result) => result.status)),
    findings: results.flatMap((result) => result.findings),
    destinations: results.map((result, index) => ({
      name: destinations[index]!.name,
      location: destinations[index]!.location,
      status: result.status,
      newest: result.newest,
      ageSeconds: result.ageSeconds,
    })),
  }
}

async function checkDestination(
  target: Target | { name: string; backup: { dir: string } },
  destination: BackupDestination | undefined,
  options: CheckBackupsOptions,
  prefix: string,
): Promise<CheckBackupsResult> {
  const result = await checkOne(target, destination, options)
  return { ...result, findings: result.findings.map((finding) => ({ ...finding, message: prefix + finding.message })) }
}

async function checkOne(
  target: Target | { name: string; backup: { dir: string } },
  destination: BackupDestination | undefined,
  options: CheckBackupsOptions,
): Promise<CheckBackupsResult> {
  const now = options.now ?? new Date()
  const maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS
  // A connected target sees only its own database's backups; a bare folder (monitoring a copy) sees them all.
  const own = 'backend' in target ? await targetBackups(target, { destination: destination! }) : undefined
  const database = own ? { database: own.identity.display } : {}
  const where = destination?.location ?? target.backup.dir
  const listed = own?.backups ?? listBackups(target.backup.dir)
  const findings: Finding[] = []
  const subject = target.name
  // A backup whose last verify failed is not a backup to count on.
  const failed = listed.filter(verifyFailed)
  const backups = listed.filter((manifest) => !verifyFailed(manifest))
  const newestFailed = failed.at(-1)
  if (newestFailed && newestFailed.startedAt >= (backups.at(-1)?.startedAt ?? '')) {
    findings.push({
      check: 'backup_verify',
      severity: 'critical',
      subject,
      message: `backup ${newestFailed.id} failed verification on ${newestFailed.verifyFailure!.at}: ${newestFailed.verifyFailure!.message}`,
    })
  }
  const newest = backups.at(-1)
  if (!newest) {
    findings.push({
      check: 'backup_age',
      severity: 'critical',
      subject,
      message: `no complete backup${failed.length > 0 ? ' that passed its verification' : ''} in ${where}`,
    })
    return {
      target: target.name,
      ...database,
      status: 'critical',
      findings,
      newest: null,
      ageSeconds: null,
      destinations: [],
    }
  }
  const ageMs = now.getTime() - new Date(newest.finishedAt).getTime()
  const tooOld = ageMs > maxAgeMs
  findings.push({
    check: 'backup_age',
    severity: tooOld ? 'critical' : 'ok',
    subject,
    message: `newest backup ${newest.id} is ${formatDuration(Math.max(1000, ageMs))} old${tooOld ? `, more than ${formatDuration(maxAgeMs)}` : ''}`,
    values: { age_seconds: ageMs / 1000, max_age_seconds: maxAgeMs / 1000 },
  })
  if (options.minSizeBytes !== undefined) {
    const small = newest.sizeBytes < options.minSizeBytes
    findings.push({
      check: 'backup_size',
      severity: small ? 'warn' : 'ok',
      subject,
      message: `newest backup is ${formatBytes(newest.sizeBytes)}${small ? `, less than ${formatBytes(options.minSizeBytes)}` : ''}`,
      values: { size_bytes: newest.sizeBytes, min_size_bytes: options.minSizeBytes },
    })
  }
  const previous = backups.at(-2)
  if (previous && previous.format === newest.format && newest.sizeBytes < previous.sizeBytes / 2) {
    findings.push({
      check: 'backup_shrink',
      severity: 'warn',
      subject,
      message: `newest backup (${formatBytes(newest.sizeBytes)}) is less than half the size of the one before (${formatBytes(previous.sizeBytes)})`,
      values: { size_bytes: newest.sizeBytes, previous_size_bytes: previous.sizeBytes },
    })
  }
  return {
    target: target.name,
    ...database,
    status: worstSeverity(findings.map((finding) => finding.severity)),
    findings,
    newest: {
      id: newest.id,
      finishedAt: newest.finishedAt,
      sizeBytes: newest.sizeBytes,
      verifiedAt: newest.verifiedAt,
      format: newest.format,
    },
    ageSeconds: Math.round(ageMs / 1000),
    destinations: [],
  }
}

/** `1MB`, `500 KB`, `2GiB`, `1024`: binary multiples (1 KB = 1024 bytes), as df and most monitoring plugins count. */
export function parseSize(text: string, flag: string): number {
  const bytes = parseBytes(text)
  if (bytes === undefined) throw new Error(`${flag}: "${text}" is not a size (e.g. 1MB, 500KB, 2GB)`)
  return bytes
}
