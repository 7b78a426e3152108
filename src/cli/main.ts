import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { VERSION } from '../version.js'
import { registerMigrateCommands } from './commands/migrate.js'
import { registerOtherCommands } from './commands/other.js'
import { registerAuditCommands } from './commands/audit.js'
import { registerMaintainCommands } from './commands/maintain.js'
import { registerHealthCommand } from './commands/health.js'
import { registerBackupCommands } from './commands/backup.js'
import { registerSeedCommands } from './commands/seed.js'
import { registerSchemaCommands } from './commands/schema.js'
import { EXIT } from './exit-codes.js'
import { parseWholeNumber } from './flags.js'
import { isPlainOutput, terminalColumns, writeErr, writeOut, type Fd } from '../output/stdio.js'

/**
 * The program and its command table. Database drivers (pg, better-sqlite3) and heavy libraries (cosmiconfig, ora,
 * kysely) are imported only when an action needs them, so `dbops --help` loads no database driver.
 */
export function buildProgram(usageErrors?: string[]): Command {
  const program = new Command('dbops')
    .description(
      'database chores for PostgreSQL and SQLite: migrations, seeds, backups, health checks, audits, maintenance',
    )
    .version(VERSION, '-V, --version')
    .option('-c, --config <path>', 'config file (default: dbops.config.* or .dbopsrc* found from here upwards)')
    .option('-t, --target <name>', 'the target from the config to act on (default: defaultTarget)')
    .option('--all', 'act on every target in the config')
    .addOption(
      new Option('--concurrency <n>', 'targets at once with --all').default(undefined, '4').argParser(concurrency),
    )
    .option('--url <url>', "database URL (overrides DATABASE_URL and the default target's url)")
    // Not --env-file: node 20 takes that from anywhere on its command line, the script's own arguments included.
    .option('--dotenv <path>', 'variables for DATABASE_URL and ${VAR} in the config (default: .env beside the config)')
    .option('--no-dotenv', 'read no .env file (variables already set win over it anyway)')
    .option('--json', 'print one JSON document on stdout')
    .option('--verbose', 'show stack traces of errors')
    .option('--no-color', 'no colours (also NO_COLOR=1)')
    .configureOutput({
      // Through output/stdio.ts: help on a pipe or in a file creates no stdout stream (part of `--help`'s start-up).
      writeOut,
      writeErr,
      // undefined (not a terminal): commander's default width, as its own getters return (its types say number).
      getOutHelpWidth: () => terminalColumns(1) as number,
      getErrHelpWidth: () => terminalColumns(2) as number,
      getOutHasColors: () => hasColors(1),
      getErrHasColors: () => hasColors(2),
      // One line, like every other dbops error; with --json (usageErrors given) the JSON document on stdout instead.
      outputError: (text, write) => {
        if (usageErrors) usageErrors.push(text.replace(/^error: /, '').trim())
        else write(`${text.trim()} (hint: run "dbops --help" for usage)\n`)
      },
    })
    .exitOverride()
    // `dbops migrate up --help` lists --url, --target, --json... too: they work there.
    .configureHelp({ showGlobalOptions: true })
  registerMigrateCommands(program)
  registerSeedCommands(program)
  registerBackupCommands(program)
  registerHealthCommand(program)
  registerAuditCommands(program)
  registerMaintainCommands(program)
  registerSchemaCommands(program)
  registerOtherCommands(program)
  program.addHelpText(
    'after',
    `
Exit codes: 0 ok, 1 the answer is "no" (pending migrations with --check, health or audit warnings), 2 failed or
critical (also after Ctrl-C: the first stops at a safe point), 3 usage or config; 130 a second Ctrl-C (exits at once).
Without a config file dbops uses --url, then DATABASE_URL, then sqlite:./dev.db.`,
  )
  return program
}

export async function main(argv: string[] = process.argv): Promise<number> {
  const json = argv.includes('--json')
  const usageErrors: string[] = []
  const program = buildProgram(json || wantsNagios(argv) ? usageErrors : undefined)
  try {
    await program.parseAsync(argv)
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0; anything commander refuses is a usage error.
      if (error.exitCode === 0) return EXIT.ok
      const message = usageErrors[0] ?? error.message
      if (json) {
        writeOut(
          JSON.stringify(
            { ok: false, error: { code: 'E_USAGE', message, hint: 'run "dbops --help" for usage' } },
            null,
            2,
          ) + '\n',
        )
      } else if (wantsNagios(argv)) {
        const { printNagiosUnknown } = await import('./commands/health.js')
        return printNagiosUnknown(new Error(message))
      }
      return EXIT.usage
    }
    // Anything a command let through (a filesystem error, say) still gets the one-line error and its exit code.
    const { makeReporter, reportFailure } = await import('./context.js')
    const globals = { json, verbose: argv.includes('--verbose'), color: !argv.includes('--no-color') }
    return reportFailure(await makeReporter(globals), globals, undefined, error)
  }
  return Number(process.exitCode ?? EXIT.ok)
}

/** commander's own rule (its useColor()), asking the stream only when the output is a terminal. */
function hasColors(fd: Fd): boolean {
  const { NO_COLOR, FORCE_COLOR, CLICOLOR_FORCE } = process.env
  if (NO_COLOR || FORCE_COLOR === '0' || FORCE_COLOR === 'false') return false
  if (FORCE_COLOR || CLICOLOR_FORCE !== undefined) return true
  if (isPlainOutput(fd)) return false
  const stream = fd === 1 ? process.stdout : process.stderr
  return Boolean(stream.isTTY && stream.hasColors?.())
}

/** `dbops health --format nagios`: a usage error must reach Nagios as an UNKNOWN line on stdout. */
function wantsNagios(argv: string[]): boolean {
  return (
    argv.includes('health') &&
    argv.some((arg, i) => arg === '--format=nagios' || (arg === '--format' && argv[i + 1] === 'nagios'))
  )
}

/** Commander calls this for --concurrency: a bad value is a usage error (exit 3) before anything runs. */
function concurrency(value: string): number {
  try {
    return parseWholeNumber('--concurrency', value, { max: 100 })
  } catch (error) {
    throw new InvalidArgumentError(`${(error as Error).message} (e.g. --concurrency 4)`)
  }
}
