import type { Command } from 'commander'
import type { GlobalOptions } from '../context.js'
import { exitWith } from '../exit-codes.js'
import type { MigrateEvent, MigrateResult, StatusResult } from '../../migrate/run.js'
import type { ValidateResult } from '../../migrate/manage.js'
import type { Reporter } from '../../output/reporter.js'
import { formatTable } from '../../output/table.js'
import { formatDuration, formatTarget, formatTimestamp, oneLine } from '../../output/format.js'
import { baselineWasmOnly, configFromGlobals, makeReporter, reportFailure, runTargetCommand } from '../context.js'
import { selectTargets } from '../../config/resolve-config.js'
import {
  baselineMigrations,
  newMigration,
  resolveMigration,
  restampMigration,
  validateMigrations,
} from '../../migrate/manage.js'
import { migrateDown, migrateRedo, migrateUp, migrationStatus } from '../../migrate/run.js'
import { UsageError } from '../../errors.js'
import { parseDurationFlag, parseWholeNumber } from '../flags.js'
import type { Target } from '../../targets/target.js'
import { registerMigrateLint } from './migrate-lint.js'
import { dumpAfterMigrate, registerMigrateTestCommand } from './schema.js'

interface UpFlags {
  to?: string
  steps?: string
  dryRun?: boolean
  allowOutOfOrder?: boolean
  lockTimeout?: string
  /** commander's --no-lint: false when given. */
  lint?: boolean
  ignoreOtherLedgers?: boolean
}

export function registerMigrateCommands(program: Command): void {
  const migrate = program.command('migrate').description('versioned up/down SQL migrations')

  migrate
    .command('new')
    .description('create migrations/<UTC timestamp>_<name>.sql with up and down sections')
    .argument('<name>', 'what the migration does, e.g. add_users')
    .action(
      exitWith(async (name: string, _flags, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>()
        const reporter = await makeReporter(globals)
        try {
          const config = await configFromGlobals(globals)
          const [target] = selectTargets(config, globals.target === undefined ? {} : { target: globals.target })
          const result = newMigration(target!.migrations.dir, name)
          if (globals.json) reporter.json({ ok: true, ...result })
          else reporter.result(`created ${result.files.join(' and ')}`)
          return 0
        } catch (error) {
          return reportFailure(reporter, globals, undefined, error)
        }
      }),
    )

  migrate
    .command('up')
    .description('apply pending migrations, each in its own transaction')
    .option('--to <version>', 'apply up to and including this version')
    .option('--steps <n>', 'apply at most n migrations')
    .option('--dry-run', 'print the plan and its SQL; take no lock, change nothing')
    .option('--allow-out-of-order', 'apply pending migrations older than the newest applied one')
    .option('--lock-timeout <duration>', 'how long to wait for another dbops holding the migration lock (default 60s)')
    .option('--no-lint', 'skip the lint of the migrations about to run (config: lint.beforeUp)')
    .option('--ignore-other-ledgers', "run even though another tool's ledger (dbmate's schema_migrations...) has rows")
    .action(
      exitWith(async (flags: UpFlags, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>()
        if (flags.lint !== false) baselineWasmOnly()
        return runTargetCommand<MigrateResult>(globals, {
          command: 'migrate up',
          create: !flags.dryRun,
          readOnly: flags.dryRun === true,
          async run(target, reporter, signal) {
            return dumpAfterMigrate(
              target,
              await migrateUp(target, {
                ...(await commonOptions(flags, reporter, signal)),
                ...(flags.to !== undefined && { to: flags.to }),
                ...(flags.steps !== undefined && { steps: parseWholeNumber('--steps', flags.steps) }),
                ...(flags.allowOutOfOrder !== undefined && { allowOutOfOrder: true }),
                ...(flags.lint === false && { lint: false }),
                ...(flags.ignoreOtherLedgers && { ignoreOtherLedgers: true }),
              }),
              reporter,
            )
          },
          print: printMigrateResult,
        })
      }),
    )

  migrate
    .command('down')
    .description('roll back applied migrations, newest first (default: one)')
    .option('--steps <n>', 'roll back n migrations')
    .option('--to <version>', 'roll back every migration newer than this version (0: all)')
    .option('--dry-run', 'print the plan and its SQL; take no lock, change nothing')
    .option('--lock-timeout <duration>', 'how long to wait for another dbops holding the migration lock (default 60s)')
    .action(
      exitWith(async (flags: UpFlags, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>()
        return runTargetCommand<MigrateResult>(globals, {
          command: 'migrate down',
          create: false,
          readOnly: flags.dryRun === true,
          async run(target, reporter, signal) {
            return dumpAfterMigrate(
              target,
              await migrateDown(target, {
                ...(await commonOptions(flags, reporter, signal)),
                ...(flags.to !== undefined && { to: flags.to }),
                ...(flags.steps !== undefined && { steps: parseWholeNumber('--steps', flags.steps) }),
              }),
              reporter,
            )
          },
          print: printMigrateResult,
        })
      }),
    )

  migrate
    .command('redo')
    .description('roll back the newest applied migration and apply it again')
    .option('--dry-run', 'print the plan and its SQL; take no lock, change nothing')
    .option('--lock-timeout <duration>', 'how long to wait for another dbops holding the migration lock (default 60s)')
    .action(
      exitWith(async (flags: UpFlags, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>()
        return runTargetCommand<MigrateResult>(globals, {
          command: 'migrate redo',
          create: false,
          readOnly: flags.dryRun === true,
          async run(target, reporter, signal) {
            return dumpAfterMigrate(
              target,
              await migrateRedo(target, await commonOptions(flags, reporter, signal)),
              reporter,
            )
          },
          print: printMigrateResult,
        })
      }),
    )

  registerMigrateTestCommand(migrate)

  migrate
    .command('status')
    .description('list migrations and where each stands')
    .option('--check', 'exit 1 when anything is pending, changed, failed or missing')
    .action(
      exitWith(async (flags: { check?: boolean }, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>()
        return runTargetCommand<StatusResult>(globals, {
          command: 'migrate status',
          create: false,
          readOnly: true,
          async run(target, reporter) {
            return migrationStatus(target, { onEvent: (event) => reportEvent(reporter, event) })
          },
          print: printStatus,
          exitCode: (result) => (flags.check && !result.upToDate ? 1 : 0),
        })
      }),
    )

  migrate
    .command('validate')
    .description('check files and ledger: parse errors, edited or missing files, out-of-order versions')
    .action(
      exitWith(async (_flags, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>()
        return runTargetCommand<ValidateResult>(globals, {
          command: 'migrate validate',
          create: false,
          readOnly: true,
          async run(target) {
            return validateMigrations(target)
          },
          print(result, reporter, target) {
            if (result.ok)
              reporter.result(
                reporter.color.green(`${formatTarget(target)}: ${result.migrations} migration(s), no problems`),
              )
            else
              reporter.result(
                `${formatTarget(target)}: ${result.problems.length} problem(s) in ${result.migrations} migration(s)`,
              )
            for (const problem of result.problems)
              reporter.result(`${reporter.color.red(problem.message)} ${reporter.color.dim(`(${problem.check})`)}`)
            for (const warning of result.warnings) reporter.warn(result.target, warning)
          },
          exitCode: (result) => (result.ok ? 0 : 1),
        })
      }),
    )

  migrate
    .command('resolve')
    .description('clear a failed transaction:false migration after fixing the database by hand')
    .argument('<version>', 'the failed migration')
    .option('--applied', 'record it as applied')
    .option('--rolled-back', 'remove it from the ledger so "up" runs it again')
    .action(
      exitWith(async (version: string, flags: { applied?: boolean; rolledBack?: boolean }, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>()
        return runTargetCommand(globals, {
          command: 'migrate resolve',
          create: false,
          async run(target) {
            if (Boolean(flags.applied) === Boolean(flags.rolledBack)) {
              throw new UsageError('say how the migration ended: --applied or --rolled-back')
            }
            return resolveMigration(target, version, flags.applied ? 'applied' : 'rolled-back')
          },
          print: (result, reporter, target) =>
            reporter.result(
              `${formatTarget(target)}: ${result.version}_${result.name} resolved as ${result.resolution}`,
            ),
        })
      }),
    )

  migrate
    .command('baseline')
    .description('mark an existing database as migrated up to <version> without running anything')
    .argument('<version>', 'the newest migration the database already reflects')
    .action(
      exitWith(async (version: string, _flags, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>()
        return runTargetCommand(globals, {
          command: 'migrate baseline',
          create: true,
          async run(target) {
            return baselineMigrations(target, version)
          },
          print: (result, reporter, target) =>
            reporter.result(
              `${formatTarget(target)}: baselined ${result.baselined.length} migration(s) up to ${result.version}`,
            ),
        })
      }),
    )

  migrate
    .command('restamp')
    .description("accept an intended edit of an applied migration (record the file's new checksum)")
    .argument('<version>', 'the edited migration')
    .action(
      exitWith(async (version: string, _flags, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>()
        return runTargetCommand(globals, {
          command: 'migrate restamp',
          create: false,
          async run(target) {
            return restampMigration(target, version)
          },
          print: (result, reporter, target) =>
            reporter.result(`${formatTarget(target)}: ${result.version} checksum updated to ${result.newChecksum}`),
        })
      }),
    )

  registerMigrateLint(migrate)
}

async function commonOptions(flags: UpFlags, reporter: Reporter, signal: AbortSignal) {
  const options: {
    dryRun: boolean
    onEvent: (event: MigrateEvent) => void
    lockWaitTimeoutMs?: number
    signal: AbortSignal
  } = {
    dryRun: flags.dryRun === true,
    onEvent: (event) => reportEvent(reporter, event),
    signal,
  }
  if (flags.lockTimeout !== undefined) {
    options.lockWaitTimeoutMs = parseDurationFlag('--lock-timeout', flags.lockTimeout)
  }
  return options
}

function reportEvent(reporter: Reporter, event: MigrateEvent): void {
  const verb = (direction: 'up' | 'down') => (direction === 'up' ? 'applying' : 'rolling back')
  switch (event.type) {
    case 'start':
      reporter.begin(
        event.target,
        `${verb(event.direction)} ${event.id}${event.transactional ? '' : ' (no transaction)'} ...`,
      )
      break
    case 'done':
      reporter.finish(
        event.target,
        `${verb(event.direction)} ${event.id} ... done in ${formatDuration(event.durationMs)}`,
      )
      break
    case 'skipped':
      reporter.finish(event.target, `${event.id}: skipped, ${event.reason}`)
      break
    case 'lock-wait':
      reporter.log(event.target, `waiting for the migration lock, held by ${event.holder}`)
      break
    case 'warning':
      reporter.warn(event.target, event.message)
      break
    case 'lint':
      reporter.warn(
        event.target,
        `${event.finding.file}:${event.finding.line}:${event.finding.column} ${event.finding.rule}: ${event.finding.message}${event.finding.safe ? ' (the safer form: "dbops migrate lint")' : ''}`,
      )
      break
  }
}

function printMigrateResult(result: MigrateResult, reporter: Reporter, target: Target): void {
  const { color } = reporter
  if (result.dryRun) {
    // As an SQL comment, the plan stays runnable SQL.
    reporter.result(
      result.migrations.length === 0
        ? `${formatTarget(target)}: nothing to do`
        : `-- ${formatTarget(target)}: plan (dry run)`,
    )
    for (const migration of result.migrations) {
      const verb = migration.direction === 'up' ? 'apply' : 'roll back'
      reporter.result(
        color.bold(
          `-- would ${verb} ${migration.version}_${migration.name}${migration.transactional ? ' (in a transaction)' : ' (no transaction)'}`,
        ),
      )
      reporter.result(`${migration.sql ?? ''}\n`)
    }
    return
  }
  const done = result.migrations.filter((migration) => migration.status !== 'skipped')
  if (done.length === 0) {
    reporter.result(
      `${formatTarget(target)}: ${result.direction === 'up' ? 'up to date, nothing to apply' : 'nothing to roll back'}`,
    )
    return
  }
  const total = done.reduce((sum, migration) => sum + (migration.durationMs ?? 0), 0)
  const verb = result.direction === 'up' ? 'applied' : result.direction === 'down' ? 'rolled back' : 'redid'
  const count = result.direction === 'redo' ? 1 : done.length
  reporter.result(
    color.green(
      `${formatTarget(target)}: ${verb} ${count} migration${count === 1 ? '' : 's'} in ${formatDuration(total)}`,
    ),
  )
}

function printStatus(result: StatusResult, reporter: Reporter, target: Target): void {
  const { color } = reporter
  const paint: Record<string, (text: string) => string> = {
    applied: color.green,
    baselined: color.green,
    pending: color.yellow,
    drifted: color.red,
    failed: color.red,
    running: color.red,
    missing: color.red,
  }
  reporter.result(
    color.dim(`${formatTarget(target)}: ${result.engine}, ledger ${result.ledger}, files in ${result.migrationsDir}`),
  )
  if (result.migrations.length === 0) {
    reporter.result('no migrations yet: create one with "dbops migrate new <name>"')
    return
  }
  const rows = result.migrations.map((entry) => [
    entry.version,
    entry.name,
    (paint[entry.state] ?? String)(entry.state + (entry.outOfOrder ? ' (out of order)' : '')),
    entry.appliedAt ? formatTimestamp(entry.appliedAt) : '',
  ])
  reporter.result(formatTable(['VERSION', 'NAME', 'STATE', 'APPLIED AT'], rows))
  for (const entry of result.migrations.filter((candidate) => candidate.error)) {
    reporter.result(color.red(`${entry.version}_${entry.name}: ${entry.error}`))
    if (entry.failedStatement) reporter.result(color.red(`  failed statement: ${oneLine(entry.failedStatement, 200)}`))
  }
  const { summary } = result
  const parts = [`${summary.applied} applied`, `${summary.pending} pending`]
  if (summary.drifted) parts.push(`${summary.drifted} changed after applying`)
  if (summary.failed) parts.push(`${summary.failed} failed`)
  if (summary.missing) parts.push(`${summary.missing} missing file(s)`)
  reporter.result(parts.join(', '))
}
