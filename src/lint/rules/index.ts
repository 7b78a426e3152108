import type { LintRule } from '../types.js'
import { addColumnNotNullWithoutDefault } from './add-column-not-null-without-default.js'
import { addColumnRewrite } from './add-column-rewrite.js'
import { alterColumnTypeRewrite } from './alter-column-type-rewrite.js'
import { checkWithoutNotValid } from './check-without-not-valid.js'
import { createIndexWithoutConcurrently } from './create-index-without-concurrently.js'
import { detachPartitionWithoutConcurrently } from './detach-partition-without-concurrently.js'
import { dropColumn } from './drop-column.js'
import { dropIndexWithoutConcurrently } from './drop-index-without-concurrently.js'
import { dropNotNull } from './drop-not-null.js'
import { dropTable } from './drop-table.js'
import { enumValueInTransaction } from './enum-value-in-transaction.js'
import { foreignKeyWithoutNotValid } from './foreign-key-without-not-valid.js'
import { identifierTooLong } from './identifier-too-long.js'
import { reindexWithoutConcurrently } from './reindex-without-concurrently.js'
import { renameColumn } from './rename-column.js'
import { renameTable } from './rename-table.js'
import { setNotNullScan } from './set-not-null-scan.js'
import { sqliteRebuildRenamesOldTable } from './sqlite-rebuild-renames-old-table.js'
import { sqliteRebuildWithoutForeignKeyCheck } from './sqlite-rebuild-without-foreign-key-check.js'
import { sqliteUnsupportedAlter } from './sqlite-unsupported-alter.js'
import { nonTransactionalStatement } from './non-transactional-statement.js'
import { transactionControlInTransaction } from './transaction-control.js'
import { truncateCascade } from './truncate-cascade.js'
import { preferBigintId } from './prefer-bigint-id.js'
import { preferIdentity } from './prefer-identity.js'
import { preferText } from './prefer-text.js'
import { preferTimestamptz } from './prefer-timestamptz.js'
import { uniqueWithoutIndex } from './unique-without-index.js'
import { deleteWithoutWhere } from './delete-without-where.js'
import { updateWithoutWhere } from './update-without-where.js'
import { vacuumFullOrCluster } from './vacuum-full-or-cluster.js'
import { alterDomainAddConstraint } from './alter-domain-add-constraint.js'
import { createDomainWithCheck } from './create-domain-with-check.js'
import { dropDatabase } from './drop-database.js'
import { duplicateColumnAssignment } from './duplicate-column-assignment.js'
import { preferRobustStatements } from './prefer-robust-statements.js'
import { validateInSameTransaction } from './validate-in-same-transaction.js'

/** Every statement rule, in the order findings on one statement are listed. */
export const LINT_RULES: readonly LintRule[] = [
  nonTransactionalStatement,
  transactionControlInTransaction,
  createIndexWithoutConcurrently,
  dropIndexWithoutConcurrently,
  reindexWithoutConcurrently,
  detachPartitionWithoutConcurrently,
  foreignKeyWithoutNotValid,
  checkWithoutNotValid,
  validateInSameTransaction,
  setNotNullScan,
  addColumnRewrite,
  addColumnNotNullWithoutDefault,
  alterColumnTypeRewrite,
  uniqueWithoutIndex,
  vacuumFullOrCluster,
  alterDomainAddConstraint,
  createDomainWithCheck,
  truncateCascade,
  dropColumn,
  dropTable,
  dropNotNull,
  renameColumn,
  renameTable,
  dropDatabase,
  enumValueInTransaction,
  identifierTooLong,
  updateWithoutWhere,
  deleteWithoutWhere,
  duplicateColumnAssignment,
  preferRobustStatements,
  sqliteUnsupportedAlter,
  sqliteRebuildWithoutForeignKeyCheck,
  sqliteRebuildRenamesOldTable,
  preferBigintId,
  preferIdentity,
  preferTimestamptz,
  preferText,
]

/** Findings the linter itself makes (not about one statement's SQL): listed for `lint.rules` and the docs. */
export const META_RULES: readonly Pick<LintRule, 'id' | 'engines' | 'severity' | 'kind' | 'description'>[] = [
  {
    id: 'syntax-error',
    engines: ['postgres'],
    severity: 'error',
    kind: 'correctness',
    description: "a statement PostgreSQL's parser rejects",
  },
  {
    id: 'lock-timeout-off',
    engines: ['postgres'],
    severity: 'warn',
    kind: 'lock',
    description:
      'a lock hazard in a file that runs without lock_timeout (lock_timeout:0 or migrations.lockTimeout 0): a blocked lock queues every query behind it',
  },
  {
    id: 'unused-ignore',
    engines: ['postgres', 'sqlite'],
    severity: 'warn',
    kind: 'correctness',
    description: 'a -- dbops:lint-ignore comment that suppresses nothing (or names an unknown rule)',
  },
  {
    id: 'ignore-without-reason',
    engines: ['postgres', 'sqlite'],
    severity: 'warn',
    kind: 'correctness',
    description: 'a -- dbops:lint-ignore comment without a reason (it suppresses nothing until it has one)',
  },
]

export const RULE_IDS: ReadonlySet<string> = new Set([...LINT_RULES, ...META_RULES].map((rule) => rule.id))
