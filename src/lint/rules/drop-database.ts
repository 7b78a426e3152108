import type { LintRule } from '../types.js'
import { body } from '../pg-nodes.js'

export const dropDatabase: LintRule = {
  id: 'drop-database',
  engines: ['postgres'],
  severity: 'error',
  kind: 'breaking',
  description: 'DROP DATABASE in a migration destroys a whole database, irrecoverably',
  mayFind: (_sql, section) => section.mentions('database'),
  mayFindWords: ['database'],
  wants: (w) => w[0] === 'DROP' && w[1] === 'DATABASE',
  needsAst: true,
  reportsOnFresh: true,
  check({ ast }) {
    const drop = body(ast, 'DropdbStmt')
    if (!drop) return []
    return [
      {
        evenIfFresh: true,
        message: `DROP DATABASE ${drop.dbname} destroys the whole database and every connection's work in it; it cannot be rolled back`,
        safe: '-- drop databases by hand (after a backup), not in a migration every environment runs',
      },
    ]
  },
}
