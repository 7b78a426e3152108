import type { Command } from 'commander'
import { Option } from 'commander'
import type { GlobalOptions } from '../context.js'
import { exitWith } from '../exit-codes.js'
import { runTargetCommand } from '../context.js'
import type { Reporter } from '../../output/reporter.js'
import { formatTable } from '../../output/table.js'
import type { AuditResult, FailOn } from '../../audit/audit.js'
import { auditExitCode } from '../../audit/exit-code.js'
import type { FixMigration } from '../../audit/fix-migration.js'
import { parseDurationFlag } from '../flags.js'
import { escapeLineBreaks, formatTarget } from '../../output/format.js'
import type { Target } from '../../targets/target.js'

interface AuditFlags {
  failOn: FailOn
  baseline?: string
  writeBaseline?: string
  fix?: string
  checks?: string
  minStatsAge: string
}

type AuditOutput = AuditResult & {
  fixMigration?: FixMigration | null
  baselineWritten?: { file: string; entries: number }
}

export function registerAuditCommands(program: Command): void {
  program
    .command('audit')
    .description('check indexes, keys, constraints and statistics for known problems; suggest fixes in SQL')
    .addOption(
      new Option(
        '--fail-on <level>',
        'exit 1 on new warnings, 2 on new critical findings; "critical": only criticals fail; "never": always 0',
      )
        .choices(['warn', 'critical', 'never'])
        .default('warn'),
    )
    .option('--baseline <file>', 'JSON file of accepted findings: only findings not in it fail the run')
    .option(
      '--write-baseline <file>',
      'write the current findings to this file as accepted (keeps reasons already written); exits 0',
    )
    .option(
      '--fix <migration-name>',
      'write the suggested fixes as a new migration in the migrations directory, for review',
    )
    .option('--checks <list>', 'run only these checks (comma-separated)')
    .option(
      '--min-stats-age <duration>',
      'judge indexes as unused only when usage statistics are at least this old',
      '7d',
    )
    .addHelpText(
      'after',
      `
Checks: invalid_index, duplicate_index, redundant_index, unused_index, fk_without_index, duplicate_foreign_key,
table_without_pk, not_valid_constraint, seq_scan_heavy, index_bloat, table_bloat (PostgreSQL); duplicate_index,
redundant_index, fk_without_index, duplicate_foreign_key, table_without_pk, stale_statistics (SQLite). Catalog queries are a fixed handful whatever the schema size.
Exit codes: 0 nothing new at or above --fail-on, 1 new warnings, 2 new critical findings or a failure, 3 usage.`,
    )
    .action(
      exitWith(async (flags: AuditFlags, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>()
        return runTargetCommand<AuditOutput>(globals, {
          command: 'audit',
          create: false,
          readOnly: true,
          async run(target, reporter) {
            const { auditTarget, checkList } = await import('../../audit/audit.js')
            const { readBaseline, writeBaseline } = await import('../../audit/baseline.js')
            const { writeFixMigration } = await import('../../audit/fix-migration.js')
            const minStatisticsAgeMs = parseDurationFlag('--min-stats-age', flags.minStatsAge)
            const checks = flags.checks !== undefined ? checkList(flags.checks) : undefined
            const baseline = flags.baseline !== undefined ? readBaseline(flags.baseline) : undefined
            const result: AuditOutput = await auditTarget(target, {
              ...(checks && { checks }),
              ...(baseline && { baseline }),
              thresholds: { minStatisticsAgeMs },
              onProgress: (message) => reporter.log(target.name, `audit ${target.name}: ${message}`),
            })
            if (flags.writeBaseline !== undefined) {
              const entries = await writeBaseline(
                flags.writeBaseline,
                target.name,
                [...result.accepted, ...result.findings],
                result.checks,
              )
              result.baselineWritten = { file: flags.writeBaseline, entries }
            }
            if (flags.fix !== undefined) {
              const header = `Fixes suggested by "dbops audit" for target ${target.name} on ${new Date().toISOString()}. Review before applying.`
              result.fixMigration = writeFixMigration(target.migrations.dir, flags.fix, result.findings, header) ?? null
            }
            return result
          },
          print: printAudit,
          exitCode: (result) => (result.baselineWritten ? 0 : auditExitCode(result, flags.failOn)),
        })
      }),
    )
}

function printAudit(result: AuditOutput, reporter: Reporter, target: Target): void {
  const { color } = reporter
  const severity = (text: string) =>
    text === 'critical' ? color.red(text) : text === 'warn' ? color.yellow(text) : text
  const counts = `${result.summary.critical} critical, ${result.summary.warn} warn`
  const extra = [
    result.accepted.length && `${result.accepted.length} accepted`,
    result.stale.length && `${result.stale.length} stale baseline entr${result.stale.length === 1 ? 'y' : 'ies'}`,
  ].filter(Boolean)
  reporter.result(
    color.bold(
      `${formatTarget(target)}: ${result.findings.length} finding(s) (${counts})${extra.length ? `, ${extra.join(', ')}` : ''}`,
    ),
  )
  if (result.findings.length > 0) {
    reporter.result(
      formatTable(
        ['SEVERITY', 'CHECK', 'SUBJECT', 'MESSAGE'],
        result.findings.map((finding) => [severity(finding.severity), finding.check, finding.subject, finding.message]),
      ),
    )
    const fixes = result.findings.filter((finding) => finding.fix)
    if (fixes.length > 0 && !result.fixMigration) {
      reporter.result(`\nsuggested fixes (${color.dim('"dbops audit --fix <name>" writes them as a migration')}):`)
      for (const finding of fixes) reporter.result(`  ${escapeLineBreaks(finding.fix!)}`)
    }
  } else {
    reporter.result(color.green('no new findings'))
  }
  if (result.accepted.length <= 20 || reporter.options.verbose) {
    for (const finding of result.accepted)
      reporter.result(color.dim(`accepted: ${finding.check} ${finding.subject}: ${finding.reason}`))
  } else {
    reporter.result(
      color.dim(`${result.accepted.length} findings accepted by the baseline (--verbose or --json lists them)`),
    )
  }
  for (const entry of result.stale)
    reporter.result(
      color.yellow(
        `stale baseline entry: ${entry.check} ${entry.subject} is no longer found (remove it from the baseline)`,
      ),
    )
  for (const skipped of result.skipped) reporter.result(color.dim(`not judged (${skipped.check}): ${skipped.reason}`))
  if (result.fixMigration)
    reporter.result(
      `wrote ${result.fixMigration.file} (${result.fixMigration.statements} fix(es)); review it, then "dbops migrate up"`,
    )
  else if (result.fixMigration === null) reporter.result('no fixes to write: no new finding has a suggested fix')
  if (result.baselineWritten)
    reporter.result(
      `wrote ${result.baselineWritten.entries} accepted finding(s) to ${result.baselineWritten.file}: replace the TODO reasons before committing it`,
    )
}
