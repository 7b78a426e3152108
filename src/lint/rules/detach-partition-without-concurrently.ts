import type { LintRule } from '../types.js'
import { alterTableCommands, relationName } from '../pg-nodes.js'
import { isAlterTable, outsideTransaction, statementText } from '../rule-helpers.js'

export const detachPartitionWithoutConcurrently: LintRule = {
  id: 'detach-partition-without-concurrently',
  engines: ['postgres'],
  severity: 'warn',
  kind: 'lock',
  description: 'DETACH PARTITION without CONCURRENTLY takes ACCESS EXCLUSIVE on the partitioned table',
  // The words every form it reports must contain: other ALTER TABLEs are not parsed for it.
  mayFind: (_sql, section) => section.mentions('alter') && section.mentions('detach'),
  mayFindWords: ['alter'],
  wants: (w, text) => isAlterTable(w) && /\bdetach\b/i.test(text),
  needsAst: true,
  check({ ast, text }, context) {
    const { table, commands } = alterTableCommands(ast)
    return commands
      .filter((command) => command.subtype === 'AT_DetachPartition' && !command.def?.PartitionCmd?.concurrent)
      .map((command) => ({
        table: table!,
        lock: 'ACCESS EXCLUSIVE',
        message: `DETACH PARTITION ${relationName(command.def?.PartitionCmd?.name)} takes ACCESS EXCLUSIVE on ${table}: blocks every read and write of it`,
        safe:
          context.pgMajor >= 14
            ? outsideTransaction(context, `${statementText(text)} CONCURRENTLY`)
            : `-- DETACH PARTITION ... CONCURRENTLY needs PostgreSQL 14 (this is ${context.pgMajor}): run it at a quiet time`,
      }))
  },
}
