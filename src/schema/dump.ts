import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { DbopsError } from '../errors.js'
import type { Target } from '../targets/target.js'
import { Ledger } from '../migrate/ledger.js'
import { writeFileAtomic } from '../output/atomic-write.js'
import { quoteIdentifier, quoteLiteral, quoteQualified } from '../sql/query.js'

export interface DumpSchemaOptions {
  /** Write here; default the config's `schema.file`; neither: the SQL is returned (and printed by the CLI). */
  out?: string
  signal?: AbortSignal
}

export interface DumpSchemaResult {
  target: string
  database: string
  engine: string
  /** Absolute path written, or null when the SQL is returned in `sql`. */
  file: string | null
  bytes: number
  /** The applied migration versions the dump ends with, in ledger order. */
  versions: string[]
  sql?: string
}

/**
 * The target's schema as SQL: PostgreSQL through the matched pg_dump (`--schema-only`, normalised), SQLite from
 * sqlite_schema; both stably ordered, so two dumps of one schema are byte-identical. It ends with INSERTs that
 * record the applied migrations in the ledger as `baselined` (dbmate's dump does the same with its versions): a
 * database loaded from the file knows which migrations it reflects, and `migrate up` applies only newer ones.
 */
export async function dumpSchema(target: Target, options: DumpSchemaOptions = {}): Promise<DumpSchemaResult> {
  if (!target.backend.exists()) {
    throw new DbopsError('E_DATABASE_MISSING', `${target.redactedUrl} does not exist`, {
      hint: 'check the URL; schema dump reads an existing database and creates nothing',
    })
  }
  const engine = await target.backend.schemaEngine()
  const rows = ((await new Ledger(target.backend, target.migrations).read()) ?? [])
    .filter((row) => row.status === 'applied' || row.status === 'baselined')
    .sort((a, b) => a.appliedSeq - b.appliedSeq)
  const schema = await engine.dump(target, options.signal ? { signal: options.signal } : {})
  const table = target.backend.ledgerSql.schemas
    ? quoteQualified(target.migrations.schema, target.migrations.table)
    : quoteIdentifier(target.migrations.table)
  const trailer =
    rows.length === 0
      ? '-- dbops: no migration is applied\n'
      : [
          `-- dbops: the ${rows.length} migration(s) this schema reflects, recorded as baselined when the file is loaded`,
          `INSERT INTO ${table} (version, name, checksum, status, applied_seq, applied_at) VALUES`,
          rows
            .map(
              (row, index) =>
                `  (${quoteLiteral(row.version)}, ${quoteLiteral(row.name)}, ${quoteLiteral(row.checksum)}, 'baselined', ${index + 1}, ${engine.nowExpression})`,
            )
            .join(',\n') + ';',
          '',
        ].join('\n')
  const sql = `${schema}\n${trailer}`
  const file = options.out ?? target.resolved.schema?.file
  const result: DumpSchemaResult = {
    target: target.name,
    database: target.database,
    engine: target.backend.engine,
    file: file ?? null,
    bytes: Buffer.byteLength(sql),
    versions: rows.map((row) => row.version),
  }
  if (file === undefined) return { ...result, sql }
  try {
    mkdirSync(dirname(file), { recursive: true })
    writeFileAtomic(file, sql)
  } catch (error) {
    throw new DbopsError('E_FILE', `cannot write the schema file ${file}: ${(error as Error).message}`, {
      hint: 'check that the folder is writable, or pass another --out',
      cause: error,
    })
  }
  return result
}
