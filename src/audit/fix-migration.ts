import type { Finding } from '../findings.js'
import { newMigration } from '../migrate/manage.js'

export interface FixMigration {
  file: string
  version: string
  statements: number
}

/** Statements PostgreSQL refuses inside a transaction block: the migration must then run with transaction:false. */
const OUTSIDE_TRANSACTION = /\bCONCURRENTLY\b/i

/**
 * Writes the findings' fixes as a new migration in `dir` (dbops' format, via `newMigration`'s naming), with the undo
 * statements in reverse order as the down section. Returns undefined when no finding has a fix.
 */
export function writeFixMigration(
  dir: string,
  name: string,
  findings: readonly Finding[],
  header: string,
): FixMigration | undefined {
  const seen = new Set<string>()
  const fixes = findings.filter((finding) => {
    if (!finding.fix || seen.has(finding.fix)) return false
    seen.add(finding.fix)
    return true
  })
  if (fixes.length === 0) return undefined
  const undos = fixes.map((finding) => finding.detail?.undo).filter((undo): undo is string => typeof undo === 'string')
  const concurrent =
    fixes.some((finding) => OUTSIDE_TRANSACTION.test(finding.fix!)) ||
    undos.some((undo) => OUTSIDE_TRANSACTION.test(undo))
  const option = concurrent ? ' transaction:false' : ''
  // Names come from the database: every line break PostgreSQL or SQLite would end a comment at starts a new comment.
  const comment = (text: string) =>
    text
      .split(/\r\n|[\r\n\u2028\u2029]/)
      .map((line) => `-- ${line}`.trimEnd())
      .join('\n')
  const up = fixes
    .map((finding) => `${comment(`${finding.check} ${finding.subject}: ${finding.message}`)}\n${finding.fix}`)
    .join('\n\n')
  const down = [...undos].reverse().join('\n')
  const text =
    `-- migrate:up${option}\n${comment(header)}\n\n${up}\n` +
    (down
      ? `\n-- migrate:down${option}\n${down}\n`
      : `\n-- migrate:down\n-- Nothing to undo: the fixes above (validations, rebuilds, ANALYZE) leave the schema as it was.\n`)
  const created = newMigration(dir, name, new Date(), text)
  return { file: created.file, version: created.version, statements: fixes.length }
}
