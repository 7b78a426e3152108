import type { LintRule } from '../types.js'
import { alterTableCommands } from '../pg-nodes.js'
import { isAlterTable } from '../rule-helpers.js'
import { DROP_NOT_COLUMN } from './sqlite-unsupported-alter.js'

export const dropColumn: LintRule = {
  id: 'drop-column',
  engines: ['postgres', 'sqlite'],
  severity: 'warn',
  kind: 'breaking',
  description: 'dropping a column breaks running code that still reads or writes it',
  // The words every form it reports must contain: other ALTER TABLEs are not parsed for it.
  mayFind: (_sql, section) => section.mentions('alter') && section.mentions('drop'),
  mayFindWords: ['alter'],
  wants: (w, text) => isAlterTable(w) && /\bdrop\b/i.test(text),
  needsAst: true,
  check({ ast, words }) {
    const drops: { table: string; column: string }[] = []
    if (ast) {
      const { table, commands } = alterTableCommands(ast)
      for (const command of commands)
        if (command.subtype === 'AT_DropColumn' && table) drops.push({ table, column: String(command.name) })
    } else {
      // ALTER TABLE name DROP [COLUMN] column (SQLite: one action per statement).
      const k = words[3] === '.' ? 5 : 3
      if (words[k] === 'DROP' && !DROP_NOT_COLUMN.has(words[k + 1] ?? ''))
        drops.push({
          table: tableWord(words),
          column: (words[k + 1] === 'COLUMN' ? words[k + 2] : words[k + 1])?.toLowerCase() ?? '?',
        })
    }
    return drops.map(({ table, column }) => ({
      table,
      message: `DROP COLUMN ${column} breaks running code that still reads or writes ${table}.${column}`,
      safe: `-- deploy code that no longer uses ${column} first, then drop it in a later release`,
    }))
  },
}

/** The table of `ALTER TABLE [schema.]name` from its words (quoted names shown as written is not possible: `?`). */
export function tableWord(words: readonly string[]): string {
  const name = words[3] === '.' ? words[4] : words[2]
  return name === undefined || name === '"' ? '?' : name.toLowerCase()
}
