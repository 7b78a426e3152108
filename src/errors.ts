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

/** What an operating-system error code means for a path, and what usually fixes it. */
const FILESYSTEM_ERRORS: Record<string, { problem: string; hint: string }> = {
  EACCES: { problem: 'permission denied', hint: 'give the user running dbops access to it, or point dbops elsewhere' },
  EPERM: {
    problem: 'operation not permitted',
    hint: 'give the user running dbops access to it, or point dbops elsewhere',
  },
  EISDIR: { problem: 'is a directory where a file is expected', hint: 'rename or remove the directory' },
  ENOTDIR: { problem: 'a part of the path is a file where a directory is expected', hint: 'fix the path' },
  ELOOP: { problem: 'too many symbolic links (a symlink loop)', hint: 'fix or remove the symbolic link' },
  ENOENT: { problem: 'no such file or directory', hint: 'check the path, or create what is missing' },
  EEXIST: { problem: 'already exists', hint: 'remove it or choose another path' },
  ENOSPC: {
    problem: 'no space left on the device (disk full)',
    hint: 'free some space on that disk, or point dbops at another one',
  },
  EDQUOT: { problem: 'disk quota exceeded', hint: 'free some space, or raise the quota' },
  EROFS: { problem: 'read-only file system', hint: 'point dbops at a writable location, or remount it read-write' },
  EMFILE: { problem: 'too many open files', hint: 'raise the open-files limit (ulimit -n)' },
  ENAMETOOLONG: { problem: 'file name too long', hint: 'use a shorter path' },
  EIO: { problem: 'input/output error from the device', hint: 'check the disk (dmesg), then run again' },
  EBUSY: { problem: 'busy (in use by another process)', hint: 'wait for it to be released, then run again' },
  ENOTEMPTY: { problem: 'directory not empty', hint: 'empty or remove it' },
  EXDEV: { problem: 'cannot move across file systems', hint: 'keep both paths on one file system' },
}

/** An errno code (`EACCES`) in words (`permission denied`) with the usual fix; undefined for codes not listed. */
export function systemProblem(code: string | undefined): { problem: string; hint: string } | undefined {
  return code === undefined ? undefined : FILESYSTEM_ERRORS[code]
}

/**
 * A Node filesystem error (err.code + err.path, from node:fs anywhere in dbops) as a DbopsError naming the path and a
 * fix, so every call site gets a plain one-line error without wrapping its own calls. Code E_FILESYSTEM (exit 2), the
 * errno in details. Anything else comes back unchanged; a DbopsError always does.
 */
export function fromSystemError(error: unknown): unknown {
  if (error instanceof DbopsError || !(error instanceof Error)) return error
  const { code, path, dest, syscall } = error as NodeJS.ErrnoException & { dest?: string }
  const known = systemProblem(code)
  // A write(fd) error names no path; still the errno of a file operation (syscall set), not a network one.
  if (!known || (path === undefined && syscall === undefined)) return error
  const where = path === undefined ? '' : dest !== undefined ? `${path} -> ${dest}: ` : `${path}: `
  return new DbopsError('E_FILESYSTEM', `${where}${known.problem} (${code}${syscall ? `, ${syscall}` : ''})`, {
    hint: known.hint,
    cause: error,
    details: { errno: code, ...(path !== undefined && { path }), ...(syscall !== undefined && { syscall }) },
  })
}
