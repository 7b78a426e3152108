import type { LintRule } from '../types.js'
import { body, dottedName } from '../pg-nodes.js'
import { createdTableWord, droppedTableName, isAlterTable, isCreateTable, ruleState } from '../rule-helpers.js'

/** `file|name` of the names tables got from RENAME TO earlier in a file: no running code uses such a name yet. */
const RENAMED = 'drop-table:renamed'

export const dropTable: LintRule = {
  id: 'drop-table',
  engines: ['postgres', 'sqlite'],
  severity: 'warn',
  kind: 'breaking',
  description: 'dropping a table breaks running code that still uses it',
  mayFind: (_sql, section) => section.mentions('drop'),
  mayFindWords: ['drop'],
  // The renames too (observe): rename-table parses the same statements, so they cost no extra parse.
  wants: (w, text) => (w[0] === 'DROP' && w[1] === 'TABLE') || (isAlterTable(w) && /\brename\b/i.test(text)),
  needsAst: true,
  observe({ ast, words }, context) {
    if (words[0] !== 'ALTER') return
    const rename = body(ast, 'RenameStmt')
    if (rename?.renameType !== 'OBJECT_TABLE') return
    ruleState(context, RENAMED, () => new Set<string>()).add(`${context.file}|${String(rename.newname)}`)
  },
  check({ ast, words, text }, context) {
    if (words[0] !== 'DROP') return []
    let tables: string[]
    if (ast) {
      const drop = body(ast, 'DropStmt')
      if (!drop || drop.removeType !== 'OBJECT_TABLE') return []
      tables = ((drop.objects as unknown[]) ?? []).map((object) => dottedName(object as never)!)
    } else {
      tables = [droppedTableName(text) ?? '?']
    }
    // A table rebuild (create a copy, drop, rename the copy to the old name) replaces the table, as does creating it
    // again (memos' schema files drop every table first): nothing breaks.
    const replaced = new Set(
      context.following.map((later) => {
        if (isCreateTable(later)) return createdTableWord(later)
        if (later[0] !== 'ALTER' || later[1] !== 'TABLE') return undefined
        const k = later[3] === '.' ? 5 : 3
        return later[k] === 'RENAME' && later[k + 1] === 'TO' ? later[k + 2]?.toLowerCase() : undefined
      }),
    )
    // The other way round (rename the table away, create its replacement, drop the renamed one): the name dropped
    // is this file's own; rename-table reports the rename, which is what running code meets.
    const renamed = context.state.get(RENAMED) as Set<string> | undefined
    return tables
      .filter((table) => {
        const bare = table.slice(table.lastIndexOf('.') + 1)
        return !replaced.has(bare) && !renamed?.has(`${context.file}|${bare}`)
      })
      .map((table) => ({
        table,
        message: `DROP TABLE ${table} breaks running code that still uses it`,
        safe: `-- deploy code that no longer uses ${table} first, then drop it in a later release`,
      }))
  },
}
