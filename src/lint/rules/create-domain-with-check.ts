import type { LintRule } from '../types.js'
import { allWords, alterActions, isAlterTable, nameInWords, ruleState } from '../rule-helpers.js'

/** Domains with a CHECK created in the run: adding a column of one to an existing table rewrites the table. */
const CHECKED = 'create-domain-with-check:checked'

/** A CREATE DOMAIN with a CHECK: the domain's bare name. */
function checkedDomain(words: readonly string[], text: string): string | undefined {
  if (words[0] !== 'CREATE' || words[1] !== 'DOMAIN' || !/\bcheck\b/i.test(text)) return undefined
  // By bare name: that is what a column's type is matched by.
  return nameInWords(words, 2).bare
}

/**
 * CREATE DOMAIN itself locks nothing anyone uses, so it is advice (info). What it costs later is a hazard: an ADD
 * COLUMN of the domain rewrites the table (PostgreSQL checks the constraint against every row), reported at warn.
 * Read from the words: the rule looks at every ALTER TABLE ... ADD, which would otherwise all be parsed.
 */
export const createDomainWithCheck: LintRule = {
  id: 'create-domain-with-check',
  engines: ['postgres'],
  severity: 'warn',
  kind: 'rewrite',
  description:
    'a domain with a CHECK: ADD COLUMN of it rewrites the table, and changing the check means ALTER DOMAIN (a scan under SHARE)',
  // A column of a domain created in an earlier file: the ALTER TABLE's section need not say "domain".
  mayFind: (_sql, section) => section.mentions('domain') || (section.mentions('alter') && section.mentions('add')),
  mayFindWords: ['domain', 'alter'],
  wants: (w, text) => (w[0] === 'CREATE' && w[1] === 'DOMAIN') || (isAlterTable(w) && /\badd\b/i.test(text)),
  needsAst: false,
  observe({ words, text }, context) {
    const domain = checkedDomain(words, text)
    if (domain === undefined) return
    ruleState(context, CHECKED, () => new Set<string>()).add(domain)
  },
  check({ words, text }, context) {
    const domain = checkedDomain(words, text)
    if (domain !== undefined)
      return [
        {
          severity: 'info',
          evenIfFresh: true,
          message: `domain ${domain} has a CHECK: adding a column of type ${domain} to an existing table rewrites it under ACCESS EXCLUSIVE, and changing the check later (ALTER DOMAIN) scans every column using it under SHARE`,
          safe: `-- a domain without the check, and the check on each table column (NOT VALID, then VALIDATE CONSTRAINT)`,
        },
      ]
    const checked = context.state.get(CHECKED) as Set<string> | undefined
    if (!checked || words[0] !== 'ALTER') return []
    const { table, actions } = alterActions(allWords({ text, words }, context.engine))
    const found: string[] = []
    for (const action of actions) {
      if (action[0] !== 'ADD') continue
      let j = 1
      if (action[j] === 'COLUMN') j++
      if (action[j] === 'IF') j += 3
      if (checked.has(nameInWords(action, j + 1).bare)) found.push(nameInWords(action, j).bare)
    }
    return found.map((column) => ({
      table,
      lock: 'ACCESS EXCLUSIVE',
      message: `ADD COLUMN ${column} rewrites ${table} under ACCESS EXCLUSIVE: its type is a domain with a CHECK, which PostgreSQL checks against every row; blocks every read and write of it for the whole rewrite`,
      safe: `ALTER TABLE ${table} ADD COLUMN ${column} <the domain's base type>;  -- metadata only\nALTER TABLE ${table} ADD CONSTRAINT <name> CHECK (...) NOT VALID;\n-- then, in a later migration:\nALTER TABLE ${table} VALIDATE CONSTRAINT <name>;`,
    }))
  },
}
