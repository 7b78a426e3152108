import type { LintRule, PgNode } from '../types.js'
import { alterTableCommands, columnTypeOf } from '../pg-nodes.js'
import { displayIdentifier } from '../../sql/query.js'
import { isAlterTable, sqlName } from '../rule-helpers.js'

export const alterColumnTypeRewrite: LintRule = {
  id: 'alter-column-type-rewrite',
  engines: ['postgres'],
  severity: 'warn',
  kind: 'rewrite',
  description:
    'ALTER COLUMN ... TYPE rewrites the table and rebuilds its indexes under ACCESS EXCLUSIVE (not reported where the type before it, from the files or the server, makes it in place: a longer varchar, varchar to text, more numeric precision)',
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
        const definition = command.def?.ColumnDef as PgNode | undefined
        const type = columnTypeOf(definition?.typeName)
        const column = displayIdentifier(String(command.name))
        const renamed = displayIdentifier(`${command.name}_new`)
        return {
          table,
          lock: 'ACCESS EXCLUSIVE',
          message: `ALTER COLUMN ${command.name} TYPE ${type?.name ?? ''} rewrites ${table} and rebuilds its indexes under ACCESS EXCLUSIVE: blocks every read and write of it for the whole rewrite`,
          safe: `-- add a new column, fill it in batches, switch the code to it, then drop the old one:\nALTER TABLE ${sqlName(table)} ADD COLUMN ${renamed} ${type?.name ?? '...'};\nUPDATE ${sqlName(table)} SET ${renamed} = ${column} WHERE id BETWEEN ... AND ...;`,
          // A USING expression or a new collation rewrites (or reindexes) whatever the types.
          ...(type &&
            !definition?.raw_default &&
            !definition?.collClause && { retype: { column: String(command.name), to: type } }),
        }
      })
  },
}
