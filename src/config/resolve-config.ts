import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { ConfigError, DbopsError, UsageError } from '../errors.js'
import {
  databaseFolderName,
  describeDatabase,
  parseDatabaseUrl,
  redactUrl,
  type DatabaseLocation,
} from './database-url.js'
import { parseDuration } from './duration.js'
import { interpolateEnv } from './interpolate.js'
import { loadConfig } from './load-config.js'
import { registerSecretsFromUrl } from '../output/redact.js'
import { loadEnvFile } from './env-file.js'
import type { RetentionConfig } from './define-config.js'
import { parseValue } from '../health/checks.js'
import { recipientProblems } from '../backup/recipients.js'
import { isS3Url, type S3Options } from '../storage/s3-location.js'

export interface ResolvedMigrations {
  /** Absolute. */
  dir: string
  table: string
  /** PostgreSQL only; SQLite ignores it. */
  schema: string
  lockTimeoutMs: number
  /** 0 = none. */
  statementTimeoutMs: number
  lockWaitTimeoutMs: number
  allowOutOfOrder: boolean
  ignoreOtherLedgers: boolean
}

/** Seeding (`dbops seed`): where seed files live and how they map to tables. */
export interface ResolvedSeeds {
  /** Absolute. */
  dir: string
  /** The table recording applied seeds and their checksums. */
  table: string
  /** Environment name → subfolders of `dir` or file names/globs relative to `dir` (`--env`). */
  environments: Record<string, string[]>
  /** Seed file name (without folder) → table it loads, for data files whose name is not the table's. */
  tables: Record<string, string>
}

/** Retention rules (restic's `forget` semantics) as configured, with keepWithin in milliseconds; unset rules are absent. */
export type ResolvedRetention = Omit<RetentionConfig, 'keepWithin'> & { keepWithinMs?: number }

/** Backups (`dbops backup`). */
export interface ResolvedBackup {
  /**
   * Absolute folder or `s3://bucket/prefix`: where this target's backups go, default `<baseDir>/backups/<target>`.
   * With destinations, the first destination's.
   */
  dir: string
  /** How to reach the bucket of an `s3://` dir. */
  s3?: S3Options
  /** Where each backup is delivered (`backup.destinations`); absent: `dir` alone, as destination `default`. */
  destinations?: ResolvedDestination[]
  format?: 'custom' | 'directory' | 'plain'
  jobs?: number
  retention: ResolvedRetention
  /** Public age keys every new backup is encrypted for; absent: backups are not encrypted. */
  encrypt?: { recipients: string[] }
  /** Compression of plain dumps and SQLite copies (default `auto`, applied by `backup create`). */
  compress?: CompressSetting
  compressLevel?: number
}

export type CompressSetting = 'auto' | 'zstd' | 'gzip' | 'none'
export interface ResolvedDestination {
  name: string
  /** Absolute folder or `s3://bucket/prefix`. */
  dir: string
  s3?: S3Options
  retention: ResolvedRetention
}

/** A threshold pair as written in config: numbers, or strings such as "80%", "5m", "10GB" (the check parses them). */
export interface ThresholdSetting {
  warn?: number | string
  critical?: number | string
}

/** Health checks and audits (`dbops health`, `dbops audit`). */
export interface ResolvedHealth {
  /** Check name → thresholds, overriding the check's defaults. */
  thresholds: Record<string, ThresholdSetting>
}

/** `dbops migrate lint` and the lint before `migrate up`. */
export interface ResolvedLint {
  /** Rule id → off | info | warn | error. */
  rules: Record<string, 'off' | 'info' | 'warn' | 'error'>
  smallTableBytes?: number
  largeTableBytes?: number
  /** Lint the pending migrations before `migrate up` runs them (default true). */
  beforeUp: boolean
}

/** `dbops schema` and `dbops migrate test`. */
export interface ResolvedSchema {
  /** Absolute: where `schema dump` writes (and `migrate` rewrites, with dumpAfterMigrate); unset: stdout. */
  file?: string
  /** Rewrite `file` after every successful `migrate up/down/redo`. */
  dumpAfterMigrate: boolean
  /** Object names or globs that `schema drift` leaves out (managed elsewhere). */
  ignore: string[]
}

export interface ResolvedTarget {
  name: string
  /** Interpolated and secret: pass it to the driver, print `redactedUrl`. */
  url: string
  redactedUrl: string
  /** The database as output names it: the redacted URL, or the SQLite file's absolute path. */
  database: string
  location: DatabaseLocation
  migrations: ResolvedMigrations
  protected: boolean
  seeds: ResolvedSeeds
  backup: ResolvedBackup
  health: ResolvedHealth
  /** Present when the config has a `lint` section (top level or the target's). */
  lint?: ResolvedLint
  /** Absent when the config has no `schema` section. */
  schema?: ResolvedSchema
}

export interface ResolvedConfig {
  /** Where the targets came from: a config file, the --url flag, DATABASE_URL, or the built-in `sqlite:./dev.db`. */
  source: 'file' | 'url-flag' | 'env' | 'default'
  file?: string
  /** The dotenv file read (envFile) and the variables it set, when it set any. */
  envFile?: { path: string; names: string[] }
  /** Relative paths (migrations dir, SQLite files) are resolved against this: the config file's directory, or cwd. */
  baseDir: string
  /** Undefined when there are several targets and the config names none: then -t or --all must pick. */
  defaultTarget: string | undefined
  /** In config order. */
  targets: Record<string, ResolvedTarget>
  /**
   * Targets whose URL names an environment variable that is not set, with the problems. They are only an error when
   * selected: a developer without PROD_DATABASE_URL can still work on the dev target.
   */
  unresolved: Record<string, string[]>
  /** The target whose URL `url` (--url) replaced: the only one a command may then select. */
  urlTarget?: string
}

export interface ResolveOptions {
  /** Default `process.cwd()`. */
  cwd?: string
  /** The --config flag. */
  configPath?: string
  /** The --url flag: replaces the URL of `target` (default: the default target), keeping its other settings. */
  url?: string
  /** The target `url` applies to (-t); its name is checked when it is selected. */
  target?: string
  /** Default `process.env`. */
  env?: NodeJS.ProcessEnv
  /**
   * A dotenv file whose variables fill the unset ones of `env` before anything reads it: true for `.env` beside the
   * config file (or in cwd without one), if there is one; a path, which must exist. The CLI passes true.
   */
  envFile?: true | string
}

const DEFAULT_URL = 'sqlite:./dev.db'
const DEFAULT_TARGET = 'default'
const TARGET_NAME = /^[A-Za-z0-9_.-]+$/
const SECTIONS = ['migrations', 'seeds', 'backup', 'health', 'lint', 'schema']
const TOP_KEYS = ['defaultTarget', 'targets', ...SECTIONS]
const TARGET_KEYS = ['url', 'protected', ...SECTIONS]
const SEEDS_KEYS = ['dir', 'table', 'environments', 'tables']
const BACKUP_KEYS = ['dir', 'format', 'jobs', 'retention', 's3', 'destinations', 'encrypt', 'compress', 'compressLevel']
const COMPRESS_SETTINGS = ['auto', 'zstd', 'gzip', 'none'] as const
const S3_KEYS = ['endpoint', 'region', 'forcePathStyle']
const DESTINATION_KEYS = ['name', 'dir', 's3', 'keep']
const RETENTION_KEYS = ['keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly', 'keepWithin']
const HEALTH_KEYS = ['thresholds']
const LINT_KEYS = ['rules', 'smallTable', 'largeTable', 'beforeUp']
const LINT_SETTINGS = ['off', 'info', 'warn', 'error']
const SCHEMA_KEYS = ['file', 'dumpAfterMigrate', 'ignore']
const BACKUP_FORMATS = ['custom', 'directory', 'plain'] as const
const MIGRATIONS_KEYS = [
  'dir',
  'table',
  'schema',
  'lockTimeout',
  'statementTimeout',
  'lockWaitTimeout',
  'allowOutOfOrder',
  'ignoreOtherLedgers',
]
/**
 * `migrations`, or in a project without that folder dbmate's default `db/migrations` or Prisma's `prisma/migrations`,
 * whichever it has.
 */
function defaultMigrationsDir(baseDir: string): string {
  if (existsSync(join(baseDir, 'migrations'))) return 'migrations'
  return (
    [join('db', 'migrations'), join('prisma', 'migrations')].find((dir) => existsSync(join(baseDir, dir))) ??
    'migrations'
  )
}

const MIGRATIONS_DEFAULTS: ResolvedMigrations = {
  dir: 'migrations',
  table: 'dbops_migrations',
  schema: 'public',
  lockTimeoutMs: 5_000,
  statementTimeoutMs: 0,
  lockWaitTimeoutMs: 60_000,
  allowOutOfOrder: false,
  ignoreOtherLedgers: false,
}

/**
 * The one way the rest of dbops gets its configuration. Precedence: flags > environment > config file > defaults.
 *
 * - With a config file that has `targets`: those targets. `url` (--url) replaces the URL of `target` (default: the
 *   default target) and keeps its other settings, protection included; DATABASE_URL is not consulted (write
 *   `url: '${DATABASE_URL}'` to use it). `selectTargets` then refuses --all and any other target.
 * - Otherwise (no file, or a file without `targets`): one target named `default` whose URL is `url`, else
 *   DATABASE_URL, else `sqlite:./dev.db`; a file's `migrations` still apply to it.
 *
 * Strings in the config file may use `${VAR}` and `${VAR:-default}`. Relative paths are resolved against the config
 * file's directory (or cwd without a file), wherever the URL came from, so a command behaves the same from any
 * subdirectory of the project. Every problem is reported at once in one ConfigError; no message contains a password.
 */
export async function resolveConfig(options: ResolveOptions = {}): Promise<ResolvedConfig> {
  const cwd = resolve(options.cwd ?? process.cwd())
  const env = options.env ?? process.env
  // Registered before anything can fail, so no message about these URLs can show their passwords.
  registerSecretsFromUrl(options.url)
  registerSecretsFromUrl(env.DATABASE_URL)
  const loaded = await loadConfig(options.configPath === undefined ? { cwd } : { cwd, configPath: options.configPath })
  const baseDir = loaded ? dirname(loaded.file) : cwd
  const envFile = options.envFile === undefined ? undefined : loadEnvFile(env, options.envFile, baseDir, cwd)
  if (envFile?.names.includes('DATABASE_URL')) registerSecretsFromUrl(env.DATABASE_URL)
  const problems: string[] = []
  const read = new Reader(env, problems)

  const root = loaded ? read.object(loaded.config, '', TOP_KEYS) : {}
  const topMigrations = read.migrations(root?.migrations, 'migrations')
  const topSeeds = read.seeds(root?.seeds, 'seeds')
  const topBackup = read.backup(root?.backup, 'backup')
  const topHealth = read.health(root?.health, 'health')
  const topLint = read.lint(root?.lint, 'lint')
  const topSchema = read.schema(root?.schema, 'schema')
  const requestedDefault = read.string(root?.defaultTarget, 'defaultTarget')

  // Target entries as written, before their URLs are read: the default target must be known first, because --url
  // replaces its URL (and an unset variable in the replaced URL must not be an error).
  const entries: { name: string; path: string; raw: Record<string, unknown> | undefined }[] = []
  const hasFileTargets = root?.targets !== undefined
  const fileTargets = hasFileTargets ? read.object(root?.targets, 'targets', null) : undefined
  if (fileTargets) {
    for (const [name, raw] of Object.entries(fileTargets)) {
      const path = `targets${TARGET_NAME.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`}`
      if (!TARGET_NAME.test(name)) problems.push(`${path}: target names may only use letters, digits, "_", "." and "-"`)
      entries.push({ name, path, raw: read.object(raw, path, TARGET_KEYS) })
    }
    if (entries.length === 0) {
      problems.push('targets: no targets (add one, or leave "targets" out to use --url or DATABASE_URL)')
    }
  }

  let source: ResolvedConfig['source'] = 'file'
  let fallbackUrl: { url: string; path: string } | undefined
  if (!hasFileTargets) {
    const envUrl = env.DATABASE_URL === '' ? undefined : env.DATABASE_URL
    if (options.url !== undefined) fallbackUrl = { url: options.url, path: '--url' }
    else if (envUrl !== undefined) fallbackUrl = { url: envUrl, path: 'DATABASE_URL' }
    else fallbackUrl = { url: DEFAULT_URL, path: 'the default URL' }
    if (!loaded) source = options.url !== undefined ? 'url-flag' : envUrl !== undefined ? 'env' : 'default'
    entries.push({ name: DEFAULT_TARGET, path: `targets.${DEFAULT_TARGET}`, raw: {} })
  }

  const names = entries.map((entry) => entry.name)
  let defaultTarget: string | undefined
  if (requestedDefault !== undefined) {
    if (names.includes(requestedDefault)) defaultTarget = requestedDefault
    else problems.push(`defaultTarget: unknown target "${requestedDefault}" (known: ${names.join(', ') || 'none'})`)
  } else if (names.length === 1) {
    defaultTarget = names[0]
  }

  const targets: Record<string, ResolvedTarget> = {}
  const unresolved: Record<string, string[]> = {}
  const urlTarget = options.url === undefined ? undefined : (options.target ?? defaultTarget)
  for (const { name, path, raw } of entries) {
    let url: { url: string; path: string } | undefined = fallbackUrl
    if (hasFileTargets && name === urlTarget && options.url !== undefined) url = { url: options.url, path: '--url' }
    if (!url && raw) {
      const urlProblems: string[] = []
      const value = new Reader(env, urlProblems).string(raw.url, `${path}.url`)
      if (urlProblems.length > 0 && urlProblems.every((problem) => problem.includes('is not set')))
        unresolved[name] = urlProblems
      else problems.push(...urlProblems)
      if (value !== undefined) url = { url: value, path: `${path}.url` }
      else if (raw.url === undefined) problems.push(`${path}.url: required (e.g. postgres://user@localhost:5432/app)`)
    }
    const own = read.migrations(raw?.migrations, `${path}.migrations`)
    const ownSeeds = read.seeds(raw?.seeds, `${path}.seeds`)
    const ownBackup = read.backup(raw?.backup, `${path}.backup`)
    const ownHealth = read.health(raw?.health, `${path}.health`)
    const ownLint = read.lint(raw?.lint, `${path}.lint`)
    const ownSchema = read.schema(raw?.schema, `${path}.schema`)
    if (
      (ownSchema.dumpAfterMigrate ?? topSchema.dumpAfterMigrate) &&
      (ownSchema.file ?? topSchema.file) === undefined
    ) {
      problems.push(
        `${raw?.schema ? `${path}.schema` : 'schema'}.dumpAfterMigrate: needs schema.file (where to write the dump, e.g. 'db/schema.sql')`,
      )
    }
    const isProtected = read.boolean(raw?.protected, `${path}.protected`)

    let location: DatabaseLocation | undefined
    if (url) {
      registerSecretsFromUrl(url.url)
      try {
        location = parseDatabaseUrl(url.url, baseDir)
      } catch (error) {
        // A URL given on the command line or in the environment is not the config file's fault: say where it came from.
        if (url.path === '--url' || url.path === 'DATABASE_URL') throw badUrl(url.path, url.url, error)
        problems.push(`${url.path}: ${(error as Error).message}`)
      }
    }
    if (!url || !location) continue
    const migrations: ResolvedMigrations = {
      ...MIGRATIONS_DEFAULTS,
      ...topMigrations,
      ...own,
      dir: own.dir ?? topMigrations.dir ?? defaultMigrationsDir(baseDir),
    }
    targets[name] = {
      name,
      url: url.url,
      redactedUrl: redactUrl(url.url),
      database: describeDatabase(location, url.url),
      location,
      migrations: { ...migrations, dir: resolve(baseDir, migrations.dir) },
      protected: isProtected ?? false,
      seeds: {
        dir: resolve(baseDir, ownSeeds.dir ?? topSeeds.dir ?? 'fixtures'),
        table: ownSeeds.table ?? topSeeds.table ?? 'dbops_seeds',
        environments: { ...topSeeds.environments, ...ownSeeds.environments },
        tables: { ...topSeeds.tables, ...ownSeeds.tables },
      },
      backup: {
        ...resolveDestinations(
          ownBackup,
          topBackup,
          baseDir,
          // A shared top-level dir still keeps each target's backups apart.
          // Without targets in a file every URL is "default": its folder is named after the database instead.
          hasFileTargets ? name : databaseFolderName(location),
        ),
        ...(topBackup.format !== undefined && { format: topBackup.format }),
        ...(ownBackup.format !== undefined && { format: ownBackup.format }),
        ...(topBackup.jobs !== undefined && { jobs: topBackup.jobs }),
        ...(ownBackup.jobs !== undefined && { jobs: ownBackup.jobs }),
        retention: ownBackup.retention ?? topBackup.retention ?? {},
        ...((ownBackup.encrypt ?? topBackup.encrypt) && { encrypt: (ownBackup.encrypt ?? topBackup.encrypt)! }),
        ...((ownBackup.compress ?? topBackup.compress) && { compress: (ownBackup.compress ?? topBackup.compress)! }),
        ...((ownBackup.compressLevel ?? topBackup.compressLevel) !== undefined && {
          compressLevel: (ownBackup.compressLevel ?? topBackup.compressLevel)!,
        }),
      },
      health: { thresholds: { ...topHealth.thresholds, ...ownHealth.thresholds } },
      ...((topLint || ownLint) && {
        lint: {
          ...topLint,
          ...ownLint,
          rules: { ...topLint?.rules, ...ownLint?.rules },
          beforeUp: ownLint?.beforeUp ?? topLint?.beforeUp ?? true,
        },
      }),
      // Only when configured: targets without a schema section read as before.
      ...(Object.keys(topSchema).length + Object.keys(ownSchema).length > 0 && {
        schema: {
          ...((ownSchema.file ?? topSchema.file) !== undefined && {
            file: resolve(baseDir, (ownSchema.file ?? topSchema.file)!.replaceAll('{target}', name)),
          }),
          dumpAfterMigrate: ownSchema.dumpAfterMigrate ?? topSchema.dumpAfterMigrate ?? false,
          ignore: [...(topSchema.ignore ?? []), ...(ownSchema.ignore ?? [])],
        },
      }),
    }
  }

  if (problems.length > 0) {
    throw new ConfigError([...problems, ...Object.values(unresolved).flat()], loaded ? { file: loaded.file } : {})
  }
  return {
    source,
    ...(loaded ? { file: loaded.file } : {}),
    ...(envFile && envFile.names.length > 0 && { envFile }),
    baseDir,
    defaultTarget,
    targets,
    unresolved,
    ...(urlTarget !== undefined && { urlTarget }),
  }
}

function badUrl(source: '--url' | 'DATABASE_URL', url: string, error: unknown): DbopsError {
  const message = `${source} ${JSON.stringify(redactUrl(url))}: ${(error as Error).message}`
  const examples = 'postgres://user@localhost:5432/app or sqlite:./dev.db'
  return source === '--url'
    ? new UsageError(message, `pass a database URL, e.g. --url ${examples}`)
    : new ConfigError([message], { hint: `set DATABASE_URL to a database URL (e.g. ${examples}), or unset it` })
}

/**
 * The targets a command runs on: `target` picks one, `all` picks every target in config order, neither picks the
 * default target.
 */
export function selectTargets(
  config: ResolvedConfig,
  selection: { target?: string | undefined; all?: boolean | undefined },
): ResolvedTarget[] {
  const unresolved = config.unresolved ?? {}
  const known = [...Object.keys(config.targets), ...Object.keys(unresolved)]
  if (selection.target !== undefined && selection.all) {
    throw new UsageError('--target and --all cannot be used together', 'pass one of them')
  }
  if (config.urlTarget !== undefined) {
    if (selection.all) {
      throw new UsageError(
        '--url names one database and cannot be used with --all',
        'drop --url to run on every configured target, or pick one with -t <name> --url <url>',
      )
    }
    const name = selection.target ?? config.defaultTarget
    if (name !== undefined && name !== config.urlTarget && (config.targets[name] || unresolved[name])) {
      throw new UsageError(
        `--url was applied to target "${config.urlTarget}", not to the selected target "${name}"`,
        'resolve the config with the same target you select',
      )
    }
  }
  if (selection.all) {
    const problems = Object.values(unresolved).flat()
    if (problems.length > 0) throw new ConfigError(problems, config.file ? { file: config.file } : {})
    return Object.values(config.targets)
  }
  const name = selection.target ?? config.defaultTarget
  if (name === undefined) {
    throw new ConfigError(
      [`defaultTarget: required to run without --target or --all when there are several targets (${known.join(', ')})`],
      {
        ...(config.file && { file: config.file }),
        hint: 'set defaultTarget in the config, or pass --target <name> or --all',
      },
    )
  }
  if (unresolved[name]) throw new ConfigError(unresolved[name], config.file ? { file: config.file } : {})
  const target = config.targets[name]
  if (!target) throw new UsageError(`unknown target "${name}" (known: ${known.join(', ')})`)
  return [target]
}

/** Reads raw config values, recording a `path: problem` line for everything wrong and carrying on. */
class Reader {
  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly problems: string[],
  ) {}

  /** A plain object; `keys` lists the allowed keys, null allows any. Returns undefined when absent or invalid. */
  object(value: unknown, path: string, keys: string[] | null): Record<string, unknown> | undefined {
    if (value === undefined) return undefined
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.problems.push(`${path || 'the config'}: must be an object (got ${typeName(value)})`)
      return undefined
    }
    const record = value as Record<string, unknown>
    if (keys) {
      for (const key of Object.keys(record)) {
        if (keys.includes(key)) continue
        const suggestion = closest(key, keys)
        const hint = suggestion === undefined ? `known keys: ${keys.join(', ')}` : `did you mean "${suggestion}"?`
        this.problems.push(`${path ? `${path}.` : ''}${key}: unknown key (${hint})`)
      }
    }
    return record
  }

  /** A non-empty string after `${VAR}` interpolation. */
  string(value: unknown, path: string): string | undefined {
    if (value === undefined) return undefined
    if (typeof value !== 'string') {
      this.problems.push(`${path}: must be a string (got ${typeName(value)})`)
      return undefined
    }
    const before = this.problems.length
    const text = interpolateEnv(value, this.env, path, this.problems)
    if (this.problems.length > before) return undefined
    if (text.trim() === '') {
      this.problems.push(
        `${path}: must not be empty${value === text ? '' : ' (after replacing environment variables)'}`,
      )
      return undefined
    }
    return text
  }

  boolean(value: unknown, path: string): boolean | undefined {
    if (value === undefined || typeof value === 'boolean') return value
    this.problems.push(`${path}: must be true or false (got ${typeName(value)})`)
    return undefined
  }

  duration(value: unknown, path: string): number | undefined {
    const text = this.string(value, path)
    if (text === undefined) return undefined
    try {
      return parseDuration(text, path)
    } catch (error) {
      this.problems.push((error as Error).message)
      return undefined
    }
  }

  /** Only the keys that are set, so that spreading layers lets each level override key by key. */
  migrations(value: unknown, path: string): Partial<ResolvedMigrations> {
    const raw = this.object(value, path, MIGRATIONS_KEYS)
    if (!raw) return {}
    const layer: Partial<ResolvedMigrations> = {
      dir: this.string(raw.dir, `${path}.dir`),
      table: this.string(raw.table, `${path}.table`),
      schema: this.string(raw.schema, `${path}.schema`),
      lockTimeoutMs: this.duration(raw.lockTimeout, `${path}.lockTimeout`),
      statementTimeoutMs: this.duration(raw.statementTimeout, `${path}.statementTimeout`),
      lockWaitTimeoutMs: this.duration(raw.lockWaitTimeout, `${path}.lockWaitTimeout`),
      allowOutOfOrder: this.boolean(raw.allowOutOfOrder, `${path}.allowOutOfOrder`),
      ignoreOtherLedgers: this.boolean(raw.ignoreOtherLedgers, `${path}.ignoreOtherLedgers`),
    }
    return Object.fromEntries(Object.entries(layer).filter(([, setting]) => setting !== undefined))
  }

  positiveInteger(value: unknown, path: string, minimum = 1): number | undefined {
    if (value === undefined) return undefined
    if (typeof value === 'number' && Number.isInteger(value) && value >= minimum) return value
    this.problems.push(`${path}: must be a whole number of at least ${minimum} (got ${JSON.stringify(value)})`)
    return undefined
  }

  /** A string, or a list of strings. */
  stringList(value: unknown, path: string): string[] | undefined {
    if (Array.isArray(value)) {
      const items = value.map((item, index) => this.string(item, `${path}[${index}]`))
      return items.every((item) => item !== undefined) ? (items as string[]) : undefined
    }
    const single = this.string(value, path)
    return single === undefined ? undefined : [single]
  }

  seeds(value: unknown, path: string): SeedsLayer {
    const raw = this.object(value, path, SEEDS_KEYS)
    const layer: SeedsLayer = { environments: {}, tables: {} }
    if (!raw) return layer
    const dir = this.string(raw.dir, `${path}.dir`)
    const table = this.string(raw.table, `${path}.table`)
    if (dir !== undefined) layer.dir = dir
    if (table !== undefined) layer.table = table
    for (const [name, entry] of Object.entries(this.object(raw.environments, `${path}.environments`, null) ?? {})) {
      const list = this.stringList(entry, `${path}.environments.${name}`)
      if (list) layer.environments[name] = list
    }
    for (const [file, entry] of Object.entries(this.object(raw.tables, `${path}.tables`, null) ?? {})) {
      const tableName = this.string(entry, `${path}.tables.${file}`)
      if (tableName !== undefined) layer.tables[file] = tableName
    }
    return layer
  }

  backup(value: unknown, path: string): BackupLayer {
    const raw = this.object(value, path, BACKUP_KEYS)
    if (!raw) return {}
    const layer: BackupLayer = {}
    const dir = this.string(raw.dir, `${path}.dir`)
    if (dir !== undefined) layer.dir = dir
    const format = this.string(raw.format, `${path}.format`)
    if (format !== undefined) {
      if ((BACKUP_FORMATS as readonly string[]).includes(format)) layer.format = format as ResolvedBackup['format']
      else this.problems.push(`${path}.format: must be one of ${BACKUP_FORMATS.join(', ')} (got "${format}")`)
    }
    const jobs = this.positiveInteger(raw.jobs, `${path}.jobs`)
    if (jobs !== undefined) layer.jobs = jobs
    const retention = this.retention(raw.retention, `${path}.retention`)
    if (retention) layer.retention = retention
    const s3 = this.s3(raw.s3, `${path}.s3`)
    if (s3) layer.s3 = s3
    if (raw.destinations !== undefined) {
      if (!Array.isArray(raw.destinations)) {
        this.problems.push(`${path}.destinations: must be a list of { name, dir } (got ${typeName(raw.destinations)})`)
      } else {
        const names = new Set<string>()
        layer.destinations = []
        raw.destinations.forEach((value, index) => {
          const where = `${path}.destinations[${index}]`
          const entry = this.object(value, where, DESTINATION_KEYS)
          if (!entry) return
          const name = this.string(entry.name, `${where}.name`)
          const dir = this.string(entry.dir, `${where}.dir`)
          if (name === undefined || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name))
            this.problems.push(`${where}.name: required, letters, digits, _ . - (e.g. "local", "offsite")`)
          else if (names.has(name)) this.problems.push(`${where}.name: "${name}" is used twice`)
          if (dir === undefined) this.problems.push(`${where}.dir: required, a folder or s3://bucket/prefix`)
          if (name === undefined || dir === undefined) return
          names.add(name)
          const destinationS3 = this.s3(entry.s3, `${where}.s3`)
          const keep = this.retention(entry.keep, `${where}.keep`)
          layer.destinations!.push({
            name,
            dir,
            ...((destinationS3 ?? s3) && { s3: (destinationS3 ?? s3)! }),
            ...(keep && { retention: keep }),
          })
        })
      }
    }
    const encrypt = this.object(raw.encrypt, `${path}.encrypt`, ['recipients'])
    if (encrypt) {
      const recipients = this.stringList(encrypt.recipients, `${path}.encrypt.recipients`)
      if (encrypt.recipients === undefined || recipients?.length === 0)
        this.problems.push(`${path}.encrypt.recipients: required, a list of age public keys (age-keygen -y key.txt)`)
      else if (recipients) {
        const before = this.problems.length
        // recipientProblems names `backup.encrypt...`; here the path of this layer is the right one.
        for (const problem of recipientProblems(recipients))
          this.problems.push(problem.replace(/^backup\.encrypt/, `${path}.encrypt`))
        if (this.problems.length === before) layer.encrypt = { recipients }
      }
    }
    const compress = this.string(raw.compress, `${path}.compress`)
    if (compress !== undefined) {
      if ((COMPRESS_SETTINGS as readonly string[]).includes(compress)) layer.compress = compress as CompressSetting
      else this.problems.push(`${path}.compress: must be one of ${COMPRESS_SETTINGS.join(', ')} (got "${compress}")`)
    }
    if (raw.compressLevel !== undefined) {
      const level = raw.compressLevel
      if (typeof level === 'number' && Number.isInteger(level) && level >= 0 && level <= 19) layer.compressLevel = level
      else
        this.problems.push(
          `${path}.compressLevel: must be a whole number from 0 to 19 (zstd 1-19, gzip and pg_dump 0-9; got ${JSON.stringify(level)})`,
        )
    }
    return layer
  }

  retention(value: unknown, path: string): ResolvedRetention | undefined {
    const retention = this.object(value, path, RETENTION_KEYS)
    if (!retention) return undefined
    const rules: ResolvedRetention = {}
    for (const key of RETENTION_KEYS) {
      if (key === 'keepWithin') {
        const within = this.duration(retention.keepWithin, `${path}.keepWithin`)
        if (within !== undefined) rules.keepWithinMs = within
        continue
      }
      const count = this.positiveInteger(retention[key], `${path}.${key}`, 0)
      if (count !== undefined) rules[key as Exclude<keyof ResolvedRetention, 'keepWithinMs'>] = count
    }
    return rules
  }

  /** Endpoint, region, path style; any other key (a credential) is refused, so it cannot end up in a manifest. */
  s3(value: unknown, path: string): S3Options | undefined {
    const raw = this.object(value, path, S3_KEYS)
    if (!raw) return undefined
    const options: S3Options = {}
    const endpoint = this.string(raw.endpoint, `${path}.endpoint`)
    if (endpoint !== undefined) {
      if (/^https?:\/\/[^/@\s]+(\/.*)?$/.test(endpoint)) options.endpoint = endpoint
      else
        this.problems.push(`${path}.endpoint: must be an http(s) URL without credentials (e.g. http://127.0.0.1:9000)`)
    }
    const region = this.string(raw.region, `${path}.region`)
    if (region !== undefined) options.region = region
    const pathStyle = this.boolean(raw.forcePathStyle, `${path}.forcePathStyle`)
    if (pathStyle !== undefined) options.forcePathStyle = pathStyle
    return options
  }

  /** Rule ids are checked by lint itself (the rule list is not loaded with the config). */
  lint(value: unknown, path: string): LintLayer | undefined {
    const raw = this.object(value, path, LINT_KEYS)
    if (!raw) return undefined
    const layer: LintLayer = { rules: {} }
    for (const [rule, setting] of Object.entries(this.object(raw.rules, `${path}.rules`, null) ?? {})) {
      if (typeof setting === 'string' && LINT_SETTINGS.includes(setting))
        layer.rules[rule] = setting as ResolvedLint['rules'][string]
      else
        this.problems.push(
          `${path}.rules.${rule}: must be one of ${LINT_SETTINGS.join(', ')} (got ${JSON.stringify(setting)})`,
        )
    }
    for (const key of ['smallTable', 'largeTable'] as const) {
      if (raw[key] === undefined) continue
      const bytes =
        typeof raw[key] === 'number' || typeof raw[key] === 'string'
          ? parseValue('bytes', raw[key] as number | string)
          : undefined
      if (bytes === undefined)
        this.problems.push(`${path}.${key}: must be a size such as "10MB" or "1GB" (got ${JSON.stringify(raw[key])})`)
      else layer[key === 'smallTable' ? 'smallTableBytes' : 'largeTableBytes'] = bytes
    }
    const beforeUp = this.boolean(raw.beforeUp, `${path}.beforeUp`)
    if (beforeUp !== undefined) layer.beforeUp = beforeUp
    return layer
  }

  schema(value: unknown, path: string): SchemaLayer {
    const raw = this.object(value, path, SCHEMA_KEYS)
    if (!raw) return {}
    const layer: SchemaLayer = {}
    const file = this.string(raw.file, `${path}.file`)
    if (file !== undefined) layer.file = file
    const dumpAfterMigrate = this.boolean(raw.dumpAfterMigrate, `${path}.dumpAfterMigrate`)
    if (dumpAfterMigrate !== undefined) layer.dumpAfterMigrate = dumpAfterMigrate
    const ignore = raw.ignore === undefined ? undefined : this.stringList(raw.ignore, `${path}.ignore`)
    if (ignore !== undefined) layer.ignore = ignore
    return layer
  }

  health(value: unknown, path: string): ResolvedHealth {
    const raw = this.object(value, path, HEALTH_KEYS)
    const thresholds: Record<string, ThresholdSetting> = {}
    for (const [check, entry] of Object.entries(this.object(raw?.thresholds, `${path}.thresholds`, null) ?? {})) {
      const pair = this.object(entry, `${path}.thresholds.${check}`, ['warn', 'critical'])
      if (!pair) continue
      const setting: ThresholdSetting = {}
      for (const level of ['warn', 'critical'] as const) {
        const threshold = pair[level]
        if (threshold === undefined) continue
        if (typeof threshold === 'number' && Number.isFinite(threshold)) setting[level] = threshold
        else if (typeof threshold === 'string' && threshold.trim() !== '') setting[level] = threshold.trim()
        else
          this.problems.push(`${path}.thresholds.${check}.${level}: must be a number or a string such as "80%" or "5m"`)
      }
      thresholds[check] = setting
    }
    return { thresholds }
  }
}

type LintLayer = Partial<Omit<ResolvedLint, 'rules'>> & Pick<ResolvedLint, 'rules'>

type SchemaLayer = { file?: string; dumpAfterMigrate?: boolean; ignore?: string[] }
type SeedsLayer = Partial<Omit<ResolvedSeeds, 'environments' | 'tables'>> &
  Pick<ResolvedSeeds, 'environments' | 'tables'>
type BackupLayer = {
  dir?: string
  format?: ResolvedBackup['format']
  jobs?: number
  retention?: ResolvedRetention
  encrypt?: { recipients: string[] }
  compress?: CompressSetting
  compressLevel?: number
  s3?: S3Options
  destinations?: DestinationLayer[]
}
type DestinationLayer = { name: string; dir: string; s3?: S3Options; retention?: ResolvedRetention }

/** A folder is resolved against the config's folder; a bucket URL is kept as written. */
function locationOf(baseDir: string, dir: string, ...more: string[]): string {
  if (isS3Url(dir)) return [dir.replace(/\/+$/, ''), ...more].join('/')
  return resolve(baseDir, dir, ...more)
}

/**
 * `dir` and `destinations` of a target: its own, else the top level's with the target's folder name appended (so
 * targets sharing a bucket or folder keep their backups apart). Without destinations, `dir` is the one destination.
 */
function resolveDestinations(
  own: BackupLayer,
  top: BackupLayer,
  baseDir: string,
  folderName: string,
): Pick<ResolvedBackup, 'dir' | 's3' | 'destinations'> {
  const retention = own.retention ?? top.retention ?? {}
  const listed = own.destinations
    ? own.destinations.map((entry) => ({ ...entry, dir: locationOf(baseDir, entry.dir) }))
    : top.destinations?.map((entry) => ({ ...entry, dir: locationOf(baseDir, entry.dir, folderName) }))
  if (listed && listed.length > 0) {
    const destinations = listed.map((entry) => ({
      name: entry.name,
      dir: entry.dir,
      ...(entry.s3 && { s3: entry.s3 }),
      retention: entry.retention ?? retention,
    }))
    return { dir: destinations[0]!.dir, ...(destinations[0]!.s3 && { s3: destinations[0]!.s3 }), destinations }
  }
  const dir =
    own.dir !== undefined ? locationOf(baseDir, own.dir) : locationOf(baseDir, top.dir ?? 'backups', folderName)
  const s3 = own.s3 ?? top.s3
  return { dir, ...(s3 && { s3 }) }
}

function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value
}

/** The known key within two edits of `key` (ignoring case), for "did you mean". */
function closest(key: string, known: string[]): string | undefined {
  let best: { key: string; distance: number } | undefined
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase())
    if (distance <= 2 && (!best || distance < best.distance)) best = { key: candidate, distance }
  }
  return best?.key
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost)
    }
    previous = current
  }
  return previous[b.length] ?? 0
}
