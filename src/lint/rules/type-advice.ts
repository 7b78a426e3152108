/**
 * Type-choice advice (info by default; `lint.rules` switches any of them off or up). They look at the columns of
 * CREATE TABLE and ADD COLUMN, new tables included: that is where the choice is made.
 */
import type { LintRule, PgNode, RuleFinding } from '../types.js'
import { columnConstraints, columnDefinitions, typeOf } from '../pg-nodes.js'
import { isAlterTable, isCreateTable } from '../rule-helpers.js'

export function advice(
  id: string,
  description: string,
  /** A cheap look at the text: only statements it matches are parsed for this rule. */
  mayApply: RegExp,
  judge: (
    column: PgNode,
    type: { name: string; modifiers: number },
    table: string,
  ) => Omit<RuleFinding, 'evenIfFresh'> | undefined,
): LintRule {
  return {
    id,
    engines: ['postgres'],
    severity: 'info',
    kind: 'advice',
    description,
    mayFind: (sql) => mayApply.test(sql),
    wants: (w, text) => (isCreateTable(w) || isAlterTable(w)) && mayApply.test(text),
    needsAst: true,
    reportsOnFresh: true,
    check({ ast }) {
      return columnDefinitions(ast).flatMap(({ table, column }) => {
        const type = typeOf(column.typeName)
        const finding = type && table ? judge(column, type, table) : undefined
        return finding ? [{ ...finding, evenIfFresh: true }] : []
      })
    },
  }
}

export const isKey = (column: PgNode): boolean => {
  const name = String(column.colname)
  return (
    name === 'id' ||
    name.endsWith('_id') ||
    columnConstraints(column).some((constraint) => constraint.contype === 'CONSTR_PRIMARY')
  )
}
