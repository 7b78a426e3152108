import type { LintRule } from '../types.js'
import { body, optionOn, relationName } from '../pg-nodes.js'
import { outsideTransaction, statementText } from '../rule-helpers.js'

export const reindexWithoutConcurrently: LintRule = {
  id: 'reindex-without-concurrently',
  engines: ['postgres'],
  severity: 'warn',
  kind: 'lock',
  description: 'REINDEX without CONCURRENTLY blocks writes to the table and reads that use the index',
  mayFind: (_sql, section) => section.mentions('reindex'),
  mayFindWords: ['reindex'],
  wants: (w) => w[0] === 'REINDEX',
  needsAst: true,
  check({ ast, text }, context) {
    const reindex = body(ast, 'ReindexStmt')
    if (!reindex || optionOn(reindex.params, 'concurrently')) return []
    const kind = String(reindex.kind ?? '')
    if (kind !== 'REINDEX_OBJECT_INDEX' && kind !== 'REINDEX_OBJECT_TABLE') return []
    const name = relationName(reindex.relation)!
    const what = kind === 'REINDEX_OBJECT_INDEX' ? `the table of ${name}` : name
    return [
      {
        table: name,
        lock: 'SHARE',
        message: `REINDEX takes SHARE on ${what} and ACCESS EXCLUSIVE on the index: blocks INSERT/UPDATE/DELETE, and reads that use the index, for the whole rebuild`,
        safe:
          context.pgMajor >= 12
            ? outsideTransaction(
                context,
                statementText(text).replace(/^REINDEX\s+(INDEX|TABLE)\b/i, 'REINDEX $1 CONCURRENTLY'),
              )
            : `-- PostgreSQL ${context.pgMajor} has no REINDEX CONCURRENTLY: build a new index CONCURRENTLY, then drop the old one\nCREATE INDEX CONCURRENTLY ...;`,
      },
    ]
  },
}
