// Copy to dbops.config.ts and adjust. Every relative path is relative to this file.
import { defineConfig } from 'dbops'

export default defineConfig({
  defaultTarget: 'app',
  // Defaults for every target; a target's own `migrations` overrides them key by key.
  migrations: {
    dir: 'migrations',
    table: 'dbops_migrations',
    lockTimeout: '5s', // PostgreSQL lock_timeout for each migration (per file: -- migrate:up lock_timeout:30s)
    lockWaitTimeout: '60s', // how long to wait while another dbops holds the migration lock (--lock-timeout)
    ignoreOtherLedgers: false, // true: a first `up` runs beside another tool's ledger (a Rails app's schema_migrations)
  },
  // dbops health: thresholds per check (defaults in "dbops health --help"); a target's own `health` overrides them.
  health: {
    thresholds: {
      long_queries: { warn: '2m', critical: '15m' },
      connections: { warn: '70%' },
      backup_age: { warn: '8h' },
    },
  },
  // Backups go to backups/<target>; prune keeps what any of these rules keeps (restic's forget rules).
  backup: {
    dir: 'backups',
    retention: { keepDaily: 7, keepWeekly: 4, keepMonthly: 6 },
  },
  // dbops schema dump writes db/<target>.sql; migrate up/down/redo rewrite it; schema drift leaves out `ignore`.
  schema: {
    file: 'db/{target}.sql',
    dumpAfterMigrate: true,
    ignore: ['legacy_*', 'index:tmp_*'],
  },
  // Seeds (dbops seed run): fixtures/ by default; environments pick folders or files for --env.
  seeds: {
    dir: 'fixtures',
    environments: { dev: ['.', 'dev'], demo: ['*.csv', 'demo'] },
    tables: { '05_people.csv': 'users' }, // a data file whose name is not its table's
  },
  targets: {
    app: {
      // ${VAR} and ${VAR:-default} are read from the environment; keep passwords out of this file.
      url: '${DATABASE_URL:-sqlite:./dev.db}',
    },
    analytics: {
      url: 'postgres://${ANALYTICS_USER:-postgres}:${ANALYTICS_PASSWORD:-}@${ANALYTICS_HOST:-127.0.0.1}:5432/analytics',
      migrations: { dir: 'migrations/analytics', schema: 'ops', statementTimeout: '10m' },
      protected: true,
    },
  },
})
