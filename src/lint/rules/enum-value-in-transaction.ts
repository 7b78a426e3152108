import type { LintRule } from '../types.js'
import { body, dottedName } from '../pg-nodes.js'
import { outsideTransaction } from '../rule-helpers.js'

export const enumValueInTransaction: LintRule = {
  id: 'enum-value-in-transaction',
  engines: ['postgres'],
  severity: 'error',
  kind: 'correctness',
  description: 'ALTER TYPE ... ADD VALUE cannot run inside a transaction before PostgreSQL 12',
  mayFind: (sql, section) => section.transactional && section.mentions('alter') && /\balter\s+type\b/i.test(sql),
  mayFindWords: ['alter'],
  wants: (w) => w[0] === 'ALTER' && w[1] === 'TYPE' && w.includes('ADD'),
  needsAst: true,
  reportsOnFresh: true,
  check({ ast, text }, context) {
    const alter = body(ast, 'AlterEnumStmt')
    if (!alter || alter.newVal === undefined || !context.transactional || context.pgMajor >= 12) return []
    const type = dottedName({ List: { items: alter.typeName } })
    return [
      {
        message: `ALTER TYPE ${type} ADD VALUE fails inside a transaction on PostgreSQL ${context.pgMajor} (allowed since 12), and dbops runs this file in one`,
        safe: outsideTransaction(context, text),
        evenIfFresh: true,
      },
    ]
  },
}
