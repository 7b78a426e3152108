import type { LintRule, PgNode } from '../types.js'
import { alterTableCommands, bareName, columnConstraints, columnDefinitions } from '../pg-nodes.js'
import { displayIdentifier } from '../../sql/query.js'
import { isAlterTable, outsideTransaction, sqlName } from '../rule-helpers.js'

export const uniqueWithoutIndex: LintRule = {
  id: 'unique-without-index',
  engines: ['postgres'],
  severity: 'warn',
  kind: 'lock',
  description:
    'ADD PRIMARY KEY / UNIQUE builds its index under ACCESS EXCLUSIVE; build it CONCURRENTLY first and add the constraint USING INDEX',
  // The words every form it reports must contain: other ALTER TABLEs are not parsed for it.
  mayFind: (sql, section) => section.mentions('alter') && /\b(?:unique|primary)\b/i.test(sql),
  mayFindWords: ['alter'],
  wants: (w, text) => isAlterTable(w) && /\b(?:unique|primary)\b/i.test(text),
  needsAst: true,
  check({ ast }, context) {
    const { table, commands } = alterTableCommands(ast)
    if (!table) return []
    const found: { constraint: PgNode; columns: string[] }[] = []
    for (const command of commands) {
      const constraint = command.def?.Constraint as PgNode | undefined
      if (command.subtype !== 'AT_AddConstraint' || !constraint || constraint.indexname) continue
      if (constraint.contype !== 'CONSTR_PRIMARY' && constraint.contype !== 'CONSTR_UNIQUE') continue
      found.push({
        constraint,
        columns: ((constraint.keys as PgNode[] | undefined) ?? []).map((key) => String(key.String?.sval)),
      })
    }
    for (const { column } of columnDefinitions(ast)) {
      for (const constraint of columnConstraints(column)) {
        if (constraint.contype === 'CONSTR_PRIMARY' || constraint.contype === 'CONSTR_UNIQUE')
          found.push({ constraint, columns: [String(column.colname)] })
      }
    }
    return found.map(({ constraint, columns }) => {
      const primary = constraint.contype === 'CONSTR_PRIMARY'
      const kind = primary ? 'PRIMARY KEY' : 'UNIQUE'
      const n = displayIdentifier(
        constraint.conname ?? `${bareName(table)}_${primary ? 'pkey' : `${columns.join('_')}_key`}`,
      )
      return {
        table,
        lock: 'ACCESS EXCLUSIVE',
        message: `ADD ${kind} builds its unique index under ACCESS EXCLUSIVE on ${table}: blocks every read and write of it for the whole build`,
        safe: `${outsideTransaction(context, `CREATE UNIQUE INDEX CONCURRENTLY ${n} ON ${sqlName(table)} (${columns.map(displayIdentifier).join(', ')})`)}\n-- then, in the next migration:\nALTER TABLE ${sqlName(table)} ADD CONSTRAINT ${n} ${kind} USING INDEX ${n};`,
      }
    })
  },
}
