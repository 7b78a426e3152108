import type { Command } from 'commander'
import type { GlobalOptions } from '../context.js'
import { exitWith } from '../exit-codes.js'
import { baselineWasmOnly, runTargetCommand } from '../context.js'
import type { Reporter } from '../../output/reporter.js'
import type { Target } from '../../targets/target.js'
import type { DumpSchemaResult } from '../../schema/dump.js'
import type { SchemaDriftResult } from '../../schema/drift.js'
import type { TestMigrationsResult } from '../../schema/migrate-test.js'
import type { SchemaEvent } from '../../schema/scratch.js'
import { DbopsError, UsageError } from '../../errors.js'
import { existsSync } from 'node:fs'

export function registerSchemaCommands(program: Command): void {
  const schema = program
    .command('schema')
    .description('the schema as it is: a deterministic dump, and drift from the migrations')

  schema
    .command('dump')
    .description(
      'write the schema as SQL (pg_dump --schema-only, normalised; SQLite from sqlite_schema), ending with the applied migrations',
    )
    .option(
      '--out <file>',
      'write here (default: schema.file from the config, else stdout); with --all, "{target}" in the path is the target name',
    )
    .action(
      exitWith(async (flags: { out?: string }, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>()
        return runTargetCommand<DumpSchemaResult>(globals, {
          command: 'schema dump',
          create: false,
          async run(target, _reporter, signal) {
            const { dumpSchema } = await import('../../schema/dump.js')
            const out = outFor(flags.out, target, globals.all === true)
            return dumpSchema(target, { ...(out !== undefined && { out }), signal })
          },
          print: (result, reporter) => {
            if (result.file === null) {
              reporter.log(
                result.target,
                `schema of ${result.target} (${result.database}), ${result.versions.length} applied migration(s):`,
              )
              reporter.result(result.sql!.replace(/\n$/, ''))
            } else {
              reporter.result(
                `${result.target}: wrote the schema of ${result.database} to ${result.file} (${result.bytes} bytes, ${result.versions.length} applied migration(s))`,
              )
            }
          },
        })
      }),
    )

  schema
    .command('drift')
    .description(
      'compare the database with what its applied migrations build (in a scratch database, dropped afterwards)',
    )
    .option(
      '--ignore <glob...>',
      'leave these objects out (names or globs, "kind:glob"), besides schema.ignore in the config',
    )
    .addHelpText(
      'after',
      '\nExit codes: 0 no drift, 1 drift found, 2 failure, 3 usage. PostgreSQL needs CREATEDB for the scratch database.',
    )
    .action(
      exitWith(async (flags: { ignore?: string[] }, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>()
        return runTargetCommand<SchemaDriftResult>(globals, {
          command: 'schema drift',
          create: false,
          async run(target, reporter, signal) {
            const { schemaDrift } = await import('../../schema/drift.js')
            return schemaDrift(target, {
              ...(flags.ignore && { ignore: flags.ignore }),
              signal,
              onEvent: (event) => logEvent(reporter, event),
            })
          },
          print: printDrift,
          exitCode: (result) => (result.drift ? 1 : 0),
        })
      }),
    )
}

/** `migrate test`, registered by the migrate command table. */
export function registerMigrateTestCommand(migrate: Command): void {
  migrate
    .command('test')
    .description("check that every down undoes its up, in a scratch database (the target's database is not touched)")
    .option('--from <version>', 'test only migrations from this version on; older ones are applied once')
    .addHelpText(
      'after',
      '\nExit codes: 0 every down undoes its up, 1 one does not (named, with how), 2 failure, 3 usage.',
    )
    .action(
      exitWith(async (flags: { from?: string }, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>()
        baselineWasmOnly() // each up is linted first, as migrate up does
        return runTargetCommand<TestMigrationsResult>(globals, {
          command: 'migrate test',
          create: false,
          async run(target, reporter, signal) {
            const { testMigrations } = await import('../../schema/migrate-test.js')
            return testMigrations(target, {
              ...(flags.from !== undefined && { from: flags.from }),
              signal,
              onEvent: (event) => logEvent(reporter, event),
            })
          },
          print: printMigrateTest,
          exitCode: (result) => (result.passed ? 0 : 1),
        })
      }),
    )
}

function outFor(out: string | undefined, target: Target, all: boolean): string | undefined {
  if (out === undefined) {
    if (all && target.resolved.schema?.file === undefined) {
      throw new UsageError(
        `--all writes one file per target, and ${target.name} has no schema.file`,
        'set schema.file (e.g. "db/{target}.sql") or pass --out "schema/{target}.sql"',
      )
    }
    return undefined
  }
  if (all && !out.includes('{target}'))
    throw new UsageError(
      'with --all, --out needs "{target}" in the path (one file per target)',
      'e.g. --out "schema/{target}.sql"',
    )
  return out.replaceAll('{target}', target.name)
}

function logEvent(reporter: Reporter, event: SchemaEvent): void {
  reporter.log(event.target, event.message)
}

function printDrift(result: SchemaDriftResult, reporter: Reporter): void {
  const { color } = reporter
  const compared = `${result.database} and its ${result.migrations.length} applied migration(s)`
  if (!result.drift) {
    reporter.result(color.green(`${result.target}: no drift between ${compared} (${result.objects.database} objects)`))
    return
  }
  reporter.result(color.red(`${result.target}: ${result.differences.length} difference(s) between ${compared}:`))
  for (const difference of result.differences) reporter.result(`  ${difference.message}`)
}

function printMigrateTest(result: TestMigrationsResult, reporter: Reporter): void {
  const { color } = reporter
  if (result.passed) {
    const once = result.appliedOnce > 0 ? `; ${result.appliedOnce} older migration(s) applied once` : ''
    reporter.result(
      color.green(
        result.untested.length > 0
          ? `${result.target}: ${result.untested.length} migration(s) applied cleanly from scratch in ${result.ranIn}; their tool has no rollbacks, so there are none to test${once}`
          : `${result.target}: every down undoes its up: ${result.tested.length} migration(s) tested in ${result.ranIn}${once}`,
      ),
    )
    return
  }
  const failure = result.failure!
  reporter.result(color.red(`${result.target}: ${failure.message}`))
  for (const difference of failure.differences.slice(1)) reporter.result(`  ${difference.message}`)
}

/**
 * `schema.dumpAfterMigrate`: after a successful `migrate up/down/redo` that changed something (or when the file is
 * missing), rewrite `schema.file`, so schema changes show in code review next to the migration (dbmate does this).
 */
export async function dumpAfterMigrate<T extends { dryRun: boolean; migrations: { status: string }[] }>(
  target: Target,
  result: T,
  reporter: Reporter,
): Promise<T & { schemaFile?: string }> {
  const settings = target.resolved.schema
  if (!settings?.dumpAfterMigrate || settings.file === undefined || result.dryRun) return result
  if (!result.migrations.some((migration) => migration.status !== 'skipped') && existsSync(settings.file)) return result
  const { dumpSchema } = await import('../../schema/dump.js')
  try {
    const dump = await dumpSchema(target, { out: settings.file })
    reporter.log(target.name, `wrote the schema to ${dump.file}`)
    return { ...result, schemaFile: dump.file! }
  } catch (error) {
    throw new DbopsError(
      'E_SCHEMA_DUMP',
      `the migrations ran, but the schema file ${settings.file} was not rewritten: ${(error as Error).message}`,
      {
        hint: 'fix the cause, then run "dbops schema dump" to write it',
        cause: error,
        ...(error instanceof DbopsError && error.details && { details: error.details }),
      },
    )
  }
}
