import type { LintRule, PgNode } from '../types.js'
import { alterTableCommands, bareName, body, columnDefinitions, columnConstraints, relationName } from '../pg-nodes.js'
import { displayIdentifier } from '../../sql/query.js'
import { isAlterTable, isCreateTable, nameInWords, ruleState, sqlName, statementText } from '../rule-helpers.js'

/** Tables created with rows earlier in the run (CREATE TABLE ... AS, SELECT ... INTO), by lower-case bare name. */
const FILLED = 'foreign-key-without-not-valid:filled'

export const foreignKeyWithoutNotValid: LintRule = {
  id: 'foreign-key-without-not-valid',
  engines: ['postgres'],
  severity: 'warn',
  kind: 'lock',
  description: 'ADD FOREIGN KEY without NOT VALID scans the table while writes to both tables are blocked',
  // The words every form it reports must contain: other ALTER TABLEs are not parsed for it.
  mayFind: (_sql, section) => section.mentions('alter') && section.mentions('references'),
  mayFindWords: ['alter'],
  // CREATE TABLE ... AS and SELECT ... INTO too (observe): a table they fill is new but not empty.
  wants: (w, text) =>
    (isAlterTable(w) && /\breferences\b/i.test(text)) ||
    isCreateTableAs(w) ||
    (w[0] === 'SELECT' && /\binto\b/i.test(text)),
  needsAst: true,
  // A new table's foreign key still locks the existing table it references (see check).
  reportsOnFresh: true,
  observe({ ast }, context) {
    const into = body(ast, 'CreateTableAsStmt')?.into ?? body(ast, 'SelectStmt')?.intoClause
    const name = relationName(into?.rel)
    if (name && !into.skipData) ruleState(context, FILLED, () => new Set<string>()).add(bareName(name).toLowerCase())
  },
  check({ ast, text }, context) {
    const { table, commands } = alterTableCommands(ast)
    if (!table) return []
    // A table created earlier in the run is nobody's yet: only when it was filled there does the check of its rows
    // take time, and then it is the referenced table, existing and in use, whose writes wait for it.
    const fresh = context.isFresh(table)
    const filled = fresh && (context.state.get(FILLED) as Set<string> | undefined)?.has(bareName(table).toLowerCase())
    if (fresh && !filled) return []
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
    return constraints.flatMap((constraint) => {
      const referenced = relationName(constraint.pktable) ?? 'the referenced table'
      if (filled && (!constraint.pktable || context.isFresh(referenced))) return []
      const columns = ((constraint.fk_attrs as PgNode[] | undefined) ?? []).map((item) => String(item.String?.sval))
      const name = constraint.conname ?? `${bareName(table)}_${columns.join('_')}_fkey`
      const add =
        single && constraint.conname && commands[0]?.subtype === 'AT_AddConstraint'
          ? `${statementText(text)} NOT VALID`
          : `ALTER TABLE ${sqlName(table)} ADD CONSTRAINT ${displayIdentifier(name)} FOREIGN KEY (${columns.map(displayIdentifier).join(', ')}) REFERENCES ${constraint.pktable ? sqlName(referenced) : referenced} NOT VALID`
      const safe = `${add};\n-- then, in the next migration (takes SHARE UPDATE EXCLUSIVE only: reads and writes go on):\nALTER TABLE ${sqlName(table)} VALIDATE CONSTRAINT ${displayIdentifier(name)};`
      if (filled)
        return [
          {
            table: referenced,
            lock: 'SHARE ROW EXCLUSIVE',
            message: `ADD FOREIGN KEY (${columns.join(', ')}) takes SHARE ROW EXCLUSIVE on ${referenced} and checks every row copied into ${table} earlier in this migration: blocks INSERT/UPDATE/DELETE on ${referenced} for the whole scan`,
            safe,
          },
        ]
      return [
        {
          table,
          lock: 'SHARE ROW EXCLUSIVE',
          message: `ADD FOREIGN KEY takes SHARE ROW EXCLUSIVE on ${table} and ${referenced} and checks every row of ${table}: blocks INSERT/UPDATE/DELETE on both for the whole scan`,
          safe,
        },
      ]
    })
  },
}

/** CREATE TABLE name [(columns)] AS, from the leading words (a column list here has names only, no types). */
function isCreateTableAs(w: readonly string[]): boolean {
  if (!isCreateTable(w)) return false
  let k = w.indexOf('TABLE') + 1
  if (w[k] === 'IF') k += 3
  k = nameInWords(w, k).next
  if (w[k] === '(') k = w.indexOf(')', k) + 1 || w.length
  return w[k] === 'AS'
}
