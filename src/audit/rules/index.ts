import type { AuditRule } from '../rule.js'
import { duplicateForeignKey } from './duplicate-foreign-key.js'
import { duplicateIndex } from './duplicate-index.js'
import { foreignKeyWithoutIndex } from './foreign-key-without-index.js'
import { indexBloat } from './index-bloat.js'
import { invalidIndex } from './invalid-index.js'
import { notValidConstraint } from './not-valid-constraint.js'
import { redundantIndex } from './redundant-index.js'
import { sequentialScans } from './sequential-scans.js'
import { tableBloat } from './table-bloat.js'
import { staleStatistics } from './stale-statistics.js'
import { tableWithoutPrimaryKey } from './table-without-primary-key.js'
import { unusedIndex } from './unused-index.js'

/** Every audit check, in report order. A rule that does not apply to an engine finds nothing there. */
export const AUDIT_RULES: readonly AuditRule[] = [
  invalidIndex,
  duplicateIndex,
  redundantIndex,
  unusedIndex,
  foreignKeyWithoutIndex,
  duplicateForeignKey,
  tableWithoutPrimaryKey,
  notValidConstraint,
  sequentialScans,
  indexBloat,
  tableBloat,
  staleStatistics,
]
