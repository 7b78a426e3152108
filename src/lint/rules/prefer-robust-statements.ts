/**
 * dbops' runner context: a transaction:false migration that fails part way is left `failed`; after
 * `migrate resolve --rolled-back` the next `up` runs the whole file again, so the statements that had succeeded run a
 * second time. They must not fail then. A statement in a transactional file, or the last one of a file, never runs
 * twice after succeeding (a failure undoes it, or fails loudly on the INVALID index a CONCURRENTLY build leaves).
 * Read from the words, not the parse tree: the rule looks at every CREATE/DROP/ALTER, and parsing them all in
 * transactional files (where it never reports) would cost every lint.
 */
import { displayIdentifier } from '../../sql/query.js'
import type { Engine } from '../../backends/backend.js'
import type { LintRule, LintStatement } from '../types.js'
import {
  alterActions,
  isAlterTable,
  isCreateIndex,
  isCreateTable,
  nameInWords,
  nameOfWord,
  namedWords,
  ruleState,
} from '../rule-helpers.js'

/** Per file: indexes and constraints an earlier statement drops IF EXISTS (the create after it is then re-runnable). */
const DROPPED = 'prefer-robust-statements:dropped'

function droppedIn(context: { state: Map<string, unknown>; file: string }): Set<string> {
  const all = ruleState(context, DROPPED, () => new Map<string, Set<string>>())
  const set = all.get(context.file) ?? new Set<string>()
  all.set(context.file, set)
  return set
}

/** `orders`, `"Order"`, `app."Order"`: a name (nameInWords') as it must be written in SQL. */
const shown = (name: string): string => name.split('.').map(displayIdentifier).join('.')
const lower = (word: string | undefined): string => shown(nameOfWord(word))

interface Problem {
  what: string
  safe: string
  table?: string
}

function problemsOf(words: readonly string[], dropped: Set<string>): Problem[] {
  if (isCreateIndex(words)) {
    let k = words[1] === 'UNIQUE' ? 3 : 2
    const concurrently = words[k] === 'CONCURRENTLY'
    if (concurrently) k++
    if (words[k] === 'IF' || words[k] === 'ON') return []
    const { name } = nameInWords(words, k)
    if (dropped.has(`index ${name}`)) return []
    const index = shown(name)
    return [
      {
        what: `CREATE INDEX ${index} fails on a second run`,
        safe: concurrently
          ? `DROP INDEX CONCURRENTLY IF EXISTS ${index};  -- a failed CONCURRENTLY build leaves an INVALID index, which IF NOT EXISTS would keep\nCREATE INDEX CONCURRENTLY ${index} ON ...;`
          : `CREATE INDEX IF NOT EXISTS ${index} ON ...;`,
      },
    ]
  }
  if (isCreateTable(words)) {
    // A temporary table goes with the session that made it: the run after a failure is a new one.
    if (words[1] === 'TEMP' || words[1] === 'TEMPORARY' || words[2] === 'TEMP' || words[2] === 'TEMPORARY') return []
    const k = words.indexOf('TABLE') + 1
    if (words[k] === 'IF') return []
    const table = nameInWords(words, k).name
    return [
      {
        what: `CREATE TABLE ${shown(table)} fails on a second run`,
        table,
        safe: `CREATE TABLE IF NOT EXISTS ${shown(table)} ...`,
      },
    ]
  }
  if (words[0] === 'DROP') {
    const kind = words[1] === 'MATERIALIZED' || words[1] === 'FOREIGN' ? `${words[1]} ${words[2]}` : words[1]!
    let k = kind.split(' ').length + 1
    const concurrently = words[k] === 'CONCURRENTLY'
    if (concurrently) k++
    if (words[k] === 'IF') return []
    const name = shown(nameInWords(words, k).name)
    return [
      {
        what: `DROP ${kind} ${name} fails on a second run`,
        safe: `DROP ${kind}${concurrently ? ' CONCURRENTLY' : ''} IF EXISTS ${name} ...;`,
      },
    ]
  }
  if (words[0] === 'ALTER' && words[1] === 'TYPE') {
    // ADD VALUE 'x' (BEFORE/AFTER ...) fails once the value exists; RENAME VALUE and the rest are rare here.
    const { name, next } = nameInWords(words, 2)
    if (words[next] !== 'ADD' || words[next + 1] !== 'VALUE' || words[next + 2] === 'IF') return []
    const type = shown(name)
    return [
      {
        what: `ALTER TYPE ${type} ADD VALUE fails on a second run`,
        safe: `ALTER TYPE ${type} ADD VALUE IF NOT EXISTS ...;`,
      },
    ]
  }
  if (words[0] === 'ALTER' && words[1] === 'TABLE') {
    const { table, actions } = alterActions(words)
    const t = shown(table)
    return actions.flatMap((action): Problem[] => {
      if (action[0] === 'ADD' && action[1] === 'CONSTRAINT') {
        if (dropped.has(`${table} ${nameOfWord(action[2])}`)) return []
        const name = lower(action[2])
        return [
          {
            what: `ADD CONSTRAINT ${name} fails on a second run`,
            table,
            safe: `ALTER TABLE ${t} DROP CONSTRAINT IF EXISTS ${name};  -- first, in the same file\nALTER TABLE ${t} ADD CONSTRAINT ${name} ...;`,
          },
        ]
      }
      if (action[0] === 'ADD' && !['PRIMARY', 'UNIQUE', 'CHECK', 'FOREIGN', 'EXCLUDE'].includes(action[1] ?? '')) {
        const k = action[1] === 'COLUMN' ? 2 : 1
        if (action[k] === 'IF') return []
        return [
          {
            what: `ADD COLUMN ${lower(action[k])} fails on a second run`,
            table,
            safe: `ALTER TABLE ${t} ADD COLUMN IF NOT EXISTS ${lower(action[k])} ...;`,
          },
        ]
      }
      if (action[0] === 'DROP' && action[1] !== 'DEFAULT' && action[1] !== 'NOT' && action[1] !== 'EXPRESSION') {
        const what = action[1] === 'CONSTRAINT' ? 'CONSTRAINT' : 'COLUMN'
        const k = action[1] === 'CONSTRAINT' || action[1] === 'COLUMN' ? 2 : 1
        if (action[k] === 'IF') return []
        return [
          {
            what: `DROP ${what} ${lower(action[k])} fails on a second run`,
            table,
            safe: `ALTER TABLE ${t} DROP ${what} IF EXISTS ${lower(action[k])};`,
          },
        ]
      }
      return []
    })
  }
  return []
}

/**
 * The words the rule judges a statement by: the leading ones, lexed again in full (quoted names kept) only for an
 * ALTER TABLE (its actions need every word) or a statement with a quoted name; most statements of a set are neither.
 */
function wordsOf(statement: LintStatement, engine: Engine): readonly string[] {
  const words = statement.words
  if (words[0] !== 'CREATE' && words[0] !== 'DROP' && words[0] !== 'ALTER') return words
  return isAlterTable(words) || words.includes('"') ? namedWords(statement, engine) : words
}

export const preferRobustStatements: LintRule = {
  id: 'prefer-robust-statements',
  engines: ['postgres'],
  severity: 'warn',
  kind: 'correctness',
  description:
    'in a transaction:false migration, a statement that fails when the file is run again after a failure part way (CREATE without IF NOT EXISTS, DROP without IF EXISTS, ADD VALUE without IF NOT EXISTS)',
  mayFind: (_sql, section) => !section.transactional,
  wants: (w) => w[0] === 'CREATE' || w[0] === 'DROP' || (w[0] === 'ALTER' && (w[1] === 'TABLE' || w[1] === 'TYPE')),
  needsAst: false,
  reportsOnFresh: true,
  observe(statement, context) {
    if (context.transactional) return
    const words = wordsOf(statement, context.engine)
    const dropped = droppedIn(context)
    if (words[0] === 'DROP' && words[1] === 'INDEX') {
      const k = words[2] === 'CONCURRENTLY' ? 3 : 2
      if (words[k] === 'IF') dropped.add(`index ${nameInWords(words, k + 2).name}`)
    }
    if (words[0] === 'ALTER' && words[1] === 'TABLE') {
      const { table, actions } = alterActions(words)
      for (const action of actions)
        if (action[0] === 'DROP' && action[1] === 'CONSTRAINT' && action[2] === 'IF')
          dropped.add(`${table} ${nameOfWord(action[4])}`)
    }
  },
  check(statement, context) {
    // A statement a DO block runs succeeds or fails with the block: it runs again only if something after it fails.
    if (context.transactional || context.followingBlock.length === 0) return []
    const words = wordsOf(statement, context.engine)
    return problemsOf(words, droppedIn(context)).map((problem) => ({
      evenIfFresh: true,
      ...(problem.table !== undefined && { table: problem.table }),
      message: `${problem.what}: this transaction:false migration runs again from its first statement after a failure part way (migrate resolve --rolled-back, then up)`,
      safe: problem.safe,
    }))
  },
}
