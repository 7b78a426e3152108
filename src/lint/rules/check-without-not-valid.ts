import type { LintRule, PgNode } from '../types.js'
import { alterTableCommands, bareName } from '../pg-nodes.js'
import { displayIdentifier } from '../../sql/query.js'
import { isAlterTable, sqlName, statementText } from '../rule-helpers.js'

export const checkWithoutNotValid: LintRule = {
  id: 'check-without-not-valid',
  engines: ['postgres'],
  severity: 'warn',
  kind: 'lock',
  description: 'ADD CHECK without NOT VALID scans the table under ACCESS EXCLUSIVE',
  // The words every form it reports must contain: other ALTER TABLEs are not parsed for it.
  mayFind: (_sql, section) => section.mentions('alter') && section.mentions('check'),
  mayFindWords: ['alter'],
  wants: (w, text) => isAlterTable(w) && /\bcheck\b/i.test(text),
  needsAst: true,
  check({ ast, text }) {
    const { table, commands } = alterTableCommands(ast)
    if (!table) return []
    return commands
      .filter((command) => command.subtype === 'AT_AddConstraint')
      .map((command) => command.def?.Constraint as PgNode)
      .filter((constraint) => constraint?.contype === 'CONSTR_CHECK' && !constraint.skip_validation)
      .map((constraint) => {
        const name = constraint.conname ?? `${bareName(table)}_check`
        const add =
          commands.length === 1 && constraint.conname
            ? `${statementText(text)} NOT VALID`
            : `ALTER TABLE ${sqlName(table)} ADD CONSTRAINT ${displayIdentifier(name)} CHECK (...) NOT VALID`
        return {
          table,
          lock: 'ACCESS EXCLUSIVE',
          message: `ADD CHECK takes ACCESS EXCLUSIVE on ${table} and checks every row: blocks every read and write of it for the whole scan`,
          safe: `${add};\n-- then, in the next migration (SHARE UPDATE EXCLUSIVE only):\nALTER TABLE ${sqlName(table)} VALIDATE CONSTRAINT ${displayIdentifier(name)};`,
        }
      })
  },
}
