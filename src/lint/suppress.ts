import type { Section } from '../migrate/files.js'
import type { SqlStatement } from '../sql/split-statements.js'

/** A `-- dbops:lint-ignore <rule>[,<rule>...] <reason>` comment (or a squawk ignore) and what it applies to. */
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
  /**
   * `squawk`: squawk's `squawk-ignore` / `squawk-ignore-file`, read so that a team moving from squawk keeps the
   * hazards it already accepted accepted. Never reported as unused: it may be there for a squawk rule dbops has no
   * counterpart of (its timeout rules), or for a statement dbops judges safe.
   */
  origin: 'dbops' | 'squawk'
  /** A `squawk-ignore-file`: every statement of the file. */
  wholeFile: boolean
  /** A `squawk-ignore-file` without rule names: every rule. */
  allRules: boolean
}

const IGNORE = /--[ \t]*dbops:lint-ignore\b[ \t]*([^\s]*)[ \t]*(.*)$/gm
// squawk's forms: `-- squawk-ignore a, b` and `/* squawk-ignore a, b */`; text after a further `--` is a remark.
const SQUAWK_IGNORE = /(?:--|\/\*)[ \t]*squawk-ignore(-file)?(?![\w-])([^\n]*)/g

/**
 * squawk's rule names and the dbops rules that report the same hazard. An empty list: a squawk rule with no dbops
 * counterpart (dbops sets lock_timeout itself; enum ordering and schema-qualified names are policy).
 */
export const SQUAWK_RULES: Readonly<Record<string, readonly string[]>> = {
  'adding-field-with-default': ['add-column-rewrite'],
  'adding-foreign-key-constraint': ['foreign-key-without-not-valid'],
  'adding-not-nullable-field': ['set-not-null-scan', 'add-column-not-null-without-default'],
  'adding-required-field': ['add-column-not-null-without-default'],
  'adding-serial-primary-key-field': ['add-column-rewrite', 'unique-without-index'],
  'ban-alter-domain-with-add-constraint': ['alter-domain-add-constraint'],
  'ban-char-field': ['prefer-text'],
  'ban-concurrent-index-creation-in-transaction': ['non-transactional-statement'],
  'ban-create-domain-with-constraint': ['create-domain-with-check'],
  'ban-drop-column': ['drop-column'],
  'ban-drop-database': ['drop-database'],
  'ban-drop-not-null': ['drop-not-null'],
  'ban-drop-table': ['drop-table'],
  'ban-truncate-cascade': ['truncate-cascade'],
  'ban-uncommitted-transaction': ['transaction-control'],
  'changing-column-type': ['alter-column-type-rewrite'],
  'constraint-missing-not-valid': [
    'check-without-not-valid',
    'foreign-key-without-not-valid',
    'validate-in-same-transaction',
  ],
  'disallowed-unique-constraint': ['unique-without-index'],
  'identifier-too-long': ['identifier-too-long'],
  'prefer-big-int': ['prefer-bigint-id'],
  'prefer-bigint-over-int': ['prefer-bigint-id'],
  'prefer-bigint-over-smallint': ['prefer-bigint-id'],
  'prefer-identity': ['prefer-identity'],
  'prefer-repack': ['vacuum-full-or-cluster'],
  'prefer-robust-stmts': ['prefer-robust-statements'],
  'prefer-text-field': ['prefer-text'],
  'prefer-timestamptz': ['prefer-timestamptz'],
  'renaming-column': ['rename-column'],
  'renaming-table': ['rename-table'],
  'require-concurrent-index-creation': ['create-index-without-concurrently'],
  'require-concurrent-index-deletion': ['drop-index-without-concurrently'],
  'require-concurrent-partition-detach': ['detach-partition-without-concurrently'],
  'require-concurrent-reindex': ['reindex-without-concurrently'],
  'syntax-error': ['syntax-error'],
  'transaction-nesting': ['transaction-control'],
  'require-timeout-settings': [],
  'require-enum-value-ordering': [],
  'require-table-schema': [],
}

/** Whether a section (or the comments above its file's first mark) holds an ignore this module reads: no regex. */
export function hasIgnores(sql: string, preamble?: string): boolean {
  return (
    sql.includes('dbops:lint-ignore') ||
    sql.includes('squawk-ignore') ||
    preamble?.includes('squawk-ignore-file') === true
  )
}

/**
 * Ignores in a section. One applies to the statement it sits in, or ends the line of (a trailing comment), or else
 * the next statement: the comment lines right above a statement are where a reviewer looks for them.
 */
export function parseIgnores(section: Section, statements: readonly SqlStatement[], preamble?: string): LintIgnore[] {
  const ignores: LintIgnore[] = []
  // Above the first section mark only a squawk-ignore-file means anything: it covers the file wherever it is.
  for (const match of preamble?.includes('squawk-ignore-file') ? preamble.matchAll(SQUAWK_IGNORE) : []) {
    if (match[1] === undefined) continue
    const ignore = squawkIgnore(match)
    const line = preamble!.slice(0, match.index).split('\n').length
    if (ignore) ignores.push({ ...ignore, line, column: 1, comment: match[0].trim(), statementStart: -1 })
  }
  const at = (offset: number, comment: string) => {
    const owner =
      statements.find((statement) => statement.start <= offset && offset < statement.end) ??
      statements.find(
        (statement) => statement.end <= offset && !section.sql.slice(statement.end, offset).includes('\n'),
      ) ??
      statements.find((statement) => statement.start > offset)
    const before = section.sql.slice(0, offset)
    const lineInSection = before.split('\n').length
    const column = offset - before.lastIndexOf('\n')
    return {
      line: section.line + lineInSection - 1,
      column: lineInSection === 1 ? section.column + column - 1 : column,
      comment: comment.trim(),
      statementStart: owner?.start ?? -1,
    }
  }
  if (section.sql.includes('dbops:lint-ignore')) {
    for (const match of section.sql.matchAll(IGNORE)) {
      ignores.push({
        ...at(match.index!, match[0]),
        rules: match[1] ? match[1].split(',').filter(Boolean) : [],
        reason: (match[2] ?? '').trim(),
        origin: 'dbops',
        wholeFile: false,
        allRules: false,
      })
    }
  }
  if (section.sql.includes('squawk-ignore')) {
    for (const match of section.sql.matchAll(SQUAWK_IGNORE)) {
      const ignore = squawkIgnore(match)
      const comment =
        match[0].startsWith('/*') && match[0].includes('*/') ? match[0].slice(0, match[0].indexOf('*/') + 2) : match[0]
      if (ignore) ignores.push({ ...ignore, ...at(match.index!, comment) })
    }
  }
  return ignores
}

/** A squawk ignore comment (a SQUAWK_IGNORE match), read as squawk reads it; undefined when it silences nothing. */
function squawkIgnore(
  match: RegExpMatchArray,
): Omit<LintIgnore, 'line' | 'column' | 'comment' | 'statementStart'> | undefined {
  const wholeFile = match[1] !== undefined
  let rest = match[2]!
  if (match[0].startsWith('/*')) rest = rest.slice(0, rest.includes('*/') ? rest.indexOf('*/') : undefined)
  const remark = rest.includes('--') ? rest.slice(rest.indexOf('--') + 2).trim() : ''
  const names = (rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest)
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean)
  // As squawk does: a line ignore without names silences nothing; a file ignore without names, every rule.
  if (names.length === 0 && !wholeFile) return undefined
  return {
    rules: [...new Set(names.flatMap((name) => SQUAWK_RULES[name] ?? []))],
    reason: `squawk-ignore${wholeFile ? '-file' : ''}${names.length > 0 ? ` ${names.join(', ')}` : ''}${remark ? `: ${remark}` : ''}`,
    origin: 'squawk',
    wholeFile,
    allRules: wholeFile && names.length === 0,
  }
}
