import { openBackend } from '../backends/index.js'
import type { Backend } from '../backends/backend.js'
import { describeDatabase } from '../config/database-url.js'
import { registerSecretsFromUrl } from '../output/redact.js'
import {
  resolveConfig,
  selectTargets,
  type ResolveOptions,
  type ResolvedBackup,
  type ResolvedHealth,
  type ResolvedMigrations,
  type ResolvedSeeds,
  type ResolvedTarget,
} from '../config/resolve-config.js'

/** A named database from the config, connected (lazily) through its backend. */
export interface Target {
  name: string
  redactedUrl: string
  /** The database as output names it: the redacted URL, or the SQLite file path (see `formatTarget`). */
  database: string
  backend: Backend
  migrations: ResolvedMigrations
  protected: boolean
  seeds: ResolvedSeeds
  backup: ResolvedBackup
  health: ResolvedHealth
  /** The config entry it came from, URL included: for capabilities that start child processes (pg_dump). */
  resolved: ResolvedTarget
  close(): Promise<void>
}

export interface ConnectOptions {
  /** Shown to operators as application_name: "dbops <command>". */
  command?: string
  /** Create the database file when it is missing (SQLite). Default true; read-only commands pass false. */
  create?: boolean
  /** The command only reads: the database is opened read-only where the engine allows it (SQLite). */
  readOnly?: boolean
  /**
   * A command's own deadline (health --timeout, wait): caps the PostgreSQL connect timeout (otherwise connect_timeout
   * / PGCONNECT_TIMEOUT, default 10 s) and the SQLite busy wait (otherwise migrations.lockWaitTimeout).
   */
  connectTimeoutMs?: number
  /** Aborting it (Ctrl-C) ends a wait for another connection's lock with E_INTERRUPTED (SQLite). */
  signal?: AbortSignal
}

export interface OpenTargetOptions extends ResolveOptions, ConnectOptions {
  /** The target's name in the config; default: the config's defaultTarget. `url` replaces this target's database. */
  target?: string
}

/** Resolves the config (file, --url, DATABASE_URL or the embedded default) and opens one target. */
export async function openTarget(options: OpenTargetOptions = {}): Promise<Target> {
  const config = await resolveConfig(options)
  const [resolved] = selectTargets(config, options.target === undefined ? {} : { target: options.target })
  return connectTarget(resolved!, options)
}

export async function connectTarget(resolved: ResolvedTarget, options: ConnectOptions = {}): Promise<Target> {
  // Whatever path a message takes to the user (a driver error quoting the URL), the password is scrubbed from it.
  registerSecretsFromUrl(resolved.url)
  const backend = await openBackend(resolved.location, resolved.redactedUrl, {
    applicationName: `dbops ${options.command ?? 'library'}`.slice(0, 63),
    create: options.create ?? true,
    ...(options.readOnly && { readOnly: true }),
    busyTimeoutMs: options.connectTimeoutMs ?? resolved.migrations.lockWaitTimeoutMs,
    busyTimeoutSetting:
      options.connectTimeoutMs === undefined
        ? 'migrations.lockWaitTimeout'
        : `the ${options.command ?? 'command'} deadline`,
    ...(options.connectTimeoutMs !== undefined && { connectTimeoutMs: options.connectTimeoutMs }),
    ...(options.signal && { signal: options.signal }),
  })
  return {
    name: resolved.name,
    redactedUrl: resolved.redactedUrl,
    database: resolved.database ?? describeDatabase(resolved.location, resolved.url),
    backend,
    migrations: resolved.migrations,
    protected: resolved.protected,
    seeds: resolved.seeds,
    backup: resolved.backup,
    health: resolved.health,
    resolved,
    close: () => backend.close(),
  }
}
