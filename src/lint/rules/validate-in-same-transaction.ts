import type { LintRule, PgNode } from '../types.js'
import { alterTableCommands, relationName } from '../pg-nodes.js'
import { displayIdentifier } from '../../sql/query.js'
import { isAlterTable, ruleState, sqlName } from '../rule-helpers.js'

/** Constraints added NOT VALID in a transactional file, by `file|table|name`: the lock the ADD took. */
const ADDED = 'validate-in-same-transaction:added'

export const validateInSameTransaction: LintRule = {
  id: 'validate-in-same-transaction',
  engines: ['postgres'],
  severity: 'warn',
  kind: 'lock',
  description:
    "VALIDATE CONSTRAINT in the same transaction as its ADD ... NOT VALID: the scan runs while the ADD's lock is still held",
  mayFind: (sql, section) => section.transactional && section.mentions('validate'),
  mayFindWords: ['validate'],
  wants: (w, text) => isAlterTable(w) && /\b(?:not\s+valid|validate)\b/i.test(text),
  needsAst: true,
  observe({ ast }, context) {
    if (!context.transactional) return
    const { table, commands } = alterTableCommands(ast)
    const added = ruleState(context, ADDED, () => new Map<string, string>())
    for (const command of commands) {
      const constraint = command.def?.Constraint as PgNode | undefined
      if (command.subtype !== 'AT_AddConstraint' || !constraint?.skip_validation || !constraint.conname) continue
      const lock = constraint.contype === 'CONSTR_FOREIGN' ? 'SHARE ROW EXCLUSIVE' : 'ACCESS EXCLUSIVE'
      added.set(`${context.file}|${table}|${constraint.conname}`, lock)
      if (constraint.contype === 'CONSTR_FOREIGN')
        added.set(`${context.file}|${table}|${constraint.conname}|references`, relationName(constraint.pktable) ?? '')
    }
  },
  check({ ast }, context) {
    if (!context.transactional) return []
    const added = context.state.get(ADDED) as Map<string, string> | undefined
    const { table, commands } = alterTableCommands(ast)
    return commands
      .filter((command) => command.subtype === 'AT_ValidateConstraint')
      .flatMap((command) => {
        const key = `${context.file}|${table}|${command.name}`
        const lock = added?.get(key)
        if (lock === undefined) return []
        const referenced = added?.get(`${key}|references`)
        return [
          {
            table: table!,
            lock,
            message: `VALIDATE CONSTRAINT ${command.name} runs in the same transaction as its ADD ... NOT VALID: the scan of ${table} happens while the ADD's ${lock} lock on ${table}${referenced ? ` and ${referenced}` : ''} is still held, ${lock === 'ACCESS EXCLUSIVE' ? 'blocking every read and write' : 'blocking INSERT/UPDATE/DELETE'} for the whole scan, as if NOT VALID were not there`,
            safe: `-- in the next migration (its own transaction), where it takes only SHARE UPDATE EXCLUSIVE:\nALTER TABLE ${sqlName(table!)} VALIDATE CONSTRAINT ${displayIdentifier(String(command.name))};`,
          },
        ]
      })
  },
}
