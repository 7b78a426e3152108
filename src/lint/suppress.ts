import type { Section } from '../migrate/files.js'
import type { SqlStatement } from '../sql/split-statements.js'

/** A `-- dbops:lint-ignore <rule>[,<rule>...] <reason>` comment and the statement it applies to. */
export interface LintIgnore {
  rules: string[]
  /** Empty when none was written: then it suppresses nothing (and is reported). */
  reason: string
  /** Where the comment is, in the file. */
  line: number
  column: number
  comment: string
  /** `start` of the statement it applies to (its section offset), -1 when no statement follows it. */
  statementStart: number
}

const IGNORE = /--[ \t]*dbops:lint-ignore\b[ \t]*([^\s]*)[ \t]*(.*)$/gm

/**
 * Ignores in a section. One applies to the statement it sits in, or ends the line of (a trailing comment), or else
 * the next statement: the comment lines right above a statement are where a reviewer looks for them.
 */
export function parseIgnores(section: Section, statements: readonly SqlStatement[]): LintIgnore[] {
  const ignores: LintIgnore[] = []
  for (const match of section.sql.matchAll(IGNORE)) {
    const offset = match.index!
    const owner =
      statements.find((statement) => statement.start <= offset && offset < statement.end) ??
      statements.find(
        (statement) => statement.end <= offset && !section.sql.slice(statement.end, offset).includes('\n'),
      ) ??
      statements.find((statement) => statement.start > offset)
    const before = section.sql.slice(0, offset)
    const lineInSection = before.split('\n').length
    const column = offset - before.lastIndexOf('\n')
    ignores.push({
      rules: match[1] ? match[1].split(',').filter(Boolean) : [],
      reason: (match[2] ?? '').trim(),
      line: section.line + lineInSection - 1,
      column: lineInSection === 1 ? section.column + column - 1 : column,
      comment: match[0].trim(),
      statementStart: owner?.start ?? -1,
    })
  }
  return ignores
}
