import type { LintRule } from '../types.js'
import { body, relationName } from '../pg-nodes.js'
import { createdTableWord, isAlterTable, isCreateTable, renamedTableNames, sqlName } from '../rule-helpers.js'

export const renameTable: LintRule = {
  id: 'rename-table',
  engines: ['postgres', 'sqlite'],
  severity: 'warn',
  kind: 'breaking',
  description: 'renaming a table breaks running code that uses the old name',
  // The words every form it reports must contain: other ALTER TABLEs are not parsed for it.
  mayFind: (_sql, section) => section.mentions('alter') && section.mentions('rename'),
  mayFindWords: ['alter'],
  wants: (w, text) => isAlterTable(w) && /\brename\b/i.test(text),
  needsAst: true,
  check({ ast, words, text }, context) {
    let found: { table: string; to: string } | undefined
    if (ast) {
      const rename = body(ast, 'RenameStmt')
      if (rename?.renameType === 'OBJECT_TABLE')
        found = { table: relationName(rename.relation)!, to: String(rename.newname) }
    } else {
      const k = words[3] === '.' ? 5 : 3
      if (words[k] === 'RENAME' && words[k + 1] === 'TO') found = renamedTableNames(text)
      // Renamed away and created anew under the same name (SQLite's older rebuild order): the name keeps working,
      // and sqlite-rebuild-renames-old-table reports what the rename does. (PostgreSQL's objects follow the renamed
      // table itself, so there the rename is what running code meets.)
      const bare = found?.table.slice(found.table.lastIndexOf('.') + 1)
      if (context.following.some((later) => isCreateTable(later) && createdTableWord(later) === bare)) return []
    }
    if (!found) return []
    return [
      {
        table: found.table,
        message: `RENAME TO ${found.to} breaks running code that still uses ${found.table}`,
        safe: `-- rename, then keep the old name working until the code has switched:\nCREATE VIEW ${sqlName(found.table)} AS SELECT * FROM ${sqlName(found.to)};`,
      },
    ]
  },
}
