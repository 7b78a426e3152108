import type { Finding } from '../findings.js'
import { UsageError } from '../errors.js'
import type { Target } from '../targets/target.js'
import type { BaselineEntry, BaselineFile } from './baseline.js'
import { appliesTo, entryMatches } from './baseline.js'
import { AUDIT_RULES } from './rules/index.js'
import { indexesCreatedByMigrations } from './migration-indexes.js'
import { DEFAULT_AUDIT_THRESHOLDS, type AuditRule, type AuditThresholds } from './rule.js'
import { reconcileDrops } from './reconcile-drops.js'
import type { IndexInfo } from './snapshot.js'

export type { FailOn } from './exit-code.js'

export interface AuditOptions {
  /** Run only these checks (names as in AUDIT_CHECKS). */
  checks?: readonly string[]
  thresholds?: Partial<AuditThresholds>
  /** Accepted findings: matched ones move to `accepted`, unmatched entries of judged checks to `stale`. */
  baseline?: BaselineFile
  onProgress?: (message: string) => void
}

export interface AcceptedFinding extends Finding {
  reason: string
}

export interface AuditResult {
  target: string
  engine: string
  /** The checks that ran. */
  checks: string[]
  /** New findings: not in the baseline. These decide the exit code. */
  findings: Finding[]
  /** Findings the baseline accepts. */
  accepted: AcceptedFinding[]
  /** Baseline entries that match nothing any more (fixed, or renamed): remove them from the file. */
  stale: BaselineEntry[]
  /** What a check could not judge, and why (fresh statistics, an index being built, unreadable pg_stats). */
  skipped: { check: string; reason: string }[]
  statistics: { since: string | null; ageSeconds: number | null; source: string }
  /** Catalog queries sent: a fixed handful whatever the schema size. */
  queries: number
  summary: { critical: number; warn: number; accepted: number; stale: number }
}

export const AUDIT_CHECKS: readonly string[] = AUDIT_RULES.map((rule) => rule.check)

export function checkList(text: string): string[] {
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean)
  const unknown = names.filter((name) => !AUDIT_CHECKS.includes(name))
  if (names.length === 0 || unknown.length > 0) {
    throw new UsageError(
      `unknown check${unknown.length === 1 ? '' : 's'} ${unknown.map((name) => `"${name}"`).join(', ') || '(none given)'}`,
      `known checks: ${AUDIT_CHECKS.join(', ')}`,
    )
  }
  return names
}

/**
 * Reads the schema in a fixed handful of catalog queries, runs the audit rules over it, and sorts the findings
 * against the baseline. Changes nothing.
 */
export async function auditTarget(target: Target, options: AuditOptions = {}): Promise<AuditResult> {
  const thresholds = { ...DEFAULT_AUDIT_THRESHOLDS, ...options.thresholds }
  const auditor = await target.backend.auditor()
  options.onProgress?.('reading the catalog')
  const snapshot = await auditor.introspect({ bloatMinBytes: thresholds.bloatMinBytes })
  options.onProgress?.(
    `read ${snapshot.tables.length} table(s) and ${snapshot.indexes.length} index(es) in ${snapshot.queries} queries`,
  )
  const rules = AUDIT_RULES.filter((rule) => !options.checks || options.checks.includes(rule.check))
  const found: Finding[] = []
  const skipped: AuditResult['skipped'] = []
  const partlyJudged = new Set<string>()
  let creators: Map<string, string> | undefined
  const createdBy = (index: IndexInfo) => {
    creators ??= indexesCreatedByMigrations(target.migrations.dir)
    return creators.get(index.name) ?? creators.get(index.name.toLowerCase())
  }
  const runRule = (rule: AuditRule) => {
    const skip = (reason: string) => {
      skipped.push({ check: rule.check, reason })
      partlyJudged.add(rule.check)
    }
    return rule.run({ snapshot, dialect: auditor.dialect, thresholds, skip, createdBy })
  }
  const bySubject = new Map(snapshot.indexes.map((index) => [auditor.dialect.subject(index.schema, index.name), index]))
  const named = new Set<IndexInfo>()
  const again: AuditRule[] = []
  for (const rule of rules) {
    const ruleFindings = runRule(rule)
    const indexes = ruleFindings
      .map((finding) => bySubject.get(finding.subject))
      .filter((index): index is IndexInfo => index !== undefined)
    if (indexes.length === 0) found.push(...ruleFindings)
    else {
      indexes.forEach((index) => named.add(index))
      again.push(rule)
    }
  }
  // Rules are pure: once the named indexes' definitions are read (one query), those rules run again to build fixes.
  if (named.size > 0) {
    snapshot.queries += await auditor.describeIndexes([...named])
    for (const rule of again) {
      skipped.splice(0, skipped.length, ...skipped.filter((entry) => entry.check !== rule.check))
      found.push(...runRule(rule))
    }
  }
  // Stable output: CI logs and --json diffs should not change with catalog order.
  const order = new Map(rules.map((rule, i) => [rule.check, i]))
  found.sort(
    (a, b) => order.get(a.check)! - order.get(b.check)! || (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0),
  )
  found.splice(0, found.length, ...reconcileDrops(found, bySubject, createdBy))
  const entries = (options.baseline?.accepted ?? []).filter((entry) => appliesTo(entry, target.name))
  const used = new Set<BaselineEntry>()
  const findings: Finding[] = []
  const accepted: AcceptedFinding[] = []
  for (const finding of found) {
    const entry = entries.find((candidate) => entryMatches(candidate, target.name, finding))
    if (entry) {
      used.add(entry)
      accepted.push({ ...finding, reason: entry.reason })
    } else {
      findings.push(finding)
    }
  }
  // An entry of a check that did not run, or could not judge everything, is not known to be stale.
  const ran = new Set(rules.map((rule) => rule.check))
  const stale = entries.filter((entry) => !used.has(entry) && ran.has(entry.check) && !partlyJudged.has(entry.check))
  return {
    target: target.name,
    engine: target.backend.engine,
    checks: rules.map((rule) => rule.check),
    findings,
    accepted,
    stale,
    skipped,
    statistics: {
      since: snapshot.statisticsSince,
      ageSeconds: snapshot.statisticsAgeSeconds,
      source: snapshot.statisticsSource,
    },
    queries: snapshot.queries,
    summary: {
      critical: findings.filter((finding) => finding.severity === 'critical').length,
      warn: findings.filter((finding) => finding.severity === 'warn').length,
      accepted: accepted.length,
      stale: stale.length,
    },
  }
}

export { auditExitCode } from './exit-code.js'
