import type { LintRule } from '../types.js'
import { body, relationName } from '../pg-nodes.js'
import { sqlName } from '../rule-helpers.js'

export const truncateCascade: LintRule = {
  id: 'truncate-cascade',
  engines: ['postgres'],
  severity: 'warn',
  kind: 'correctness',
  description: 'TRUNCATE ... CASCADE also empties every table with a foreign key to it, recursively',
  mayFind: (_sql, section) => section.mentions('cascade'),
  mayFindWords: ['cascade'],
  wants: (w) => w[0] === 'TRUNCATE',
  needsAst: true,
  check({ ast }) {
    const truncate = body(ast, 'TruncateStmt')
    if (!truncate || truncate.behavior !== 'DROP_CASCADE') return []
    const tables = ((truncate.relations as { RangeVar: unknown }[] | undefined) ?? []).map((rel) =>
      relationName(rel.RangeVar as never)!,
    )
    return [
      {
        table: tables[0]!,
        lock: 'ACCESS EXCLUSIVE',
        message: `TRUNCATE ${tables.join(', ')} CASCADE also empties every table that references ${tables.length === 1 ? 'it' : 'them'} through a foreign key (and the tables referencing those), under ACCESS EXCLUSIVE`,
        safe: `TRUNCATE ${tables.map(sqlName).join(', ')};  -- name every table to empty; without CASCADE a forgotten reference is an error, not lost data`,
      },
    ]
  },
}
