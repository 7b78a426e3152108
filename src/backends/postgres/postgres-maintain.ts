import type { Backend } from '../backend.js'
import { DbopsError, UsageError } from '../../errors.js'
import type { Maintainer, MaintainStep, PlanOptions, RunStepOptions, StepOutcome } from '../../maintain/maintainer.js'
import { resolveNames } from '../../maintain/table-names.js'
import { displayIdentifier, quoteQualified } from '../../sql/query.js'
import { LEFTOVER_INDEX } from '../../audit/rules/invalid-index.js'
import { autovacuumTablesSql } from './postgres-autovacuum.js'

/**
 * Tables with what autovacuum's formula needs: the server's settings, per-table reloptions (which override them),
 * and wraparound age (the table's or its TOAST table's, whichever is older). Sizes from relpages: locking every
 * table for pg_total_relation_size in one statement could exhaust the lock table on big schemas.
 */
const TABLES = `SELECT n.nspname AS schema, c.relname AS name, c.reltuples::float8 AS reltuples, c.reloptions,
  s.n_dead_tup, s.n_live_tup, s.n_mod_since_analyze, s.n_ins_since_vacuum,
  greatest(age(c.relfrozenxid), CASE WHEN t.oid IS NULL THEN 0 ELSE age(t.relfrozenxid) END) AS xid_age,
  (c.relpages::bigint + coalesce(t.relpages, 0)) * current_setting('block_size')::bigint AS bytes
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
ORDER BY 1, 2`

const INVALID_INDEXES = `SELECT n.nspname AS schema, i.relname AS name, c.relname AS table,
  EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = x.indexrelid) AS building
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid JOIN pg_namespace n ON n.oid = i.relnamespace
WHERE NOT x.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'`

const ALL_INDEXES = `SELECT n.nspname AS schema, i.relname AS name FROM pg_class i JOIN pg_namespace n ON n.oid = i.relnamespace
WHERE i.relkind IN ('i', 'I') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'`

const FIGURES = `SELECT coalesce(s.n_dead_tup, 0) AS dead_tuples, coalesce(s.n_live_tup, 0) AS live_tuples, pg_total_relation_size(c.oid) AS bytes,
  coalesce(s.vacuum_count, 0) AS vacuum_count, coalesce(s.analyze_count, 0) AS analyze_count
FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.oid = $1::regclass`

/**
 * Whether this role may VACUUM or ANALYZE the table: PostgreSQL skips it with only a warning otherwise. Before 17 the
 * owner, the database owner or a superuser may; from 17 the MAINTAIN privilege says it (pg_maintain included).
 */
const MAY_MAINTAIN = `SELECT CASE WHEN current_setting('server_version_num')::int >= 170000
    THEN has_table_privilege(c.oid, 'MAINTAIN')
    ELSE r.rolsuper OR pg_has_role(c.relowner, 'USAGE') OR pg_has_role(d.datdba, 'USAGE') END AS may,
  pg_get_userbyid(c.relowner) AS owner, current_user AS role
FROM pg_class c, pg_database d, pg_roles r
WHERE c.oid = $1::regclass AND d.datname = current_database() AND r.rolname = current_user`

type Row = Record<string, any>

const round = (value: number) => Math.round(value * 100) / 100

export class PostgresMaintainer implements Maintainer {
  constructor(private readonly backend: Backend) {}

  async plan(options: PlanOptions): Promise<{ steps: MaintainStep[]; notes: string[] }> {
    switch (options.task) {
      case 'optimize':
        throw new UsageError(
          "optimize is SQLite's PRAGMA optimize",
          'on PostgreSQL use "dbops maintain --auto" (VACUUM and ANALYZE what is due) or "dbops maintain analyze"',
        )
      case 'checkpoint':
        return this.#planCheckpoint()
      case 'reindex':
        return this.#planReindex(options)
      default:
        return this.#planTables(options)
    }
  }

  async #planTables(options: PlanOptions): Promise<{ steps: MaintainStep[]; notes: string[] }> {
    const rows = await this.backend.query<Row>({ sql: TABLES, parameters: [] })
    const tables = options.tables
      ? resolveNames(options.tables, rows as { schema: string; name: string }[], 'table')
      : rows
    const notes: string[] = []
    const action = options.task === 'analyze' ? 'analyze' : 'vacuum'
    if (!options.auto) {
      const steps = (tables as Row[]).map((row) =>
        this.#step(action, row, options.tables ? 'requested' : `every table (${options.task})`),
      )
      return { steps, notes }
    }
    const [server] = await this.backend.query<Row>({
      sql: `SELECT current_setting('server_version_num')::int AS version`,
      parameters: [],
    })
    const formulaRows = await this.backend.query<Row>({
      sql: autovacuumTablesSql(Number(server?.version ?? 150000)),
      parameters: [],
    })
    const due = new Map(formulaRows.map((row) => [`${row.schema}\u0000${row.table}`, row]))
    const wraparound: { row: Row; age: number; reason: string }[] = []
    const vacuum: { row: Row; weight: number; reason: string }[] = []
    const analyze: { row: Row; weight: number; reason: string }[] = []
    for (const row of tables as Row[]) {
      const formula = due.get(`${row.schema}\u0000${row.name}`)
      if (!formula) continue
      const reltuples = round(Number(formula.reltuples))
      const age = Number(formula.xid_age)
      if (age > Number(formula.freeze_max_age) && options.task !== 'analyze') {
        wraparound.push({
          row,
          age,
          reason: `wraparound: transaction ID age ${age} > autovacuum_freeze_max_age ${formula.freeze_max_age}`,
        })
        continue
      }
      if (!formula.has_statistics) continue
      if (options.task !== 'analyze' && formula.vacuum_trigger === 'dead') {
        vacuum.push({
          row,
          weight: Number(formula.vacuum_ratio),
          reason: `${formula.dead} dead tuples > ${formula.vt} + ${formula.vs} × ${reltuples} rows = ${round(Number(formula.vacuum_threshold))}`,
        })
      } else if (options.task !== 'analyze' && formula.vacuum_trigger === 'insert') {
        vacuum.push({
          row,
          weight: Number(formula.vacuum_ratio),
          reason: `${formula.inserted} rows inserted since the last vacuum > ${formula.it} + ${formula.isf} × ${reltuples} = ${round(Number(formula.insert_threshold))}`,
        })
      } else if (options.task !== 'vacuum' && Number(formula.modified ?? 0) > Number(formula.analyze_threshold)) {
        analyze.push({
          row,
          weight: Number(formula.analyze_ratio),
          reason: `${formula.modified} rows changed since the last analyze > ${formula.at} + ${formula.asf} × ${reltuples} = ${round(Number(formula.analyze_threshold))}`,
        })
      }
    }
    wraparound.sort((a, b) => b.age - a.age)
    vacuum.sort((a, b) => b.weight - a.weight)
    analyze.sort((a, b) => b.weight - a.weight)
    const steps = [
      ...wraparound.map(({ row, reason }) => this.#step('vacuum', row, reason)),
      ...vacuum.map(({ row, reason }) => this.#step('vacuum', row, reason)),
      ...analyze.map(({ row, reason }) => this.#step('analyze', row, reason)),
    ]
    if (steps.length === 0) notes.push(`nothing is due: ${tables.length} table(s) are within autovacuum's thresholds`)
    return { steps, notes }
  }

  #step(action: 'vacuum' | 'analyze', row: Row, reason: string): MaintainStep {
    const table = quoteQualified(row.schema, row.name)
    return {
      action,
      object: `${displayIdentifier(row.schema)}.${displayIdentifier(row.name)}`,
      reason,
      sql: action === 'vacuum' ? `VACUUM (ANALYZE, SKIP_LOCKED) ${table}` : `ANALYZE (SKIP_LOCKED) ${table}`,
    }
  }

  async #planReindex(options: PlanOptions): Promise<{ steps: MaintainStep[]; notes: string[] }> {
    const notes: string[] = []
    const steps: MaintainStep[] = []
    for (const row of await this.backend.query<Row>({ sql: INVALID_INDEXES, parameters: [] })) {
      const object = `${displayIdentifier(row.schema)}.${displayIdentifier(row.name)}`
      if (row.building) {
        notes.push(`${object} is being built right now: left alone`)
        continue
      }
      const leftover = LEFTOVER_INDEX.test(row.name)
      steps.push({
        action: leftover ? 'drop-index' : 'reindex',
        object,
        reason: leftover ? 'leftover of a failed REINDEX CONCURRENTLY' : 'invalid index',
        sql: leftover
          ? `DROP INDEX CONCURRENTLY IF EXISTS ${quoteQualified(row.schema, row.name)}`
          : `REINDEX INDEX CONCURRENTLY ${quoteQualified(row.schema, row.name)}`,
      })
    }
    if (options.indexes?.length) {
      const known = await this.backend.query<{ schema: string; name: string }>({ sql: ALL_INDEXES, parameters: [] })
      for (const index of resolveNames(options.indexes, known, 'index')) {
        const object = `${displayIdentifier(index.schema)}.${displayIdentifier(index.name)}`
        if (steps.some((step) => step.object === object)) continue
        steps.push({
          action: 'reindex',
          object,
          reason: 'requested',
          sql: `REINDEX INDEX CONCURRENTLY ${quoteQualified(index.schema, index.name)}`,
        })
      }
    }
    if (steps.length === 0) notes.push('no invalid indexes, and none requested (--indexes)')
    return { steps, notes }
  }

  async #planCheckpoint(): Promise<{ steps: MaintainStep[]; notes: string[] }> {
    const [row] = await this.backend.query<Row>({
      sql: `SELECT current_user AS role, r.rolsuper OR CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pg_checkpoint')
              THEN pg_has_role(current_user, 'pg_checkpoint', 'MEMBER') ELSE false END AS allowed
            FROM pg_roles r WHERE r.rolname = current_user`,
      parameters: [],
    })
    if (!row?.allowed) {
      throw new DbopsError('E_PRIVILEGE', `role ${row?.role ?? 'current_user'} may not run CHECKPOINT`, {
        hint: `it needs to be a superuser or a member of pg_checkpoint (PostgreSQL 15+): GRANT pg_checkpoint TO ${displayIdentifier(String(row?.role ?? 'the_role'))}`,
      })
    }
    return { steps: [{ action: 'checkpoint', object: 'server', reason: 'requested', sql: 'CHECKPOINT' }], notes: [] }
  }

  async runStep(step: MaintainStep, options: RunStepOptions): Promise<StepOutcome> {
    const table =
      step.action === 'vacuum' || step.action === 'analyze'
        ? step.sql.replace(/^(VACUUM|ANALYZE) \([^)]*\) /, '')
        : undefined
    // A VACUUM or ANALYZE may be cancelled when the budget runs out or on Ctrl-C: the pages it has cleaned stay clean.
    // Nothing else is: a cancelled REINDEX CONCURRENTLY would leave an invalid index behind.
    const bounded = table !== undefined && options.remainingMs !== undefined
    const statementTimeoutMs = bounded ? Math.max(1, Math.round(options.remainingMs!)) : 0
    await this.backend.runStatement(
      `SET lock_timeout = '${Math.max(0, Math.round(options.lockTimeoutMs))}ms'; SET statement_timeout = '${statementTimeoutMs}ms'`,
    )
    const before = table ? await this.#figures(table) : undefined
    const cancel = () => void this.backend.cancelRunning()
    if (table !== undefined) options.signal?.addEventListener('abort', cancel, { once: true })
    try {
      await this.backend.runStatement(step.sql)
    } catch (error) {
      const sqlstate = (error as { sqlstate?: string }).sqlstate
      const interrupted = options.signal?.aborted === true
      if (table !== undefined && sqlstate === '57014' && (bounded || interrupted)) {
        const after = await this.#figures(table)
        const why = interrupted ? 'interrupted' : 'stopped when the budget ran out'
        return {
          status: 'incomplete',
          ...(before && { before: before.figures }),
          after: after.figures,
          message: `${why} (${step.action.toUpperCase()} cancelled; what it had done is kept)`,
        }
      }
      const hint =
        sqlstate === '55P03'
          ? ' (lock_timeout: something holds a conflicting lock; run again later)'
          : step.action === 'reindex'
            ? ' (a failed REINDEX CONCURRENTLY leaves an invalid _ccnew index: "dbops maintain reindex" drops it)'
            : ''
      return {
        status: 'failed',
        ...(before && { before: before.figures }),
        message: `${(error as Error).message}${hint}`,
      }
    } finally {
      options.signal?.removeEventListener('abort', cancel)
    }
    const after = table ? await this.#figures(table) : undefined
    if (before && after && (step.action === 'vacuum' || step.action === 'analyze')) {
      // SKIP_LOCKED skips a table another session holds a conflicting lock on, with a warning and no error: only the
      // table's own counter tells whether it ran.
      const counter = step.action === 'vacuum' ? 'vacuumCount' : 'analyzeCount'
      if (after[counter] === before[counter]) {
        // It also skips, the same way, a table this role may not maintain: that is no lock, and waiting will not help.
        const [access] = await this.backend.query<Row>({ sql: MAY_MAINTAIN, parameters: [table] })
        if (access && !access.may) {
          return {
            status: 'failed',
            before: before.figures,
            after: after.figures,
            message: `skipped: role ${access.role} may not ${step.action.toUpperCase()} it (only its owner ${access.owner}, the database owner or a superuser may, and from PostgreSQL 17 a role with MAINTAIN on it)`,
          }
        }
        return {
          status: 'incomplete',
          before: before.figures,
          after: after.figures,
          message: `skipped: another session holds a lock on it that ${step.action.toUpperCase()} would wait for (SKIP_LOCKED); run again later`,
        }
      }
    }
    return { status: 'done', ...(before && { before: before.figures }), ...(after && { after: after.figures }) }
  }

  async #figures(
    table: string,
  ): Promise<{ figures: Record<string, number>; vacuumCount: number; analyzeCount: number }> {
    const [row] = await this.backend.query<Row>({ sql: FIGURES, parameters: [table] })
    return {
      figures: {
        dead_tuples: Number(row?.dead_tuples ?? 0),
        live_tuples: Number(row?.live_tuples ?? 0),
        bytes: Number(row?.bytes ?? 0),
      },
      vacuumCount: Number(row?.vacuum_count ?? 0),
      analyzeCount: Number(row?.analyze_count ?? 0),
    }
  }
}
