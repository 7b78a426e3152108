export type MaintainTask = 'vacuum' | 'analyze' | 'reindex' | 'optimize' | 'checkpoint'
export const MAINTAIN_TASKS: readonly MaintainTask[] = ['vacuum', 'analyze', 'reindex', 'optimize', 'checkpoint']

export interface PlanOptions {
  /** The task asked for; undefined with --auto means everything that is due. */
  task: MaintainTask | undefined
  /** Pick what is due (PostgreSQL: the autovacuum formula; SQLite: PRAGMA optimize's own choice). */
  auto: boolean
  /** Restrict to these tables (`schema.table` or `table`; double quotes for odd names). */
  tables?: readonly string[]
  /** reindex: these indexes too. */
  indexes?: readonly string[]
  /** checkpoint on SQLite: PASSIVE (default, never waits) or TRUNCATE (waits for readers up to the budget). */
  mode?: 'passive' | 'truncate'
}

/** One unit of work, with why it was chosen; `sql` is exactly what runs. */
export interface MaintainStep {
  action: 'vacuum' | 'analyze' | 'reindex' | 'drop-index' | 'optimize' | 'checkpoint'
  /** The table, index or database concerned, as a person writes it. */
  object: string
  reason: string
  sql: string
}

/** Before/after figures of a step: PostgreSQL dead tuples and total size; SQLite file size and free pages. */
export type Figures = Record<string, number>

export interface StepOutcome {
  status: 'done' | 'failed' | 'incomplete'
  before?: Figures
  after?: Figures
  message?: string
}

export interface RunStepOptions {
  /** Time left in the budget, for steps that can bound their own wait (SQLite TRUNCATE checkpoint). */
  remainingMs: number | undefined
  lockTimeoutMs: number
  /** Ctrl-C: a step that can be cancelled safely (VACUUM, ANALYZE) is cancelled. */
  signal?: AbortSignal
}

/** The engine side of `dbops maintain`: decide what is due, and run one step at a time. */
export interface Maintainer {
  plan(options: PlanOptions): Promise<{ steps: MaintainStep[]; notes: string[] }>
  runStep(step: MaintainStep, options: RunStepOptions): Promise<StepOutcome>
}
