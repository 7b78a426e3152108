import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { DbopsError } from '../errors.js'
import { StatementFailure } from '../backends/backend.js'
import type { Target } from '../targets/target.js'
import { splitStatements } from '../sql/split-statements.js'
import { transactionControl } from '../sql/non-transactional.js'
import { positionAt } from '../migrate/files.js'
import { readSeeds, selectSeeds, type SeedFile, type SeedSet } from './files.js'
import { SeedLedger, type SeedLedgerRow } from './seed-ledger.js'
import { fileChecksum } from './records.js'
import { decodeUtf8, InvalidUtf8Error } from '../text/utf8.js'
import { LoadFailure, type Seeder, type SeedLocation, type TableInfo } from './seeder.js'

export type SeedEvent =
  | { type: 'start'; target: string; seed: string; table?: string }
  | { type: 'done'; target: string; seed: string; rows: number | null; durationMs: number }
  | { type: 'skipped'; target: string; seed: string; reason: string }
  | { type: 'reset'; target: string; tables: string[] }
  | { type: 'lock-wait'; target: string; holder: string }
  | { type: 'warning'; target: string; message: string }

export interface SeedOptions {
  /** Seeds to run, by name (with or without extension); default all. */
  names?: readonly string[]
  /** A key of seeds.environments. */
  env?: string
  onEvent?: (event: SeedEvent) => void
  /** Aborting stops the run between seed files; the file under way finishes or rolls back first. */
  signal?: AbortSignal
}

export interface SeedRunOptions extends SeedOptions {
  /**
   * Start over: empty the tables the selected data seeds load, then run every selected seed again (scripts and
   * modules too, as they may build on the data; write them to be re-runnable).
   */
  reset?: boolean
  /** Run seeds whose file changed since they were applied. */
  force?: boolean
  /** Plan only: write nothing, create nothing (not even the ledger). */
  dryRun?: boolean
  /** Required to seed a target marked `protected: true`. */
  allowProtected?: boolean
}

export type SeedState = 'applied' | 'changed' | 'new' | 'missing'

export interface SeedStatusEntry {
  name: string
  state: SeedState
  kind: 'data' | 'sql' | 'module' | null
  /** The table a data seed loads. */
  table: string | null
  file: string | null
  checksum: string | null
  appliedChecksum: string | null
  appliedAt: string | null
  rows: number | null
}

export interface SeedStatusResult {
  target: string
  engine: string
  ledger: string
  seedsDir: string
  env: string | null
  seeds: SeedStatusEntry[]
  summary: Record<SeedState, number>
  /** Nothing new, changed or missing. */
  upToDate: boolean
}

export interface SeedOutcome {
  name: string
  file: string
  kind: 'data' | 'sql' | 'module'
  table: string | null
  /** 'planned' in a dry run. */
  status: 'applied' | 'skipped' | 'planned'
  /** Why it is skipped or planned: unchanged, new, changed (--force), reset. */
  reason: string
  rows: number | null
  durationMs: number | null
}

export interface SeedRunResult {
  target: string
  dryRun: boolean
  env: string | null
  /** Tables emptied by --reset (planned ones in a dry run). */
  reset: string[]
  seeds: SeedOutcome[]
}

/**
 * Runs the seeds: new ones, changed ones with `force`, and with `reset` every selected data seed after emptying
 * its tables. Each file runs in its own transaction together with its ledger row; a failure rolls that file back,
 * stops the run, and names the file and line; the files before it stay committed.
 */
export async function seedRun(target: Target, options: SeedRunOptions = {}): Promise<SeedRunResult> {
  const set = loadSet(target, options)
  const selected = selectSeeds(set, options.names ?? [])
  if (target.protected && !options.allowProtected) {
    throw new DbopsError(
      'E_PROTECTED',
      `target "${target.name}" (${target.redactedUrl}) is protected: seeding it is refused`,
      {
        hint: 'seeds are for development and test databases; pass --allow-protected if you really mean to seed this one',
      },
    )
  }
  const ledger = seedLedger(target)
  const seeder = await target.backend.seeder()
  const run = async (): Promise<SeedRunResult> => {
    const rows = await ledger.read()
    const applied = new Map((rows ?? []).map((row) => [row.name, row]))
    const plan = await planRun(selected, applied, options)
    const refused = plan.filter((step) => step.refused)
    if (refused.length > 0) {
      const names = refused.map((step) => step.seed.name)
      throw new DbopsError(
        'E_SEED_CHANGED',
        `${names.length === 1 ? 'seed' : 'seeds'} ${names.join(', ')} changed since ${names.length === 1 ? 'it was' : 'they were'} applied (checksum differs); nothing was run`,
        {
          hint: `run again with --force to run ${names.length === 1 ? 'it' : 'them'} again as ${names.length === 1 ? 'it is' : 'they are'} now, or with --reset to empty the tables of data seeds and load them afresh`,
          details: { changed: names },
        },
      )
    }
    const toRun = plan.filter((step) => step.run)
    const tables = await describeTables(seeder, target, options.reset ? plan : toRun)
    const resetTables = options.reset
      ? uniqueTables(plan.filter((step) => step.seed.kind === 'data').map((step) => tables.get(step.seed)!))
      : []
    const result: SeedRunResult = {
      target: target.name,
      dryRun: options.dryRun === true,
      env: options.env ?? null,
      reset: resetTables.map((table) => table.display),
      seeds: [],
    }
    if (options.dryRun) {
      result.seeds = plan.map((step) => outcome(step, tables, step.run ? 'planned' : 'skipped', null, null))
      return result
    }
    let setup = rows === undefined ? await ledger.creationStatements() : []
    if (resetTables.length > 0) {
      const forget = rows === undefined ? [] : plan.map((step) => ledger.deleteQuery(step.seed.name))
      await seeder.reset(resetTables, forget, target.migrations.lockTimeoutMs).catch((error: unknown) => {
        if (error instanceof DbopsError) throw error
        throw new DbopsError(
          'E_RESET_FAILED',
          `--reset could not empty ${result.reset.join(', ')}: ${(error as Error)?.message ?? String(error)}; nothing was emptied`,
          {
            hint: 'nothing was loaded either: fix the cause (permissions, a lock held by another session) and run again',
            cause: error,
          },
        )
      })
      options.onEvent?.({ type: 'reset', target: target.name, tables: result.reset })
    }
    for (const step of plan) {
      if (!step.run) {
        options.onEvent?.({ type: 'skipped', target: target.name, seed: step.seed.name, reason: step.reason })
        result.seeds.push(outcome(step, tables, 'skipped', null, null))
        continue
      }
      if (options.signal) await new Promise((resolve) => setImmediate(resolve))
      if (options.signal?.aborted) throw interrupted(step.seed, result)
      const table = tables.get(step.seed)
      options.onEvent?.({
        type: 'start',
        target: target.name,
        seed: step.seed.name,
        ...(table && { table: table.display }),
      })
      let done: { skipped: boolean; rows: number | null; elapsedMs: number }
      try {
        done = await runOne(target, seeder, ledger, step, table, setup, options.signal)
      } catch (error) {
        throw target.backend.explainError?.(error) ?? seedFailure(step.seed, error, result)
      }
      setup = []
      if (done.skipped) {
        options.onEvent?.({
          type: 'skipped',
          target: target.name,
          seed: step.seed.name,
          reason: 'already done by a concurrent dbops',
        })
        result.seeds.push(outcome(step, tables, 'skipped', null, null, 'done by a concurrent run'))
        continue
      }
      options.onEvent?.({
        type: 'done',
        target: target.name,
        seed: step.seed.name,
        rows: done.rows,
        durationMs: done.elapsedMs,
      })
      result.seeds.push(outcome(step, tables, 'applied', done.rows, Math.round(done.elapsedMs * 10) / 10))
    }
    return result
  }
  if (options.dryRun) return run()
  return target.backend.withMigrationLock(
    ledger.qualifiedName,
    {
      timeoutMs: target.migrations.lockWaitTimeoutMs,
      onWait: (holder) => options.onEvent?.({ type: 'lock-wait', target: target.name, holder }),
    },
    run,
  )
}

/** Where every seed stands. Reads only: creates nothing, not even the ledger. */
export async function seedStatus(target: Target, options: SeedOptions = {}): Promise<SeedStatusResult> {
  const ledger = seedLedger(target)
  const rowsPromise = ledger.read()
  rowsPromise.catch(() => {})
  const set = loadSet(target, options)
  const selected = selectSeeds(set, options.names ?? [])
  const rows = (await rowsPromise) ?? []
  const applied = new Map(rows.map((row) => [row.name, row]))
  const seeds: SeedStatusEntry[] = []
  for (const seed of selected) {
    const row = applied.get(seed.name)
    const checksum = await fileChecksum(seed.path)
    seeds.push({
      name: seed.name,
      state: row === undefined ? 'new' : row.checksum === checksum ? 'applied' : 'changed',
      kind: seed.kind,
      table: seed.table ? tableName(seed) : null,
      file: seed.display,
      checksum,
      appliedChecksum: row?.checksum ?? null,
      appliedAt: row?.appliedAt ?? null,
      rows: row?.rows ?? null,
    })
  }
  // Ledger rows without a file: only meaningful when looking at every seed (no names, no environment). A seed an
  // environment ran from a subfolder (`dev/04_posts.sql`) is outside the top level, not missing.
  if ((options.names ?? []).length === 0 && options.env === undefined) {
    for (const row of rows) {
      if (set.seeds.some((seed) => seed.name === row.name) || existsSync(join(set.dir, row.name))) continue
      seeds.push({
        name: row.name,
        state: 'missing',
        kind: null,
        table: null,
        file: null,
        checksum: null,
        appliedChecksum: row.checksum,
        appliedAt: row.appliedAt,
        rows: row.rows,
      })
    }
  }
  const summary = { applied: 0, changed: 0, new: 0, missing: 0 }
  for (const entry of seeds) summary[entry.state]++
  return {
    target: target.name,
    engine: target.backend.engine,
    ledger: ledger.qualifiedName,
    seedsDir: set.dir,
    env: options.env ?? null,
    seeds,
    summary,
    upToDate: summary.new + summary.changed + summary.missing === 0,
  }
}

interface Step {
  seed: SeedFile
  run: boolean
  refused: boolean
  reason: string
  /** Known when the seed was applied before (computed to compare); new data seeds hash while they load. */
  checksum: string | undefined
}

async function planRun(
  selected: SeedFile[],
  applied: Map<string, SeedLedgerRow>,
  options: SeedRunOptions,
): Promise<Step[]> {
  const steps: Step[] = []
  for (const seed of selected) {
    const row = applied.get(seed.name)
    if (options.reset) {
      steps.push({ seed, run: true, refused: false, reason: 'reset', checksum: undefined })
      continue
    }
    if (!row) {
      steps.push({ seed, run: true, refused: false, reason: 'new', checksum: undefined })
      continue
    }
    const checksum = await fileChecksum(seed.path)
    if (checksum === row.checksum) steps.push({ seed, run: false, refused: false, reason: 'unchanged', checksum })
    else steps.push({ seed, run: options.force === true, refused: options.force !== true, reason: 'changed', checksum })
  }
  return steps
}

/** The tables of the data seeds in `steps`, from the catalog in one go; a missing table is an error now. */
async function describeTables(seeder: Seeder, target: Target, steps: Step[]): Promise<Map<SeedFile, TableInfo>> {
  const data = steps.filter((step) => step.seed.kind === 'data').map((step) => step.seed)
  const found = data.length > 0 ? await seeder.describe(data.map((seed) => seed.table!)) : new Map<string, TableInfo>()
  const tables = new Map<SeedFile, TableInfo>()
  for (const seed of data) {
    const table = found.get(tableName(seed))
    if (!table) {
      throw new DbopsError(
        'E_SEED_TABLE',
        `${seed.display} loads table ${tableName(seed)}, which does not exist in ${target.name}; nothing was run`,
        {
          hint: `create it first ("dbops migrate up"), or map the file to a table in seeds.tables: { "${seed.name.split('/').pop()}": "<table>" }`,
          details: { file: seed.display, table: tableName(seed) },
        },
      )
    }
    tables.set(seed, table)
  }
  return tables
}

export function tableName(seed: SeedFile): string {
  return seed.table!.schema ? `${seed.table!.schema}.${seed.table!.name}` : seed.table!.name
}

function uniqueTables(tables: TableInfo[]): TableInfo[] {
  return tables.filter((table, index) => tables.findIndex((other) => other.sql === table.sql) === index)
}

function outcome(
  step: Step,
  tables: Map<SeedFile, TableInfo>,
  status: SeedOutcome['status'],
  rows: number | null,
  durationMs: number | null,
  reason = step.reason,
): SeedOutcome {
  return {
    name: step.seed.name,
    file: step.seed.display,
    kind: step.seed.kind,
    table: tables.get(step.seed)?.display ?? (step.seed.table ? tableName(step.seed) : null),
    status,
    reason: step.reason === 'changed' && step.run ? 'changed (--force)' : reason,
    rows,
    durationMs,
  }
}

async function runOne(
  target: Target,
  seeder: Seeder,
  ledger: SeedLedger,
  step: Step,
  table: TableInfo | undefined,
  setup: readonly string[],
  signal: AbortSignal | undefined,
): Promise<{ skipped: boolean; rows: number | null; elapsedMs: number }> {
  const { seed } = step
  if (seed.kind === 'data') {
    const loaded = await seeder.load(
      {
        path: seed.path,
        display: seed.display,
        format: seed.format!,
        table: table!,
        setup,
        lockTimeoutMs: target.migrations.lockTimeoutMs,
        guard: ledger.recordedQuery(seed.name, step.checksum),
        ledgerWrite: ({ checksum, rows, executionMs }) =>
          ledger.writeQuery({ name: seed.name, checksum, rows, executionMs }),
      },
      signal,
    )
    return { skipped: loaded.skipped, rows: loaded.rows, elapsedMs: loaded.elapsedMs }
  }
  const bytes = readFileSync(seed.path)
  const checksum = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
  if (seed.kind === 'sql') return runScript(target, ledger, seed, sqlText(bytes), checksum, setup)
  return runModule(target, ledger, seed, checksum, setup)
}

function sqlText(bytes: Buffer): string {
  try {
    return decodeUtf8(bytes).replace(/^\uFEFF/, '')
  } catch (error) {
    if (error instanceof InvalidUtf8Error)
      throw new LoadFailure(error.message, { line: error.line, character: error.column }, undefined, { cause: error })
    throw error
  }
}

async function runScript(
  target: Target,
  ledger: SeedLedger,
  seed: SeedFile,
  text: string,
  checksum: string,
  setup: readonly string[],
) {
  const statements = splitStatements(text, target.backend.engine)
  for (const statement of statements) {
    const control = transactionControl(statement.text, target.backend.engine)
    if (control !== undefined) {
      throw new LoadFailure(`${control} in a seed: dbops runs each seed file in its own transaction`, {
        line: statement.line,
      })
    }
  }
  const startedAt = new Date().toISOString()
  const unit = {
    setup,
    script: text,
    statements,
    // Split up front, run statement by statement where the engine does that; every seed commit is durable.
    plain: false,
    durable: true,
    guard: ledger.recordedQuery(seed.name, checksum),
    ledgerWrite: ledger.writeQuery({
      name: seed.name,
      checksum,
      rows: null,
      executionMs: target.backend.ledgerSql.elapsedMsSince(startedAt),
    }),
    lockTimeoutMs: target.migrations.lockTimeoutMs,
    statementTimeoutMs: target.migrations.statementTimeoutMs,
  }
  const outcome = await target.backend.runTransactional(unit).catch((error: unknown) => {
    if (!(error instanceof StatementFailure)) throw error
    const statement = error.statementIndex !== undefined ? statements[error.statementIndex] : undefined
    const offset = error.scriptOffset ?? statement?.start
    const position = offset !== undefined ? positionAt(text, offset) : undefined
    throw new LoadFailure(
      error.message,
      position ? { line: position.line, character: position.column } : {},
      error.sqlstate,
      { cause: error },
    )
  })
  return { skipped: outcome.skipped, rows: null, elapsedMs: outcome.elapsedMs }
}

/** `export async function seed(db)` gets a kysely transaction on the backend's connection; the ledger row joins it. */
async function runModule(
  target: Target,
  ledger: SeedLedger,
  seed: SeedFile,
  checksum: string,
  setup: readonly string[],
) {
  const { importScript } = await import('../config/load-config.js')
  let module: Record<string, unknown>
  try {
    module = await importScript(seed.path)
  } catch (error) {
    throw new LoadFailure(`cannot load the module: ${(error as Error).message}`, {}, undefined, { cause: error })
  }
  const seedFunction = module.seed ?? (module.default as Record<string, unknown> | undefined)?.seed ?? module.default
  if (typeof seedFunction !== 'function') {
    throw new LoadFailure('exports no seed function (write: export async function seed(db) { ... })', {})
  }
  const db = await target.backend.kysely()
  const { CompiledQuery } = await import('kysely')
  const started = performance.now()
  let skipped = false
  let rows: number | null = null
  await db.transaction().execute(async (trx) => {
    for (const statement of setup) await trx.executeQuery(CompiledQuery.raw(statement, []))
    const guard = ledger.recordedQuery(seed.name, checksum)
    if ((await trx.executeQuery(CompiledQuery.raw(guard.sql, [...guard.parameters]))).rows.length > 0) {
      skipped = true
      return
    }
    let returned: unknown
    try {
      returned = await (seedFunction as (db: unknown) => unknown)(trx)
    } catch (error) {
      throw new LoadFailure(
        `seed() failed: ${(error as Error)?.message ?? String(error)}`,
        {},
        (error as { code?: string })?.code,
        { cause: error },
      )
    }
    if (typeof returned === 'number' && Number.isFinite(returned)) rows = returned
    const write = ledger.writeQuery({ name: seed.name, checksum, rows, executionMs: performance.now() - started })
    await trx.executeQuery(CompiledQuery.raw(write.sql, [...write.parameters]))
  })
  return { skipped, rows, elapsedMs: performance.now() - started }
}

function seedLedger(target: Target): SeedLedger {
  return new SeedLedger(target.backend, target.seeds.table, target.migrations.schema)
}

function loadSet(target: Target, options: SeedOptions): SeedSet {
  const set = readSeeds(target.seeds, options.env)
  if (!set.exists) {
    options.onEvent?.({
      type: 'warning',
      target: target.name,
      message: `the seeds folder ${set.dir} does not exist (create it with "dbops seed new <name>", or set seeds.dir)`,
    })
  }
  for (const file of set.ignored) {
    options.onEvent?.({
      type: 'warning',
      target: target.name,
      message: `ignoring ${file}: not a seed file (.csv, .json, .ndjson, .sql, .ts, .js)`,
    })
  }
  return set
}

function committedSoFar(result: SeedRunResult): string {
  const applied = result.seeds.filter((seed) => seed.status === 'applied').map((seed) => seed.name)
  const reset = result.reset.length > 0 ? `the reset of ${result.reset.join(', ')} and ` : ''
  if (applied.length === 0)
    return result.reset.length > 0 ? `; the reset of ${result.reset.join(', ')} stays committed` : ''
  return `; ${reset}the ${applied.length} seed(s) before it stay committed (${applied.join(', ')})`
}

function seedFailure(seed: SeedFile, error: unknown, result: SeedRunResult): unknown {
  if (error instanceof DbopsError) return error
  // Anything else the database said (permissions, a lock, a trigger) is still this file's failure.
  const failure =
    error instanceof LoadFailure
      ? error
      : new LoadFailure((error as Error)?.message ?? String(error), {}, (error as { code?: string })?.code, {
          cause: error,
        })
  const where = describeLocation(seed, failure.location)
  return new DbopsError('E_SEED_FAILED', `seed ${where}: ${failure.message}`, {
    hint: `nothing of ${seed.name} was loaded (rolled back)${committedSoFar(result)}. Fix the file and run "dbops seed run" again`,
    details: { seed: seed.name, file: seed.display, ...failure.location, sqlstate: failure.sqlstate },
    cause: error,
  })
}

/** `fixtures/users.csv:3 (column age)`, `fixtures/users.json:7 (element 2, column age)`, `fixtures/a.sql:4:3`. */
export function describeLocation(seed: SeedFile, location: SeedLocation): string {
  const { line, element, column, character } = location
  if (character !== undefined) return `${seed.display}:${line}:${character}`
  const parts: string[] = []
  if (element !== undefined) parts.push(`element ${element}`)
  if (column !== undefined) parts.push(`column ${column}`)
  return `${seed.display}${line !== undefined ? `:${line}` : ''}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`
}

function interrupted(seed: SeedFile, result: SeedRunResult): DbopsError {
  const done = result.seeds.filter((outcome) => outcome.status === 'applied').length
  return new DbopsError('E_INTERRUPTED', `interrupted before ${seed.name}; ${done} seed(s) done before it`, {
    hint: 'every seed is loaded whole or not at all: run the command again to continue',
  })
}
