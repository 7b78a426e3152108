import { DbopsError, UsageError } from '../errors.js'
import type { Target } from '../targets/target.js'
import { MAINTAIN_TASKS, type MaintainStep, type PlanOptions, type StepOutcome } from './maintainer.js'

export interface MaintainOptions extends PlanOptions {
  /** Print the plan with the reason per step; run nothing. */
  dryRun?: boolean
  /** Start no step after this long (a running step finishes); what is left is reported. */
  budgetMs?: number
  /** PostgreSQL lock_timeout for each statement (default 5s). */
  lockTimeoutMs?: number
  /** Aborting stops before the next step. */
  signal?: AbortSignal
  onStep?: (event: {
    phase: 'start' | 'end'
    step: MaintainStep
    outcome?: StepOutcome & { durationMs: number }
  }) => void
}

export interface MaintainTaskResult extends MaintainStep {
  status: 'planned' | 'done' | 'failed' | 'incomplete'
  durationMs?: number
  before?: Record<string, number>
  after?: Record<string, number>
  message?: string
}

export interface MaintainResult {
  target: string
  engine: string
  task: string
  dryRun: boolean
  tasks: MaintainTaskResult[]
  /** Steps not started: the budget ran out or the run was interrupted. */
  left: MaintainStep[]
  stopped: 'budget' | 'interrupted' | null
  /** Facts about the plan (nothing due, privileges, disk space...). */
  notes: string[]
}

/**
 * Plans maintenance (what is due and why) and runs it one step at a time, never starting a step after the budget is
 * spent or the signal aborted. Changes no data: VACUUM, ANALYZE, REINDEX, checkpoints, and dropping leftover invalid
 * indexes of failed concurrent rebuilds.
 */
export async function maintainTarget(target: Target, options: MaintainOptions): Promise<MaintainResult> {
  checkTask(options)
  const started = performance.now()
  const maintainer = await target.backend.maintainer()
  const { steps, notes } = await maintainer.plan(options)
  const result: MaintainResult = {
    target: target.name,
    engine: target.backend.engine,
    task: options.task ?? 'auto',
    dryRun: options.dryRun === true,
    tasks: [],
    left: [],
    stopped: null,
    notes,
  }
  if (options.dryRun) {
    result.tasks = steps.map((step) => ({ ...step, status: 'planned' }))
    return result
  }
  for (const [i, step] of steps.entries()) {
    // A step can block the event loop (SQLite's VACUUM): let a Ctrl-C that came meanwhile be seen before the next.
    if (options.signal && i > 0) await new Promise((resolve) => setImmediate(resolve))
    const elapsed = performance.now() - started
    const stop = options.signal?.aborted
      ? 'interrupted'
      : options.budgetMs !== undefined && elapsed >= options.budgetMs
        ? 'budget'
        : null
    if (stop) {
      result.stopped = stop
      result.left = steps.slice(i)
      break
    }
    options.onStep?.({ phase: 'start', step })
    const stepStarted = performance.now()
    let outcome: StepOutcome
    try {
      outcome = await maintainer.runStep(step, {
        remainingMs: options.budgetMs === undefined ? undefined : Math.max(0, options.budgetMs - elapsed),
        lockTimeoutMs: options.lockTimeoutMs ?? 5000,
        ...(options.signal && { signal: options.signal }),
      })
    } catch (error) {
      if (error instanceof DbopsError && error.code === 'E_CONNECTION_LOST') throw error
      outcome = { status: 'failed', message: (target.backend.explainError?.(error) ?? (error as Error)).message }
    }
    const durationMs = Math.round(performance.now() - stepStarted)
    options.onStep?.({ phase: 'end', step, outcome: { ...outcome, durationMs } })
    result.tasks.push({ ...step, ...outcome, durationMs })
  }
  return result
}

/** The task must be one dbops knows (a library caller's string is not checked by the type), or `auto` must be set. */
function checkTask(options: MaintainOptions): void {
  const task: unknown = options.task
  if (task !== undefined && !(MAINTAIN_TASKS as readonly unknown[]).includes(task)) {
    throw new UsageError(
      `unknown task ${JSON.stringify(task)}`,
      `use one of ${MAINTAIN_TASKS.join(', ')}, or --auto (library: auto: true)`,
    )
  }
  if (task === undefined && !options.auto) {
    throw new UsageError(
      'name a task or pass --auto',
      `dbops maintain --auto, or dbops maintain ${MAINTAIN_TASKS.join('|')} (library: task, or auto: true)`,
    )
  }
}
