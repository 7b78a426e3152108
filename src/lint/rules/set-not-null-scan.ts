import type { LintRule, PgNode, RuleContext } from '../types.js'
import { alterTableCommands, bareName } from '../pg-nodes.js'
import { displayIdentifier } from '../../sql/query.js'
import { isAlterTable, ruleState, sqlName } from '../rule-helpers.js'

interface NotNullState {
  /** `table\0column` of columns a validated CHECK (column IS NOT NULL) covers. */
  proven: Set<string>
  /** Constraint name → `table\0column`, for NOT VALID checks not yet validated. */
  pending: Map<string, string>
}

const ID = 'set-not-null-scan'

function stateOf(context: RuleContext): NotNullState {
  return ruleState<NotNullState>(context, ID, () => ({ proven: new Set(), pending: new Map() }))
}

/** The column of `CHECK (column IS NOT NULL)`, else undefined. */
function notNullColumn(constraint: PgNode): string | undefined {
  const test = constraint.raw_expr?.NullTest as PgNode | undefined
  if (test?.nulltesttype !== 'IS_NOT_NULL') return undefined
  const fields = (test.arg?.ColumnRef?.fields as PgNode[] | undefined) ?? []
  return fields.length === 1 ? String(fields[0]!.String?.sval) : undefined
}

export const setNotNullScan: LintRule = {
  id: ID,
  engines: ['postgres'],
  severity: 'warn',
  kind: 'lock',
  description:
    'SET NOT NULL scans the table under ACCESS EXCLUSIVE unless a validated CHECK (column IS NOT NULL) exists (PostgreSQL 12+)',
  // The words every form it reports must contain: other ALTER TABLEs are not parsed for it.
  mayFind: (sql, section) => section.mentions('alter') && /\bnot\s+null\b|\bvalidate\b/i.test(sql),
  mayFindWords: ['alter'],
  wants: (w, text) => isAlterTable(w) && /\bnot\s+null\b|\bvalidate\b/i.test(text),
  needsAst: true,
  observe({ ast }, context) {
    const { table, commands } = alterTableCommands(ast)
    if (!table) return
    const state = stateOf(context)
    for (const command of commands) {
      if (command.subtype === 'AT_AddConstraint' && command.def?.Constraint?.contype === 'CONSTR_CHECK') {
        const column = notNullColumn(command.def.Constraint)
        if (column === undefined) continue
        if (command.def.Constraint.skip_validation)
          state.pending.set(`${bareName(table)}\0${command.def.Constraint.conname}`, `${bareName(table)}\0${column}`)
        else state.proven.add(`${bareName(table)}\0${column}`)
      } else if (command.subtype === 'AT_ValidateConstraint') {
        const covered = state.pending.get(`${bareName(table)}\0${command.name}`)
        if (covered) state.proven.add(covered)
      }
    }
  },
  check({ ast }, context) {
    const { table, commands } = alterTableCommands(ast)
    if (!table) return []
    const state = stateOf(context)
    return commands
      .filter((command) => command.subtype === 'AT_SetNotNull')
      .filter((command) => !(context.pgMajor >= 12 && state.proven.has(`${bareName(table)}\0${command.name}`)))
      .map((command) => {
        const column = String(command.name)
        const check = `${bareName(table)}_${column}_not_null`
        const [t, c, col] = [sqlName(table), displayIdentifier(check), displayIdentifier(column)]
        return {
          table,
          lock: 'ACCESS EXCLUSIVE',
          message: `SET NOT NULL takes ACCESS EXCLUSIVE on ${table} and scans it for NULLs in ${column}: blocks every read and write of it for the whole scan`,
          safe:
            context.pgMajor >= 12
              ? `ALTER TABLE ${t} ADD CONSTRAINT ${c} CHECK (${col} IS NOT NULL) NOT VALID;\n-- next migration (no long lock):\nALTER TABLE ${t} VALIDATE CONSTRAINT ${c};\n-- then SET NOT NULL skips the scan (PostgreSQL 12+), and the check can go:\nALTER TABLE ${t} ALTER COLUMN ${col} SET NOT NULL;\nALTER TABLE ${t} DROP CONSTRAINT ${c};`
              : `-- PostgreSQL ${context.pgMajor} always scans for SET NOT NULL; keep a validated CHECK (${col} IS NOT NULL) instead:\nALTER TABLE ${t} ADD CONSTRAINT ${c} CHECK (${col} IS NOT NULL) NOT VALID;\nALTER TABLE ${t} VALIDATE CONSTRAINT ${c};`,
        }
      })
  },
}
