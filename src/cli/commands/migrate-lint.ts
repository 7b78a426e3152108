import type { Command } from 'commander'
import { Option } from 'commander'
import type { GlobalOptions } from '../context.js'
import type { LintResult, LintSeverity } from '../../lint/types.js'
import type { Reporter } from '../../output/reporter.js'
import { exitWith, EXIT } from '../exit-codes.js'
import { baselineWasmOnly, configFromGlobals, makeReporter, optimiseOnlyLongLints, reportFailure } from '../context.js'
import { selectTargets } from '../../config/resolve-config.js'
import { parseWholeNumber } from '../flags.js'
import { formatTable } from '../../output/table.js'

interface LintFlags {
  all?: boolean
  offline?: boolean
  pgVersion?: string
  format?: 'human' | 'json' | 'github' | 'sarif'
  failOn?: 'warn' | 'error'
  fix?: string
  listRules?: boolean
  checkSyntax?: boolean
}

export function registerMigrateLint(migrate: Command): void {
  migrate
    .command('lint')
    .description(
      'check migrations for lock hazards, rewrites and breaking changes (pending ones with a reachable target)',
    )
    .argument('[files...]', 'only these migration files or folders of them (or any .sql file, linted on its own)')
    .option('--all', 'every migration file, not only the pending ones')
    .option('--offline', 'lint every file statically: no connection, no sizes, no server version')
    .option(
      '--pg-version <major>',
      "the PostgreSQL major version to judge for (default: the server's, else the newest)",
    )
    .addOption(
      new Option('--format <format>', 'output format').choices(['human', 'json', 'github', 'sarif']).default('human'),
    )
    .addOption(
      new Option('--fail-on <severity>', 'exit 1 on warnings too (errors always exit 2)')
        .choices(['warn', 'error'])
        .default('error'),
    )
    .option('--fix <file>', 'rewrite the mechanical cases of one migration for review (CREATE INDEX, ADD FOREIGN KEY)')
    .option('--check-syntax', 'parse every statement, to report syntax errors in those no rule looks at too')
    .option('--list-rules', 'list the rules, their default severity and engines')
    .action(
      exitWith(async (files: string[], flags: LintFlags, command: Command) => {
        const globals = command.parent!.parent!.opts<GlobalOptions>()
        baselineWasmOnly()
        optimiseOnlyLongLints()
        const json = globals.json === true || flags.format === 'json'
        const reporter = await makeReporter({ ...globals, json })
        try {
          const { lintMigrations, lintRules } = await import('../../lint/lint.js')
          if (flags.listRules) {
            const rules = lintRules()
            if (json) reporter.json({ ok: true, rules })
            else
              reporter.result(
                formatTable(
                  ['RULE', 'SEVERITY', 'ENGINES', 'WHAT'],
                  rules.map((rule) => [rule.id, rule.severity, rule.engines.join(','), rule.description]),
                ),
              )
            return EXIT.ok
          }
          const pgVersion =
            flags.pgVersion === undefined
              ? undefined
              : parseWholeNumber('--pg-version', flags.pgVersion, { min: 9, max: 99 })
          const config = await configFromGlobals(globals)
          const [resolved] = selectTargets(config, globals.target === undefined ? {} : { target: globals.target })
          // The program's own --all (every target) takes the flag wherever it is written: for lint it means every file.
          const options = {
            ...((flags.all || globals.all) && { all: true }),
            ...(files.length > 0 && { files }),
            ...(pgVersion !== undefined && { pgVersion }),
            ...(flags.checkSyntax && { checkSyntax: true }),
          }
          if (flags.fix !== undefined) {
            const { fixMigration } = await import('../../lint/fix.js')
            const fixed = await fixMigration(resolved!.migrations.dir, flags.fix, resolved!.location.engine)
            if (json) reporter.json({ ok: true, ...fixed })
            else {
              for (const file of fixed.written) reporter.result(`wrote ${file}`)
              for (const change of fixed.changes) reporter.result(`  ${change}`)
              if (fixed.written.length === 0) reporter.result(`${flags.fix}: nothing to rewrite mechanically`)
            }
            return EXIT.ok
          }
          let result: LintResult
          if (flags.offline) {
            result = await lintMigrations(
              {
                name: resolved!.name,
                dir: resolved!.migrations.dir,
                engine: resolved!.location.engine,
                lockTimeoutMs: resolved!.migrations.lockTimeoutMs,
                ...(resolved!.lint && { lint: resolved!.lint }),
              },
              options,
            )
          } else {
            const { connectTarget } = await import('../../targets/target.js')
            const target = await connectTarget(resolved!, {
              command: 'migrate lint',
              create: false,
              connectTimeoutMs: 5_000,
            })
            try {
              result = await lintMigrations(target, options)
            } finally {
              await target.close()
            }
          }
          const code =
            result.summary.error > 0
              ? EXIT.failed
              : flags.failOn === 'warn' && result.summary.warn > 0
                ? EXIT.no
                : EXIT.ok
          for (const warning of result.warnings) reporter.warn(result.target ?? '', warning)
          if (json) reporter.json({ ok: code === EXIT.ok, ...result })
          else if (flags.format === 'github') {
            const { formatGithub } = await import('../../lint/formats.js')
            const text = formatGithub(result)
            if (text) reporter.result(text)
            printSummary(result, reporter)
          } else if (flags.format === 'sarif') {
            const { formatSarif } = await import('../../lint/formats.js')
            reporter.result(JSON.stringify(formatSarif(result), null, 2))
          } else printLint(result, reporter)
          return code
        } catch (error) {
          return reportFailure(reporter, { ...globals, json }, undefined, error)
        }
      }),
    )
}

const LABEL: Record<LintSeverity, string> = { error: 'error', warn: 'warning', info: 'info' }

function printLint(result: LintResult, reporter: Reporter): void {
  const { color } = reporter
  const paint: Record<LintSeverity, (text: string) => string> = {
    error: color.red,
    warn: color.yellow,
    info: color.dim,
  }
  for (const finding of result.findings) {
    reporter.result(
      `${color.bold(`${finding.file}:${finding.line}:${finding.column}`)} ${paint[finding.severity](LABEL[finding.severity])} ${color.dim(finding.rule)}`,
    )
    reporter.result(`  ${finding.message}`)
    if (finding.note) reporter.result(color.dim(`  (${finding.note})`))
    if (finding.safe)
      reporter.result(
        `${color.dim('  safer:')}\n${finding.safe
          .split('\n')
          .map((line) => `    ${line}`)
          .join('\n')}`,
      )
  }
  printSummary(result, reporter)
}

/** The closing line (stderr for machine formats would mix; it goes to stdout only in human and github formats). */
function printSummary(result: LintResult, reporter: Reporter): void {
  const { summary } = result
  const scope =
    result.mode === 'pending' ? `${result.files.length} pending migration(s)` : `${result.files.length} migration(s)`
  const where =
    result.target === null ? 'no target' : result.mode === 'offline' ? `${result.target}, offline` : result.target
  const version = result.pgVersion
    ? `, PostgreSQL ${result.pgVersion.major}${result.pgVersion.source === 'assumed' ? ' (assumed)' : result.pgVersion.source === 'flag' ? ' (--pg-version)' : ''}`
    : ''
  const counts = `${summary.error} error(s), ${summary.warn} warning(s), ${summary.info} info${summary.suppressed ? `, ${summary.suppressed} suppressed` : ''}`
  const line = `lint: ${scope} of ${where} (${result.engine}${version}), ${result.statements} statement(s) examined: ${counts}`
  const paint = summary.error > 0 ? reporter.color.red : summary.warn > 0 ? reporter.color.yellow : reporter.color.green
  reporter.result(paint(line))
}
