import type { LintRule, LintStatement } from '../types.js'
import { body, relationName } from '../pg-nodes.js'
import { leadingWords } from '../../sql/split-statements.js'

function unfiltered(statement: LintStatement, kind: 'UpdateStmt' | 'DeleteStmt'): string | undefined {
  if (statement.ast) {
    const node = body(statement.ast, kind)
    return node && !node.whereClause ? relationName(node.relation) : undefined
  }
  // SQLite: no WHERE at the statement's top level (a WHERE inside parentheses belongs to a subquery).
  let depth = 0
  const words = leadingWords(statement.text, Infinity, 'sqlite')
  for (const word of words) {
    if (word === '(') depth++
    else if (word === ')') depth--
    else if (depth === 0 && word === 'WHERE') return undefined
  }
  const k = kind === 'DeleteStmt' ? 2 : statement.words[1] === 'OR' ? 3 : 1
  return statement.words[k]?.toLowerCase()
}

function rule(kind: 'UpdateStmt' | 'DeleteStmt'): LintRule {
  const verb = kind === 'UpdateStmt' ? 'UPDATE' : 'DELETE'
  return {
    id: `${verb.toLowerCase()}-without-where`,
    engines: ['postgres', 'sqlite'],
    severity: 'warn',
    kind: 'lock',
    description: `${verb} without WHERE changes every row in one transaction`,
    wants: (w) => w[0] === verb || (w[0] === 'WITH' && w.includes(verb)),
    needsAst: true,
    check(statement) {
      const table = unfiltered(statement, kind)
      if (table === undefined) return []
      return [
        {
          table,
          lock: 'ROW EXCLUSIVE',
          message: `${verb} without WHERE ${verb === 'UPDATE' ? 'updates' : 'deletes'} every row of ${table} in one transaction: every row stays locked until the migration commits, blocking concurrent updates of any of them`,
          safe: `-- in batches, each its own transaction (a transaction:false migration, or a script):\n${verb === 'UPDATE' ? `UPDATE ${table} SET ... WHERE id BETWEEN 1 AND 10000;` : `DELETE FROM ${table} WHERE id BETWEEN 1 AND 10000;`}`,
        },
      ]
    },
  }
}

export const updateWithoutWhere = rule('UpdateStmt')
export const deleteWithoutWhere = rule('DeleteStmt')
