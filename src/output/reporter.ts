import { scrubSecrets } from './redact.js'
import { escapeControlCharacters } from './format.js'
import { isTerminal, terminalColumns, writeErr, writeOut } from './stdio.js'

/** The few styles dbops uses. Plain identity functions unless colour is on. */
export interface Colors {
  green(text: string): string
  red(text: string): string
  yellow(text: string): string
  dim(text: string): string
  bold(text: string): string
}

const plain = (text: string) => text
const NO_COLORS: Colors = { green: plain, red: plain, yellow: plain, dim: plain, bold: plain }

export interface ReporterOptions {
  json: boolean
  color: boolean
  verbose: boolean
  /** Prefix progress lines with the target name (several targets at once). */
  prefixTargets: boolean
}

/**
 * The only thing that writes to the terminal. Results go to stdout, progress and logs to stderr; with --json, stdout
 * carries exactly one JSON document. Everything passes through the secret scrubber.
 */
export class Reporter {
  /** Replaced by chalk in `prepare` when colour is on: chalk's terminal detection costs start-up time otherwise. */
  color: Colors = NO_COLORS
  readonly interactive: boolean
  #ora: typeof import('ora').default | undefined
  #spinner: import('ora').Ora | undefined

  constructor(readonly options: ReporterOptions) {
    // A terminal that reports no width (some pseudo-terminals) makes ora clear lines forever: no spinner there.
    this.interactive = isTerminal(2) && terminalColumns(2) !== undefined && !options.json && !options.prefixTargets
  }

  /** A result line (stdout), human mode only. */
  result(text: string): void {
    flushProgress()
    if (!this.options.json) writeOut(this.#safe(text) + '\n')
  }

  json(document: unknown): void {
    flushProgress()
    writeOut(scrubSecrets(JSON.stringify(document, null, 2)) + '\n')
  }

  /** A progress or log line (stderr). */
  log(target: string, text: string): void {
    this.#stopSpinner()
    queueProgress(this.#safe(this.#prefix(target) + text) + '\n')
  }

  warn(target: string, text: string): void {
    this.log(target, this.color.yellow(`warning: ${text}`))
  }

  /** Loads the spinner library when there is a terminal to spin on (ora is not worth loading otherwise). */
  async prepare(): Promise<void> {
    if (this.options.color && this.color === NO_COLORS) {
      const { Chalk } = await import('chalk')
      this.color = new Chalk({ level: 1 })
    }
    if (this.interactive && !this.#ora) {
      const loaded = await import('ora')
      // From the CommonJS bundle the whole module arrives as `default`.
      this.#ora =
        typeof loaded.default === 'function' ? loaded.default : (loaded.default as unknown as typeof loaded).default
    }
  }

  /** Starts a spinner on a TTY (after `prepare`); elsewhere nothing until `finish` prints the whole line. */
  begin(_target: string, text: string): void {
    if (!this.#ora) return
    flushProgress()
    this.#stopSpinner()
    this.#spinner = this.#ora({
      text: this.#safe(text),
      stream: process.stderr,
      color: this.options.color ? 'cyan' : false,
      // Raw-mode stdin would swallow Ctrl-C while synchronous SQLite work blocks the event loop.
      discardStdin: false,
    }).start()
  }

  /** New text for the running spinner (progress such as bytes written); nothing without a spinner. */
  update(_target: string, text: string): void {
    if (this.#spinner) this.#spinner.text = this.#safe(text)
  }

  finish(target: string, text: string): void {
    if (this.#spinner) {
      this.#spinner.stopAndPersist({ symbol: this.color.green('✔'), text: this.#safe(text) })
      this.#spinner = undefined
      return
    }
    this.log(target, text)
  }

  /** Stops anything still spinning: a spinner left running keeps the process alive. */
  close(): void {
    this.#stopSpinner()
    flushProgress()
  }

  error(target: string | undefined, message: string, hint: string | undefined, stack?: string): void {
    this.#stopSpinner()
    flushProgress()
    const where = target && this.options.prefixTargets ? `[${target}] ` : ''
    const line = `${where}${this.color.red('error:')} ${message}${hint ? ` ${this.color.dim(`(hint: ${hint})`)}` : ''}`
    writeErr(this.#safe(line) + '\n')
    if (stack && this.options.verbose) writeErr(this.#safe(stack) + '\n')
  }

  /** Every human line passes here: secrets scrubbed, control characters from the data shown escaped. */
  #safe(text: string): string {
    return escapeControlCharacters(scrubSecrets(text), this.options.color)
  }

  #prefix(target: string): string {
    return this.options.prefixTargets ? `[${target}] ` : ''
  }

  #stopSpinner(): void {
    this.#spinner?.stop()
    this.#spinner = undefined
  }
}

/**
 * Progress lines not written yet. They go out together when the event loop next turns, and at most every
 * PROGRESS_INTERVAL_MS: one write instead of one per line. A write to a pipe wakes its reader (a CI runner, a
 * terminal multiplexer), which on a small machine takes a core from dbops and the database server: one write per
 * migration was several percent of a run of 1000 small ones. Lines are at most that late; anything else written
 * (results, errors, a spinner) and the process's exit write them first, so the order of the output does not change.
 */
let pendingProgress = ''
let flushOnExit = false
let lastFlush = -Infinity
const PROGRESS_INTERVAL_MS = 100

function queueProgress(text: string): void {
  if (pendingProgress === '') {
    const wait = lastFlush + PROGRESS_INTERVAL_MS - performance.now()
    // Unref'd: a pending flush must not keep a finished command alive (the exit handler writes what is left).
    if (wait <= 0) setImmediate(flushProgress)
    else setTimeout(flushProgress, wait).unref()
  }
  if (!flushOnExit) {
    process.once('exit', flushProgress)
    flushOnExit = true
  }
  pendingProgress += text
}

function flushProgress(): void {
  if (pendingProgress === '') return
  const text = pendingProgress
  pendingProgress = ''
  lastFlush = performance.now()
  writeErr(text)
}
