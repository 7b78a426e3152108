import type { LintRule } from '../types.js'
import { alterTableCommands, typeOf } from '../pg-nodes.js'
import { displayIdentifier } from '../../sql/query.js'
import { isAlterTable, sqlName } from '../rule-helpers.js'

export const alterColumnTypeRewrite: LintRule = {
  id: 'alter-column-type-rewrite',
  engines: ['postgres'],
  severity: 'warn',
  kind: 'rewrite',
  description:
    'ALTER COLUMN ... TYPE rewrites the table and rebuilds its indexes under ACCESS EXCLUSIVE (unless the change is binary-compatible)',
  // The words every form it reports must contain: other ALTER TABLEs are not parsed for it.
  mayFind: (_sql, section) => section.mentions('alter') && section.mentions('type'),
  mayFindWords: ['alter'],
  wants: (w, text) => isAlterTable(w) && /\btype\b/i.test(text),
  needsAst: true,
  check({ ast }) {
    const { table, commands } = alterTableCommands(ast)
    if (!table) return []
    return commands
      .filter((command) => command.subtype === 'AT_AlterColumnType')
      .map((command) => {
        const type = typeOf(command.def?.ColumnDef?.typeName)
        // To text or varchar nothing is rewritten (nor reindexed) when the column is varchar already, of no greater
        // length for varchar(n): only the database (or an earlier file) knows, so the message says so.
        const unbounded =
          type && !type.array && (type.name === 'text' || (type.name === 'varchar' && type.modifiers === 0))
        const longer = type && !type.array && type.name === 'varchar' && type.modifiers > 0
        return {
          table,
          lock: 'ACCESS EXCLUSIVE',
          message: `ALTER COLUMN ${command.name} TYPE ${type?.name ?? ''} rewrites ${table} and rebuilds its indexes under ACCESS EXCLUSIVE: blocks every read and write of it for the whole rewrite${unbounded ? ` (no rewrite if ${command.name} is varchar or text already: then ignore this with a reason)` : ''}${longer ? ` (no rewrite if ${command.name} is a varchar no longer than this already: then ignore this with a reason)` : ''}`,
          safe: `-- add a new column, fill it in batches, switch the code to it, then drop the old one:\nALTER TABLE ${sqlName(table)} ADD COLUMN ${displayIdentifier(`${command.name}_new`)} ${type?.name ?? '...'};\nUPDATE ${sqlName(table)} SET ${displayIdentifier(`${command.name}_new`)} = ${displayIdentifier(String(command.name))} WHERE id BETWEEN ... AND ...;`,
        }
      })
  },
}
