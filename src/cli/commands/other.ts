import type { Command } from 'commander'
import type { GlobalOptions } from '../context.js'
import { exitWith } from '../exit-codes.js'
import type { WaitResult } from '../../targets/wait.js'
import { configFromGlobals, makeReporter, reportFailure, runTargetCommand } from '../context.js'
import { parseDurationFlag } from '../flags.js'
import { waitForTarget } from '../../targets/wait.js'
import { selectTargets } from '../../config/resolve-config.js'
import { formatDuration, formatTarget } from '../../output/format.js'

export function registerOtherCommands(program: Command): void {
  program
    .command('wait')
    .description('wait until the database accepts connections (exit 2 after --timeout)')
    .option('--timeout <duration>', 'how long to keep trying', '60s')
    .action(
      exitWith(async (flags: { timeout: string }, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>()
        return runTargetCommand<WaitResult>(globals, {
          command: 'wait',
          create: false,
          async run(target, reporter) {
            const timeoutMs = parseDurationFlag('--timeout', flags.timeout)
            const config = await configFromGlobals(globals)
            const resolved = selectTargets(config, { target: target.name })[0]!
            return waitForTarget(resolved, {
              timeoutMs,
              onRetry: (error, attempt) => {
                if (attempt === 1) reporter.log(target.name, `waiting for ${target.redactedUrl}: ${error.message}`)
              },
            })
          },
          print: (result, reporter, target) =>
            reporter.result(
              `${formatTarget(target)}: ${result.engine} ${result.version} is accepting connections (after ${result.attempts} attempt(s), ${formatDuration(result.waitedMs)})`,
            ),
        })
      }),
    )

  const config = program.command('config').description('inspect the configuration')
  config
    .command('show')
    .description('print the resolved configuration, passwords redacted')
    .action(
      exitWith(async (_flags, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>()
        const reporter = await makeReporter(globals)
        try {
          const resolved = await configFromGlobals(globals)
          // Loaded here: it brings the backup destinations and storage modules, which no other command's start-up needs.
          const { settingLines, showTarget } = await import('../../config/show-config.js')
          // Every target is shown (-t only says which one --url replaces); --all with --url or -t is refused as by
          // every other command rather than ignored.
          if (globals.all) selectTargets({ ...resolved, unresolved: {} }, { target: globals.target, all: true })
          const document = {
            source: resolved.source,
            file: resolved.file ?? null,
            envFile: resolved.envFile ?? null,
            defaultTarget: resolved.defaultTarget ?? null,
            unresolved: resolved.unresolved,
            targets: Object.fromEntries(
              Object.values(resolved.targets).map((target) => [target.name, showTarget(target)]),
            ),
          }
          if (globals.json) reporter.json({ ok: true, ...document })
          else {
            reporter.result(`source: ${document.source}${document.file ? ` (${document.file})` : ''}`)
            if (document.envFile)
              reporter.result(`variables from ${document.envFile.path}: ${document.envFile.names.join(', ')}`)
            reporter.result(`default target: ${document.defaultTarget ?? 'none (pass --target or --all)'}`)
            for (const [name, target] of Object.entries(document.targets)) {
              reporter.result(
                `\n${name}${target.protected ? ' (protected)' : ''}\n  url: ${target.url}${target.database === target.url ? '' : `\n  database: ${target.database}`}`,
              )
              for (const section of ['migrations', 'seeds', 'backup', 'health', 'lint', 'schema'] as const) {
                // lint and schema are null without a section in the config: their commands use their defaults.
                const lines =
                  target[section] === null ? [`${section}: not configured`] : settingLines(section, target[section])
                for (const line of lines) reporter.result(`  ${line}`)
              }
            }
            for (const [name, problems] of Object.entries(document.unresolved)) {
              reporter.result(`\n${name} (not usable here)\n  ${problems.join('\n  ')}`)
            }
          }
          return 0
        } catch (error) {
          return reportFailure(reporter, globals, undefined, error)
        }
      }),
    )
}
