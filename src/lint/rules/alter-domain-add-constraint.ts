import type { LintRule, PgNode } from '../types.js'
import { body, dottedName } from '../pg-nodes.js'
import { ruleState } from '../rule-helpers.js'

/** Domains created earlier in the run (no column of an existing table can use them yet). */
const CREATED = 'alter-domain-add-constraint:created'

export const alterDomainAddConstraint: LintRule = {
  id: 'alter-domain-add-constraint',
  engines: ['postgres'],
  severity: 'warn',
  kind: 'lock',
  description:
    'ALTER DOMAIN ... ADD CONSTRAINT (without NOT VALID) or VALIDATE CONSTRAINT checks every column using the domain under SHARE',
  mayFind: (_sql, section) => section.mentions('domain'),
  mayFindWords: ['domain'],
  wants: (w) => (w[0] === 'ALTER' || w[0] === 'CREATE') && w[1] === 'DOMAIN',
  needsAst: true,
  reportsOnFresh: true,
  observe({ ast }, context) {
    const create = body(ast, 'CreateDomainStmt')
    if (!create) return
    ruleState(context, CREATED, () => new Set<string>()).add(dottedName(create.domainname) ?? '?')
  },
  check({ ast }, context) {
    const alter = body(ast, 'AlterDomainStmt')
    // subtype C: ADD constraint; V: VALIDATE CONSTRAINT.
    if (!alter || (alter.subtype !== 'C' && alter.subtype !== 'V')) return []
    const domain = dottedName(alter.typeName) ?? '?'
    if ((context.state.get(CREATED) as Set<string> | undefined)?.has(domain)) return []
    const constraint = alter.def?.Constraint as PgNode | undefined
    if (alter.subtype === 'C' && (!constraint || constraint.skip_validation)) return []
    const what = alter.subtype === 'C' ? 'ADD CONSTRAINT' : `VALIDATE CONSTRAINT ${alter.name}`
    return [
      {
        lock: 'SHARE',
        message: `ALTER DOMAIN ${domain} ${what} checks every row of every table with a column of type ${domain}, holding SHARE on each: blocks INSERT/UPDATE/DELETE on all of them for the whole scan`,
        safe: `-- a domain constraint cannot be validated without blocking writes: put the check on the table columns instead\nALTER TABLE <table> ADD CONSTRAINT <name> CHECK (<column> ...) NOT VALID;\n-- then, in a later migration (SHARE UPDATE EXCLUSIVE: reads and writes go on):\nALTER TABLE <table> VALIDATE CONSTRAINT <name>;`,
      },
    ]
  },
}
