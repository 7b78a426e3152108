import type { LintRule, PgNode } from '../types.js'
import { body, relationName } from '../pg-nodes.js'

/** Columns assigned more than once in a SET list (a subscript or field assignment, `a[1] = ...`, may repeat). */
function repeated(targets: PgNode[] | undefined): string[] {
  const seen = new Set<string>()
  const twice = new Set<string>()
  for (const target of targets ?? []) {
    const assignment = target.ResTarget as PgNode | undefined
    if (!assignment?.name || assignment.indirection) continue
    const name = String(assignment.name)
    if (seen.has(name)) twice.add(name)
    seen.add(name)
  }
  return [...twice]
}

/**
 * Whether some name is written before `=` twice (`a = 1, a = 2`, `(a, b) = (...), b = 3`): a cheap look at the text,
 * so that only those statements are parsed (a WHERE repeating a name costs a parse, nothing more).
 */
function mayRepeat(text: string): boolean {
  const names = new Set<string>()
  for (const match of text.matchAll(/\(([^()]*)\)\s*=|"?(\w+)"?\s*=/g)) {
    for (const name of (match[1] ?? match[2]!).split(',')) {
      const key = name.trim().replace(/"/g, '').toLowerCase()
      if (names.has(key)) return true
      names.add(key)
    }
  }
  return false
}

export const duplicateColumnAssignment: LintRule = {
  id: 'duplicate-column-assignment',
  engines: ['postgres'],
  severity: 'error',
  kind: 'correctness',
  description: 'a column assigned twice in one UPDATE (or ON CONFLICT DO UPDATE): PostgreSQL rejects the statement',
  mayFind: (_sql, section) => section.mentions('set'),
  mayFindWords: ['set'],
  wants: (w, text) =>
    (w[0] === 'UPDATE' || ((w[0] === 'INSERT' || w[0] === 'WITH') && /\bupdate\b/i.test(text))) && mayRepeat(text),
  needsAst: true,
  reportsOnFresh: true,
  check({ ast }) {
    const update = body(ast, 'UpdateStmt')
    const insert = body(ast, 'InsertStmt')
    const table = relationName(update?.relation ?? insert?.relation)
    const columns = repeated(update?.targetList ?? insert?.onConflictClause?.targetList)
    return columns.map((column) => ({
      evenIfFresh: true,
      ...(table !== undefined && { table }),
      message: `column ${column} is assigned twice in one SET list: PostgreSQL refuses the statement ("multiple assignments to same column"), so the migration fails`,
      safe: `-- assign ${column} once, combining the two values into one expression`,
    }))
  },
}
