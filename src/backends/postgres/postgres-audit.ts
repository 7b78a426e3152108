import type { Backend } from '../backend.js'
import type { Auditor, FixDialect, FixSql, IntrospectOptions } from '../../audit/auditor.js'
import type { ConstraintInfo, ForeignKeyInfo, IndexInfo, SchemaSnapshot, TableInfo } from '../../audit/snapshot.js'
import { displayIdentifier, quoteIdentifier, quoteQualified } from '../../sql/query.js'
import { describePostgresIndexes, introspectPostgres } from './postgres-introspect.js'

/**
 * PostgreSQL fixes take no long locks: indexes are created, dropped and rebuilt CONCURRENTLY, except on partitioned
 * tables, where PostgreSQL does not support it (the plain form locks the table while it runs: said in the message).
 */
class PostgresFixDialect implements FixDialect {
  readonly maxIdentifierBytes = 63
  definitionTails = new Map<string, string>()

  subject(schema: string, name: string): string {
    return `${displayIdentifier(schema)}.${displayIdentifier(name)}`
  }

  dropIndex(index: IndexInfo): FixSql {
    const concurrently = index.partitioned ? '' : 'CONCURRENTLY '
    const up = `DROP INDEX ${concurrently}IF EXISTS ${quoteQualified(index.schema, index.name)};`
    const tail = this.definitionTails.get(`${index.schema}\u0000${index.name}`)
    if (tail === undefined) return { up }
    const down = `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX ${concurrently}IF NOT EXISTS ${quoteIdentifier(index.name)} ON ${quoteQualified(index.schema, index.table)}${tail};`
    return { up, down }
  }

  rebuildIndex(index: IndexInfo): FixSql {
    return { up: `REINDEX INDEX CONCURRENTLY ${quoteQualified(index.schema, index.name)};` }
  }

  createIndex(table: TableInfo, columns: string[], name: string): FixSql {
    const concurrently = table.kind === 'partitioned' ? '' : 'CONCURRENTLY '
    return {
      up: `CREATE INDEX ${concurrently}IF NOT EXISTS ${quoteIdentifier(name)} ON ${quoteQualified(table.schema, table.name)} (${columns.map(quoteIdentifier).join(', ')});`,
      down: `DROP INDEX ${concurrently}IF EXISTS ${quoteQualified(table.schema, name)};`,
    }
  }

  validateConstraint(constraint: ConstraintInfo): FixSql {
    return {
      up: `ALTER TABLE ${quoteQualified(constraint.schema, constraint.table)} VALIDATE CONSTRAINT ${quoteIdentifier(constraint.name)};`,
    }
  }

  analyze(table?: TableInfo): FixSql {
    return { up: table ? `ANALYZE ${quoteQualified(table.schema, table.name)};` : 'ANALYZE;' }
  }

  dropForeignKey(fk: ForeignKeyInfo): FixSql {
    const table = quoteQualified(fk.schema, fk.table)
    return {
      up: `ALTER TABLE ${table} DROP CONSTRAINT IF EXISTS ${quoteIdentifier(fk.name)};`,
      ...(fk.definition && {
        down: `ALTER TABLE ${table} ADD CONSTRAINT ${quoteIdentifier(fk.name)} ${fk.definition};`,
      }),
    }
  }
}

export class PostgresAuditor implements Auditor {
  readonly dialect = new PostgresFixDialect()

  constructor(private readonly backend: Backend) {}

  introspect(options: IntrospectOptions): Promise<SchemaSnapshot> {
    return introspectPostgres(this.backend, options)
  }

  async describeIndexes(indexes: IndexInfo[]): Promise<number> {
    if (indexes.length === 0) return 0
    this.dialect.definitionTails = await describePostgresIndexes(this.backend, indexes)
    return 1
  }
}
