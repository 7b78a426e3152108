import { readFileSync } from 'node:fs'
import { UsageError } from '../errors.js'
import type { Finding } from '../findings.js'
import { writeFileAtomic } from '../output/atomic-write.js'

/** One accepted finding: CI fails only on findings not listed. `target` absent = any target. */
export interface BaselineEntry {
  target?: string
  check: string
  subject: string
  reason: string
}

export interface BaselineFile {
  version: 1
  accepted: BaselineEntry[]
}

export const REASON_PLACEHOLDER = 'TODO: say why this finding is accepted'

export function readBaseline(path: string): BaselineFile {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT'
    throw new UsageError(
      missing
        ? `the baseline file ${path} does not exist`
        : `cannot read the baseline file ${path}: ${(error as Error).message}`,
      missing ? `create it with "dbops audit --write-baseline ${path}"` : undefined,
    )
  }
  let document: unknown
  try {
    document = JSON.parse(text)
  } catch (error) {
    throw new UsageError(
      `the baseline file ${path} is not valid JSON: ${(error as Error).message}`,
      `fix it, or write it again with "dbops audit --write-baseline ${path}"`,
    )
  }
  const accepted = (document as { accepted?: unknown })?.accepted
  if (!Array.isArray(accepted)) {
    throw new UsageError(
      `the baseline file ${path} has no "accepted" list`,
      `write it with "dbops audit --write-baseline ${path}"`,
    )
  }
  const problems: string[] = []
  accepted.forEach((entry: Record<string, unknown>, i) => {
    for (const key of ['check', 'subject'] as const) {
      if (typeof entry?.[key] !== 'string' || entry[key] === '')
        problems.push(`accepted[${i}].${key} must be a non-empty string`)
    }
    if (entry?.target !== undefined && typeof entry.target !== 'string')
      problems.push(`accepted[${i}].target must be a string`)
    if (entry?.reason !== undefined && typeof entry.reason !== 'string')
      problems.push(`accepted[${i}].reason must be a string`)
  })
  if (problems.length > 0) throw new UsageError(`the baseline file ${path} is invalid: ${problems.join('; ')}`)
  return { version: 1, accepted: accepted.map((entry: BaselineEntry) => ({ ...entry, reason: entry.reason ?? '' })) }
}

export function entryMatches(
  entry: BaselineEntry,
  target: string,
  finding: Pick<Finding, 'check' | 'subject'>,
): boolean {
  return (
    (entry.target === undefined || entry.target === target) &&
    entry.check === finding.check &&
    entry.subject === finding.subject
  )
}

export function appliesTo(entry: BaselineEntry, target: string): boolean {
  return entry.target === undefined || entry.target === target
}

let writes: Promise<unknown> = Promise.resolve()

/**
 * Replaces this target's entries in the baseline file with `findings` (keeping the reasons already written for
 * findings that stay, other targets' entries, and entries of checks not in `checks` when given), atomically. Writes are serialised: `--all` writes one file.
 */
export function writeBaseline(
  path: string,
  target: string,
  findings: readonly Finding[],
  checks?: readonly string[],
): Promise<number> {
  const write = writes.then(() => {
    let existing: BaselineEntry[] = []
    try {
      existing = readBaseline(path).accepted
    } catch (error) {
      if (!/does not exist/.test((error as Error).message)) throw error
    }
    // Other targets' entries stay, and so do this target's entries for checks that did not run (--checks).
    // Entries without a target were written by hand for every target: they stay, and cover what they match.
    const kept = existing.filter(
      (entry) =>
        entry.target === undefined ||
        entry.target !== target ||
        (checks !== undefined && !checks.includes(entry.check)),
    )
    const seen = new Set<string>()
    const mine: BaselineEntry[] = []
    for (const finding of findings) {
      const key = `${finding.check}\u0000${finding.subject}`
      if (seen.has(key)) continue
      seen.add(key)
      if (kept.some((entry) => entry.target === undefined && entryMatches(entry, target, finding))) continue
      const previous = existing.find((entry) => entryMatches(entry, target, finding))
      mine.push({
        target,
        check: finding.check,
        subject: finding.subject,
        reason: previous?.reason || REASON_PLACEHOLDER,
      })
    }
    const document: BaselineFile = { version: 1, accepted: [...kept, ...mine] }
    writeFileAtomic(path, `${JSON.stringify(document, null, 2)}\n`)
    return mine.length
  })
  writes = write.catch(() => {})
  return write
}
