/**
 * Migration settings. Set them once at the top level of the config for every target; a target's own `migrations`
 * overrides them key by key.
 */
export interface MigrationsConfig {
  /** Folder of migration files, default `migrations`. Relative to the config file's directory (or the working
   * directory when there is no config file). */
  dir?: string
  /** The ledger (history) table, default `dbops_migrations`. Quoted, so any non-empty name works. */
  table?: string
  /** PostgreSQL schema that holds the ledger, default `public`. Ignored on SQLite, which has no schemas. */
  schema?: string
  /** PostgreSQL `lock_timeout` applied to each migration, default `5s`: a migration that waits on a busy table
   * fails fast instead of queueing every other query behind its lock. */
  lockTimeout?: string
  /** PostgreSQL `statement_timeout` for each migration, default `0` (none). */
  statementTimeout?: string
  /**
   * How long to wait for the migration lock while another dbops holds it (and, on SQLite, for the database while
   * another process holds it: then E_LOCK_TIMEOUT), default `60s`. Not the connect timeout (URL's connect_timeout).
   */
  lockWaitTimeout?: string
  /** Apply a pending migration older than the newest applied one instead of refusing, default false. */
  allowOutOfOrder?: boolean
  /**
   * Run a first `migrate up` even when another tool's ledger (dbmate's schema_migrations...) has rows, default false:
   * for a database shared with an application that keeps its own migrations there.
   */
  ignoreOtherLedgers?: boolean
}

export interface SeedsConfig {
  /** Folder of seed files (`*.sql`, `*.csv`, `*.json`, `*.ndjson`, `*.ts`, `*.js`), default `fixtures`. */
  dir?: string
  /** Table recording applied seeds and their checksums, default `dbops_seeds`. */
  table?: string
  /** `--env <name>` → subfolders of `dir`, or file names relative to it, e.g. `{ dev: 'dev', test: ['base', 'test'] }`. */
  environments?: Record<string, string | string[]>
  /** Data file name → the table it loads, when the file is not named after its table, e.g. `{ 'people.csv': 'users' }`. */
  tables?: Record<string, string>
}

/** Retention (restic's rules, OR-ed): a backup is kept when any rule keeps it. */
export interface RetentionConfig {
  keepLast?: number
  keepHourly?: number
  keepDaily?: number
  keepWeekly?: number
  keepMonthly?: number
  keepYearly?: number
  /** Keep everything newer than this, e.g. `'7d'`. */
  keepWithin?: string
}

/** An S3-compatible store. Credentials never go here: they come from the AWS chain (environment, profile, web identity, instance role). */
export interface S3Config {
  /** e.g. `http://127.0.0.1:9000` (MinIO), `https://<account>.r2.cloudflarestorage.com` (R2); default: AWS. */
  endpoint?: string
  region?: string
  /** Path-style addressing (`endpoint/bucket/key`), which most non-AWS stores need. */
  forcePathStyle?: boolean
}

/** One place every backup is delivered to (`backup.destinations`). */
export interface DestinationConfig {
  /** Shown in output and picked with `--destination <name>` / `restore --from-destination <name>`. */
  name: string
  /** A folder or `s3://bucket/prefix` (a top-level destination gets `/<target>` appended). */
  dir: string
  s3?: S3Config
  /** Retention of `backup prune` in this destination, default `backup.retention`. */
  keep?: RetentionConfig
}

export interface BackupConfig {
  /**
   * Backup folder or `s3://bucket/prefix`, default `backups/<target>` (a top-level `dir` gets `/<target>` appended).
   * Ignored when `destinations` is set.
   */
  dir?: string
  /** How to reach the bucket of an `s3://` dir. */
  s3?: S3Config
  /** Several places at once (e.g. a local folder and a bucket): each backup is made once and delivered to each. */
  destinations?: DestinationConfig[]
  /** PostgreSQL dump format, default `custom`. */
  format?: 'custom' | 'directory' | 'plain'
  /** Parallel pg_dump/pg_restore jobs (directory format). */
  jobs?: number
  /** The default policy of `dbops backup prune`. */
  retention?: RetentionConfig
  /**
   * Encrypt every backup with age for these public keys (`age1...`, from `age-keygen`). The backup host needs only
   * the public keys; `restore` and `backup verify` take a private identity (`--identity <file>` or DBOPS_AGE_IDENTITY).
   */
  encrypt?: { recipients: string[] }
  /**
   * Compression of plain-format dumps and SQLite copies, default `auto` (zstd where the zstd program is installed,
   * else gzip). Custom and directory dumps are compressed by pg_dump itself and never twice.
   */
  compress?: 'auto' | 'zstd' | 'gzip' | 'none'
  /** Compression level: zstd 1-19, gzip 0-9; for custom and directory dumps pg_dump's own `-Z` (0-9). */
  compressLevel?: number
}

export interface HealthConfig {
  /** Check name → `{ warn, critical }`, numbers or strings such as `'80%'`, `'5m'`, `'10GB'`. */
  thresholds?: Record<string, { warn?: number | string; critical?: number | string }>
}

/** `dbops migrate lint` and the lint before `migrate up`. */
export interface LintConfig {
  /** Rule id → `'off' | 'info' | 'warn' | 'error'`, e.g. `{ 'prefer-text': 'off', 'drop-column': 'error' }`. */
  rules?: Record<string, 'off' | 'info' | 'warn' | 'error'>
  /** Lock hazards on tables smaller than this drop to info, default `'10MB'` (needs a reachable target). */
  smallTable?: string | number
  /** Rewrites of tables at least this large rise to error, default `'1GB'`. */
  largeTable?: string | number
  /** Lint pending migrations before `migrate up` runs them, default true (`--no-lint` skips it once). */
  beforeUp?: boolean
}

/** `dbops schema dump`, `dbops schema drift`. */
export interface SchemaConfig {
  /** Where `dbops schema dump` writes the schema, e.g. `db/schema.sql`; `{target}` is replaced by the target's name. */
  file?: string
  /** Rewrite `file` after every successful `migrate up`, `down` and `redo` (dbmate's behaviour), default false. */
  dumpAfterMigrate?: boolean
  /** Objects `dbops schema drift` leaves out: names or globs (`audit_*`, `public.legacy_*`, `index:tmp_*`). */
  ignore?: string | string[]
}

export interface TargetConfig {
  /** `postgres://...`, `postgresql://...`, `sqlite:./file.db`, `sqlite:///abs/file.db`, `sqlite::memory:` or
   * `file:./file.db`. `${VAR}` and `${VAR:-default}` are replaced from the environment. */
  url: string
  migrations?: MigrationsConfig
  /** Marks a database that destructive commands must not touch without confirmation (production). */
  protected?: boolean
  seeds?: SeedsConfig
  backup?: BackupConfig
  health?: HealthConfig
  lint?: LintConfig
  schema?: SchemaConfig
}

export interface DbopsConfig {
  /** The target commands use without `--target`; may be left out when there is only one target. */
  defaultTarget?: string
  /** Named databases, e.g. `{ app: { url: '${DATABASE_URL}' } }`. Without targets, dbops uses `--url`, then
   * `DATABASE_URL`, then `sqlite:./dev.db`. */
  targets?: Record<string, TargetConfig>
  /** Defaults for every target. */
  migrations?: MigrationsConfig
  seeds?: SeedsConfig
  backup?: BackupConfig
  health?: HealthConfig
  lint?: LintConfig
  schema?: SchemaConfig
}

/** Returns its argument: it exists so a `dbops.config.ts` gets type checking and completion. */
export function defineConfig(config: DbopsConfig): DbopsConfig {
  return config
}
