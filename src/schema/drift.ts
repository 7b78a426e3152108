import { DbopsError } from '../errors.js'
import type { Target } from '../targets/target.js'
import { Ledger } from '../migrate/ledger.js'
import { canonicalVersion, compareVersions, readMigrations, type MigrationFile } from '../migrate/files.js'
import { migrateUp } from '../migrate/run.js'
import { ownTables } from './catalog.js'
import { compareCatalogs, describeDifference, type SchemaDifference } from './compare.js'
import { checkInterrupted, copyMigrations, withScratch, type SchemaEvent } from './scratch.js'

export interface SchemaDriftOptions {
  /** Names or globs to leave out, besides the config's `schema.ignore`. */
  ignore?: readonly string[]
  signal?: AbortSignal
  onEvent?: (event: SchemaEvent) => void
}

export interface SchemaDriftResult {
  target: string
  /** The database compared (password redacted). */
  database: string
  engine: string
  /** Where the expected schema was built (dropped afterwards). */
  builtIn: string
  /** Applied migrations (ledger order) replayed to build the expected schema. */
  migrations: string[]
  drift: boolean
  differences: (SchemaDifference & { message: string })[]
  /** Objects compared on each side. */
  objects: { database: number; migrations: number }
  /** Catalog queries sent to the target's database. */
  queries: number
  warnings: string[]
}

const SIDES = {
  actual: 'in the database',
  expected: 'in the migrations',
  extra: 'exists in the database but no migration creates it',
  missing: 'is missing from the database (the migrations create it)',
}

/**
 * Is the live database what its applied migrations say? Replays the target's applied migrations (up sections, in
 * ledger order) into a scratch database beside it, then compares the two catalogs object by object. The target's
 * database is only read; the scratch database is dropped whatever happens.
 */
export async function schemaDrift(target: Target, options: SchemaDriftOptions = {}): Promise<SchemaDriftResult> {
  if (!target.backend.exists()) {
    throw new DbopsError('E_DATABASE_MISSING', `${target.redactedUrl} does not exist`, {
      hint: 'check the URL; schema drift reads an existing database and creates nothing there',
    })
  }
  const step = (message: string) => options.onEvent?.({ type: 'step', target: target.name, message })
  const rows = (await new Ledger(target.backend, target.migrations).read()) ?? []
  const broken = rows.find((row) => row.status === 'failed' || row.status === 'running')
  if (broken) {
    throw new DbopsError(
      'E_MIGRATION_FAILED',
      `migration ${broken.version}_${broken.name} is ${broken.status} in ${target.name}: its schema is neither before nor after it`,
      {
        hint: `see "dbops migrate status", then "dbops migrate resolve ${broken.version} --applied" or "--rolled-back"`,
      },
    )
  }
  const set = readMigrations(target.migrations.dir)
  const files = new Map(set.migrations.map((migration) => [canonicalVersion(migration.version), migration]))
  const warnings: string[] = []
  const applied: MigrationFile[] = []
  for (const row of rows.sort((a, b) => a.appliedSeq - b.appliedSeq)) {
    const file = files.get(canonicalVersion(row.version))
    if (!file) {
      throw new DbopsError(
        'E_MISSING_FILE',
        `migration ${row.version}_${row.name} is applied in ${target.name} but its file is missing from ${target.migrations.dir}`,
        {
          hint: 'restore the file from version control: the expected schema is built from the applied migrations',
        },
      )
    }
    if (row.status === 'applied' && row.checksum !== file.checksum)
      warnings.push(`${file.file} was changed after it was applied: the expected schema uses the file as it is now`)
    applied.push(file)
  }
  for (const warning of warnings)
    options.onEvent?.({ type: 'step', target: target.name, message: `warning: ${warning}` })

  const engine = await target.backend.schemaEngine()
  step('reading the database catalog')
  const actual = await engine.readCatalog()
  const expected = await withScratch(
    target,
    'dbops_drift',
    async (scratch) => {
      step(`applying ${applied.length} migration(s) to ${scratch.description}`)
      await replay(scratch.target, set.dir, applied, options.signal)
      checkInterrupted(options.signal, 'schema drift')
      return (await scratch.target.backend.schemaEngine()).readCatalog()
    },
    options.onEvent,
  )

  const ignore = [...(target.resolved.schema?.ignore ?? []), ...(options.ignore ?? [])]
  const differences = compareCatalogs(expected, actual, { ignore, exclude: ownTables(target) }).map((difference) => ({
    ...difference,
    message: describeDifference(difference, SIDES),
  }))
  return {
    target: target.name,
    database: target.database,
    engine: target.backend.engine,
    builtIn:
      target.backend.engine === 'postgres'
        ? 'a scratch database on the same server (dropped)'
        : 'a temporary file (removed)',
    migrations: applied.map((migration) => migration.id),
    drift: differences.length > 0,
    differences,
    objects: { database: actual.objects.length, migrations: expected.objects.length },
    queries: actual.queries,
    warnings,
  }
}

/**
 * Applies `applied` in that order through the migration runner. In version order (the usual case) that is one run;
 * a ledger that applied some out of order is replayed one migration at a time, each added to the folder in turn.
 */
async function replay(
  scratch: Target,
  dir: string,
  applied: MigrationFile[],
  signal: AbortSignal | undefined,
): Promise<void> {
  if (applied.length === 0) return
  const inVersionOrder = applied.every(
    (migration, index) => index === 0 || compareVersions(applied[index - 1]!.version, migration.version) < 0,
  )
  const copy = copyMigrations(dir, inVersionOrder ? applied : [])
  const target = { ...scratch, migrations: { ...scratch.migrations, dir: copy.dir } }
  try {
    if (inVersionOrder) {
      await build(target, signal)
    } else {
      for (const migration of applied) {
        checkInterrupted(signal, 'schema drift')
        copy.add(migration)
        await build(target, signal)
      }
    }
  } finally {
    copy.remove()
  }
}

async function build(target: Target, signal: AbortSignal | undefined): Promise<void> {
  try {
    await migrateUp(target, { allowOutOfOrder: true, ...(signal && { signal }) })
  } catch (error) {
    if (error instanceof DbopsError && error.code === 'E_INTERRUPTED') throw error
    throw new DbopsError(
      'E_DRIFT_BUILD',
      `cannot build the expected schema from the migrations: ${(error as Error).message}`,
      {
        hint: 'the applied migrations no longer run on an empty database; fix them (dbops migrate test shows which) and check again',
        cause: error,
        ...(error instanceof DbopsError && error.details && { details: error.details }),
      },
    )
  }
}
