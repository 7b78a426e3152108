import type { LintRule } from '../types.js'
import { body, relationName } from '../pg-nodes.js'
import { isCreateIndex, outsideTransaction, statementText } from '../rule-helpers.js'

const CREATE_INDEX_ON =
  /\bcreate\s+(?:unique\s+)?index\s+(?:concurrently\s+)?(?:if\s+not\s+exists\s+)?(?:[\w$]+\s+)?on\s+(?:only\s+)?(?:[\w$]+\s*\.\s*)?([\w$]+)/gi

export const createIndexWithoutConcurrently: LintRule = {
  id: 'create-index-without-concurrently',
  engines: ['postgres'],
  severity: 'warn',
  kind: 'lock',
  description: 'CREATE INDEX on an existing table without CONCURRENTLY blocks writes to it for the whole build',
  // A section whose every index build is on a table the run creates holds no finding of this rule.
  mayFind: (sql, section) => {
    if (!section.mentions('index')) return false // no build, and no INDEX the pattern could miss
    const builds = [...sql.matchAll(CREATE_INDEX_ON)]
    if (builds.length !== (sql.match(/\bindex\b/gi) ?? []).length) return true
    return !builds.every((match) => section.isFresh(match[1]!.toLowerCase()))
  },
  wants: isCreateIndex,
  needsAst: true,
  check({ ast, text }, context) {
    const index = body(ast, 'IndexStmt')
    // ON ONLY: the usual first step for a partitioned table, which builds nothing (and cannot be CONCURRENTLY).
    if (!index || index.concurrent || index.relation?.inh !== true) return []
    const table = relationName(index.relation)!
    return [
      {
        table,
        lock: 'SHARE',
        message: `CREATE INDEX takes SHARE on ${table}: blocks INSERT/UPDATE/DELETE for the whole build`,
        safe: outsideTransaction(
          context,
          statementText(text).replace(/^(CREATE\s+(?:UNIQUE\s+)?INDEX)\b/i, '$1 CONCURRENTLY'),
        ),
      },
    ]
  },
}
