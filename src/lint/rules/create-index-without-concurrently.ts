import type { LintRule } from '../types.js'
import { body, relationName } from '../pg-nodes.js'
import { isCreateIndex, outsideTransaction, statementText } from '../rule-helpers.js'

export const createIndexWithoutConcurrently: LintRule = {
  id: 'create-index-without-concurrently',
  engines: ['postgres'],
  severity: 'warn',
  kind: 'lock',
  description: 'CREATE INDEX on an existing table without CONCURRENTLY blocks writes to it for the whole build',
  wants: isCreateIndex,
  needsAst: true,
  check({ ast, text }, context) {
    const index = body(ast, 'IndexStmt')
    // ON ONLY: the usual first step for a partitioned table, which builds nothing (and cannot be CONCURRENTLY).
    if (!index || index.concurrent || index.relation?.inh !== true) return []
    const table = relationName(index.relation)!
    return [
      {
        table,
        lock: 'SHARE',
        message: `CREATE INDEX takes SHARE on ${table}: blocks INSERT/UPDATE/DELETE for the whole build`,
        safe: outsideTransaction(context, statementText(text).replace(/^(CREATE\s+(?:UNIQUE\s+)?INDEX)\b/i, '$1 CONCURRENTLY')),
      },
    ]
  },
}
