import type { LintRule, PgNode } from '../types.js'
import { body, columnDefinitions, dottedName, typeOf } from '../pg-nodes.js'
import { isAlterTable } from '../rule-helpers.js'

/** Domains with a CHECK created in the run: adding a column of one to an existing table rewrites the table. */
const CHECKED = 'create-domain-with-check:checked'

const hasCheck = (create: PgNode): boolean =>
  ((create.constraints as PgNode[] | undefined) ?? []).some((item) => item.Constraint?.contype === 'CONSTR_CHECK')

/**
 * CREATE DOMAIN itself locks nothing anyone uses, so it is advice (info). What it costs later is a hazard: an ADD
 * COLUMN of the domain rewrites the table (PostgreSQL checks the constraint against every row), reported at warn.
 */
export const createDomainWithCheck: LintRule = {
  id: 'create-domain-with-check',
  engines: ['postgres'],
  severity: 'warn',
  kind: 'rewrite',
  description:
    'a domain with a CHECK: ADD COLUMN of it rewrites the table, and changing the check means ALTER DOMAIN (a scan under SHARE)',
  // A column of a domain created in an earlier file: the ALTER TABLE's section need not say "domain".
  mayFind: (sql) => /\bdomain\b/i.test(sql) || (/\balter\b/i.test(sql) && /\badd\b/i.test(sql)),
  wants: (w, text) => (w[0] === 'CREATE' && w[1] === 'DOMAIN') || (isAlterTable(w) && /\badd\b/i.test(text)),
  needsAst: true,
  observe({ ast }, context) {
    const create = body(ast, 'CreateDomainStmt')
    if (!create || !hasCheck(create)) return
    const checked = (context.state.get(CHECKED) as Set<string> | undefined) ?? new Set<string>()
    checked.add(dottedName(create.domainname) ?? '?')
    context.state.set(CHECKED, checked)
  },
  check({ ast }, context) {
    const create = body(ast, 'CreateDomainStmt')
    if (create) {
      if (!hasCheck(create)) return []
      const domain = dottedName(create.domainname) ?? '?'
      return [
        {
          severity: 'info',
          evenIfFresh: true,
          message: `domain ${domain} has a CHECK: adding a column of type ${domain} to an existing table rewrites it under ACCESS EXCLUSIVE, and changing the check later (ALTER DOMAIN) scans every column using it under SHARE`,
          safe: `-- a domain without the check, and the check on each table column (NOT VALID, then VALIDATE CONSTRAINT)`,
        },
      ]
    }
    const checked = context.state.get(CHECKED) as Set<string> | undefined
    if (!checked) return []
    return columnDefinitions(ast)
      .filter(({ added, table, column }) => {
        const names = ((column.typeName?.names as PgNode[] | undefined) ?? []).map((item) => String(item.String?.sval))
        return added && table && (checked.has(names.join('.')) || checked.has(typeOf(column.typeName)?.name ?? ''))
      })
      .map(({ table, column }) => ({
        table: table!,
        lock: 'ACCESS EXCLUSIVE',
        message: `ADD COLUMN ${column.colname} rewrites ${table} under ACCESS EXCLUSIVE: its type is a domain with a CHECK, which PostgreSQL checks against every row; blocks every read and write of it for the whole rewrite`,
        safe: `ALTER TABLE ${table} ADD COLUMN ${column.colname} <the domain's base type>;  -- metadata only\nALTER TABLE ${table} ADD CONSTRAINT <name> CHECK (...) NOT VALID;\n-- then, in a later migration:\nALTER TABLE ${table} VALIDATE CONSTRAINT <name>;`,
      }))
  },
}
