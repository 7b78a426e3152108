import type { LintRule, RuleContext } from '../types.js'
import { createdTableWord, isCreateTable } from '../rule-helpers.js'

const ID = 'sqlite-rebuild-without-foreign-key-check'

/** Per file: tables dropped, and whether PRAGMA foreign_key_check ran. */
interface RebuildState {
  file: unknown
  dropped: Set<string>
  checked: boolean
}

function stateOf(context: RuleContext): RebuildState {
  let state = context.state.get(ID) as RebuildState | undefined
  if (!state || state.file !== context.file)
    context.state.set(ID, (state = { file: context.file, dropped: new Set(), checked: false }))
  return state
}

export const sqliteRebuildWithoutForeignKeyCheck: LintRule = {
  id: ID,
  engines: ['sqlite'],
  severity: 'warn',
  kind: 'correctness',
  description:
    "SQLite's table rebuild (create, copy, drop, rename) without PRAGMA foreign_key_check: rows that break a foreign key go unnoticed",
  mayFind: (_sql, section) => section.mentions('drop'),
  mayFindWords: ['drop'],
  wants: (w) =>
    (w[0] === 'DROP' && w[1] === 'TABLE') ||
    (w[0] === 'ALTER' && w[1] === 'TABLE' && w.includes('RENAME')) ||
    (w[0] === 'PRAGMA' && w.includes('FOREIGN_KEY_CHECK')),
  needsAst: false,
  reportsOnFresh: true,
  observe({ words }, context) {
    const state = stateOf(context)
    if (words[0] === 'PRAGMA') state.checked = true
    else if (words[0] === 'DROP') {
      const k = words[2] === 'IF' ? 4 : 2
      const name = words[k + 1] === '.' ? words[k + 2] : words[k]
      if (name) state.dropped.add(name.toLowerCase())
    }
  },
  check({ words }, context) {
    const state = stateOf(context)
    const k = words[3] === '.' ? 5 : 3
    if (words[0] !== 'ALTER' || words[k] !== 'RENAME' || words[k + 1] !== 'TO') return []
    const to = words[k + 2]?.toLowerCase()
    const checkedLater = context.following.some((later) => later[0] === 'PRAGMA' && later.includes('FOREIGN_KEY_CHECK'))
    if (to === undefined || !state.dropped.has(to) || state.checked || checkedLater) return []
    // Renamed away and created anew (the older order): sqlite-rebuild-renames-old-table reports that rebuild.
    const table = words[k - 1]?.toLowerCase()
    if (context.following.some((later) => isCreateTable(later) && createdTableWord(later) === table)) return []
    return [
      {
        message: `this rebuilds ${to} (drop, then rename the copy) without PRAGMA foreign_key_check: rows of the new ${to}, or rows pointing at it, that break a foreign key go unnoticed`,
        safe: 'PRAGMA foreign_key_check;  -- after the rename, before the migration commits; it must return no rows',
        evenIfFresh: true,
      },
    ]
  },
}
