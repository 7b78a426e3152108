import { DbopsError, fromSystemError } from '../errors.js'
import type { ResolvedConfig, ResolvedTarget } from '../config/resolve-config.js'
import type { Target } from '../targets/target.js'
import { Reporter } from '../output/reporter.js'
import { isTerminal } from '../output/stdio.js'
import { EXIT, exitCodeFor } from './exit-codes.js'
import { resolveConfig, selectTargets } from '../config/resolve-config.js'
import { connectTarget } from '../targets/target.js'
import { forEachTarget, type TargetOutcome } from '../targets/for-each-target.js'

/** Options every command takes (commander's optsWithGlobals()). */
export interface GlobalOptions {
  config?: string
  target?: string
  all?: boolean
  /** Parsed by commander (src/cli/flags.ts). */
  concurrency?: number
  url?: string
  /** --dotenv <path>, or false for --no-dotenv. */
  dotenv?: string | false
  json?: boolean
  verbose?: boolean
  color?: boolean
}

/** The resolved config for --config, --url and -t (the rest comes from the environment and the file). */
export function configFromGlobals(globals: GlobalOptions): Promise<ResolvedConfig> {
  return resolveConfig({
    ...(globals.config !== undefined && { configPath: globals.config }),
    ...(globals.url !== undefined && { url: globals.url }),
    ...(globals.target !== undefined && { target: globals.target }),
    ...(globals.dotenv !== false && { envFile: globals.dotenv ?? true }),
  })
}

export async function makeReporter(globals: GlobalOptions): Promise<Reporter> {
  const reporter = new Reporter({
    json: globals.json === true,
    color:
      globals.color !== false &&
      !('NO_COLOR' in process.env && process.env.NO_COLOR !== '') &&
      (isTerminal(1) || isTerminal(2)),
    verbose: globals.verbose === true,
    prefixTargets: globals.all === true,
  })
  await reporter.prepare()
  return reporter
}

export interface TargetCommand<T> {
  /** For application_name and messages, e.g. "migrate up". */
  command: string
  /** Whether the command may create the database (SQLite file). Read-only commands create nothing. */
  create: boolean
  /** The command only reads: SQLite opens the file read-only (audit, health, status, backup list/check/verify). */
  readOnly?: boolean
  /** PostgreSQL connect timeout, when the command has a deadline of its own (default: the lock wait timeout). */
  connectTimeoutMs?: number
  /** `signal` aborts on Ctrl-C / SIGTERM: long commands stop at a safe point. */
  run(target: Target, reporter: Reporter, signal: AbortSignal): Promise<T>
  /** Human output of a result (stdout). */
  print(result: T, reporter: Reporter, target: Target): void
  /** Exit code of a successful result: 1 when the answer is "no". */
  exitCode?(result: T): number
  /**
   * Output built from every target's outcome at once, written after they all ran, in place of `print` and the --all
   * summary line (not with --json): e.g. one Nagios line, or one Prometheus exposition with each family once.
   */
  printAll?(outcomes: TargetOutcome<T>[], reporter: Reporter): void
}

/**
 * The one wrapper every database command goes through (dbmate's action()): resolve config, pick targets, run with
 * bounded concurrency, report each result, and return the worst exit code. Errors become one line, or JSON.
 */
export async function runTargetCommand<T>(globals: GlobalOptions, spec: TargetCommand<T>): Promise<number> {
  const reporter = await makeReporter(globals)
  let targets: ResolvedTarget[]
  try {
    const config = await configFromGlobals(globals)
    targets = selectTargets(config, {
      ...(globals.target !== undefined && { target: globals.target }),
      ...(globals.all !== undefined && { all: globals.all }),
    })
  } catch (error) {
    return reportFailure(reporter, globals, undefined, error)
  }
  const interruption = new AbortController()
  // The one rule for every command (README "Interrupts"): the first Ctrl-C (or a CI runner's SIGTERM) lets the work
  // under way reach a safe point and the command exits 2, as a failure; a second one exits at once with 130 (143).
  const onSignal = (signal: NodeJS.Signals) => {
    if (interruption.signal.aborted) {
      reporter.error(
        undefined,
        `${signal} again: exiting now, without waiting for a safe point`,
        'a statement already sent to the server finishes or rolls back there on its own; check the state (e.g. "dbops migrate status") before running again',
      )
      process.exit(signal === 'SIGINT' ? 130 : 143)
    }
    reporter.log('', `${signal}: stopping at the next safe point (again to exit at once)`)
    interruption.abort(signal)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    return await runResolvedTargets(globals, spec, reporter, targets, interruption.signal)
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    reporter.close()
  }
}

async function runResolvedTargets<T>(
  globals: GlobalOptions,
  spec: TargetCommand<T>,
  reporter: Reporter,
  targets: ResolvedTarget[],
  signal: AbortSignal,
): Promise<number> {
  // The human output is printed by the caller: with --all, in config order (forEachTarget's inOrder).
  const runOne = async (resolved: ResolvedTarget): Promise<{ result: T; code: number; print: () => void }> => {
    const target = await connectTarget(resolved, {
      command: spec.command,
      create: spec.create,
      ...(spec.readOnly && { readOnly: true }),
      ...(spec.connectTimeoutMs !== undefined && { connectTimeoutMs: spec.connectTimeoutMs }),
      signal,
    })
    try {
      const result = await spec.run(target, reporter, signal)
      const print = () => {
        if (!globals.json && !spec.printAll) spec.print(result, reporter, target)
      }
      return { result, code: spec.exitCode?.(result) ?? EXIT.ok, print }
    } catch (error) {
      throw target.backend.explainError?.(error) ?? error
    } finally {
      await target.close()
    }
  }
  if (!globals.all) {
    const only = targets[0]!
    try {
      const { result, code, print } = await runOne(only)
      print()
      // A result that came back after an interrupt (maintain's incomplete steps, health's unfinished checks, an audit
      // that finished its query) is still an interrupted run, not an answer: exit 2 and E_INTERRUPTED.
      const stopped = signal.aborted ? interrupted(signal) : undefined
      if (globals.json)
        reporter.json({
          ok: code === EXIT.ok && !stopped,
          ...result,
          database: only.database,
          ...(stopped && { error: errorDocument(stopped) }),
        })
      else {
        spec.printAll?.([{ target: only.name, ok: true, result }], reporter)
        if (stopped) printError(reporter, undefined, stopped)
      }
      return stopped ? Math.max(code, EXIT.failed) : code
    } catch (error) {
      return reportFailure(reporter, globals, only, error)
    }
  }
  const concurrency = globals.concurrency ?? 4
  const outcomes = await forEachTarget(targets, concurrency, runOne, (outcome) => {
    if (outcome.ok) outcome.result.print()
    else if (!globals.json) printError(reporter, outcome.target, outcome.error)
  })
  const stopped = signal.aborted ? interrupted(signal) : undefined
  let worst: number = stopped ? EXIT.failed : EXIT.ok
  const documents = outcomes.map((outcome, index) => {
    const database = targets[index]!.database
    if (outcome.ok) {
      worst = Math.max(worst, outcome.result.code)
      return { ok: outcome.result.code === EXIT.ok, ...outcome.result.result, database }
    }
    const code = exitCodeFor(outcome.error)
    worst = Math.max(worst, code)
    return { ok: false, target: outcome.target, database, error: errorDocument(outcome.error) }
  })
  if (globals.json)
    reporter.json({ ok: worst === EXIT.ok, targets: documents, ...(stopped && { error: errorDocument(stopped) }) })
  else if (spec.printAll)
    spec.printAll(
      outcomes.map((outcome) => (outcome.ok ? { ...outcome, result: outcome.result.result } : outcome)),
      reporter,
    )
  else
    reporter.result(
      summaryLine(
        outcomes.map((outcome) => outcome.ok),
        reporter,
      ),
    )
  // Targets that failed have said so (an interrupt included); otherwise one line says the run was cut short.
  if (stopped && !globals.json && outcomes.every((outcome) => outcome.ok)) printError(reporter, undefined, stopped)
  return worst
}

function interrupted(signal: AbortSignal): DbopsError {
  return new DbopsError('E_INTERRUPTED', `interrupted by ${String(signal.reason)}: stopped at a safe point`, {
    hint: 'the output above shows what was done; run the command again to finish',
  })
}

function summaryLine(results: boolean[], reporter: Reporter): string {
  const failed = results.filter((ok) => !ok).length
  const text = `${results.length} target(s): ${results.length - failed} ok, ${failed} failed`
  return failed > 0 ? reporter.color.red(text) : reporter.color.green(text)
}

/** `target` is the one the command was pointed at, when it got that far: JSON then names it (and its database). */
export function reportFailure(
  reporter: Reporter,
  globals: GlobalOptions,
  target: string | { name: string; database: string } | undefined,
  error: unknown,
): number {
  const named = typeof target === 'string' ? { name: target } : target
  if (globals.json) {
    reporter.json({
      ok: false,
      ...(named !== undefined && { target: named.name }),
      ...(named && 'database' in named && { database: named.database }),
      error: errorDocument(error),
    })
  } else printError(reporter, named?.name, error)
  return exitCodeFor(error)
}

function printError(reporter: Reporter, target: string | undefined, error: unknown): void {
  error = fromSystemError(error)
  if (error instanceof DbopsError) {
    reporter.error(target, error.message, error.hint, stackOf(error))
  } else {
    reporter.error(
      target,
      `unexpected failure: ${(error as Error)?.message ?? String(error)}`,
      'run again with --verbose for details, and report it if it persists',
      stackOf(error),
    )
  }
}

export function errorDocument(error: unknown): Record<string, unknown> {
  error = fromSystemError(error)
  if (error instanceof DbopsError) {
    return {
      code: error.code,
      message: error.message,
      ...(error.hint && { hint: error.hint }),
      ...(error.details && { details: error.details }),
    }
  }
  return { code: 'E_INTERNAL', message: (error as Error)?.message ?? String(error) }
}

function stackOf(error: unknown): string | undefined {
  const parts: string[] = []
  for (
    let current = error as { stack?: string; cause?: unknown } | undefined;
    current;
    current = current.cause as typeof current
  ) {
    if (current.stack) parts.push(current.stack)
    if (parts.length > 5) break
  }
  return parts.join('\ncaused by: ') || undefined
}

/**
 * For commands that may lint: the PostgreSQL parser is WebAssembly (libpg-query), which V8 compiles with its baseline
 * compiler and then again, in the background, with its optimising one. A CLI run is over before the optimised code
 * pays off, yet its start-up and exit wait for those compiles (~100 ms of a 1000-file lint). The CLI only asks for it
 * (a library must leave the host's V8 flags alone); the parser's loader sets the flag right before it loads, because
 * a V8 flag change also makes V8 reject the code caches of bundles loaded after it (bin/dbops.js).
 */
export function baselineWasmOnly(): void {
  ;(globalThis as Record<symbol, unknown>)[Symbol.for('dbops.baselineWasmOnly')] = true
}

/**
 * For `migrate lint`: the JavaScript side of baselineWasmOnly. V8's optimising compiler (TurboFan) compiles the
 * lint's hot functions in the background, ~100 ms of CPU in a 1000-file lint that is over before the optimised code
 * pays for it (without it: 25-30% less CPU and wall time). lintMigrations turns it off once the CLI has loaded its
 * bundles (see baselineWasmOnly on code caches), and on again for a migration set large enough to gain from it.
 */
export function optimiseOnlyLongLints(): void {
  ;(globalThis as Record<symbol, unknown>)[Symbol.for('dbops.optimiseOnlyLongLints')] = true
}
