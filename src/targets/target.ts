import { openBackend } from '../backends/index.js'
import type { Backend } from '../backends/backend.js'
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
  /** PostgreSQL connect timeout; default the lock wait timeout. */
  connectTimeoutMs?: number
}

export interface OpenTargetOptions extends ResolveOptions, ConnectOptions {
  /** The target's name in the config; default: the config's defaultTarget. */
  target?: string
}

/** Resolves the config (file, --url, DATABASE_URL or the embedded default) and opens one target. */
export async function openTarget(options: OpenTargetOptions = {}): Promise<Target> {
  const config = await resolveConfig(options)
  const [resolved] = selectTargets(config, options.target === undefined ? {} : { target: options.target })
  return connectTarget(resolved!, options)
}

export async function connectTarget(resolved: ResolvedTarget, options: ConnectOptions = {}): Promise<Target> {
  const backend = await openBackend(resolved.location, resolved.redactedUrl, {
    applicationName: `dbops ${options.command ?? 'library'}`.slice(0, 63),
    create: options.create ?? true,
    ...(options.readOnly && { readOnly: true }),
    busyTimeoutMs: options.connectTimeoutMs ?? resolved.migrations.lockWaitTimeoutMs,
  })
  return {
    name: resolved.name,
    redactedUrl: resolved.redactedUrl,
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
