import type { Engine } from '../../backends/backend.js'
import type { LintRule, LintStatement } from '../types.js'
import { allWords, nameInWords, namedWords, sqlName } from '../rule-helpers.js'

/**
 * The table of an UPDATE/DELETE with no WHERE at its top level (a WHERE inside parentheses belongs to a subquery),
 * from the tokens: no parse needed, on either engine.
 */
function unfiltered(statement: LintStatement, verb: 'UPDATE' | 'DELETE', engine: Engine): string | undefined {
  let words = allWords(statement, engine)
  let depth = 0
  let start = -1
  for (const [index, word] of words.entries()) {
    if (word === '(') depth++
    else if (word === ')') depth--
    else if (depth === 0 && word === 'WHERE' && start >= 0) return undefined
    else if (depth === 0 && word === verb && start < 0) start = index
  }
  let k = start + 1
  if (words[k] === 'FROM') k++
  if (words[k] === 'OR') k += 2
  if (words[k] === 'ONLY') k++
  // A quoted name is only `"` in the words: lex again keeping it (same token positions), for this statement alone.
  if (words[k] === '"' || (words[k + 1] === '.' && words[k + 2] === '"')) words = namedWords(statement, engine)
  return nameInWords(words, k).bare
}

/** The rule for UPDATE, and for DELETE (delete-without-where.ts). */
export function withoutWhere(verb: 'UPDATE' | 'DELETE'): LintRule {
  const word = verb.toLowerCase()
  return {
    id: `${verb.toLowerCase()}-without-where`,
    engines: ['postgres', 'sqlite'],
    severity: 'warn',
    kind: 'lock',
    description: `${verb} without WHERE changes every row in one transaction`,
    mayFind: (_sql, section) => section.mentions(word),
    mayFindWords: [word],
    wants: (w) => w[0] === verb || (w[0] === 'WITH' && w.includes(verb)),
    needsAst: false,
    check(statement, context) {
      const table = unfiltered(statement, verb, context.engine)
      if (table === undefined) return []
      return [
        {
          table,
          lock: 'ROW EXCLUSIVE',
          message: `${verb} without WHERE ${verb === 'UPDATE' ? 'updates' : 'deletes'} every row of ${table} in one transaction: every row stays locked until the migration commits, blocking concurrent updates of any of them`,
          safe: `-- in batches, each its own transaction (a transaction:false migration, or a script):\n${verb === 'UPDATE' ? `UPDATE ${sqlName(table)} SET ... WHERE id BETWEEN 1 AND 10000;` : `DELETE FROM ${sqlName(table)} WHERE id BETWEEN 1 AND 10000;`}`,
        },
      ]
    },
  }
}

export const updateWithoutWhere = withoutWhere('UPDATE')
