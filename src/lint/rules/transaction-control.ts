/**
 * dbops' runner context: a file runs in a transaction unless its directive says transaction:false, and `migrate up`
 * refuses statements that cannot run in one. Lint says so first, at the statement.
 */
import type { LintRule } from '../types.js'
import { transactionControl } from '../../sql/non-transactional.js'
import { transactionFreeHint } from '../../migrate/files.js'

export const transactionControlInTransaction: LintRule = {
  id: 'transaction-control',
  engines: ['postgres', 'sqlite'],
  severity: 'error',
  kind: 'correctness',
  description: 'BEGIN/COMMIT/ROLLBACK inside a file dbops runs in a transaction (migrate up refuses it)',
  mayFind: (sql, section) =>
    section.transactional && /\b(?:begin|start|commit|end|rollback|abort|prepare)\b/i.test(sql),
  wants: (w) => ['BEGIN', 'START', 'COMMIT', 'END', 'ROLLBACK', 'ABORT', 'PREPARE'].includes(w[0] ?? ''),
  needsAst: false,
  reportsOnFresh: true,
  check({ text }, context) {
    if (!context.transactional) return []
    const control = transactionControl(text, context.engine)
    if (control === undefined) return []
    return [
      {
        message: `${control} inside a migration that runs in a transaction: dbops wraps each migration itself, and "dbops migrate up" refuses it (a BEGIN ... COMMIT around the whole file is accepted and ignored)`,
        safe: `-- remove it, or manage transactions yourself: ${transactionFreeHint(context, 'up', context.file)}`,
        evenIfFresh: true,
      },
    ]
  },
}
