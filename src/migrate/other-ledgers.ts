import type { Backend } from '../backends/backend.js'
import type { Target } from '../targets/target.js'
import { DbopsError } from '../errors.js'
import { compareVersions, type MigrationFile } from './files.js'

type Row = Record<string, unknown>

/**
 * Flyway's history keeps failed runs (success false) and undone migrations (a later UNDO_SQL row of the version): the
 * rows that stand for migrations applied now, so the baseline named is never a failed or undone one.
 */
function flywayApplied(rows: Row[]): Row[] {
  const byVersion = new Map<string, Row>()
  const unversioned: Row[] = []
  for (const row of [...rows].sort((a, b) => Number(a.installed_rank) - Number(b.installed_rank))) {
    if (row.success === false || row.success === 0) continue
    if (row.version === null || row.version === undefined) unversioned.push(row)
    else if (row.type === 'UNDO_SQL') byVersion.delete(String(row.version))
    else byVersion.set(String(row.version), row)
  }
  return [...unversioned, ...byVersion.values()]
}

/**
 * Tables in which other migration tools record what they applied, the column holding each version, and (where the
 * table keeps more than applied migrations) the rows that count.
 */
const OTHER_LEDGERS: readonly { table: string; tools: string; column: string; applied?: (rows: Row[]) => Row[] }[] = [
  { table: 'schema_migrations', tools: 'dbmate, golang-migrate or Rails', column: 'version' },
  { table: 'goose_db_version', tools: 'goose', column: 'version_id' },
  { table: 'gorp_migrations', tools: 'sql-migrate', column: 'id' },
  { table: 'flyway_schema_history', tools: 'Flyway', column: 'version', applied: flywayApplied },
  { table: '_sqlx_migrations', tools: 'sqlx', column: 'version' },
  { table: 'knex_migrations', tools: 'Knex', column: 'name' },
  { table: '_prisma_migrations', tools: 'Prisma', column: 'migration_name' },
  // diesel records a folder's version without its dashes, as dbops does.
  { table: '__diesel_schema_migrations', tools: 'diesel', column: 'version' },
  { table: 'refinery_schema_history', tools: 'refinery', column: 'version' },
  // Hasura's CLI before config v3 (v3 keeps the state in hdb_catalog.hdb_version's JSON, not a table of versions).
  { table: 'hdb_catalog.schema_migrations', tools: 'Hasura', column: 'version' },
  // Atlas keeps it in a schema of its own on PostgreSQL, in the main database on SQLite.
  { table: 'atlas_schema_revisions.atlas_schema_revisions', tools: 'Atlas', column: 'version' },
  { table: 'atlas_schema_revisions', tools: 'Atlas', column: 'version' },
]

export interface OtherLedger {
  table: string
  tools: string
  rows: number
  /** The newest version it records, when its versions look like these files' (digits). */
  newest: string | null
}

/**
 * Another tool's history on a database whose dbops ledger is empty: the error `up` throws and `status` warns with.
 * Undefined when dbops' ledger has rows, there is nothing to apply, the check is switched off (`ignore`), the database
 * does not exist yet, or no other ledger has rows.
 */
export async function otherLedgerProblem(
  target: Target,
  ledger: string,
  appliedRows: number,
  files: readonly MigrationFile[],
  ignore: boolean,
): Promise<DbopsError | undefined> {
  if (appliedRows > 0 || files.length === 0 || ignore || !target.backend.exists()) return undefined
  const others = await findOtherLedgers(target.backend)
  return others.length > 0 ? otherLedgerError(ledger, others, files) : undefined
}

/** Other tools' ledgers that hold rows, where the connection's search path finds them. */
async function findOtherLedgers(backend: Backend): Promise<OtherLedger[]> {
  const found: OtherLedger[] = []
  const existing = new Set(await backend.existingTables(OTHER_LEDGERS.map((ledger) => ledger.table)))
  for (const { table, tools, column, applied = (rows: Row[]) => rows } of OTHER_LEDGERS) {
    if (!existing.has(table)) continue
    // goose starts its table with a row for version 0, Atlas with one for ".atlas_cloud_identifiers": no migrations.
    const rows = applied(await backend.query<Row>({ sql: `SELECT * FROM ${table}`, parameters: [] })).filter(
      (row) => String(row[column]) !== '0' && !String(row[column]).startsWith('.'),
    )
    if (rows.length === 0) continue
    const versions = rows.map((row) => String(row[column] ?? '')).filter((version) => /^\d+$/.test(version))
    const newest = versions.reduce<string | null>(
      (max, version) => (max === null || compareVersions(version, max) > 0 ? version : max),
      null,
    )
    found.push({ table, tools, rows: rows.length, newest })
  }
  return found
}

/**
 * `up` on a database whose dbops ledger is empty but another tool's is not would run every migration again (a
 * project moving from dbmate keeps its files and its database): refused, with the baseline that adopts the history.
 */
function otherLedgerError(ledger: string, others: OtherLedger[], files: readonly MigrationFile[]): DbopsError {
  const [first] = others as [OtherLedger]
  const described = others
    .map(
      (other) =>
        `${other.table} (${other.tools}) records ${other.rows} migration${other.rows === 1 ? '' : 's'}${other.newest ? `, newest ${other.newest}` : ''}`,
    )
    .join('; ')
  // As the files spell it (goose's ledger says 1 for 00001_x.sql).
  const known =
    first.newest === null ? undefined : files.find((file) => compareVersions(file.version, first.newest!) === 0)
  return new DbopsError(
    'E_OTHER_LEDGER',
    `this database was migrated by another tool: ${described}; dbops' ledger ${ledger} is empty, so "up" would run every migration again`,
    {
      hint: `if those are these files, record them as applied without running them: "dbops migrate baseline ${known?.version ?? '<newest applied version>'}", then "dbops migrate up"; to run them anyway, pass --ignore-other-ledgers (or set migrations.ignoreOtherLedgers: true for a database shared with an application that keeps its own)`,
      details: { otherLedgers: others },
    },
  )
}
