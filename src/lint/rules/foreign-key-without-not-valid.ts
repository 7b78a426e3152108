import type { LintRule, PgNode } from '../types.js'
import { alterTableCommands, bareName, columnDefinitions, columnConstraints, relationName } from '../pg-nodes.js'
import { isAlterTable, statementText } from '../rule-helpers.js'

export const foreignKeyWithoutNotValid: LintRule = {
  id: 'foreign-key-without-not-valid',
  engines: ['postgres'],
  severity: 'warn',
  kind: 'lock',
  description: 'ADD FOREIGN KEY without NOT VALID scans the table while writes to both tables are blocked',
  // The words every form it reports must contain: other ALTER TABLEs are not parsed for it.
  mayFind: (_sql, section) => section.mentions('alter') && section.mentions('references'),
  mayFindWords: ['alter'],
  wants: (w, text) => isAlterTable(w) && /\breferences\b/i.test(text),
  needsAst: true,
  check({ ast, text }, context) {
    const { table, commands } = alterTableCommands(ast)
    if (!table) return []
    const constraints: PgNode[] = commands
      .filter((command) => command.subtype === 'AT_AddConstraint')
      .map((command) => command.def?.Constraint as PgNode)
      .filter((constraint) => constraint?.contype === 'CONSTR_FOREIGN' && !constraint.skip_validation)
    // A new column's inline REFERENCES: the column is all NULL, but the check still reads every row.
    for (const { column } of columnDefinitions(ast)) {
      for (const constraint of columnConstraints(column)) {
        if (constraint.contype === 'CONSTR_FOREIGN' && !constraint.skip_validation)
          constraints.push({ ...constraint, fk_attrs: [{ String: { sval: column.colname } }] })
      }
    }
    const single = commands.length === 1
    return constraints.map((constraint) => {
      const referenced = relationName(constraint.pktable) ?? 'the referenced table'
      const columns = ((constraint.fk_attrs as PgNode[] | undefined) ?? []).map((item) => String(item.String?.sval))
      const name = constraint.conname ?? `${bareName(table)}_${columns.join('_')}_fkey`
      const add =
        single && constraint.conname && commands[0]?.subtype === 'AT_AddConstraint'
          ? `${statementText(text)} NOT VALID`
          : `ALTER TABLE ${table} ADD CONSTRAINT ${name} FOREIGN KEY (${columns.join(', ')}) REFERENCES ${referenced} NOT VALID`
      return {
        table,
        lock: 'SHARE ROW EXCLUSIVE',
        message: `ADD FOREIGN KEY takes SHARE ROW EXCLUSIVE on ${table} and ${referenced} and checks every row of ${table}: blocks INSERT/UPDATE/DELETE on both for the whole scan`,
        safe: `${add};\n-- then, in the next migration (takes SHARE UPDATE EXCLUSIVE only: reads and writes go on):\nALTER TABLE ${table} VALIDATE CONSTRAINT ${name};`,
      }
    })
  },
}
