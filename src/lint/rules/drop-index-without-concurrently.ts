import type { LintRule } from '../types.js'
import { body, dottedName } from '../pg-nodes.js'
import { outsideTransaction, sqlName, statementText } from '../rule-helpers.js'

export const dropIndexWithoutConcurrently: LintRule = {
  id: 'drop-index-without-concurrently',
  engines: ['postgres'],
  severity: 'warn',
  kind: 'lock',
  description: "DROP INDEX without CONCURRENTLY takes ACCESS EXCLUSIVE on the index's table",
  mayFind: (_sql, section) => section.mentions('drop'),
  mayFindWords: ['drop'],
  wants: (w) => w[0] === 'DROP' && w[1] === 'INDEX',
  needsAst: true,
  check({ ast, text }, context) {
    const drop = body(ast, 'DropStmt')
    if (!drop || drop.removeType !== 'OBJECT_INDEX' || drop.concurrent) return []
    return ((drop.objects as unknown[]) ?? []).map((object) => {
      const index = dottedName(object as never)!
      const single = (drop.objects as unknown[]).length === 1 && drop.behavior !== 'DROP_CASCADE'
      return {
        table: index,
        lock: 'ACCESS EXCLUSIVE',
        message: `DROP INDEX ${index} takes ACCESS EXCLUSIVE on its table: blocks every read and write of it, and queues behind every running query on it`,
        safe: single
          ? outsideTransaction(context, statementText(text).replace(/^DROP\s+INDEX\b/i, 'DROP INDEX CONCURRENTLY'))
          : outsideTransaction(context, `DROP INDEX CONCURRENTLY ${sqlName(index)}`),
      }
    })
  },
}
