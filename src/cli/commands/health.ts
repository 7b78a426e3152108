import { existsSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { Command } from 'commander'
import type { GlobalOptions } from '../context.js'
import { EXIT, exitWith } from '../exit-codes.js'
import { configFromGlobals, makeReporter, reportFailure, runTargetCommand } from '../context.js'
import { selectTargets } from '../../config/resolve-config.js'
import { scrubSecrets } from '../../output/redact.js'
import type { HealthResult } from '../../health/check-health.js'
import {
  HEALTH_CHECKS,
  parseThresholdFlags,
  resolveThresholds,
  selectChecks,
  type CheckSpec,
} from '../../health/checks.js'
import { formatPrometheus } from '../../output/prometheus.js'
import { writeFileAtomic } from '../../output/atomic-write.js'
import type { Reporter } from '../../output/reporter.js'
import { escapeLineBreaks, formatTarget } from '../../output/format.js'
import type { TargetOutcome } from '../../targets/for-each-target.js'
import type { Severity } from '../../findings.js'
import { DbopsError, UsageError, fromSystemError } from '../../errors.js'
import { parseDurationFlag } from '../flags.js'
import type { ThresholdSetting } from '../../config/resolve-config.js'
import type { Finding } from '../../findings.js'
import { formatTable } from '../../output/table.js'
import { writeOut } from '../../output/stdio.js'

interface HealthFlags {
  format?: string
  metricsFile?: string
  threshold?: string[]
  only?: string
  skip?: string
  deep?: boolean
  timeout: string
  statementTimeout: string
}

const FORMATS = ['human', 'json', 'nagios', 'prometheus'] as const
type Format = (typeof FORMATS)[number]

export function registerHealthCommand(program: Command): void {
  program
    .command('health')
    .description(
      'check the database: connections, long and blocked queries, wraparound, sequences, vacuum, ledger, backups...',
    )
    .option(
      '--format <format>',
      'human, json, nagios (one plugin line with perfdata) or prometheus (text exposition)',
      'human',
    )
    .option(
      '--metrics-file <path.prom>',
      'also write Prometheus metrics to this file, replaced atomically (node_exporter textfile collector)',
    )
    .option(
      '--threshold <check.level=value>',
      'override a threshold, repeatable: connections.warn=70%, long_queries.critical=10m, wal_size.warn=1GB, journal_mode.warn=off',
      collect,
    )
    .option('--only <checks>', 'run only these checks (comma-separated)')
    .option('--skip <checks>', 'skip these checks (comma-separated), e.g. one the role cannot run')
    .option('--deep', 'SQLite: PRAGMA integrity_check instead of quick_check (reads every page and index)')
    .option('--timeout <duration>', 'deadline for the whole run; unfinished checks are reported, not waited for', '30s')
    .option('--statement-timeout <duration>', 'limit per query (PostgreSQL statement_timeout)', '5s')
    .addHelpText('after', helpText)
    .action(
      exitWith(async (flags: HealthFlags, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>()
        let options: ParsedFlags
        try {
          options = parseFlags(flags, globals)
          // Nagios shows "(No output)" for a plugin that prints nothing on stdout: a config error must still say so.
          // So must a bad --threshold, --only or --skip, which checkHealth would refuse once it runs.
          if (options.format === 'nagios') {
            for (const target of selectTargets(await configFromGlobals(globals), selectionOf(globals)))
              resolveThresholds({ config: target.health.thresholds, overrides: options.thresholds })
            for (const engine of ['postgres', 'sqlite'] as const) selectChecks(engine, options.only, options.skip)
          }
        } catch (error) {
          if (flags.format === 'nagios' && !globals.json) return printNagiosUnknown(error)
          return reportFailure(await makeReporter(globals), globals, undefined, error)
        }
        // The capability loads when the command runs, not with the command table (start-up of every other command).
        const [{ checkHealth }, { formatNagios, healthExitCode, healthMetrics, shortValue }] = await Promise.all([
          import('../../health/check-health.js'),
          import('../../health/health-output.js'),
        ])
        const runGlobals = { ...globals, json: options.format === 'json' }
        const results: HealthResult[] = []
        // Target name → the database it checked, for the human heading (formatTarget).
        const databases = new Map<string, string>()
        let metricsFailure: unknown
        const code = await runTargetCommand<HealthResult>(runGlobals, {
          command: 'health',
          create: false,
          readOnly: true,
          // pg waits for the server's goodbye when closing a connection still being made: bounded by the deadline too.
          connectTimeoutMs: options.timeoutMs,
          async run(target, reporter, signal) {
            databases.set(target.name, target.database)
            const result = await checkHealth(target, {
              signal,
              thresholds: options.thresholds,
              ...(options.only && { only: options.only }),
              ...(options.skip && { skip: options.skip }),
              deep: options.deep,
              timeoutMs: options.timeoutMs,
              statementTimeoutMs: options.statementTimeoutMs,
              onWarning: (message) => reporter.warn(target.name, message),
            })
            results.push(result)
            return result
          },
          print: (result, reporter) => printHuman([result], reporter, shortValue, databases),
          exitCode: (result) => healthExitCode(result.status),
          printAll(outcomes, reporter) {
            const done = outcomes.filter((outcome) => outcome.ok).map((outcome) => outcome.result)
            if (options.format === 'nagios') reporter.result(formatNagios(done, failuresOf(outcomes)))
            else if (options.format === 'prometheus')
              reporter.result(formatPrometheus(healthMetrics(done)).replace(/\n$/, ''))
            else printHuman(done, reporter, shortValue, databases)
          },
        })
        if (options.metricsFile !== undefined && results.length > 0) {
          try {
            const ordered = [...results].sort((a, b) => a.target.localeCompare(b.target))
            writeFileAtomic(options.metricsFile, formatPrometheus(healthMetrics(ordered)))
          } catch (error) {
            metricsFailure = error
          }
        }
        if (metricsFailure !== undefined) {
          const reporter = await makeReporter(globals)
          const failure = fromSystemError(metricsFailure)
          if (failure instanceof DbopsError)
            reporter.error(undefined, `cannot write the metrics file: ${failure.message}`, failure.hint)
          else
            reporter.error(
              undefined,
              `cannot write the metrics file ${options.metricsFile}: ${(metricsFailure as Error).message}`,
              'check that the folder is writable',
            )
          return Math.max(code, 2)
        }
        return code
      }),
    )
}

function selectionOf(globals: GlobalOptions): { target?: string; all?: boolean } {
  return {
    ...(globals.target !== undefined && { target: globals.target }),
    ...(globals.all !== undefined && { all: globals.all }),
  }
}

/** The plugin line for a run that could not start (usage or configuration): state UNKNOWN, exit 3. */
export function printNagiosUnknown(error: unknown): number {
  const message = error instanceof Error ? error.message : String(error)
  writeOut(scrubSecrets(`DBOPS HEALTH UNKNOWN - ${message.replace(/\|/g, '/').replace(/\s*\n\s*/g, ' ')}`) + '\n')
  return EXIT.usage
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

function helpText(): string {
  const describe = (spec: CheckSpec) => {
    const levels = (['warn', 'critical'] as const).filter((level) => spec.defaults[level] !== undefined)
    const defaults =
      spec.unit === 'state' ? levels.join(' + ') : levels.map((level) => `${level} ${spec.defaults[level]}`).join(', ')
    return `  ${spec.name.padEnd(20)} ${spec.engines.length === 2 ? 'both  ' : spec.engines[0] === 'postgres' ? 'pg    ' : 'sqlite'}  ${spec.description}${defaults ? ` [${defaults}]` : ''}`
  }
  return `
Checks (engine, what, default thresholds):
${HEALTH_CHECKS.map(describe).join('\n')}

Thresholds: health.thresholds.<check>.{warn,critical} in the config, or --threshold. Durations 30s 5m 26h, sizes
  512MB 10GB (1024-based), ratios 80% or 0.8, counts 100 250k 1.5B, "off" to switch a level off. For connections
  and xid_wraparound a percentage is of the usable slots / autovacuum_freeze_max_age and a number is absolute.
Every query is read-only with a statement timeout. The role needs pg_monitor to see other sessions; a check it cannot
  run is reported "unknown" (never a guessed value).
Exit codes: 0 all ok, 1 a warning or an unknown check, 2 a critical check or the database unreachable, 3 usage or
  config error. The Nagios line's state word matches the exit code.`
}

interface ParsedFlags {
  format: Format
  metricsFile?: string
  thresholds: Record<string, ThresholdSetting>
  only?: string[]
  skip?: string[]
  deep: boolean
  timeoutMs: number
  statementTimeoutMs: number
}

function parseFlags(flags: HealthFlags, globals: GlobalOptions): ParsedFlags {
  const format = (globals.json && flags.format === 'human' ? 'json' : (flags.format ?? 'human')) as Format
  if (!FORMATS.includes(format))
    throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, not "${flags.format}"`, 'e.g. --format nagios')
  if (globals.json && format !== 'json')
    throw new UsageError(`--json and --format ${format} cannot be used together`, 'pick one output format')
  const list = (text: string | undefined) =>
    text
      ?.split(',')
      .map((name) => name.trim())
      .filter(Boolean)
  let metricsFile: string | undefined
  if (flags.metricsFile !== undefined) {
    metricsFile = resolve(flags.metricsFile)
    const folder = dirname(metricsFile)
    if (!existsSync(folder) || !statSync(folder).isDirectory()) {
      throw new UsageError(
        `--metrics-file: the folder ${folder} does not exist`,
        'create it, or point --metrics-file into the textfile collector folder',
      )
    }
  }
  return {
    format,
    ...(metricsFile !== undefined && { metricsFile }),
    thresholds: parseThresholdFlags(flags.threshold ?? []),
    ...(flags.only !== undefined && { only: list(flags.only) }),
    ...(flags.skip !== undefined && { skip: list(flags.skip) }),
    deep: flags.deep === true,
    timeoutMs: parseDurationFlag('--timeout', flags.timeout, { positive: true }),
    statementTimeoutMs: parseDurationFlag('--statement-timeout', flags.statementTimeout, { positive: true }),
  }
}

function failuresOf(outcomes: TargetOutcome<HealthResult>[]): { target: string; message: string }[] {
  return outcomes.flatMap((outcome) =>
    outcome.ok ? [] : [{ target: outcome.target, message: (outcome.error as Error)?.message ?? String(outcome.error) }],
  )
}

const LABEL: Record<Severity, string> = { ok: 'ok', warn: 'WARNING', critical: 'CRITICAL', unknown: 'unknown' }

function printHuman(
  results: HealthResult[],
  reporter: Reporter,
  shortValue: (finding: Finding) => string,
  databases: Map<string, string>,
): void {
  const valueOf = (finding: Finding) => {
    const value = shortValue(finding)
    return value.startsWith('(') ? '' : value
  }
  const { color } = reporter
  const paint: Record<Severity, (text: string) => string> = {
    ok: color.green,
    warn: color.yellow,
    critical: color.red,
    unknown: color.dim,
  }
  for (const result of results) {
    const version = result.version ? ` ${result.version}` : ''
    const target = formatTarget({ name: result.target, database: databases.get(result.target) ?? result.url })
    reporter.result(color.bold(`${target} ${result.engine}${version}: ${paint[result.status](LABEL[result.status])}`))
    const rows = result.checks.map((finding) => [
      finding.check,
      paint[finding.severity](LABEL[finding.severity]),
      valueOf(finding),
      finding.message,
    ])
    reporter.result(formatTable(['CHECK', 'STATUS', 'VALUE', 'MESSAGE'], rows))
    for (const finding of result.checks.filter((candidate) => candidate.fix && candidate.severity !== 'ok')) {
      reporter.result(color.dim(`  fix ${finding.check}: ${escapeLineBreaks(finding.fix!)}`))
    }
  }
  if (results.length > 1) {
    const counts = new Map<Severity, number>()
    for (const result of results) counts.set(result.status, (counts.get(result.status) ?? 0) + 1)
    reporter.result(
      `${results.length} target(s): ${[...counts].map(([severity, count]) => `${count} ${LABEL[severity].toLowerCase()}`).join(', ')}`,
    )
  }
}
