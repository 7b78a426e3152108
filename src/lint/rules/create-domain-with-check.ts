import type { LintRule } from '../types.js'
import { allWords, isAlterTable, nameInWords } from '../rule-helpers.js'

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
  wants: (w, text) => (w[0] === 'CREATE' && w[1] === 'DOMAIN') || (isAlterTable(w) && /\badd\b/i.test(text)),
  needsAst: false,
  observe({ words, text }, context) {
    const domain = checkedDomain(words, text)
    if (domain === undefined) return
    const checked = (context.state.get(CHECKED) as Set<string> | undefined) ?? new Set<string>()
    checked.add(domain)
    context.state.set(CHECKED, checked)
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
    const all = allWords({ text, words }, context.engine)
    let k = 2
    if (all[k] === 'IF') k += 2
    if (all[k] === 'ONLY') k++
    const { name: table, next: actions } = nameInWords(all, k)
    const found: { column: string; table: string }[] = []
    let depth = 0
    for (let i = k; i < all.length; i++) {
      const word = all[i]
      if (word === '(') depth++
      else if (word === ')') depth--
      if (depth !== 0 || word !== 'ADD' || (all[i - 1] !== ',' && i !== actions)) continue
      let j = i + 1
      if (all[j] === 'COLUMN') j++
      if (all[j] === 'IF') j += 3
      const column = nameInWords(all, j).bare
      if (checked.has(nameInWords(all, j + 1).bare)) found.push({ column, table })
    }
    return found.map(({ column }) => ({
      table,
      lock: 'ACCESS EXCLUSIVE',
      message: `ADD COLUMN ${column} rewrites ${table} under ACCESS EXCLUSIVE: its type is a domain with a CHECK, which PostgreSQL checks against every row; blocks every read and write of it for the whole rewrite`,
      safe: `ALTER TABLE ${table} ADD COLUMN ${column} <the domain's base type>;  -- metadata only\nALTER TABLE ${table} ADD CONSTRAINT <name> CHECK (...) NOT VALID;\n-- then, in a later migration:\nALTER TABLE ${table} VALIDATE CONSTRAINT <name>;`,
    }))
  },
}
