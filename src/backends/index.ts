import type { DatabaseLocation } from '../config/database-url.js'
import type { Backend, OpenOptions } from './backend.js'

/** The only place that names backends. Each is imported when first needed, so `dbops --help` loads no driver. */
export async function openBackend(location: DatabaseLocation, redactedUrl: string, options: OpenOptions): Promise<Backend> {
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
