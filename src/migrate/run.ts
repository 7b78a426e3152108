import { DbopsError } from '../errors.js'
import { StatementFailure } from '../backends/backend.js'
import { formatDurationSetting } from '../config/duration.js'
import { oneLine } from '../output/format.js'
import type { Target } from '../targets/target.js'
import { readMigrations, transactionFreeHint, type MigrationFile, type MigrationSet } from './files.js'
import { otherLedgerProblem } from './other-ledgers.js'
import { Ledger, ownerState, type LedgerRow } from './ledger.js'
import { checkDownSelection, checkSteps, migrationStates, planDown, planUp, type MigrationStatusEntry } from './plan.js'
import { locate, prepareSection, type PreparedSection } from './prepare.js'
import { transactionControl } from '../sql/non-transactional.js'
import type { LintFinding } from '../lint/types.js'

export type MigrateEvent =
  | { type: 'lock-wait'; target: string; holder: string }
  | { type: 'start'; target: string; id: string; direction: 'up' | 'down'; transactional: boolean }
  | { type: 'done'; target: string; id: string; direction: 'up' | 'down'; durationMs: number }
  | { type: 'skipped'; target: string; id: string; reason: string }
  | { type: 'warning'; target: string; message: string }
  /** A lint warning on a migration about to run (errors stop the run instead: E_LINT). */
  | { type: 'lint'; target: string; finding: LintFinding }

export interface MigrateOptions {
  /** Print the plan and its SQL; take no lock, create nothing. */
  dryRun?: boolean
  onEvent?: (event: MigrateEvent) => void
  /** Overrides migrations.lockWaitTimeout for this run. */
  lockWaitTimeoutMs?: number
  /** Aborting stops the run at the next migration boundary: the migration under way finishes first. */
  signal?: AbortSignal
}

export interface UpOptions extends MigrateOptions {
  to?: string
  steps?: number
  allowOutOfOrder?: boolean
  /** Lint the migrations about to run before taking the lock (default: config lint.beforeUp, else true). */
  lint?: boolean
  /**
   * Run even when dbops' ledger is empty and another tool's ledger (dbmate's schema_migrations...) is not (default:
   * migrations.ignoreOtherLedgers).
   */
  ignoreOtherLedgers?: boolean
}

export interface DownOptions extends MigrateOptions {
  to?: string
  steps?: number
}

export interface MigrationOutcome {
  version: string
  name: string
  direction: 'up' | 'down'
  /** 'planned' in a dry run; 'skipped' when a concurrent dbops did it first. */
  status: 'applied' | 'rolled-back' | 'skipped' | 'planned'
  transactional: boolean
  durationMs: number | null
  /** The SQL that runs (dry run only). */
  sql?: string
}

export interface MigrateResult {
  target: string
  direction: 'up' | 'down' | 'redo'
  dryRun: boolean
  migrations: MigrationOutcome[]
}

/** Applies pending migrations in version order, each in its own transaction with its ledger row. */
export async function migrateUp(target: Target, options: UpOptions = {}): Promise<MigrateResult> {
  checkSteps(options.steps)
  const lint = options.lint ?? target.resolved?.lint?.beforeUp ?? true
  // The lint's ledger read starts first: a PostgreSQL server forks and authenticates the session while the files
  // are read. A file error thrown first still wins; the read's own failure is left to the run under the lock.
  const rows = lint ? new Ledger(target.backend, target.migrations).read() : undefined
  rows?.catch(() => {})
  if (rows) await connectionUnderWay()
  const set = loadSet(target, options)
  if (rows) await lintBeforeUp(target, set, options, rows)
  return withLedgerState(target, options, async (ledger, rows) => {
    const ignoreOthers = options.ignoreOtherLedgers ?? target.migrations.ignoreOtherLedgers
    const problem = await otherLedgerProblem(target, ledger.qualifiedName, rows.length, set.migrations, ignoreOthers)
    if (problem) throw problem
    const entries = migrationStates(set.migrations, rows)
    const plan = planUp(set.migrations, entries, {
      ...(options.to !== undefined && { to: options.to }),
      ...(options.steps !== undefined && { steps: options.steps }),
      allowOutOfOrder: options.allowOutOfOrder ?? target.migrations.allowOutOfOrder,
    })
    const prepared = plan.map((migration) => prepareSection(migration, 'up', target.backend.engine))
    return {
      direction: 'up',
      dryRun: options.dryRun === true,
      migrations: await runAll(target, ledger, prepared, options),
    }
  })
}

/** Rolls back applied migrations, most recently applied first (default: one). */
export async function migrateDown(target: Target, options: DownOptions = {}): Promise<MigrateResult> {
  checkDownSelection(options)
  const set = loadSet(target, options)
  return withLedgerState(target, options, async (ledger, rows) => {
    const entries = migrationStates(set.migrations, rows)
    const plan = planDown(set.migrations, rows, entries, {
      ...(options.to !== undefined && { to: options.to }),
      ...(options.steps !== undefined && { steps: options.steps }),
    })
    const prepared = plan.map((migration) => prepareSection(migration, 'down', target.backend.engine))
    return {
      direction: 'down',
      dryRun: options.dryRun === true,
      migrations: await runAll(target, ledger, prepared, options),
    }
  })
}

/** Rolls back the most recently applied migration and applies it again (for iterating on the newest migration). */
export async function migrateRedo(target: Target, options: MigrateOptions = {}): Promise<MigrateResult> {
  const set = loadSet(target, options)
  return withLedgerState(target, options, async (ledger, rows) => {
    const entries = migrationStates(set.migrations, rows)
    const [migration] = planDown(set.migrations, rows, entries, { steps: 1 })
    if (!migration) throw new DbopsError('E_NOTHING_TO_REDO', 'nothing to redo: no migration is applied')
    const down = prepareSection(migration, 'down', target.backend.engine)
    const up = prepareSection(migration, 'up', target.backend.engine)
    return {
      direction: 'redo',
      dryRun: options.dryRun === true,
      migrations: await runAll(target, ledger, [down, up], options),
    }
  })
}

/**
 * Lints what `up` is about to run, before the lock is taken: errors stop the run before anything runs, warnings are
 * reported as events. The plan is read here without the lock; under it the run plans again (another dbops may have
 * applied some meanwhile, which only shortens the list). Statements no rule wants are not even parsed.
 */
async function lintBeforeUp(
  target: Target,
  set: MigrationSet,
  options: UpOptions,
  ledgerRows: Promise<LedgerRow[] | undefined>,
): Promise<void> {
  if (set.migrations.length === 0) return
  let plan: MigrationFile[]
  try {
    const rows = (await ledgerRows) ?? []
    plan = planUp(set.migrations, migrationStates(set.migrations, rows), {
      ...(options.to !== undefined && { to: options.to }),
      ...(options.steps !== undefined && { steps: options.steps }),
      allowOutOfOrder: options.allowOutOfOrder ?? target.migrations.allowOutOfOrder,
    })
  } catch {
    return // The run itself reports what is wrong with the plan, under the lock.
  }
  await lintPlan(target, plan, options)
}

/** Lints migrations about to run: warnings become events, errors stop the run (E_LINT) before anything runs. */
async function lintPlan(target: Target, plan: MigrationFile[], options: MigrateOptions): Promise<void> {
  if (plan.length === 0) return
  const { lintPlanned } = await import('../lint/lint.js')
  const result = await lintPlanned(target, plan)
  for (const finding of result.findings)
    if (finding.severity === 'warn') options.onEvent?.({ type: 'lint', target: target.name, finding })
  const errors = result.findings.filter((finding) => finding.severity === 'error')
  if (errors.length > 0) {
    const first = errors[0]!
    throw new DbopsError(
      'E_LINT',
      `${errors.length} lint error(s) in the migrations to apply, nothing was run: ${first.file}:${first.line}:${first.column} ${first.rule}: ${first.message}`,
      {
        hint: 'see "dbops migrate lint" for each one and its safer form; suppress one with "-- dbops:lint-ignore <rule> <reason>" above its statement, or skip the check with --no-lint',
        details: { findings: errors },
      },
    )
  }
}

export interface StatusResult {
  target: string
  engine: string
  ledger: string
  migrationsDir: string
  migrations: MigrationStatusEntry[]
  summary: Record<'applied' | 'pending' | 'drifted' | 'failed' | 'missing' | 'outOfOrder', number>
  /** true when nothing is pending, drifted, failed or missing. */
  upToDate: boolean
}

/** Where every migration stands. Reads only: takes no lock and creates nothing. */
export async function migrationStatus(target: Target, options: MigrateOptions = {}): Promise<StatusResult> {
  const ledger = new Ledger(target.backend, target.migrations)
  // Started first: a PostgreSQL server forks and authenticates the session while the files are read and hashed.
  const rows = ledger.read()
  rows.catch(() => {}) // Awaited below; a file error thrown first must not leave it unhandled.
  await connectionUnderWay()
  const set = loadSet(target, options)
  const applied = (await rows) ?? []
  const ignoreOthers = target.migrations.ignoreOtherLedgers
  const problem = await otherLedgerProblem(target, ledger.qualifiedName, applied.length, set.migrations, ignoreOthers)
  if (problem)
    options.onEvent?.({ type: 'warning', target: target.name, message: `${problem.message} (${problem.hint})` })
  const entries = migrationStates(set.migrations, applied)
  const count = (predicate: (entry: MigrationStatusEntry) => boolean) => entries.filter(predicate).length
  const summary = {
    applied: count((entry) => entry.state === 'applied' || entry.state === 'baselined'),
    pending: count((entry) => entry.state === 'pending'),
    drifted: count((entry) => entry.state === 'drifted'),
    failed: count((entry) => entry.state === 'failed' || entry.state === 'running'),
    missing: count((entry) => entry.state === 'missing'),
    outOfOrder: count((entry) => entry.outOfOrder),
  }
  return {
    target: target.name,
    engine: target.backend.engine,
    ledger: ledger.qualifiedName,
    migrationsDir: set.dir,
    migrations: entries,
    summary,
    upToDate: summary.pending + summary.drifted + summary.failed + summary.missing === 0,
  }
}

/**
 * Yields once to the event loop, so that a connection begun just before has its connect() call made (Node makes it
 * on the next tick) before the files are read synchronously: the server then forks its backend meanwhile.
 */
function connectionUnderWay(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

function loadSet(target: Target, options: MigrateOptions): MigrationSet {
  const set = readMigrations(target.migrations.dir)
  if (!set.exists) {
    options.onEvent?.({
      type: 'warning',
      target: target.name,
      message: `the migrations directory ${set.dir} does not exist (create it with "dbops migrate new <name>", or set migrations.dir)`,
    })
  }
  for (const message of set.warnings) options.onEvent?.({ type: 'warning', target: target.name, message })
  return set
}

/**
 * Takes the migration lock (unless dry run), then reads the ledger inside it, creating it on first use. A dry run
 * reads whatever is there and creates nothing.
 */
async function withLedgerState(
  target: Target,
  options: MigrateOptions,
  fn: (ledger: Ledger, rows: LedgerRow[]) => Promise<Omit<MigrateResult, 'target'>>,
): Promise<MigrateResult> {
  return { target: target.name, ...(await withLedger(target, options, fn)) }
}

/**
 * Several runs in one session, for `migrate test`: the lock is taken and the ledger read once, then `up` and `down`
 * each run one given migration as `migrate up` / `migrate down --steps 1` would when it is the one to run (the caller
 * knows it is: no plan is made), and throws what would stop them.
 */
export interface MigrationSession {
  /**
   * `lint: false` skips the pre-run lint (it is per file and its context: a caller that linted the file already).
   * `followUp`: read-only SQL run right after the migration commits, in the same round trip where the engine can
   * (TransactionalUnit.followUp); its result sets are returned, undefined when it did not run.
   */
  up(migration: MigrationFile, options?: { lint?: boolean; followUp?: string }): Promise<unknown[] | undefined>
  down(migration: MigrationFile, options?: { followUp?: string }): Promise<unknown[] | undefined>
}

export async function withMigrationSession<T>(
  target: Target,
  options: MigrateOptions & { lint?: boolean },
  fn: (session: MigrationSession) => Promise<T>,
): Promise<T> {
  const lint = options.lint ?? target.resolved?.lint?.beforeUp ?? true
  return withLedger(target, options, async (ledger) => {
    const run = async (migration: MigrationFile, direction: 'up' | 'down', followUp: string | undefined) => {
      const unit: Unit = prepareSection(migration, direction, target.backend.engine)
      if (followUp !== undefined) unit.followUp = { sql: followUp }
      await runAll(target, ledger, [unit], options)
      return unit.followUp?.results
    }
    return fn({
      async up(migration, upOptions = {}) {
        if (upOptions.lint ?? lint) await lintPlan(target, [migration], options)
        return run(migration, 'up', upOptions.followUp)
      },
      down: (migration, downOptions = {}) => run(migration, 'down', downOptions.followUp),
    })
  })
}

async function withLedger<T>(
  target: Target,
  options: MigrateOptions,
  fn: (ledger: Ledger, rows: LedgerRow[]) => Promise<T>,
): Promise<T> {
  const ledger = new Ledger(target.backend, target.migrations)
  if (options.dryRun) return fn(ledger, (await ledger.read()) ?? [])
  const lockOptions = {
    timeoutMs: options.lockWaitTimeoutMs ?? target.migrations.lockWaitTimeoutMs,
    onWait: (holder: string) => options.onEvent?.({ type: 'lock-wait', target: target.name, holder }),
  }
  return target.backend.withMigrationLock(ledger.qualifiedName, lockOptions, async () => {
    let rows = await ledger.read()
    if (rows === undefined) {
      await ledger.deferCreation()
      rows = []
    }
    rows = await waitForLiveRuns(ledger, rows, lockOptions.timeoutMs)
    return fn(ledger, rows)
  })
}

/**
 * A `running` row whose owner is a live process on this host is another dbops applying a transaction:false
 * migration right now (SQLite has no run-wide lock): wait for it. A dead owner means it was interrupted, which the
 * plan reports as a failure to resolve.
 */
async function waitForLiveRuns(ledger: Ledger, rows: LedgerRow[], timeoutMs: number): Promise<LedgerRow[]> {
  const deadline = Date.now() + timeoutMs
  while (rows.some(isLiveRun) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200))
    rows = (await ledger.read()) ?? []
  }
  return rows
}

function isLiveRun(row: LedgerRow): boolean {
  return row.status === 'running' && ownerState(row) === 'alive'
}

async function runAll(
  target: Target,
  ledger: Ledger,
  plan: PreparedSection[],
  options: MigrateOptions,
): Promise<MigrationOutcome[]> {
  // Commits that returned before the disk had them (see TransactionalUnit.durable): the run ends with them flushed,
  // whether it completes, fails or is interrupted.
  const commits = { unflushed: false }
  let outcomes: MigrationOutcome[]
  try {
    outcomes = await runPlan(target, ledger, plan, options, commits)
  } catch (error) {
    // The run failed or was interrupted: what it committed must still reach the disk. The connection may be gone
    // with the error; the server then flushes asynchronous commits within a second on its own.
    if (commits.unflushed) await target.backend.flushCommits().catch(() => {})
    throw error
  }
  if (commits.unflushed) await target.backend.flushCommits()
  return outcomes
}

async function runPlan(
  target: Target,
  ledger: Ledger,
  plan: PreparedSection[],
  options: MigrateOptions,
  commits: { unflushed: boolean },
): Promise<MigrationOutcome[]> {
  // A unit sent ahead must not start once the run is interrupted: the backend is told at once, not at the next
  // boundary (by then it may be running).
  const stop = () => void target.backend.stopSendingAhead?.().catch(() => {})
  options.signal?.addEventListener('abort', stop, { once: true })
  try {
    return await runUnits(target, ledger, plan, options, commits)
  } finally {
    options.signal?.removeEventListener('abort', stop)
  }
}

async function runUnits(
  target: Target,
  ledger: Ledger,
  plan: PreparedSection[],
  options: MigrateOptions,
  commits: { unflushed: boolean },
): Promise<MigrationOutcome[]> {
  const outcomes: MigrationOutcome[] = []
  let lastTurn = performance.now()
  // The next migration, already sent while the one before it runs (Backend.pipelinesUnits).
  let ahead: { position: number; outcome: Promise<{ skipped: boolean; durationMs: number }> } | undefined
  for (const [position, unit] of plan.entries()) {
    const { migration, direction, transactional } = unit
    // SQLite work is synchronous: give signal handlers (and buffered progress output) a turn of the event loop
    // between migrations, at most every few milliseconds: a turn per migration is a measurable share of a long run
    // of small ones, and a Ctrl-C still stops at the next boundary within that time.
    if (options.signal && performance.now() - lastTurn >= EVENT_LOOP_TURN_MS) {
      await new Promise((resolve) => setImmediate(resolve))
      lastTurn = performance.now()
    }
    if (options.signal?.aborted && ahead?.position === position) {
      // Interrupted while this migration was already sent: it stops at its check unless it had started; one that
      // committed is reported below like any other, and the run stops after it.
      const sent = ahead.outcome
      ahead = (await stopAhead(target, ledger, migration, sent))
        ? { position, outcome: sent.catch(() => ({ skipped: false, durationMs: 0 })) }
        : undefined
    }
    if (options.signal?.aborted && ahead?.position !== position) {
      throw new DbopsError(
        'E_INTERRUPTED',
        `interrupted before ${migration.id}; ${outcomes.length} migration(s) done before it`,
        {
          hint: 'the database is at a migration boundary: run the command again to continue',
          details: { done: outcomes.map((outcome) => outcome.version) },
        },
      )
    }
    const base = { version: migration.version, name: migration.name, direction, transactional }
    if (options.dryRun) {
      outcomes.push({ ...base, status: 'planned', durationMs: null, sql: unit.script.trim() })
      continue
    }
    options.onEvent?.({ type: 'start', target: target.name, id: migration.id, direction, transactional })
    const durable = position === plan.length - 1
    let outcome: { skipped: boolean; durationMs: number }
    try {
      if (transactional) {
        const running = ahead?.position === position ? ahead.outcome : runTransactional(target, ledger, unit, durable)
        ahead = undefined
        const next = plan[position + 1]
        if (next && sendsAhead(target, unit, next) && !options.signal?.aborted) {
          const sent = runTransactional(target, ledger, next, position + 1 === plan.length - 1, unit)
          sent.catch(() => {}) // Awaited in its own turn; when this one fails, it fails too and is not reported.
          ahead = { position: position + 1, outcome: sent }
        }
        outcome = await running
      } else outcome = await runStatements(target, ledger, unit)
    } catch (error) {
      // The one sent ahead stopped at its check that this one committed: settled before the caller goes on.
      if (ahead) await ahead.outcome.catch(() => {})
      throw withDone(error, outcomes)
    }
    // A non-transactional migration's statements commit at the session's own (durable) setting.
    if (!outcome.skipped) commits.unflushed = transactional && !durable
    if (outcome.skipped) {
      options.onEvent?.({
        type: 'skipped',
        target: target.name,
        id: migration.id,
        reason: 'already done by a concurrent dbops',
      })
    } else {
      options.onEvent?.({
        type: 'done',
        target: target.name,
        id: migration.id,
        direction,
        durationMs: outcome.durationMs,
      })
    }
    outcomes.push({
      ...base,
      status: outcome.skipped ? 'skipped' : direction === 'up' ? 'applied' : 'rolled-back',
      durationMs: outcome.skipped ? null : Math.round(outcome.durationMs * 10) / 10,
    })
  }
  return outcomes
}

/**
 * Whether `next` is sent while `current` runs: consecutive transactional `up` migrations, on a backend that
 * pipelines (PostgreSQL), the client's work between two migrations (reading one's result, reporting it, building
 * and sending the next) then overlaps the server's work instead of adding to it. `next` checks first that `current`
 * committed (TransactionalUnit.after), so what gets committed is the same as one at a time.
 */
function sendsAhead(target: Target, current: Unit, next: Unit): boolean {
  return (
    target.backend.pipelinesUnits === true &&
    current.direction === 'up' &&
    next.direction === 'up' &&
    current.transactional &&
    next.transactional &&
    current.followUp === undefined &&
    next.followUp === undefined
  )
}

/**
 * Settles a migration sent ahead when the run is interrupted: it stops at its check unless it had started (it
 * finishes then, as one under way does). Returns whether it committed (its ledger row says so).
 */
async function stopAhead(
  target: Target,
  ledger: Ledger,
  migration: MigrationFile,
  outcome: Promise<{ skipped: boolean; durationMs: number }>,
): Promise<boolean> {
  await target.backend.stopSendingAhead?.()
  const committed = await outcome.then(
    () => true,
    () => false,
  )
  if (committed) return true
  const row = (await ledger.read().catch(() => undefined))?.find((entry) => entry.version === migration.version)
  return row?.status === 'applied'
}

/** How long synchronous migration work may run before signal handlers get a turn (see runPlan). */
const EVENT_LOOP_TURN_MS = 10

function timeoutsFor(target: Target, unit: PreparedSection) {
  return {
    lockTimeoutMs: unit.section.options.lockTimeoutMs ?? target.migrations.lockTimeoutMs,
    statementTimeoutMs: unit.section.options.statementTimeoutMs ?? target.migrations.statementTimeoutMs,
  }
}

/** A unit of a migration session, with the follow-up SQL sent after it and, once run, what that returned. */
type Unit = PreparedSection & { followUp?: { sql: string; results?: unknown[] } }

async function runTransactional(
  target: Target,
  ledger: Ledger,
  unit: Unit,
  durable: boolean,
  /** The migration still running when this one is sent (sendsAhead). */
  after?: Unit,
): Promise<{ skipped: boolean; durationMs: number }> {
  const { migration, direction } = unit
  const timeouts = timeoutsFor(target, unit)
  try {
    const outcome = await target.backend.runTransactional({
      // The ledger is created by the first migration of a run; one sent behind it finds it there.
      setup: after ? [] : ledger.creation,
      script: unit.script,
      get statements() {
        return unit.statements
      },
      plain: unit.plain,
      guard: direction === 'up' ? ledger.recordedQuery(migration.version) : ledger.notRecordedQuery(migration.version),
      ledgerWrite:
        direction === 'up'
          ? ledger.insertQuery({
              version: migration.version,
              name: migration.name,
              checksum: migration.checksum,
              status: 'applied',
              executionMs: 'measured',
              ...(after && { appliedAt: 'database' as const }),
            })
          : ledger.deleteQuery(migration.version),
      ...timeouts,
      durable,
      ...(unit.followUp && { followUp: unit.followUp.sql }),
      ...(after && { after: ledger.appliedQuery(after.migration.version) }),
    })
    if (unit.followUp) unit.followUp.results = outcome.followUp
    ledger.created()
    if (outcome.skipped) await refuseIfFailedMeanwhile(ledger, migration)
    return { skipped: outcome.skipped, durationMs: outcome.elapsedMs }
  } catch (error) {
    throw target.backend.explainError?.(error) ?? statementError(unit, error, timeouts.lockTimeoutMs, true)
  }
}

/** A concurrent run that left the migration failed rather than applied must stop this run too. */
async function refuseIfFailedMeanwhile(ledger: Ledger, migration: MigrationFile): Promise<void> {
  const row = (await ledger.read())?.find((candidate) => candidate.version === migration.version)
  if (row && row.status !== 'applied' && row.status !== 'baselined') {
    throw new DbopsError('E_MIGRATION_FAILED', `migration ${migration.id} was left ${row.status} by a concurrent run`, {
      hint: `see "dbops migrate status", then "dbops migrate resolve ${migration.version} --applied" or "--rolled-back"`,
    })
  }
}

/**
 * transaction:false: statements go one by one, and the ledger row records progress, so a failure part way is a
 * visible state ("failed after 2 of 5 statements at file:line") that `status` explains and `resolve` clears.
 */
async function runStatements(
  target: Target,
  ledger: Ledger,
  unit: PreparedSection,
): Promise<{ skipped: boolean; durationMs: number }> {
  const { migration, direction, statements } = unit
  const timeouts = timeoutsFor(target, unit)
  const started = performance.now()
  if (ledger.creation.length > 0) await ledger.create()
  const claim = await target.backend.runTransactional({
    setup: [],
    script: '',
    statements: [],
    plain: true,
    guard: direction === 'up' ? ledger.recordedQuery(migration.version) : ledger.notRecordedQuery(migration.version),
    ledgerWrite:
      direction === 'up'
        ? ledger.insertQuery({
            version: migration.version,
            name: migration.name,
            checksum: migration.checksum,
            status: 'running',
            statementsTotal: statements.length,
            statementsDone: 0,
          })
        : ledger.deleteQuery(migration.version),
    ...timeouts,
    durable: true,
  })
  if (claim.skipped) {
    await refuseIfFailedMeanwhile(ledger, migration)
    return { skipped: true, durationMs: 0 }
  }
  if (direction === 'down') {
    // The row is gone already; put it back as running so an interrupted rollback stays visible.
    await ledger.insert({
      version: migration.version,
      name: migration.name,
      checksum: migration.checksum,
      status: 'running',
      statementsTotal: statements.length,
      statementsDone: 0,
    })
  }
  await target.backend.prepareSession(timeouts)
  // The file may manage transactions itself (BEGIN ... COMMIT around a table rebuild): progress is recorded only
  // between its transactions, where it is settled, and never inside one, where a rollback would take it back.
  let settled = 0
  let inFileTransaction = false
  for (let index = 0; index < statements.length; index++) {
    const statement = statements[index]!
    try {
      await target.backend.runStatement(statement.text)
    } catch (error) {
      if (inFileTransaction) await target.backend.runStatement('ROLLBACK').catch(() => {})
      const failure = statementError(unit, error, timeouts.lockTimeoutMs, false, index, settled)
      await ledger
        .update(migration.version, {
          status: 'failed',
          statementsDone: settled,
          error: (error as Error).message,
          errorStatement: statement.text.slice(0, 2000),
          errorLocation: failure instanceof DbopsError ? String(failure.details?.location ?? '') : null,
        })
        .catch(() => {
          // The connection is gone with the error; the row stays "running" and reads as interrupted.
        })
      throw failure
    }
    const control = transactionControl(statement.text, target.backend.engine)
    if (control !== undefined) inFileTransaction = /^(BEGIN|START)/.test(control)
    if (inFileTransaction) continue
    settled = index + 1
    await ledger.update(migration.version, { statementsDone: settled })
  }
  const durationMs = performance.now() - started
  if (direction === 'up')
    await ledger.update(migration.version, {
      status: 'applied',
      executionMs: Math.round(durationMs),
      owner: null,
      touch: true,
    })
  else await ledger.delete(migration.version)
  return { skipped: false, durationMs }
}

function statementError(
  unit: PreparedSection,
  error: unknown,
  lockTimeoutMs: number,
  transactional: boolean,
  index?: number,
  settled = 0,
): unknown {
  if (!(error instanceof StatementFailure)) return error
  const { migration, section, statements } = unit
  const statementIndex = index ?? error.statementIndex
  const statement = statementIndex !== undefined ? statements[statementIndex] : undefined
  // Non-transactional statements run alone, so the database's position is relative to the statement.
  const offset =
    index !== undefined && error.scriptOffset !== undefined
      ? statement!.start + error.scriptOffset
      : (error.scriptOffset ?? statement?.start)
  const location = offset !== undefined ? locate(section, offset) : section.file
  // PostgreSQL's DETAIL says which row or key ("Key (id)=(1) already exists."), its HINT what to try.
  const server = error.cause as { detail?: unknown; hint?: unknown } | undefined
  const detail = typeof server?.detail === 'string' ? oneLine(server.detail) : undefined
  const serverHint = typeof server?.hint === 'string' ? oneLine(server.hint) : undefined
  const reason = `${error.message}${detail ? `: ${detail}` : ''}${serverHint ? ` (server hint: ${serverHint})` : ''}`
  const details = {
    location,
    sqlstate: error.sqlstate,
    statement: statement?.text.slice(0, 2000),
    migration: migration.version,
    ...(detail && { detail }),
    ...(serverHint && { serverHint }),
  }
  const up = unit.direction === 'up'
  const action = up ? 'failed' : 'rollback failed'
  const leftover = !transactional ? error.leftBehind : undefined
  const undone = transactional
    ? up
      ? 'nothing of it was applied (rolled back)'
      : 'nothing of the rollback happened: the migration is still applied'
    : `${settled} of ${statements.length} statements before it stay applied${leftover ? `, and ${leftover}` : ''}; fix the database, then run "dbops migrate resolve ${migration.version} --applied" or "--rolled-back"`
  if (error.sqlstate === '55P03') {
    return new DbopsError(
      'E_LOCK_TIMEOUT',
      `${migration.id} waited longer than lock_timeout (${formatDurationSetting(lockTimeoutMs)}) for a lock at ${location}: ${reason}`,
      {
        hint: `another session holds a conflicting lock (see pg_stat_activity); ${undone}. Run again when that session is done, or raise lock_timeout for this file (${timeoutAdvice(unit, transactional, 'lock_timeout:30s')})`,
        details,
        cause: error,
      },
    )
  }
  if (error.sqlstate === '57014' && /statement timeout/.test(error.message)) {
    return new DbopsError(
      'E_STATEMENT_TIMEOUT',
      `${migration.id} exceeded statement_timeout at ${location}: ${reason}`,
      {
        hint: `${undone}. Raise statement_timeout for this file (${timeoutAdvice(unit, transactional, 'statement_timeout:10m')}) if the work is expected to take that long`,
        details,
        cause: error,
      },
    )
  }
  const fix = !transactional
    ? undone
    : error.outsideTransaction
      ? `${undone}. ${error.outsideTransaction}: ${transactionFreeHint(migration, unit.direction, section.file)}`
      : `${undone}: fix the file and run again`
  return new DbopsError('E_MIGRATION_FAILED', `${migration.id} ${action} at ${location}: ${reason}`, {
    hint: fix,
    details,
    cause: error,
  })
}

/** A failure part way through a run also says what the run did before it (--json: details.done). */
function withDone(error: unknown, outcomes: MigrationOutcome[]): unknown {
  if (!(error instanceof DbopsError) || outcomes.length === 0) return error
  return new DbopsError(error.code, error.message, {
    ...(error.hint !== undefined && { hint: error.hint }),
    cause: error.cause ?? error,
    details: { ...error.details, done: outcomes.map((outcome) => outcome.version) },
  })
}

/** Formats whose files may carry a `-- migrate:up|down` directive line with options. */
const DIRECTIVE_FORMATS = new Set<MigrationFile['format']>(['dbmate', 'golang-migrate', 'folder', 'prisma'])

/**
 * How to give one file a longer timeout: its directive line, or in a format without one (goose, Flyway, ...) a SET as
 * its first statement (dbops resets session settings after each migration, so it does not leak).
 */
function timeoutAdvice(unit: PreparedSection, transactional: boolean, option: string): string {
  if (DIRECTIVE_FORMATS.has(unit.migration.format)) return `"${directiveWith(unit, transactional, option)}"`
  const [name, value] = option.split(':') as [string, string]
  return `make "SET ${name} = '${value}';" the first statement of ${unit.section.file}`
}

/** The section's directive line with one more option, keeping the ones it has (transaction:false above all). */
function directiveWith(unit: PreparedSection, transactional: boolean, option: string): string {
  const name = option.slice(0, option.indexOf(':'))
  const kept = transactional ? [] : ['transaction:false']
  const { lockTimeoutMs, statementTimeoutMs } = unit.section.options
  if (lockTimeoutMs !== undefined && name !== 'lock_timeout')
    kept.push(`lock_timeout:${formatDurationSetting(lockTimeoutMs)}`)
  if (statementTimeoutMs !== undefined && name !== 'statement_timeout')
    kept.push(`statement_timeout:${formatDurationSetting(statementTimeoutMs)}`)
  return `-- migrate:${unit.direction} ${[...kept, option].join(' ')}`
}
