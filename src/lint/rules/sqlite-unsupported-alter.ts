import type { LintRule } from '../types.js'
import { allWords, isAlterTable } from '../rule-helpers.js'

const REBUILD =
  '-- SQLite cannot do this in place: rebuild the table (create the new shape, copy, drop, rename; https://www.sqlite.org/lang_altertable.html#otheralter), with PRAGMA foreign_key_check before COMMIT'

/**
 * A default that is a literal in parentheses, `DEFAULT (0)` or `DEFAULT ((-1))`: SQLite takes it as a constant (any
 * other expression in parentheses, even `(1 + 2)`, is refused once the table has rows).
 */
const PARENTHESIZED_LITERAL =
  /\bDEFAULT\s*(?:\(\s*)+[+-]?\s*(?:'(?:[^']|'')*'|x'[0-9a-f]*'|\d+(?:\.\d*)?(?:e[+-]?\d+)?|\.\d+|NULL|TRUE|FALSE)\s*\)/i

/** Words after ALTER TABLE ... DROP that name no column: other databases' DROP forms, which SQLite refuses. */
export const DROP_NOT_COLUMN = new Set(['CONSTRAINT', 'PRIMARY', 'FOREIGN', 'INDEX', 'CHECK', 'UNIQUE'])

export const sqliteUnsupportedAlter: LintRule = {
  id: 'sqlite-unsupported-alter',
  engines: ['sqlite'],
  severity: 'error',
  kind: 'correctness',
  description:
    'ALTER TABLE forms SQLite does not support (ALTER COLUMN, constraints, DROP INDEX, ADD COLUMN with PRIMARY KEY/UNIQUE, NOT NULL without a default, a non-constant default, a STORED generated column)',
  mayFind: (_sql, section) => section.mentions('alter'),
  mayFindWords: ['alter'],
  wants: isAlterTable,
  needsAst: false,
  reportsOnFresh: true,
  check(statement) {
    const words = allWords(statement, 'sqlite')
    const k = words[3] === '.' ? 5 : 3
    const action = words[k]
    if (action === 'RENAME' || (action === 'DROP' && !DROP_NOT_COLUMN.has(words[k + 1] ?? ''))) return []
    if (
      action !== 'ADD' ||
      words[k + 1] === 'CONSTRAINT' ||
      words[k + 1] === 'PRIMARY' ||
      words[k + 1] === 'UNIQUE' ||
      words[k + 1] === 'FOREIGN' ||
      words[k + 1] === 'CHECK'
    ) {
      return [
        {
          message: `SQLite's ALTER TABLE cannot ${words.slice(k, k + 2).join(' ')}: only RENAME, ADD COLUMN and DROP COLUMN`,
          safe: REBUILD,
          evenIfFresh: true,
        },
      ]
    }
    const definition = words.slice(words[k + 1] === 'COLUMN' ? k + 3 : k + 2)
    const problems: string[] = []
    // SQLite refuses these only when the table has rows: a table the run creates is left to SQLite, which names them.
    const onRows: string[] = []
    if (definition.includes('PRIMARY')) problems.push('a PRIMARY KEY column')
    if (definition.includes('UNIQUE')) problems.push('a UNIQUE column')
    if (definition.includes('STORED')) onRows.push('a STORED generated column')
    const at = definition.indexOf('DEFAULT')
    const fallback = at >= 0 ? definition[at + 1] : undefined
    const parenthesized = fallback === '(' && !PARENTHESIZED_LITERAL.test(statement.text)
    if (parenthesized || (fallback !== undefined && /^CURRENT_(TIME|DATE|TIMESTAMP)$/.test(fallback)))
      onRows.push('a non-constant default')
    const notNull = definition.some((word, i) => word === 'NOT' && definition[i + 1] === 'NULL')
    if (notNull && (fallback === undefined || fallback === 'NULL')) onRows.push('NOT NULL without a non-NULL default')
    const table = (words[3] === '.' ? words[4] : words[2])?.toLowerCase()
    return [
      ...problems.map((problem) => ({
        message: `SQLite's ADD COLUMN cannot add ${problem}`,
        safe: REBUILD,
        evenIfFresh: true,
      })),
      ...onRows.map((problem) => ({
        table,
        message: `SQLite's ADD COLUMN cannot add ${problem} to a table with rows`,
        safe: REBUILD,
      })),
    ]
  },
}
