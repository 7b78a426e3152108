/**
 * dbops' runner context: a file runs in a transaction unless its directive says transaction:false, and `migrate up`
 * refuses statements that cannot run in one. Lint says so first, at the statement.
 */
import type { LintRule } from '../types.js'
import { fileSettingAdvice, nonTransactionalReason } from '../../sql/non-transactional.js'
import { transactionFreeHint } from '../../migrate/files.js'
import { ownMigration } from '../rule-helpers.js'

export const nonTransactionalStatement: LintRule = {
  id: 'non-transactional-statement',
  engines: ['postgres', 'sqlite'],
  severity: 'error',
  kind: 'correctness',
  description: 'a statement that cannot run inside a transaction, in a file dbops runs in one (migrate up refuses it)',
  mayFind: (sql, section) =>
    section.transactional &&
    /\b(?:concurrently|vacuum|database|tablespace|system|discard|cluster|prepared|subscription|reindex|pragma|detach)\b/i.test(
      sql,
    ),
  wants: (w) =>
    [
      'CREATE',
      'DROP',
      'REINDEX',
      'ALTER',
      'VACUUM',
      'CLUSTER',
      'DISCARD',
      'COMMIT',
      'ROLLBACK',
      'PRAGMA',
      'DETACH',
    ].includes(w[0] ?? ''),
  needsAst: false,
  reportsOnFresh: true,
  check({ text }, context) {
    if (!context.transactional) return []
    const reason = nonTransactionalReason(text, context.engine)
    if (reason === undefined) return []
    const advice = fileSettingAdvice(text, context.engine)
    return [
      {
        message: `${reason} cannot run inside a transaction, and this file runs in one: "dbops migrate up" refuses it`,
        safe: advice ? `-- ${transactionFreeHint(context, 'up', context.file)}, ${advice}` : ownMigration(context),
        evenIfFresh: true,
      },
    ]
  },
}
