export { defineConfig, type DbopsConfig, type MigrationsConfig, type TargetConfig } from './define-config.js'
export { parseDatabaseUrl, redactSecrets, redactUrl, type DatabaseLocation } from './database-url.js'
export { formatDuration, parseDuration } from './duration.js'
export { interpolateEnv } from './interpolate.js'
export { CONFIG_SEARCH_PLACES, loadConfig, type LoadConfigOptions, type LoadedConfig } from './load-config.js'
export {
  resolveConfig,
  selectTargets,
  type ResolveOptions,
  type ResolvedConfig,
  type ResolvedMigrations,
  type ResolvedTarget,
} from './resolve-config.js'
