/**
 * The one error type dbops throws. `code` is stable (printed in --json output and matched by scripts), `message`
 * names the problem and the object, `hint` says how to fix it. The CLI maps codes to exit codes in one place
 * (src/cli/exit-codes.ts); library users switch on `code`.
 */
export class DbopsError extends Error {
  readonly code: string
  readonly hint: string | undefined
  /** Extra machine-readable facts (file, line, sqlstate, ...) carried into --json output. */
  readonly details: Record<string, unknown> | undefined

  constructor(
    code: string,
    message: string,
    options: { hint?: string; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'DbopsError'
    this.code = code
    this.hint = options.hint
    this.details = options.details
  }
}

/** Configuration problems, all of them at once: each entry is `path: problem`. */
export class ConfigError extends DbopsError {
  readonly problems: string[]

  constructor(problems: string[], options: { hint?: string; cause?: unknown; file?: string } = {}) {
    const where = options.file ? ` in ${options.file}` : ''
    const message =
      problems.length === 1
        ? `invalid configuration${where}: ${problems[0]}`
        : `invalid configuration${where} (${problems.length} problems): ${problems.join('; ')}`
    super('E_CONFIG', message, { ...options, details: { problems } })
    this.name = 'ConfigError'
    this.problems = problems
  }
}

/** A command line that cannot be carried out as written. */
export class UsageError extends DbopsError {
  constructor(message: string, hint?: string) {
    super('E_USAGE', message, hint === undefined ? {} : { hint })
    this.name = 'UsageError'
  }
}

export function isDbopsError(error: unknown): error is DbopsError {
  return error instanceof DbopsError
}
