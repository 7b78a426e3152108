import type { Backend } from '../backend.js'
import type { Auditor, FixDialect, FixSql } from '../../audit/auditor.js'
import type { ConstraintInfo, IndexInfo, SchemaSnapshot, TableInfo } from '../../audit/snapshot.js'
import { displayIdentifier, quoteIdentifier } from '../../sql/query.js'
import { introspectSqlite } from './sqlite-introspect.js'

class SqliteFixDialect implements FixDialect {
  readonly maxIdentifierBytes = 1000
  indexSql = new Map<string, string>()

  subject(_schema: string, name: string): string {
    return displayIdentifier(name)
  }

  dropIndex(index: IndexInfo): FixSql {
    const up = `DROP INDEX IF EXISTS ${quoteIdentifier(index.name)};`
    const original = this.indexSql.get(index.name)
    if (!original) return { up }
    const down = original
      .trim()
      .replace(
        /^CREATE\s+(UNIQUE\s+)?INDEX\s+(IF\s+NOT\s+EXISTS\s+)?/i,
        (_match, unique: string | undefined) => `CREATE ${unique ? 'UNIQUE ' : ''}INDEX IF NOT EXISTS `,
      )
    return { up, down: `${down.replace(/;?\s*$/, '')};` }
  }

  rebuildIndex(index: IndexInfo): FixSql {
    return { up: `REINDEX ${quoteIdentifier(index.name)};` }
  }

  createIndex(table: TableInfo, columns: string[], name: string): FixSql {
    return {
      up: `CREATE INDEX IF NOT EXISTS ${quoteIdentifier(name)} ON ${quoteIdentifier(table.name)} (${columns.map(quoteIdentifier).join(', ')});`,
      down: `DROP INDEX IF EXISTS ${quoteIdentifier(name)};`,
    }
  }

  validateConstraint(_constraint: ConstraintInfo): FixSql {
    // SQLite has no NOT VALID constraints; the rule never finds one here.
    return { up: 'PRAGMA foreign_key_check;' }
  }

  analyze(table?: TableInfo): FixSql {
    return { up: table ? `ANALYZE ${quoteIdentifier(table.name)};` : 'ANALYZE;' }
  }

  dropForeignKey(): undefined {
    // SQLite drops a constraint only by rebuilding its table (https://sqlite.org/lang_altertable.html#otheralter).
    return undefined
  }
}

export class SqliteAuditor implements Auditor {
  readonly dialect = new SqliteFixDialect()

  constructor(private readonly backend: Backend) {}

  async introspect(): Promise<SchemaSnapshot> {
    const { indexSql, ...snapshot } = await introspectSqlite(this.backend)
    this.dialect.indexSql = indexSql
    return snapshot
  }

  async describeIndexes(): Promise<number> {
    // Definitions come with the catalog query already (sqlite_schema.sql).
    return 0
  }
}
