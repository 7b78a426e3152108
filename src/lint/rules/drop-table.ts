import type { LintRule } from '../types.js'
import { body, dottedName } from '../pg-nodes.js'

export const dropTable: LintRule = {
  id: 'drop-table',
  engines: ['postgres', 'sqlite'],
  severity: 'warn',
  kind: 'breaking',
  description: 'dropping a table breaks running code that still uses it',
  mayFind: (_sql, section) => section.mentions('drop'),
  mayFindWords: ['drop'],
  wants: (w) => w[0] === 'DROP' && w[1] === 'TABLE',
  needsAst: true,
  check({ ast, words }, context) {
    let tables: string[]
    if (ast) {
      const drop = body(ast, 'DropStmt')
      if (!drop || drop.removeType !== 'OBJECT_TABLE') return []
      tables = ((drop.objects as unknown[]) ?? []).map((object) => dottedName(object as never)!)
    } else {
      const k = words[2] === 'IF' ? 4 : 2
      const name = words[k + 1] === '.' ? words[k + 2] : words[k]
      tables = [name === undefined || name === '"' ? '?' : name.toLowerCase()]
    }
    // A table rebuild (create a copy, drop, rename the copy to the old name) replaces the table: nothing breaks.
    const replaced = new Set(
      context.following
        .filter((later) => later[0] === 'ALTER' && later[1] === 'TABLE')
        .map((later) => {
          const k = later[3] === '.' ? 5 : 3
          return later[k] === 'RENAME' && later[k + 1] === 'TO' ? later[k + 2]?.toLowerCase() : undefined
        }),
    )
    return tables
      .filter((table) => !replaced.has(table.slice(table.lastIndexOf('.') + 1)))
      .map((table) => ({
        table,
        message: `DROP TABLE ${table} breaks running code that still uses it`,
        safe: `-- deploy code that no longer uses ${table} first, then drop it in a later release`,
      }))
  },
}
