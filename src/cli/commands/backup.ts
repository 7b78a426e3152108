import type { Command } from 'commander'
import type { GlobalOptions } from '../context.js'
import type { Reporter } from '../../output/reporter.js'
import type { BackupEvent, CreateBackupResult } from '../../backup/create-backup.js'
import type { BackupManifest } from '../../backup/manifest.js'
import type { VerifyBackupResult } from '../../backup/verify-backup.js'
import type { PruneBackupsResult } from '../../backup/prune-backups.js'
import type { CheckBackupsResult } from '../../backup/check-backups.js'
import type { RestoreBackupResult } from '../../backup/restore-backup.js'
import type { RetentionPolicy } from '../../backup/retention.js'
import type { BackupFormat } from '../../backup/backup-engine.js'
import { exitWith } from '../exit-codes.js'
import { configFromGlobals, runTargetCommand } from '../context.js'
import { selectTargets } from '../../config/resolve-config.js'
import { parseDurationFlag, parseWholeNumber } from '../flags.js'
import { formatBytes, formatDuration, formatTarget, formatTimestamp } from '../../output/format.js'
import { formatTable } from '../../output/table.js'
import { UsageError } from '../../errors.js'
import type { CompressSetting } from '../../config/resolve-config.js'

/** The environment variable holding an age identity (kept here so `--help` loads no backup code). */
const IDENTITY_ENV = 'DBOPS_AGE_IDENTITY'

interface CreateFlags {
  format?: string
  compress?: string
  jobs?: string
  label?: string
  wait?: boolean
  metricsFile?: string
  destination?: string
}

interface PruneFlags {
  keepLast?: string
  keepHourly?: string
  keepDaily?: string
  keepWeekly?: string
  keepMonthly?: string
  keepYearly?: string
  keepWithin?: string
  dryRun?: boolean
  wait?: boolean
  destination?: string
}

export function registerBackupCommands(program: Command): void {
  const backup = program
    .command('backup')
    .description('backups that prove themselves: create, list, verify, prune, check')

  backup
    .command('create')
    .description('back up the database (pg_dump / SQLite online backup) into backup.dir, manifest written last')
    .option('--format <format>', 'PostgreSQL: custom (default), directory or plain')
    .option('--jobs <n>', 'parallel pg_dump jobs (directory format)')
    .option('--compress <algorithm>', 'plain dumps and SQLite copies: auto (default), zstd, gzip or none')
    .option('--label <text>', 'a note stored in the manifest')
    .option('--wait', 'wait for another dbops backing up the same target instead of exiting 1')
    .option('--metrics-file <path>', 'write Prometheus textfile-collector metrics (atomically) after the run')
    .option('--destination <name>', 'deliver to this one of backup.destinations only')
    .action(
      exitWith(async (flags: CreateFlags, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>()
        const metrics = metricsWriter(globals, flags.metricsFile)
        return runTargetCommand<CreateBackupResult>(globals, {
          command: 'backup create',
          create: false,
          async run(target, reporter, signal) {
            const { createBackup } = await import('../../backup/create-backup.js')
            try {
              return await createBackup(target, {
                ...(flags.format !== undefined && { format: parseFormat(flags.format) }),
                ...(flags.jobs !== undefined && { jobs: parseWholeNumber('--jobs', flags.jobs, { max: 64 }) }),
                ...(flags.compress !== undefined && { compress: parseCompress(flags.compress) }),
                ...(flags.label !== undefined && { label: flags.label }),
                wait: flags.wait === true,
                ...(flags.destination !== undefined && { destination: flags.destination }),
                signal,
                onEvent: (event) => reportBackupEvent(reporter, event),
              })
            } finally {
              await metrics()
            }
          },
          print: (result, reporter, target) => {
            const { backup: manifest } = result
            const tables = manifest.rowCounts ? `, ${Object.keys(manifest.rowCounts).length} tables` : ''
            const arrived = result.destinations.filter((entry) => entry.ok)
            const where =
              result.destinations.length === 1 && result.destinations[0]!.name === 'default'
                ? `, stored in ${result.destinations[0]!.location}`
                : `, stored in ${arrived.map((entry) => `${entry.name} (${entry.location})`).join(', ')}`
            reporter.result(
              reporter.color.green(
                `${formatTarget(target)}: backup ${manifest.id} (${[manifest.format, ...describeSealing(manifest)].join(', ')}, ${formatBytes(manifest.sizeBytes)}${tables}) in ${formatDuration(manifest.durationMs)}${where}`,
              ),
            )
            for (const entry of result.destinations.filter((destination) => !destination.ok))
              reporter.result(
                reporter.color.red(
                  `${formatTarget(target)}: backup ${manifest.id} did NOT arrive in ${entry.name} (${entry.location}): ${entry.error!.message}`,
                ),
              )
          },
          // Complete where it arrived, missing in a destination: "no", not a failure of the whole run.
          exitCode: (result) => (result.destinations.every((entry) => entry.ok) ? 0 : 1),
        })
      }),
    )

  backup
    .command('list')
    .description('complete backups of the target, oldest first')
    .option('--destination <name>', 'list this one of backup.destinations (default: the first)')
    .action(
      exitWith(async (flags: { destination?: string }, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>()
        return runTargetCommand<{
          target: string
          database: string
          destination: string
          dir: string
          backups: BackupManifest[]
          otherDatabases: number
          older: { dir: string; ids: string[] } | null
        }>(globals, {
          command: 'backup list',
          create: false,
          readOnly: true,
          async run(target) {
            const { targetBackups } = await import('../../backup/ownership.js')
            const { identity, dir, backups, otherDatabases, older, destination } = await targetBackups(target, {
              ...(flags.destination !== undefined && { destination: flags.destination }),
            })
            return {
              target: target.name,
              database: identity.display,
              destination: destination.name,
              dir,
              backups,
              otherDatabases,
              older,
            }
          },
          print: (result, reporter, target) => {
            const others = [
              ...(result.otherDatabases > 0
                ? [`${result.otherDatabases} backup(s) of other databases in the folder not shown`]
                : []),
              ...(result.older ? [`${result.older.ids.length} older one(s) from ${result.older.dir} included`] : []),
            ]
              .map((note) => ` (${note})`)
              .join('')
            if (result.backups.length === 0) {
              reporter.result(`${formatTarget(target)}: no backups in ${result.dir}${others}`)
              return
            }
            reporter.result(`${formatTarget(target)}: ${result.backups.length} backup(s) in ${result.dir}${others}`)
            const rows = result.backups.map((manifest) => [
              manifest.id,
              formatTimestamp(manifest.finishedAt),
              formatBytes(manifest.sizeBytes),
              manifest.format,
              manifest.migrationVersion ?? '-',
              manifest.verifyFailure
                ? reporter.color.red(`FAILED ${manifest.verifyFailure.at.slice(0, 10)}`)
                : manifest.verifiedAt
                  ? reporter.color.green(`${manifest.verifiedBy} ${manifest.verifiedAt.slice(0, 10)}`)
                  : reporter.color.yellow('no'),
              manifest.label ?? '',
            ])
            reporter.result(formatTable(['ID', 'FINISHED', 'SIZE', 'FORMAT', 'MIGRATION', 'VERIFIED', 'LABEL'], rows))
          },
        })
      }),
    )

  backup
    .command('verify')
    .description('prove a backup: sha256 and a full read; --restore restores into a scratch database and compares')
    .argument('[id]', 'the backup (default: the newest)')
    .option('--latest', 'the newest backup')
    .option('--restore', 'restore into a temporary database and compare row counts and the migration version')
    .option('--jobs <n>', 'parallel pg_restore jobs for --restore')
    .option('--identity <file>', `age identity file for encrypted backups (default: the ${IDENTITY_ENV} variable)`)
    .option('--wait', 'wait for a prune or create working on the backup folder instead of exiting 1')
    .option('--destination <name>', 'verify the copy in this one of backup.destinations (default: the first)')
    .action(
      exitWith(
        async (
          id: string | undefined,
          flags: {
            latest?: boolean
            restore?: boolean
            jobs?: string
            identity?: string
            wait?: boolean
            destination?: string
          },
          command: Command,
        ) => {
          const globals = command.optsWithGlobals<GlobalOptions>()
          return runTargetCommand<VerifyBackupResult>(globals, {
            command: 'backup verify',
            create: false,
            readOnly: true,
            async run(target, reporter, signal) {
              const { verifyBackup } = await import('../../backup/verify-backup.js')
              return verifyBackup(target, {
                ...(id !== undefined && { id }),
                latest: flags.latest === true,
                restore: flags.restore === true,
                identities: await identitiesFrom(flags.identity),
                ...(flags.jobs !== undefined && { jobs: parseWholeNumber('--jobs', flags.jobs, { max: 64 }) }),
                wait: flags.wait === true,
                ...(flags.destination !== undefined && { destination: flags.destination }),
                signal,
                // Steps spin on a terminal; in cron logs only the result (or the one error line) appears.
                onEvent: (event) => reporter.begin(event.target, event.message),
              })
            },
            print: (result, reporter, target) => {
              reporter.result(
                reporter.color.green(
                  `${formatTarget(target)}: backup ${result.id} verified (${result.verifiedBy}): ${result.tables} tables, ${result.rows} rows`,
                ),
              )
              for (const check of result.checks) reporter.result(`  ${check}`)
              for (const warning of result.warnings) reporter.log(result.target, `warning: ${warning}`)
            },
          })
        },
      ),
    )

  const keep = (flag: string, what: string) => [`${flag} <n>`, `keep the ${what} ("unlimited" for all)`] as const
  backup
    .command('prune')
    .description(
      "delete backups outside the retention policy (restic's forget rules; default policy: backup.retention)",
    )
    .option(...keep('--keep-last', 'n newest backups'))
    .option(...keep('--keep-hourly', 'newest backup of each of the last n hours that have one'))
    .option(...keep('--keep-daily', 'newest backup of each of the last n days that have one'))
    .option(...keep('--keep-weekly', 'newest backup of each of the last n ISO weeks that have one'))
    .option(...keep('--keep-monthly', 'newest backup of each of the last n months that have one'))
    .option(...keep('--keep-yearly', 'newest backup of each of the last n years that have one'))
    .option('--keep-within <duration>', 'keep every backup newer than the newest one minus this, e.g. 7d')
    .option('--dry-run', 'print what would be kept (and why) and removed; delete nothing')
    .option('--wait', 'wait for another dbops working on the backup folder instead of exiting 1')
    .option('--destination <name>', 'prune this one of backup.destinations only (default: each, with its own keep)')
    .action(
      exitWith(async (flags: PruneFlags, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>()
        return runTargetCommand<PruneBackupsResult>(globals, {
          command: 'backup prune',
          create: false,
          async run(target, _reporter, signal) {
            const { pruneBackups } = await import('../../backup/prune-backups.js')
            const policy = policyFromFlags(flags)
            return pruneBackups(target, {
              ...(policy && { policy }),
              dryRun: flags.dryRun === true,
              wait: flags.wait === true,
              ...(flags.destination !== undefined && { destination: flags.destination }),
              signal,
            })
          },
          print: (result, reporter, target) => {
            const { color } = reporter
            const named = result.destinations.length > 1 || result.destinations[0]?.name !== 'default'
            const from = (entry: { destination: string }) => (named ? `  ${color.dim(`(${entry.destination})`)}` : '')
            for (const entry of result.kept)
              reporter.result(
                `${color.green('keep')}    ${entry.id}  ${color.dim(entry.reasons.join(', '))}${from(entry)}`,
              )
            for (const entry of result.removed)
              reporter.result(`${color.red(result.dryRun ? 'would remove' : 'remove')}  ${entry.id}${from(entry)}`)
            const verb = result.dryRun ? 'would remove' : 'removed'
            reporter.result(
              `${formatTarget(target)}: kept ${result.kept.length}, ${verb} ${result.removed.length} backup(s) (${formatBytes(result.freedBytes)})`,
            )
          },
        })
      }),
    )

  backup
    .command('check')
    .description('monitoring: exit 0 when the newest backup is fresh, 1 on a warning, 2 when too old or missing')
    .option('--max-age <duration>', 'newest backup older than this is critical', '26h')
    .option('--min-size <size>', 'newest backup smaller than this is a warning, e.g. 1MB')
    .option('--metrics-file <path>', 'also write Prometheus textfile-collector metrics (atomically)')
    .option('--destination <name>', 'check this one of backup.destinations only (default: each)')
    .action(
      exitWith(
        async (
          flags: { maxAge: string; minSize?: string; metricsFile?: string; destination?: string },
          command: Command,
        ) => {
          const globals = command.optsWithGlobals<GlobalOptions>()
          const metrics = metricsWriter(globals, flags.metricsFile)
          return runTargetCommand<CheckBackupsResult>(globals, {
            command: 'backup check',
            create: false,
            readOnly: true,
            async run(target) {
              const { checkBackups, parseSize } = await import('../../backup/check-backups.js')
              const maxAgeMs = parseDurationFlag('--max-age', flags.maxAge)
              const minSizeBytes =
                flags.minSize === undefined ? undefined : usage(() => parseSize(flags.minSize!, '--min-size'))
              await metrics()
              return await checkBackups(target, {
                maxAgeMs,
                ...(minSizeBytes !== undefined && { minSizeBytes }),
                ...(flags.destination !== undefined && { destination: flags.destination }),
              })
            },
            print: (result, reporter, target) => {
              const paint = {
                ok: reporter.color.green,
                warn: reporter.color.yellow,
                critical: reporter.color.red,
                unknown: reporter.color.yellow,
              }
              for (const finding of result.findings)
                reporter.result(
                  `${paint[finding.severity](finding.severity.toUpperCase().padEnd(8))} ${formatTarget(target)}: ${finding.message}`,
                )
            },
            exitCode: (result) => (result.status === 'ok' ? 0 : result.status === 'critical' ? 2 : 1),
          })
        },
      ),
    )

  program
    .command('restore')
    .description('restore a backup (id or path) into the target; refuses a non-empty database without --clean/--force')
    .argument('[backup]', 'a backup id (see "dbops backup list") or the path of a backup or its manifest')
    .option(
      '--latest',
      "the newest backup of the target's database (with --from: of that database) not failed by verify",
    )
    .option('--clean', "drop the backup's objects before restoring them (pg_restore --clean --if-exists)")
    .option('--jobs <n>', 'parallel pg_restore jobs (custom and directory formats)')
    .option(
      '--force',
      'restore into a protected target, over existing objects, or (SQLite) while the file is open elsewhere',
    )
    .option('--no-owner', 'do not restore ownership and privileges (for a server without the same roles)')
    .option(
      '--from <target|url>',
      'the database the backup was taken from, when restoring it into another one (e.g. prod into staging)',
    )
    .option('--allow-other-database', 'restore a backup of another database without naming it in --from')
    .option('--identity <file>', `age identity file for an encrypted backup (default: the ${IDENTITY_ENV} variable)`)
    .option(
      '--from-destination <name>',
      'read the backup from this one of backup.destinations (default: the first that holds it)',
    )
    .action(
      exitWith(
        async (
          source: string | undefined,
          flags: {
            latest?: boolean
            clean?: boolean
            jobs?: string
            force?: boolean
            owner?: boolean
            from?: string
            allowOtherDatabase?: boolean
            identity?: string
            fromDestination?: string
          },
          command: Command,
        ) => {
          const globals = command.optsWithGlobals<GlobalOptions>()
          if ((source === undefined) === (flags.latest !== true))
            throw new UsageError(
              source === undefined ? 'restore: which backup?' : `restore: give ${source} or --latest, not both`,
              'give a backup id (see "dbops backup list"), the path of a backup, or --latest',
            )
          return runTargetCommand<RestoreBackupResult>(globals, {
            command: 'restore',
            create: false,
            async run(target, reporter, signal) {
              const { LATEST, restoreBackup } = await import('../../backup/restore-backup.js')
              return restoreBackup(target, source ?? LATEST, {
                clean: flags.clean === true,
                force: flags.force === true,
                noOwner: flags.owner === false,
                ...(flags.jobs !== undefined && { jobs: parseWholeNumber('--jobs', flags.jobs, { max: 64 }) }),
                ...(flags.from !== undefined && { from: flags.from }),
                allowOtherDatabase: flags.allowOtherDatabase === true,
                identities: await identitiesFrom(flags.identity),
                ...(flags.fromDestination !== undefined && { fromDestination: flags.fromDestination }),
                // --url replaces the selected target's URL; --from names a target as configured, untouched by it
                // (restore --url <staging copy> --from prod restores prod's backups into the copy).
                config: await configFromGlobals(flags.from === undefined ? globals : withoutUrl(globals)),
                signal,
                // Steps spin on a terminal; in cron logs only the result (or the one error line) appears.
                onEvent: (event) => reporter.begin(event.target, event.message),
              })
            },
            print: (result, reporter, target) =>
              reporter.result(
                reporter.color.green(
                  `${formatTarget(target)}: restored ${result.id} of ${result.source} (${result.tables === null ? '' : `${result.tables} tables, `}migration ${result.migrationVersion ?? 'none'}) with ${result.method} in ${formatDuration(result.durationMs)}${result.analyzed ? ', analyzed' : ''}`,
                ),
              ),
          })
        },
      ),
    )
}

function withoutUrl({ url: _url, ...globals }: GlobalOptions): GlobalOptions {
  return globals
}

/** Writes the metrics of every selected target; one write at a time, so the last one sees every finished backup. */
function metricsWriter(globals: GlobalOptions, path: string | undefined): () => Promise<void> {
  let chain = Promise.resolve()
  return () => {
    if (path === undefined) return chain
    chain = chain.then(async () => {
      const { writeBackupMetrics } = await import('../../backup/backup-metrics.js')
      const config = await configFromGlobals(globals)
      const targets = selectTargets(config, {
        ...(globals.target !== undefined && { target: globals.target }),
        ...(globals.all !== undefined && { all: globals.all }),
      })
      await writeBackupMetrics(
        path,
        targets.map((target) => ({ name: target.name, engine: target.location.engine, backup: target.backup })),
      )
    })
    return chain
  }
}

function reportBackupEvent(reporter: Reporter, event: BackupEvent): void {
  switch (event.type) {
    case 'start':
      reporter.begin(event.target, `backing up ${event.target} (${event.format}) as ${event.id} ...`)
      if (!reporter.interactive)
        reporter.log(event.target, `backing up ${event.target} (${event.format}) as ${event.id} ...`)
      break
    case 'progress':
      reporter.update(
        event.target,
        `backing up ${event.target}: ${formatBytes(event.bytes)} written, ${formatDuration(event.elapsedMs)}`,
      )
      break
    case 'done':
      reporter.finish(
        event.target,
        `backup ${event.manifest.id} ... done: ${formatBytes(event.manifest.sizeBytes)} in ${formatDuration(event.manifest.durationMs)}`,
      )
      break
    case 'lock-wait':
      reporter.log(
        event.target,
        `waiting for dbops pid ${event.holder.pid} on ${event.holder.host} ("${event.holder.command}", since ${formatTimestamp(event.holder.startedAt)}) to finish`,
      )
      break
    case 'delivery-failed':
      reporter.log(event.target, `destination ${event.destination} failed: ${event.message}`)
      break
    case 'cleaned':
      reporter.log(
        event.target,
        `removed ${event.names.length} leftover(s) of an interrupted backup: ${event.names.join(', ')}`,
      )
      break
  }
}

function policyFromFlags(flags: PruneFlags): RetentionPolicy | undefined {
  const policy: RetentionPolicy = {}
  const counts = [
    ['keepLast', '--keep-last'],
    ['keepHourly', '--keep-hourly'],
    ['keepDaily', '--keep-daily'],
    ['keepWeekly', '--keep-weekly'],
    ['keepMonthly', '--keep-monthly'],
    ['keepYearly', '--keep-yearly'],
  ] as const
  for (const [key, flag] of counts) {
    const value = flags[key]
    if (value === undefined) continue
    policy[key] = parseWholeNumber(flag, value, { min: 0, word: 'unlimited', wordValue: -1 })
  }
  if (flags.keepWithin !== undefined) policy.keepWithinMs = parseDurationFlag('--keep-within', flags.keepWithin)
  return Object.keys(policy).length > 0 ? policy : undefined
}

function parseCompress(value: string): CompressSetting {
  if (value === 'auto' || value === 'zstd' || value === 'gzip' || value === 'none') return value
  throw new UsageError(`--compress takes auto, zstd, gzip or none, not "${value}"`)
}

/** "zstd 4.2x", "age-encrypted": what was done to the stored artifact, for the result line. */
function describeSealing(manifest: BackupManifest): string[] {
  return [
    ...(manifest.compression ? [`${manifest.compression.algorithm} ${manifest.compression.ratio}x`] : []),
    ...(manifest.encryption ? ['age-encrypted'] : []),
  ]
}

/**
 * The private identities for restore and verify. The environment variable is read once and then removed from this
 * process, so no child program (pg_restore, psql, zstd) inherits the key.
 */
function identitiesFrom(file: string | undefined): Promise<string[]> {
  // Once per process: with --all every target gets the same keys.
  loadedIdentities ??= import('../../backup/artifact-transform.js').then(async ({ loadIdentities }) => {
    const identities = await loadIdentities(file)
    delete process.env[IDENTITY_ENV]
    return identities
  })
  return loadedIdentities
}
let loadedIdentities: Promise<string[]> | undefined

function parseFormat(value: string): BackupFormat {
  if (value === 'custom' || value === 'directory' || value === 'plain' || value === 'sqlite') return value
  throw new UsageError(`--format takes custom, directory or plain, not "${value}"`)
}

function usage<T>(parse: () => T): T {
  try {
    return parse()
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
}
