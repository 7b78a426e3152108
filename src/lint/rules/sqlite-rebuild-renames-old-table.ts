import type { LintRule } from '../types.js'
import { createdTableWord, isAlterTable, isCreateTable } from '../rule-helpers.js'

/**
 * The older rebuild order (rename the table away, create it anew, copy, drop the renamed one): since SQLite 3.26
 * RENAME TO also rewrites the foreign keys, triggers and views of other tables that name the table, so they follow it
 * to the name that is then dropped (https://www.sqlite.org/lang_altertable.html#otheralter, "Caution").
 */
export const sqliteRebuildRenamesOldTable: LintRule = {
  id: 'sqlite-rebuild-renames-old-table',
  engines: ['sqlite'],
  severity: 'warn',
  kind: 'correctness',
  description:
    "a table rebuilt by renaming the old one away first: SQLite points other tables' foreign keys (and triggers, views) at the old copy, which is then dropped",
  mayFind: (_sql, section) => section.mentions('rename') && section.mentions('create'),
  mayFindWords: ['rename'],
  wants: (w) => isAlterTable(w) && w.includes('RENAME'),
  needsAst: false,
  reportsOnFresh: true,
  check({ words }, context) {
    const k = words[3] === '.' ? 5 : 3
    if (words[k] !== 'RENAME' || words[k + 1] !== 'TO') return []
    const table = (words[k - 1] === '"' ? undefined : words[k - 1])?.toLowerCase()
    const to = words[k + 2]?.toLowerCase()
    if (table === undefined || to === undefined || to === '"') return []
    if (!context.following.some((later) => isCreateTable(later) && createdTableWord(later) === table)) return []
    return [
      {
        message: `ALTER TABLE ${table} RENAME TO ${to} before creating the new ${table}: SQLite (3.26+) points the foreign keys, triggers and views of other tables at ${to}, and they keep pointing there after ${to} is dropped`,
        safe: `-- create the new shape under another name, copy, drop the old table, then rename the new one:\nCREATE TABLE new_${table} (...);\nINSERT INTO new_${table} SELECT ... FROM ${table};\nDROP TABLE ${table};\nALTER TABLE new_${table} RENAME TO ${table};\nPRAGMA foreign_key_check;`,
        evenIfFresh: true,
      },
    ]
  },
}
