import type { LintRule, PgNode } from '../types.js'
import { columnConstraints, columnDefinitions, typeOf } from '../pg-nodes.js'
import { displayIdentifier } from '../../sql/query.js'
import { isAlterTable, sqlName } from '../rule-helpers.js'

/** Functions PostgreSQL evaluates once per statement (STABLE or IMMUTABLE): a default calling them rewrites nothing. */
const NOT_VOLATILE = new Set([
  'now',
  'transaction_timestamp',
  'statement_timestamp',
  'current_setting',
  'lower',
  'upper',
  'coalesce',
  'jsonb_build_object',
  'json_build_object',
  'jsonb_build_array',
  'json_build_array',
  'array',
  'to_jsonb',
  'to_json',
  'make_date',
  'make_timestamp',
  'make_timestamptz',
  'make_interval',
  'to_timestamp',
  'to_date',
  'concat',
  'length',
  'abs',
  'round',
  'trim',
  'replace',
])
const VOLATILE = new Set([
  'random',
  'gen_random_uuid',
  'uuid_generate_v1',
  'uuid_generate_v1mc',
  'uuid_generate_v4',
  'clock_timestamp',
  'timeofday',
  'nextval',
  'uuidv7',
  'uuidv4',
  'setseed',
])
const SERIAL = new Set(['serial', 'serial4', 'bigserial', 'serial8', 'smallserial', 'serial2'])

/** The function calls in an expression that may be volatile: known volatile ones, and unknown ones (marked). */
function volatileCalls(
  expression: PgNode | undefined,
  found: { name: string; known: boolean }[] = [],
): { name: string; known: boolean }[] {
  if (expression === null || typeof expression !== 'object') return found
  if (Array.isArray(expression)) {
    for (const item of expression) volatileCalls(item as PgNode, found)
    return found
  }
  const call = expression.FuncCall as PgNode | undefined
  if (call) {
    const names = ((call.funcname as PgNode[] | undefined) ?? []).map((item) => String(item.String?.sval))
    const name = names[names.length - 1]!
    if (VOLATILE.has(name)) found.push({ name, known: true })
    else if (!NOT_VOLATILE.has(name) && names[0] !== 'pg_catalog') found.push({ name, known: false })
  }
  for (const value of Object.values(expression))
    if (value && typeof value === 'object') volatileCalls(value as PgNode, found)
  return found
}

export const addColumnRewrite: LintRule = {
  id: 'add-column-rewrite',
  engines: ['postgres'],
  severity: 'warn',
  kind: 'rewrite',
  description:
    'ADD COLUMN with a volatile default (or any default before PostgreSQL 11, or a stored generated column) rewrites the table under ACCESS EXCLUSIVE',
  // The words every form it reports must contain: other ALTER TABLEs are not parsed for it.
  mayFind: (sql, section) =>
    section.mentions('alter') && /\b(?:default|serial[248]?|bigserial|smallserial|stored)\b/i.test(sql),
  wants: (w, text) => isAlterTable(w) && /\b(?:default|serial[248]?|bigserial|smallserial|stored)\b/i.test(text),
  needsAst: true,
  check({ ast }, context) {
    return columnDefinitions(ast)
      .filter((definition) => definition.added && definition.table)
      .flatMap(({ table, column }) => {
        const name = String(column.colname)
        const type = typeOf(column.typeName)
        const constraints = columnConstraints(column)
        const fallback = constraints.find((constraint) => constraint.contype === 'CONSTR_DEFAULT')
        const generated = constraints.find(
          (constraint) => constraint.contype === 'CONSTR_GENERATED' && constraint.generated_kind !== 'v',
        )
        let why: string | undefined
        if (type && SERIAL.has(type.name)) why = `${type.name} fills every row from a sequence`
        else if (generated) why = 'a stored generated column is computed for every row'
        else if (fallback) {
          const calls = volatileCalls(fallback.raw_expr)
          const known = calls.find((call) => call.known)
          if (known) why = `the default calls ${known.name}(), which is volatile: every row gets its own value`
          else if (calls.length > 0)
            why = `the default calls ${calls[0]!.name}(), evaluated for every row unless it is STABLE or IMMUTABLE`
          else if (context.pgMajor < 11)
            why = `before PostgreSQL 11 any default is written into every row (this is ${context.pgMajor})`
        }
        if (!why) return []
        return [
          {
            table: table!,
            lock: 'ACCESS EXCLUSIVE',
            message: `ADD COLUMN ${name} rewrites ${table} under ACCESS EXCLUSIVE: ${why}; blocks every read and write of it for the whole rewrite`,
            safe: `ALTER TABLE ${sqlName(table!)} ADD COLUMN ${displayIdentifier(name)} ${type?.name ?? '...'};  -- no default: metadata only\nALTER TABLE ${sqlName(table!)} ALTER COLUMN ${displayIdentifier(name)} SET DEFAULT ...;  -- for new rows\n-- then fill the existing rows in batches, in later migrations or a script:\nUPDATE ${sqlName(table!)} SET ${displayIdentifier(name)} = ... WHERE id BETWEEN ... AND ...;`,
          },
        ]
      })
  },
}
