import type { LintRule } from '../types.js'
import { columnConstraints, columnDefinitions, typeOf } from '../pg-nodes.js'
import { displayIdentifier } from '../../sql/query.js'
import { isAlterTable, sqlName } from '../rule-helpers.js'

export const addColumnNotNullWithoutDefault: LintRule = {
  id: 'add-column-not-null-without-default',
  engines: ['postgres'],
  severity: 'warn',
  kind: 'correctness',
  description: 'ADD COLUMN ... NOT NULL without a DEFAULT fails on a table that has rows',
  // The words every form it reports must contain: other ALTER TABLEs are not parsed for it.
  mayFind: (sql, section) => section.mentions('alter') && /\bnot\s+null\b|\bprimary\b/i.test(sql),
  mayFindWords: ['alter'],
  wants: (w, text) => isAlterTable(w) && /\bnot\s+null\b|\bprimary\b/i.test(text),
  needsAst: true,
  check({ ast }) {
    return columnDefinitions(ast)
      .filter((definition) => definition.added && definition.table)
      .filter(({ column }) => {
        const constraints = columnConstraints(column)
        const notNull = constraints.some(
          (constraint) => constraint.contype === 'CONSTR_NOTNULL' || constraint.contype === 'CONSTR_PRIMARY',
        )
        const filled = constraints.some((constraint) =>
          ['CONSTR_DEFAULT', 'CONSTR_GENERATED', 'CONSTR_IDENTITY'].includes(constraint.contype),
        )
        const serial = /serial/.test(typeOf(column.typeName)?.name ?? '')
        return notNull && !filled && !serial
      })
      .map(({ table, column }) => ({
        table: table!,
        message: `ADD COLUMN ${column.colname} NOT NULL without a DEFAULT fails if ${table} has any row ("column contains null values")`,
        safe: `ALTER TABLE ${sqlName(table!)} ADD COLUMN ${displayIdentifier(String(column.colname))} ${typeOf(column.typeName)?.name ?? '...'} NOT NULL DEFAULT ...;  -- a constant default is metadata only (PostgreSQL 11+)`,
      }))
  },
}
