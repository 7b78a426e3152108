import type { LintRule } from '../types.js'
import { alterTableCommands } from '../pg-nodes.js'
import { isAlterTable } from '../rule-helpers.js'

export const dropNotNull: LintRule = {
  id: 'drop-not-null',
  engines: ['postgres'],
  severity: 'warn',
  kind: 'breaking',
  description: 'DROP NOT NULL lets NULLs in: running code that assumes a value breaks when the first one arrives',
  mayFind: (sql, section) => section.mentions('alter') && /\bdrop\s+not\s+null\b/i.test(sql),
  mayFindWords: ['alter'],
  wants: (w, text) => isAlterTable(w) && /\bdrop\s+not\s+null\b/i.test(text),
  needsAst: true,
  check({ ast }) {
    const { table, commands } = alterTableCommands(ast)
    if (!table) return []
    return commands
      .filter((command) => command.subtype === 'AT_DropNotNull')
      .map((command) => ({
        table,
        message: `DROP NOT NULL on ${table}.${command.name}: code that reads it and assumes a value breaks when the first NULL is written`,
        safe: `-- deploy code that handles NULL in ${command.name} first, then drop the constraint`,
      }))
  },
}
