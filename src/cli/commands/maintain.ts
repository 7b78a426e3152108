import type { Command } from 'commander'
import { Option } from 'commander'
import type { GlobalOptions } from '../context.js'
import { exitWith } from '../exit-codes.js'
import { runTargetCommand } from '../context.js'
import type { Reporter } from '../../output/reporter.js'
import { formatTable } from '../../output/table.js'
import type { MaintainResult } from '../../maintain/maintain.js'
import { MAINTAIN_TASKS, type MaintainTask } from '../../maintain/maintainer.js'
import { UsageError } from '../../errors.js'
import { parseDurationFlag } from '../flags.js'
import { escapeLineBreaks, formatBytes, formatDuration, formatTarget } from '../../output/format.js'
import type { Target } from '../../targets/target.js'

interface MaintainFlags {
  auto?: boolean
  tables?: string
  indexes?: string
  budget?: string
  dryRun?: boolean
  mode: 'passive' | 'truncate'
  lockTimeout: string
}

/** `a, "b,c", s.t` → three names: commas inside double quotes belong to the name. */
function list(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined
  const items = (text.match(/(?:"(?:[^"]|"")*"|[^,])+/g) ?? []).map((item) => item.trim()).filter(Boolean)
  if (items.length === 0) throw new UsageError('--tables and --indexes take a comma-separated list of names')
  return items
}

export function registerMaintainCommands(program: Command): void {
  program
    .command('maintain')
    .description('VACUUM, ANALYZE, REINDEX, PRAGMA optimize, checkpoints: what is due (--auto) or what you name')
    .argument('[task]', `one of ${MAINTAIN_TASKS.join(', ')} (with --auto: only that kind of work)`)
    .option(
      '--auto',
      "pick what is due: PostgreSQL by autovacuum's own formula (wraparound first); SQLite by PRAGMA optimize and free pages",
    )
    .option('--tables <list>', 'only these tables (comma-separated; schema.table; "Quoted" for odd names)')
    .option('--indexes <list>', 'reindex: also rebuild these indexes')
    .option('--budget <duration>', 'start no step after this long (e.g. 10m); what is left is reported')
    .option('--dry-run', 'print the plan with the reason for each step; run nothing')
    .addOption(
      new Option(
        '--mode <mode>',
        'SQLite checkpoint: passive never waits; truncate waits up to the budget (default 5s)',
      )
        .choices(['passive', 'truncate'])
        .default('passive'),
    )
    .option('--lock-timeout <duration>', 'PostgreSQL lock_timeout for each statement', '5s')
    .addHelpText(
      'after',
      '\nExit codes: 0 all done, 1 work left (budget) or incomplete, 2 a step failed or the run was interrupted, 3 usage.',
    )
    .action(
      exitWith(async (task: string | undefined, flags: MaintainFlags, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>()
        return runTargetCommand<MaintainResult>(globals, {
          command: 'maintain',
          create: false,
          async run(target, reporter, signal) {
            const budgetMs = flags.budget !== undefined ? parseDurationFlag('--budget', flags.budget) : undefined
            const lockTimeoutMs = parseDurationFlag('--lock-timeout', flags.lockTimeout)
            const { maintainTarget } = await import('../../maintain/maintain.js')
            if (target.protected && !flags.dryRun)
              reporter.log(
                target.name,
                `${target.name} is protected; maintain changes no data, so it runs (VACUUM, ANALYZE, REINDEX, checkpoints only)`,
              )
            const tables = list(flags.tables)
            const indexes = list(flags.indexes)
            return maintainTarget(target, {
              task: task as MaintainTask | undefined,
              auto: flags.auto === true,
              ...(tables && { tables }),
              ...(indexes && { indexes }),
              mode: flags.mode,
              dryRun: flags.dryRun === true,
              ...(budgetMs !== undefined && { budgetMs }),
              lockTimeoutMs,
              signal,
              onStep: (event) => {
                const object = escapeLineBreaks(event.step.object) // one progress line, whatever the table is called
                if (event.phase === 'start') reporter.begin(target.name, `${event.step.action} ${object} ...`)
                else
                  reporter.finish(
                    target.name,
                    `${event.step.action} ${object} ... ${event.outcome!.status} in ${formatDuration(event.outcome!.durationMs)}${event.outcome!.message ? `: ${event.outcome!.message}` : ''}`,
                  )
              },
            })
          },
          print: printMaintain,
          exitCode: (result) =>
            result.tasks.some((step) => step.status === 'failed') || result.stopped === 'interrupted'
              ? 2
              : result.left.length > 0 || result.tasks.some((step) => step.status === 'incomplete')
                ? 1
                : 0,
        })
      }),
    )
}

function change(before: Record<string, number> | undefined, after: Record<string, number> | undefined): string {
  if (!before) return ''
  return Object.keys(before)
    .filter((key) => ['dead_tuples', 'bytes', 'file_bytes', 'free_pages', 'wal_bytes'].includes(key))
    .map(
      (key) =>
        `${key} ${show(key, before[key]!)}${after && after[key] !== undefined ? ` → ${show(key, after[key])}` : ''}`,
    )
    .join(', ')
}

function show(key: string, value: number): string {
  return key.endsWith('bytes') ? formatBytes(value) : String(value)
}

function printMaintain(result: MaintainResult, reporter: Reporter, target: Target): void {
  const { color } = reporter
  if (result.dryRun) {
    reporter.result(color.bold(`${formatTarget(target)}: plan (dry run, nothing runs): ${result.tasks.length} step(s)`))
    if (result.tasks.length > 0)
      reporter.result(
        formatTable(
          ['ACTION', 'OBJECT', 'REASON', 'SQL'],
          result.tasks.map((step) => [step.action, step.object, step.reason, step.sql]),
        ),
      )
  } else {
    const failed = result.tasks.filter((step) => step.status === 'failed').length
    reporter.result(
      color.bold(
        `${formatTarget(target)}: ${result.tasks.length} step(s) run${failed ? `, ${failed} failed` : ''}${result.left.length ? `, ${result.left.length} left` : ''}`,
      ),
    )
    if (result.tasks.length > 0) {
      reporter.result(
        formatTable(
          ['ACTION', 'OBJECT', 'STATUS', 'TIME', 'BEFORE → AFTER', 'REASON'],
          result.tasks.map((step) => [
            step.action,
            step.object,
            step.status === 'failed'
              ? color.red(step.status)
              : step.status === 'done'
                ? color.green(step.status)
                : color.yellow(step.status),
            formatDuration(step.durationMs ?? 0),
            change(step.before, step.after) + (step.message ? ` (${step.message})` : ''),
            step.reason,
          ]),
        ),
      )
    }
    if (result.left.length > 0) {
      reporter.result(
        color.yellow(
          `${result.stopped === 'budget' ? 'budget spent' : 'interrupted'}: ${result.left.length} step(s) not started: ${result.left.map((step) => `${step.action} ${step.object}`).join(', ')}`,
        ),
      )
    }
  }
  for (const note of result.notes) reporter.result(color.dim(note))
}
