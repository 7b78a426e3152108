import type { LintRule } from '../types.js'
import { body, relationName } from '../pg-nodes.js'
import { isAlterTable } from '../rule-helpers.js'
import { tableWord } from './drop-column.js'

export const renameColumn: LintRule = {
  id: 'rename-column',
  engines: ['postgres', 'sqlite'],
  severity: 'warn',
  kind: 'breaking',
  description: 'renaming a column breaks running code that uses the old name',
  // The words every form it reports must contain: other ALTER TABLEs are not parsed for it.
  mayFind: (_sql, section) => section.mentions('alter') && section.mentions('rename'),
  mayFindWords: ['alter'],
  wants: (w, text) => isAlterTable(w) && /\brename\b/i.test(text),
  needsAst: true,
  check({ ast, words }) {
    let found: { table: string; from: string; to: string } | undefined
    if (ast) {
      const rename = body(ast, 'RenameStmt')
      if (rename?.renameType === 'OBJECT_COLUMN' && rename.relationType === 'OBJECT_TABLE')
        found = { table: relationName(rename.relation)!, from: String(rename.subname), to: String(rename.newname) }
    } else {
      const k = words[3] === '.' ? 5 : 3
      if (words[k] === 'RENAME' && words[k + 1] !== 'TO') {
        const c = words[k + 1] === 'COLUMN' ? k + 2 : k + 1
        found = {
          table: tableWord(words),
          from: (words[c] ?? '?').toLowerCase(),
          to: (words[c + 2] ?? '?').toLowerCase(),
        }
      }
    }
    if (!found) return []
    return [
      {
        table: found.table,
        message: `RENAME COLUMN ${found.from} TO ${found.to} breaks running code that still uses ${found.table}.${found.from}`,
        safe: `-- add ${found.to}, write both, switch the reads, then drop ${found.from} in a later release (or keep a view with the old name)`,
      },
    ]
  },
}
