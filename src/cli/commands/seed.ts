import type { Command } from 'commander'
import type { GlobalOptions } from '../context.js'
import { exitWith } from '../exit-codes.js'
import type { SeedEvent, SeedRunResult, SeedStatusResult } from '../../seed/run.js'
import type { Reporter } from '../../output/reporter.js'
import { formatTable } from '../../output/table.js'
import { configFromGlobals, makeReporter, reportFailure, runTargetCommand } from '../context.js'
import { selectTargets } from '../../config/resolve-config.js'
import { formatDuration, formatTarget, formatTimestamp } from '../../output/format.js'
import type { Target } from '../../targets/target.js'

interface RunFlags {
  env?: string
  reset?: boolean
  force?: boolean
  dryRun?: boolean
  allowProtected?: boolean
}

export function registerSeedCommands(program: Command): void {
  const seed = program
    .command('seed')
    .description('load fixtures: CSV, JSON, NDJSON, SQL and TypeScript seeds, tracked by checksum')

  seed
    .command('run')
    .description('run new seeds (and changed ones with --force), each file in its own transaction')
    .argument('[names...]', 'seeds to run (file names, with or without extension); default all')
    .option('--env <name>', 'the seed environment (seeds.environments in the config)')
    .option(
      '--reset',
      'empty the tables the selected data seeds load (identities restarted), then run every selected seed again',
    )
    .option(
      '--force',
      'run seeds whose file changed since they were applied (without it a changed seed stops the run: exit 2)',
    )
    .option('--dry-run', 'print the plan; write nothing, create nothing')
    .option('--allow-protected', 'seed a target marked protected: true')
    .action(
      exitWith(async (names: string[], flags: RunFlags, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>()
        return runTargetCommand<SeedRunResult>(globals, {
          command: 'seed run',
          create: !flags.dryRun,
          readOnly: flags.dryRun === true,
          async run(target, reporter, signal) {
            const { seedRun } = await import('../../seed/run.js')
            return seedRun(target, {
              names,
              ...(flags.env !== undefined && { env: flags.env }),
              reset: flags.reset === true,
              force: flags.force === true,
              dryRun: flags.dryRun === true,
              allowProtected: flags.allowProtected === true,
              onEvent: (event) => reportEvent(reporter, event),
              signal,
            })
          },
          print: printRun,
        })
      }),
    )

  seed
    .command('status')
    .description('list seeds: applied, changed since applied, new, or missing their file')
    .argument('[names...]', 'seeds to show; default all')
    .option('--env <name>', 'the seed environment (seeds.environments in the config)')
    .option('--check', 'exit 1 when a seed is new, changed or missing')
    .action(
      exitWith(async (names: string[], flags: { env?: string; check?: boolean }, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>()
        return runTargetCommand<SeedStatusResult>(globals, {
          command: 'seed status',
          create: false,
          readOnly: true,
          async run(target, reporter) {
            const { seedStatus } = await import('../../seed/run.js')
            return seedStatus(target, {
              names,
              ...(flags.env !== undefined && { env: flags.env }),
              onEvent: (event) => reportEvent(reporter, event),
            })
          },
          print: printStatus,
          exitCode: (result) => (flags.check && !result.upToDate ? 1 : 0),
        })
      }),
    )

  seed
    .command('new')
    .description('create <seeds dir>/<next number>_<name>.<format> from a template')
    .argument('<name>', 'for data files the table it loads, e.g. users')
    .option('--format <format>', 'sql, csv, json or ts', 'sql')
    .action(
      exitWith(async (name: string, flags: { format: string }, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>()
        const reporter = await makeReporter(globals)
        try {
          const config = await configFromGlobals(globals)
          const [target] = selectTargets(config, globals.target === undefined ? {} : { target: globals.target })
          const { newSeed } = await import('../../seed/new-seed.js')
          const result = newSeed(target!.seeds.dir, name, flags.format)
          if (globals.json) reporter.json({ ok: true, ...result })
          else reporter.result(`created ${result.file}`)
          return 0
        } catch (error) {
          return reportFailure(reporter, globals, undefined, error)
        }
      }),
    )
}

function reportEvent(reporter: Reporter, event: SeedEvent): void {
  switch (event.type) {
    case 'start':
      reporter.begin(event.target, `seeding ${event.seed}${event.table ? ` into ${event.table}` : ''} ...`)
      break
    case 'done':
      reporter.finish(
        event.target,
        `seeding ${event.seed} ... ${event.rows === null ? 'done' : `${event.rows} row${event.rows === 1 ? '' : 's'}`} in ${formatDuration(event.durationMs)}`,
      )
      break
    case 'skipped':
      reporter.log(event.target, `${event.seed}: skipped, ${event.reason}`)
      break
    case 'reset':
      reporter.log(event.target, `reset: emptied ${event.tables.join(', ')}`)
      break
    case 'lock-wait':
      reporter.log(event.target, `waiting for the seed lock, held by ${event.holder}`)
      break
    case 'warning':
      reporter.warn(event.target, event.message)
      break
  }
}

function printRun(result: SeedRunResult, reporter: Reporter, target: Target): void {
  const { color } = reporter
  if (result.dryRun) {
    if (result.reset.length > 0) reporter.result(`would empty ${result.reset.join(', ')} (--reset)`)
    if (result.seeds.length === 0) reporter.result(`${formatTarget(target)}: no seeds`)
    else {
      reporter.result(`${formatTarget(target)}: plan (dry run)`)
      const rows = result.seeds.map((seed) => [
        seed.name,
        seed.table ?? `(${seed.kind})`,
        seed.status === 'planned' ? color.yellow(`would run (${seed.reason})`) : `skip (${seed.reason})`,
      ])
      reporter.result(formatTable(['SEED', 'TABLE', 'PLAN'], rows))
    }
    return
  }
  const applied = result.seeds.filter((seed) => seed.status === 'applied')
  const skipped = result.seeds.length - applied.length
  if (applied.length === 0) {
    reporter.result(
      `${formatTarget(target)}: seeds up to date, nothing to run${skipped > 0 ? ` (${skipped} unchanged)` : ''}`,
    )
    return
  }
  const rows = applied.reduce((sum, seed) => sum + (seed.rows ?? 0), 0)
  const total = applied.reduce((sum, seed) => sum + (seed.durationMs ?? 0), 0)
  const parts = [
    `${formatTarget(target)}: ran ${applied.length} seed${applied.length === 1 ? '' : 's'} (${rows} row${rows === 1 ? '' : 's'}) in ${formatDuration(total)}`,
  ]
  if (skipped > 0) parts.push(`${skipped} unchanged`)
  reporter.result(color.green(parts.join(', ')))
}

function printStatus(result: SeedStatusResult, reporter: Reporter, target: Target): void {
  const { color } = reporter
  const paint: Record<string, (text: string) => string> = {
    applied: color.green,
    new: color.yellow,
    changed: color.red,
    missing: color.red,
  }
  reporter.result(
    color.dim(
      `${formatTarget(target)}: ${result.engine}, ledger ${result.ledger}, seeds in ${result.seedsDir}${result.env ? ` (env ${result.env})` : ''}`,
    ),
  )
  if (result.seeds.length === 0) {
    reporter.result('no seeds yet: create one with "dbops seed new <table> --format csv"')
    return
  }
  const rows = result.seeds.map((entry) => [
    entry.name,
    entry.table ?? (entry.kind ? `(${entry.kind})` : ''),
    (paint[entry.state] ?? String)(entry.state),
    entry.rows === null ? '' : String(entry.rows),
    entry.appliedAt ? formatTimestamp(entry.appliedAt) : '',
  ])
  reporter.result(formatTable(['SEED', 'TABLE', 'STATE', 'ROWS', 'APPLIED AT'], rows))
  const { summary } = result
  const parts = [`${summary.applied} applied`, `${summary.new} new`]
  if (summary.changed) parts.push(`${summary.changed} changed (run with --force to apply)`)
  if (summary.missing) parts.push(`${summary.missing} missing file(s)`)
  reporter.result(parts.join(', '))
}
