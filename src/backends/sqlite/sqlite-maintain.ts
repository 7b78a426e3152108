import { statSync, statfsSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Backend } from '../backend.js'
import { formatDuration } from '../../output/format.js'
import { DbopsError } from '../../errors.js'
import type { Maintainer, MaintainStep, PlanOptions, RunStepOptions, StepOutcome } from '../../maintain/maintainer.js'
import { resolveNames } from '../../maintain/table-names.js'
import { displayIdentifier, quoteIdentifier } from '../../sql/query.js'

type Row = Record<string, any>

/** With --auto, VACUUM is due when this share of the file is free pages. */
const AUTO_VACUUM_FREE_RATIO = 0.25
/**
 * PRAGMA optimize's mask for a fresh connection: 0x02 analyze what may benefit, 0x10 cap the work (analysis_limit),
 * 0x10000 also consider tables this connection never queried (all of them, for a CLI). 0x01 = report only.
 */
const OPTIMIZE_MASK = 0x10012
const OPTIMIZE_PLAN_MASK = 0x10013

export class SqliteMaintainer implements Maintainer {
  constructor(private readonly backend: Backend) {}

  async plan(options: PlanOptions): Promise<{ steps: MaintainStep[]; notes: string[] }> {
    const notes: string[] = []
    const steps: MaintainStep[] = []
    const tables = options.tables?.length ? resolveNames(options.tables, await this.#tables(), 'table') : undefined
    const task = options.task
    if (task === 'vacuum' || (task === undefined && options.auto)) {
      const { free, pages } = await this.#pages()
      const ratio = pages > 0 ? free / pages : 0
      const due = !options.auto || ratio >= AUTO_VACUUM_FREE_RATIO
      if (tables) notes.push('VACUUM rewrites the whole file: --tables does not apply to it')
      if (due)
        steps.push({
          action: 'vacuum',
          object: 'main',
          reason: `${free} of ${pages} pages are free (${Math.round(ratio * 100)}%)`,
          sql: 'VACUUM',
        })
      else if (task === 'vacuum')
        notes.push(`VACUUM is not due: ${free} of ${pages} pages free (under ${AUTO_VACUUM_FREE_RATIO * 100}%)`)
    }
    if (task === 'analyze') {
      if (tables)
        for (const table of tables)
          steps.push({
            action: 'analyze',
            object: displayIdentifier(table.name),
            reason: 'requested',
            sql: `ANALYZE main.${quoteIdentifier(table.name)}`,
          })
      else steps.push({ action: 'analyze', object: 'main', reason: 'requested', sql: 'ANALYZE' })
    }
    if (
      task === 'optimize' ||
      (task === undefined && options.auto) ||
      (task === 'analyze' && options.auto && !tables)
    ) {
      // The report-only mask lists exactly the ANALYZE statements the real run would execute.
      const planned = (
        await this.backend.query<Row>({ sql: `PRAGMA optimize(${OPTIMIZE_PLAN_MASK})`, parameters: [] })
      ).map((row) => String(Object.values(row)[0]))
      if (task === 'analyze' && options.auto) steps.splice(0)
      if (planned.length > 0 || !options.auto) {
        steps.push({
          action: 'optimize',
          object: 'main',
          reason: planned.length > 0 ? `would run: ${planned.join('; ')}` : 'requested (nothing looks due to SQLite)',
          sql: `PRAGMA optimize(0x${OPTIMIZE_MASK.toString(16)})`,
        })
      } else notes.push('PRAGMA optimize finds no table whose statistics need refreshing')
    }
    if (task === 'reindex') {
      if (options.indexes?.length) {
        const known = (await this.backend.query<Row>({
          sql: `SELECT 'main' AS schema, name FROM sqlite_schema WHERE type = 'index'`,
          parameters: [],
        })) as { schema: string; name: string }[]
        for (const index of resolveNames(options.indexes, known, 'index')) {
          steps.push({
            action: 'reindex',
            object: displayIdentifier(index.name),
            reason: 'requested',
            sql: `REINDEX main.${quoteIdentifier(index.name)}`,
          })
        }
      } else {
        steps.push({
          action: 'reindex',
          object: 'main',
          reason: 'requested: every index (after a collation change)',
          sql: 'REINDEX',
        })
      }
    }
    if (task === 'checkpoint') {
      const mode = options.mode === 'truncate' ? 'TRUNCATE' : 'PASSIVE'
      steps.push({
        action: 'checkpoint',
        object: 'main',
        reason:
          mode === 'PASSIVE'
            ? 'requested (PASSIVE: never waits for readers or writers)'
            : 'requested (TRUNCATE: waits for readers up to the budget, then empties the WAL file)',
        sql: `PRAGMA wal_checkpoint(${mode})`,
      })
    }
    if (steps.length === 0 && notes.length === 0) notes.push('nothing is due')
    return { steps, notes }
  }

  async runStep(step: MaintainStep, options: RunStepOptions): Promise<StepOutcome> {
    const before = await this.#figures()
    if (step.action === 'vacuum') this.#checkDiskSpace(before)
    if (step.action === 'checkpoint') return this.#checkpoint(step, options, before)
    await this.backend.query({ sql: step.sql, parameters: [] })
    return { status: 'done', before, after: await this.#figures() }
  }

  async #checkpoint(step: MaintainStep, options: RunStepOptions, before: Record<string, number>): Promise<StepOutcome> {
    const truncate = step.sql.includes('TRUNCATE')
    const [previous] = await this.backend.query<Row>({ sql: 'PRAGMA busy_timeout', parameters: [] })
    const budget = options.remainingMs ?? 5000
    if (truncate)
      await this.backend.query({ sql: `PRAGMA busy_timeout = ${Math.max(0, Math.round(budget))}`, parameters: [] })
    try {
      const [row] = await this.backend.query<Row>({ sql: step.sql, parameters: [] })
      const busy = Number(row?.busy ?? 0)
      const log = Number(row?.log ?? -1)
      const checkpointed = Number(row?.checkpointed ?? -1)
      const after = { ...(await this.#figures()), wal_frames: log, checkpointed_frames: checkpointed }
      if (log === -1)
        return { status: 'done', before, after, message: 'the database is not in WAL mode: nothing to checkpoint' }
      if (busy === 1 || checkpointed < log) {
        return {
          status: 'incomplete',
          before,
          after,
          message: `${checkpointed} of ${log} WAL frames copied back: ${truncate ? `readers or writers kept it busy for the ${formatDuration(budget)} budget` : 'readers still use the rest (PASSIVE never waits; try --mode truncate)'}`,
        }
      }
      return { status: 'done', before, after }
    } finally {
      if (truncate)
        await this.backend.query({
          sql: `PRAGMA busy_timeout = ${Number(Object.values(previous ?? {})[0] ?? 5000)}`,
          parameters: [],
        })
    }
  }

  /** VACUUM writes a full copy of the database (and journals it): refuse unless twice the file size is free. */
  #checkDiskSpace(figures: Record<string, number>): void {
    const file = this.#file
    if (!file) return
    const { bavail, bsize } = statfsSync(dirname(file))
    const free = Number(bavail) * Number(bsize)
    const needed = 2 * (figures.file_bytes! + (figures.wal_bytes ?? 0))
    if (free < needed) {
      throw new DbopsError(
        'E_DISK_SPACE',
        `VACUUM needs up to ${needed} bytes free next to ${file} (twice the database), but only ${free} are`,
        {
          hint: 'free some disk space, or skip vacuum: it only returns free pages to the file system',
        },
      )
    }
  }

  #file: string | undefined

  async #figures(): Promise<Record<string, number>> {
    if (this.#file === undefined) {
      const [main] = await this.backend.query<Row>({
        sql: `SELECT file FROM pragma_database_list WHERE name = 'main'`,
        parameters: [],
      })
      this.#file = main?.file ? String(main.file) : ''
    }
    const { free, pages, pageSize } = await this.#pages()
    const size = (path: string) => {
      try {
        return statSync(path).size
      } catch {
        return 0
      }
    }
    return {
      file_bytes: this.#file ? size(this.#file) : pages * pageSize,
      wal_bytes: this.#file ? size(`${this.#file}-wal`) : 0,
      free_pages: free,
      pages,
    }
  }

  async #pages(): Promise<{ free: number; pages: number; pageSize: number }> {
    const [row] = await this.backend.query<Row>({
      sql: 'SELECT f.freelist_count AS free, p.page_count AS pages, s.page_size AS page_size FROM pragma_freelist_count f, pragma_page_count p, pragma_page_size s',
      parameters: [],
    })
    return { free: Number(row?.free ?? 0), pages: Number(row?.pages ?? 0), pageSize: Number(row?.page_size ?? 4096) }
  }

  async #tables(): Promise<{ schema: string; name: string }[]> {
    return this.backend.query({
      sql: `SELECT 'main' AS schema, name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'`,
      parameters: [],
    })
  }
}
