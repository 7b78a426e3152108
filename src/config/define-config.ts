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
  /** How long to wait for the migration lock while another dbops holds it, default `60s`. */
  lockWaitTimeout?: string
  /** Apply a pending migration older than the newest applied one instead of refusing, default false. */
  allowOutOfOrder?: boolean
}

export interface TargetConfig {
  /** `postgres://...`, `postgresql://...`, `sqlite:./file.db`, `sqlite:///abs/file.db`, `sqlite::memory:` or
   * `file:./file.db`. `${VAR}` and `${VAR:-default}` are replaced from the environment. */
  url: string
  migrations?: MigrationsConfig
  /** Marks a database that destructive commands must not touch without confirmation (production). */
  protected?: boolean
}

export interface DbopsConfig {
  /** The target commands use without `--target`; may be left out when there is only one target. */
  defaultTarget?: string
  /** Named databases, e.g. `{ app: { url: '${DATABASE_URL}' } }`. Without targets, dbops uses `--url`, then
   * `DATABASE_URL`, then `sqlite:./dev.db`. */
  targets?: Record<string, TargetConfig>
  /** Defaults for every target. */
  migrations?: MigrationsConfig
}

/** Returns its argument: it exists so a `dbops.config.ts` gets type checking and completion. */
export function defineConfig(config: DbopsConfig): DbopsConfig {
  return config
}
