import type { AuditRule } from '../rule.js'
import { withFix } from '../rule.js'
import { displayIdentifier } from '../../sql/query.js'

export const notValidConstraint: AuditRule = {
  check: 'not_valid_constraint',
  description: 'constraints added NOT VALID and never validated: existing rows were never checked',
  run({ snapshot, dialect }) {
    return snapshot.unvalidated.map((constraint) => {
      const table = dialect.subject(constraint.schema, constraint.table)
      return withFix(
        {
          check: 'not_valid_constraint',
          severity: 'warn',
          subject: `${table}.${displayIdentifier(constraint.name)}`,
          message: `${constraint.type} constraint ${constraint.name} on ${table} is NOT VALID: rows written before it was added were never checked`,
          detail: { table, constraint: constraint.name, definition: constraint.definition },
        },
        dialect.validateConstraint(constraint),
      )
    })
  },
}
