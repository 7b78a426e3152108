import type { DatabaseLocation } from '../config/database-url.js'
import type { Backend, Engine, OpenOptions } from './backend.js'
import type { LintDialect } from '../lint/types.js'

/** The only place that names backends. Each is imported when first needed, so `dbops --help` loads no driver. */
export async function openBackend(
  location: DatabaseLocation,
  redactedUrl: string,
  options: OpenOptions,
): Promise<Backend> {
  switch (location.engine) {
    case 'postgres': {
      const { PostgresBackend } = await import('./postgres/postgres-backend.js')
      return new PostgresBackend(location.url, redactedUrl, options)
    }
    case 'sqlite': {
      const { SqliteBackend } = await import('./sqlite/sqlite-backend.js')
      return new SqliteBackend(location.path, redactedUrl, options)
    }
  }
}

export type { Backend, Engine, OpenOptions, ServerInfo } from './backend.js'

/** The engine side of `dbops migrate lint` (the PostgreSQL parser loads only when a statement needs it). */
export async function lintDialect(engine: Engine): Promise<LintDialect> {
  switch (engine) {
    case 'postgres':
      return (await import('./postgres/postgres-lint.js')).postgresLint
    case 'sqlite':
      return (await import('./sqlite/sqlite-lint.js')).sqliteLint
  }
}
