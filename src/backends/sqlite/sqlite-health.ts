import { existsSync, statSync } from 'node:fs'
import Database from 'better-sqlite3'
import type BetterSqlite3 from 'better-sqlite3'
import type { Finding } from '../../findings.js'
import { formatBytes, formatDuration } from '../../output/format.js'
import { formatValue, grade, levelOn } from '../../health/checks.js'
import type { HealthProbe, ProbeContext, ProbeOutcome } from '../../health/health-probe.js'
import type { SqlQuery } from '../../sql/query.js'
import type { Backend } from '../backend.js'
import { nativeBinding, type SqliteBackend } from './sqlite-backend.js'

/** Foreign keys whose parent table does not exist (SQLite accepts them, and checks them only on writes). */
const DANGLING_FOREIGN_KEYS = `SELECT DISTINCT m.name AS tbl, f."table" AS parent
FROM sqlite_schema m JOIN pragma_foreign_key_list(m.name) f
WHERE m.type = 'table' AND NOT EXISTS (SELECT 1 FROM sqlite_schema p WHERE p.type = 'table' AND p.name = f."table" COLLATE NOCASE)
ORDER BY 1, 2`

/**
 * SQLite health on a handle of its own, opened read-only: the backend's handle would create a missing file and
 * switch the journal to WAL on open, and health must change nothing (nor report the journal mode it just set).
 * The checks are in-process PRAGMAs, so the deadline cannot interrupt a long integrity check of a huge file.
 */
export class SqliteHealthProbe implements HealthProbe {
  #database: BetterSqlite3.Database | undefined

  constructor(
    private readonly backend: SqliteBackend,
    private readonly path: string,
    private readonly busyTimeoutMs: number,
  ) {}

  async run(context: ProbeContext): Promise<ProbeOutcome> {
    const { checks, thresholds, report } = context
    const subject = this.path
    let version: string
    let database: BetterSqlite3.Database
    const started = performance.now()
    try {
      if (this.path !== ':memory:' && !existsSync(this.path)) {
        report({
          check: 'connection',
          severity: 'critical',
          subject,
          message: `database not found: ${this.path} does not exist`,
        })
        return { up: false }
      }
      const binding = nativeBinding()
      database = new Database(this.path, {
        readonly: true,
        fileMustExist: true,
        timeout: this.busyTimeoutMs,
        ...(binding && { nativeBinding: binding }),
      })
      this.#database = database
      version = (database.prepare('SELECT sqlite_version() AS version').get() as { version: string }).version
      // Reading the schema proves the file is a database (opening alone does not).
      database.prepare('SELECT count(*) FROM sqlite_master').get()
    } catch (error) {
      report({
        check: 'connection',
        severity: 'critical',
        subject,
        message: `cannot open ${this.backend.redactedUrl}: ${(error as Error).message}`,
      })
      return { up: false }
    }
    const latency = (performance.now() - started) / 1000
    report({
      check: 'connection',
      severity: grade(thresholds, 'connection', latency),
      subject,
      message: `SQLite ${version}, opened read-only in ${formatDuration(latency * 1000)}`,
      values: { latency_seconds: latency },
      detail: { version },
    })

    const pragma = <T>(text: string) => database.prepare(`PRAGMA ${text}`).all() as T[]
    const guarded = (check: string, fn: () => Finding | undefined) => {
      if (!checks.has(check)) return
      try {
        const finding = fn()
        if (finding) report(finding)
      } catch (error) {
        report({ check, severity: 'unknown', subject, message: `could not run: ${(error as Error).message}` })
      }
    }

    guarded('integrity', () => {
      const pragmaName = context.deep ? 'integrity_check' : 'quick_check'
      let rows: string[]
      try {
        rows = pragma<Record<string, string>>(`${pragmaName}(100)`)
          .flatMap((row) => String(Object.values(row)[0]).split('\n'))
          .filter((line) => line !== '' && !line.startsWith('*** in database'))
      } catch (error) {
        // SQLite gives up on some damage (a mangled b-tree page) instead of listing it.
        if (!/CORRUPT|NOTADB/.test(String((error as { code?: string }).code))) throw error
        rows = [(error as Error).message]
      }
      const ok = rows.length === 1 && rows[0] === 'ok'
      const errors = ok ? 0 : rows.length
      return {
        check: 'integrity',
        severity: ok ? 'ok' : levelOn(thresholds, 'integrity', 'critical') ? 'critical' : 'warn',
        subject,
        message: ok
          ? `PRAGMA ${pragmaName}: ok`
          : `PRAGMA ${pragmaName} found ${errors >= 100 ? '100 or more' : errors} problem(s): ${rows.slice(0, 3).join('; ')}`,
        values: { errors },
        ...(!ok && {
          detail: { problems: rows },
          fix: 'restore the newest good backup (dbops restore), or .recover with the sqlite3 shell',
        }),
      }
    })

    guarded('foreign_keys', () => {
      // A foreign key to a table that is gone (left by a rebuild that renamed the table away, then dropped it):
      // foreign_key_check passes it, while writes of its table fail with "no such table" once foreign keys are on.
      const dangling = database.prepare(DANGLING_FOREIGN_KEYS).all() as { tbl: string; parent: string }[]
      if (dangling.length > 0) {
        const pairs = dangling.map((row) => `${row.tbl} → ${row.parent}`)
        return {
          check: 'foreign_keys',
          severity: 'critical',
          subject,
          message: `${dangling.length} foreign key(s) reference a table that does not exist: ${pairs.slice(0, 5).join(', ')}; with foreign keys on, every insert and delete of ${dangling[0]!.tbl} (and update of the key) fails ("no such table: main.${dangling[0]!.parent}")`,
          values: { violations: dangling.length },
          detail: { missingParents: dangling },
          fix: `rebuild ${dangling[0]!.tbl} with its foreign key pointing at the table meant (https://www.sqlite.org/lang_altertable.html#otheralter)`,
        }
      }
      const rows = database.prepare('SELECT * FROM pragma_foreign_key_check LIMIT 1000').all() as {
        table: string
        rowid: number | null
        parent: string
        fkid: number
      }[]
      const violations = rows.length
      const tables = [...new Set(rows.map((row) => `${row.table} → ${row.parent}`))]
      return {
        check: 'foreign_keys',
        severity: grade(thresholds, 'foreign_keys', violations),
        subject,
        message:
          violations === 0
            ? 'no foreign key violations'
            : `${violations >= 1000 ? '1000 or more' : violations} row(s) violate foreign keys: ${tables.slice(0, 5).join(', ')}`,
        values: { violations },
        ...(violations > 0 && { detail: { examples: rows.slice(0, 20) } }),
      }
    })

    // Read once for several checks; a failure here leaves those checks to report it.
    const attempt = <T>(fn: () => T, fallback: T): T => {
      try {
        return fn()
      } catch {
        return fallback
      }
    }
    const mode = attempt(
      () => String(pragma<{ journal_mode: string }>('journal_mode')[0]?.journal_mode ?? 'unknown').toLowerCase(),
      'unknown',
    )
    guarded('journal_mode', () => {
      if (mode === 'unknown') throw new Error('cannot read PRAGMA journal_mode')
      return {
        check: 'journal_mode',
        severity: mode === 'wal' || !levelOn(thresholds, 'journal_mode', 'warn') ? 'ok' : 'warn',
        subject,
        message:
          mode === 'wal'
            ? 'journal_mode=wal'
            : `journal_mode=${mode}: readers and the writer block each other (WAL lets them run together)`,
        detail: { journalMode: mode },
        ...(mode !== 'wal' && { fix: 'PRAGMA journal_mode = WAL;' }),
      }
    })

    const walBytes = fileSize(`${this.path}-wal`)
    guarded('wal_size', () =>
      mode !== 'wal'
        ? undefined
        : {
            check: 'wal_size',
            severity: grade(thresholds, 'wal_size', walBytes),
            subject: `${this.path}-wal`,
            message: `WAL file ${formatBytes(walBytes)}`,
            values: { bytes: walBytes },
            ...(grade(thresholds, 'wal_size', walBytes) !== 'ok' && {
              fix: 'dbops maintain checkpoint (long-lived readers keep checkpoints from finishing)',
            }),
          },
    )

    const pageSize = attempt(() => Number(pragma<{ page_size: number }>('page_size')[0]!.page_size), NaN)
    const pageCount = attempt(() => Number(pragma<{ page_count: number }>('page_count')[0]!.page_count), NaN)
    const needPages = () => {
      if (Number.isNaN(pageSize) || Number.isNaN(pageCount)) throw new Error('cannot read page_size and page_count')
    }
    guarded('freelist', () => {
      needPages()
      const free = Number(pragma<{ freelist_count: number }>('freelist_count')[0]?.freelist_count ?? 0)
      const ratio = pageCount > 0 ? free / pageCount : 0
      const severity = grade(thresholds, 'freelist', ratio)
      return {
        check: 'freelist',
        severity,
        subject,
        message: `${free} free page(s) of ${pageCount} (${formatValue('ratio', ratio)}, ${formatBytes(free * pageSize)} reclaimable by VACUUM)`,
        values: { ratio, free_pages: free, free_bytes: free * pageSize },
        ...(severity !== 'ok' && { fix: 'dbops maintain vacuum' }),
      }
    })

    guarded('database_size', () => {
      needPages()
      const bytes = pageCount * pageSize + walBytes
      return {
        check: 'database_size',
        severity: grade(thresholds, 'database_size', bytes),
        subject,
        message: `${formatBytes(pageCount * pageSize)}${walBytes > 0 ? ` plus ${formatBytes(walBytes)} of WAL` : ''}`,
        values: { bytes, file_bytes: pageCount * pageSize, wal_bytes: walBytes },
      }
    })
    return { up: true, version }
  }

  ledgerBackend(): Backend | undefined {
    const database = this.#database
    if (!database) return undefined
    // The backend's ledger SQL and error recognition, with the queries on the read-only handle.
    return Object.assign(Object.create(this.backend) as Backend, {
      exists: () => true,
      query: async <Row>(query: SqlQuery) => database.prepare(query.sql).all(...query.parameters) as Row[],
    })
  }

  async close(): Promise<void> {
    this.#database?.close()
    this.#database = undefined
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}
