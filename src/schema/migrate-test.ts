import { DbopsError, UsageError } from '../errors.js'
import type { Target } from '../targets/target.js'
import { compareVersions, noDownError, readMigrations, upOnlyTool, type MigrationFile } from '../migrate/files.js'
import { migrateUp, withMigrationSession, type MigrationSession } from '../migrate/run.js'
import { ownTables, type SchemaCatalog } from './catalog.js'
import { compareCatalogs, describeDifference, displayName, type SchemaDifference } from './compare.js'
import { checkInterrupted, copyMigrations, withScratch, type SchemaEvent } from './scratch.js'

export interface TestMigrationsOptions {
  /** Test only migrations from this version on (the new ones of a pull request); older ones are applied once. */
  from?: string
  signal?: AbortSignal
  onEvent?: (event: SchemaEvent) => void
}

export interface MigrationTestFailure {
  /** `<version>_<name>` of the first migration that failed the test (newest first). */
  migration: string
  /** up: its up fails; down: its down fails or does not undo the up; redo: up again after the down differs or fails. */
  step: 'up' | 'down' | 'redo'
  message: string
  differences: (SchemaDifference & { message: string })[]
}

export interface TestMigrationsResult {
  target: string
  engine: string
  /** Where the migrations ran (dropped afterwards): never the target's own database. */
  ranIn: string
  /** Migrations whose down and up again were checked, newest first (empty when one failed). */
  tested: string[]
  /**
   * Migrations applied from scratch but not rolled back, newest first: a set whose tool has no rollbacks by design
   * (Prisma, Atlas, plain SQL, Flyway without undo files) passes when every up applies.
   */
  untested: string[]
  /** Migrations applied once, before the tested ones (--from). */
  appliedOnce: number
  passed: boolean
  failure: MigrationTestFailure | null
  /** Catalog snapshots read. */
  snapshots: number
}

/**
 * Does every down undo its up? In a scratch database beside the target: applies every migration up, one at a time,
 * reading the catalog after each; then, newest first, runs each down and compares with the catalog before that up,
 * runs the up again and compares with the catalog after it. Stops at the first migration that fails. The target's
 * database is never touched (its server hosts the scratch database; SQLite uses a temp file).
 */
export async function testMigrations(
  target: Target,
  options: TestMigrationsOptions = {},
): Promise<TestMigrationsResult> {
  const set = readMigrations(target.migrations.dir)
  if (!set.exists) {
    throw new DbopsError('E_MIGRATIONS_DIR', `the migrations directory ${set.dir} does not exist`, {
      hint: 'set migrations.dir, or create migrations with "dbops migrate new <name>"',
    })
  }
  const migrations = set.migrations
  let first = 0
  if (options.from !== undefined) {
    if (!/^\d+$/.test(options.from))
      throw new UsageError(
        `--from takes a migration version (the leading digits of a file name), not "${options.from}"`,
      )
    first = migrations.findIndex((migration) => compareVersions(migration.version, options.from!) >= 0)
    if (first === -1)
      throw new UsageError(
        `there is no migration at or after version ${options.from}`,
        'run "dbops migrate status" to list versions',
      )
  }
  const result: TestMigrationsResult = {
    target: target.name,
    engine: target.backend.engine,
    ranIn: '',
    tested: [],
    untested: [],
    appliedOnce: first,
    passed: true,
    failure: null,
    snapshots: 0,
  }
  return withScratch(
    target,
    'dbops_test',
    async (scratch) => {
      result.ranIn = scratch.description
      const folder = copyMigrations(set.dir, migrations.slice(0, first))
      const db = { ...scratch.target, migrations: { ...scratch.target.migrations, dir: folder.dir } }
      try {
        return await runTest(db, migrations, first, result, options)
      } finally {
        folder.remove()
      }
    },
    options.onEvent,
  )
}

/**
 * Up one at a time (catalog after each); then newest first: down (compared with the catalog before its up), up again
 * (compared with the catalog after it), down again to reach the next one. The migrations before `first` are applied
 * once, from a folder holding only them; the tested ones run one by one in a migration session, which reads no files,
 * so a step costs the same however long the set.
 */
async function runTest(
  db: Target,
  migrations: MigrationFile[],
  first: number,
  result: TestMigrationsResult,
  options: TestMigrationsOptions,
): Promise<TestMigrationsResult> {
  const step = (message: string) => options.onEvent?.({ type: 'step', target: result.target, message })
  const engine = await db.backend.schemaEngine()
  const exclude = ownTables(db)
  const read: CatalogReader = {
    followUp: () => engine.catalogFollowUp?.(),
    async after(results) {
      result.snapshots++
      return (results && engine.catalogFromFollowUp?.(results)) ?? engine.readCatalog()
    },
  }
  const signal = options.signal && { signal: options.signal }
  // after[i]: the catalog after migration i's up; after[first - 1]: the catalog the tested ones start from.
  const after = new Map<number, SchemaCatalog>()
  if (first > 0) {
    step(`applying ${first} migration(s) before ${migrations[first]!.id} once`)
    await migrateUp(db, { ...signal })
  }
  // The first read plans the catalog query on the server while the linter loads here.
  const reading = read.after(undefined)
  const linting = lintedWithErrors(db, migrations.slice(first))
  after.set(first - 1, await reading)
  const relint = await linting
  // One session for every step (one lock, one ledger read): per step, as separate migrate up/down runs, those were
  // most of the time on PostgreSQL.
  return withMigrationSession(db, { ...signal }, (session) =>
    testEach(session, migrations, first, after, read, exclude, relint, result, options),
  )
}

/**
 * The tested migrations are linted as one plan, as `migrate up` lints what it is about to run on that database: one
 * parser call and one size query for the set rather than one per file. Returns the ids of the files with errors,
 * which are linted again on their own right before their first up, so that their failure reads as before; undefined
 * when the lint itself failed (a bad lint config): then every file is linted on its own, which reports it.
 */
async function lintedWithErrors(db: Target, migrations: MigrationFile[]): Promise<Set<string> | undefined> {
  if (!(db.resolved?.lint?.beforeUp ?? true) || migrations.length === 0) return new Set()
  try {
    const { lintPlanned } = await import('../lint/lint.js')
    const { findings } = await lintPlanned(db, migrations)
    return new Set(findings.filter((finding) => finding.severity === 'error').map((finding) => finding.migration))
  } catch {
    return undefined
  }
}

/**
 * Reads the catalog after a step: sent with the step itself where the engine can (one round trip for both), else, or
 * when that read did not come back, on its own.
 */
interface CatalogReader {
  followUp(): string | undefined
  after(results: unknown[] | undefined): Promise<SchemaCatalog>
}

async function testEach(
  session: MigrationSession,
  migrations: MigrationFile[],
  first: number,
  after: Map<number, SchemaCatalog>,
  read: CatalogReader,
  exclude: ReturnType<typeof ownTables>,
  relint: Set<string> | undefined,
  result: TestMigrationsResult,
  options: TestMigrationsOptions,
): Promise<TestMigrationsResult> {
  const step = (message: string) => options.onEvent?.({ type: 'step', target: result.target, message })
  const fail = (migration: MigrationFile, failure: Omit<MigrationTestFailure, 'migration'>) => {
    result.passed = false
    result.failure = { migration: migration.id, ...failure }
    return result
  }
  /**
   * A step, and the catalog after it when `thenRead`; `error` when the step failed. `up` lints the file before it
   * runs, as migrate up does, when the lint of the whole set found errors in it (see lintedWithErrors); only the first
   * time: the second up starts from the schema the first one did (the down was just checked to restore it), so its
   * lint would say the same.
   */
  const run = async (
    migration: MigrationFile,
    direction: 'up' | 'down',
    { lint = true, thenRead = false } = {},
  ): Promise<{ error: unknown; catalog?: SchemaCatalog }> => {
    checkInterrupted(options.signal, 'migrate test')
    const followUp = thenRead ? read.followUp() : undefined
    let results: unknown[] | undefined
    try {
      const stepOptions = followUp !== undefined ? { followUp } : {}
      results = await (direction === 'up'
        ? session.up(migration, { lint, ...stepOptions })
        : session.down(migration, stepOptions))
    } catch (error) {
      if (isInterruption(error)) throw error
      return { error }
    }
    return { error: undefined, ...(thenRead && { catalog: await read.after(results) }) }
  }
  for (let i = first; i < migrations.length; i++) {
    const migration = migrations[i]!
    const lint = relint === undefined || relint.has(migration.id)
    const { error, catalog } = await run(migration, 'up', { lint, thenRead: true })
    if (error)
      return fail(migration, { step: 'up', message: `up of ${migration.id} fails: ${reason(error)}`, differences: [] })
    after.set(i, catalog!)
  }
  const tested: string[] = []
  // A set whose tool has no rollbacks (Prisma, Atlas, plain SQL, Flyway without undo files): it passes when every up
  // applies. One missing rollback among others is a gap, reported below.
  if (migrations.slice(first).every((migration) => upOnlyTool(migration))) {
    result.untested = migrations
      .slice(first)
      .map((migration) => migration.id)
      .reverse()
    return result
  }
  step(`applied ${migrations.length - first} migration(s); testing each down and up again, newest first`)
  for (let i = migrations.length - 1; i >= first; i--) {
    const migration = migrations[i]!
    if (!migration.down) {
      return fail(migration, {
        step: 'down',
        message: noDownError(migration).message,
        differences: [],
      })
    }
    const down = await run(migration, 'down', { thenRead: true })
    if (down.error)
      return fail(migration, {
        step: 'down',
        message: `down of ${migration.id} fails: ${reason(down.error)}`,
        differences: [],
      })
    const undone = compareCatalogs(after.get(i - 1)!, down.catalog!, { exclude })
    if (undone.length > 0) {
      const differences = undone.map((difference) => ({ ...difference, message: downMessage(migration, difference) }))
      return fail(migration, { step: 'down', message: summary(differences), differences })
    }
    // Right after its down, as "migrate redo" does: rows a down leaves behind still make the up fail.
    const redo = await run(migration, 'up', { lint: false, thenRead: true })
    if (redo.error)
      return fail(migration, {
        step: 'redo',
        message: `up of ${migration.id} fails after its down: ${reason(redo.error)}`,
        differences: [],
      })
    const redone = compareCatalogs(after.get(i)!, redo.catalog!, { exclude })
    if (redone.length > 0) {
      const differences = redone.map((difference) => ({ ...difference, message: redoMessage(migration, difference) }))
      return fail(migration, { step: 'redo', message: summary(differences), differences })
    }
    tested.push(migration.id)
    if (i > first) {
      const { error: againError } = await run(migration, 'down')
      if (againError)
        return fail(migration, {
          step: 'redo',
          message: `down of ${migration.id} fails the second time: ${reason(againError)}`,
          differences: [],
        })
    }
  }
  result.tested = tested
  return result
}

function isInterruption(error: unknown): boolean {
  return error instanceof DbopsError && error.code === 'E_INTERRUPTED'
}

function reason(error: unknown): string {
  return (error as Error)?.message ?? String(error)
}

function summary(differences: { message: string }[]): string {
  const [head, ...rest] = differences
  return `${head!.message}${rest.length > 0 ? ` (and ${rest.length} more difference${rest.length === 1 ? '' : 's'})` : ''}`
}

/** Expected: before the up; actual: after the down. */
function downMessage(migration: MigrationFile, difference: SchemaDifference): string {
  const subject = `${difference.kind} ${difference.object}`
  if (difference.change === 'extra') return `down of ${migration.id} leaves ${subject} behind`
  if (difference.change === 'missing') return `down of ${migration.id} drops ${subject}, which existed before its up`
  return `down of ${migration.id} does not restore ${describeDifference(difference, { actual: 'after the down', expected: 'before the up', extra: '', missing: '' })}`
}

/** Expected: after the first up; actual: after down and up again. */
function redoMessage(migration: MigrationFile, difference: SchemaDifference): string {
  const subject = `${difference.kind} ${displayName(difference.object)}`
  if (difference.change === 'extra')
    return `after the down and up of ${migration.id} again, ${subject} exists, which the first up did not leave`
  if (difference.change === 'missing')
    return `after the down and up of ${migration.id} again, ${subject} is missing (the first up created it)`
  return `after the down and up of ${migration.id} again, ${describeDifference(difference, { actual: 'the second time', expected: 'the first time', extra: '', missing: '' })}`
}
