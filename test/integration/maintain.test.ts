// maintain against real databases: --auto picks what autovacuum's formula says is due (and nothing else), the
// budget and --dry-run hold, reindex repairs invalid indexes, SQLite's tasks run and report before/after figures.
import { describe, expect, it } from 'vitest'
import { DbopsError, maintainTarget, type MaintainOptions, type MaintainResult } from '../../src/index.js'
import { exec, withTarget, makeProject, type Project } from '../helpers/projects.js'

const maintain = (project: Project, options: MaintainOptions): Promise<MaintainResult> =>
  withTarget(project, (target) => maintainTarget(target, options))

async function deadTuples(project: Project, table: string): Promise<number> {
  const [row] = await project.query(`SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = '${table}'`)
  return Number(row!.n_dead_tup)
}

describe('maintain on postgres', () => {
  it('--auto vacuums the table with dead tuples and leaves a fresh one alone; --dry-run and a spent budget change nothing', async () => {
    const project = await makeProject('postgres')
    await exec(project, [
      'CREATE TABLE "Dead ""Rows""" (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = false)',
      'CREATE TABLE fresh (id int PRIMARY KEY) WITH (autovacuum_enabled = false)',
      `INSERT INTO "Dead ""Rows""" SELECT g, repeat('x', 100) FROM generate_series(1, 10000) g`,
      'INSERT INTO fresh SELECT generate_series(1, 10)',
      'ANALYZE fresh',
      'DELETE FROM "Dead ""Rows""" WHERE id % 2 = 0',
    ])
    expect(await deadTuples(project, 'Dead "Rows"')).toBe(5000)

    const plan = await maintain(project, { task: undefined, auto: true, dryRun: true })
    expect(plan.tasks.map((step) => [step.action, step.object, step.status])).toEqual([
      ['vacuum', 'public."Dead ""Rows"""', 'planned'],
    ])
    expect(plan.tasks[0]!.reason).toMatch(/^5000 dead tuples > 50 \+ 0\.2 × \d+ rows = /)
    expect(plan.tasks[0]!.sql).toBe('VACUUM (ANALYZE, SKIP_LOCKED) "public"."Dead ""Rows"""')
    expect(await deadTuples(project, 'Dead "Rows"')).toBe(5000)

    const spent = await maintain(project, { task: undefined, auto: true, budgetMs: 0 })
    expect(spent.tasks).toEqual([])
    expect(spent.stopped).toBe('budget')
    expect(spent.left.map((step) => step.object)).toEqual(['public."Dead ""Rows"""'])
    expect(await deadTuples(project, 'Dead "Rows"')).toBe(5000)

    const run = await maintain(project, { task: undefined, auto: true })
    expect(run.tasks.map((step) => [step.action, step.object, step.status])).toEqual([
      ['vacuum', 'public."Dead ""Rows"""', 'done'],
    ])
    expect(run.tasks[0]!.before).toMatchObject({ dead_tuples: 5000 })
    expect(run.tasks[0]!.after).toMatchObject({ dead_tuples: 0 })
    expect(run.left).toEqual([])
    expect(await deadTuples(project, 'Dead "Rows"')).toBe(0)

    const again = await maintain(project, { task: undefined, auto: true, dryRun: true })
    expect(again.tasks).toEqual([])
    expect(again.notes.join('\n')).toMatch(/nothing is due/)
  })

  it('honours per-table reloptions and --tables, and analyzes tables with many changes', async () => {
    const project = await makeProject('postgres')
    await exec(project, [
      'CREATE TABLE strict_t (id int PRIMARY KEY) WITH (autovacuum_enabled = false, autovacuum_vacuum_threshold = 5, autovacuum_vacuum_scale_factor = 0)',
      'CREATE TABLE lax (id int PRIMARY KEY) WITH (autovacuum_enabled = false, autovacuum_vacuum_threshold = 100000, autovacuum_analyze_threshold = 100000)',
      'CREATE TABLE changed (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = false)',
      'INSERT INTO strict_t SELECT generate_series(1, 1000)',
      'INSERT INTO lax SELECT generate_series(1, 1000)',
      'INSERT INTO changed SELECT g, g FROM generate_series(1, 1000) g',
      'VACUUM ANALYZE strict_t, lax, changed',
      'DELETE FROM strict_t WHERE id <= 10',
      'DELETE FROM lax WHERE id <= 500',
      'INSERT INTO changed SELECT g, g FROM generate_series(1001, 1200) g',
    ])
    const plan = await maintain(project, { task: undefined, auto: true, dryRun: true })
    expect(plan.tasks.map((step) => `${step.action} ${step.object}`)).toEqual([
      'vacuum public.strict_t',
      'analyze public.changed',
    ])
    const only = await maintain(project, { task: undefined, auto: true, dryRun: true, tables: ['changed'] })
    expect(only.tasks.map((step) => `${step.action} ${step.object}`)).toEqual(['analyze public.changed'])
    await expect(maintain(project, { task: undefined, auto: true, tables: ['nope'] })).rejects.toThrow(
      /no table matches nope/,
    )
  })

  it('reports a table VACUUM skipped because another session holds a lock on it as incomplete, not done', async () => {
    const project = await makeProject('postgres')
    await exec(project, [
      'CREATE TABLE busy (id int PRIMARY KEY) WITH (autovacuum_enabled = false)',
      'CREATE TABLE free (id int PRIMARY KEY) WITH (autovacuum_enabled = false)',
      'INSERT INTO busy SELECT generate_series(1, 1000)',
      'INSERT INTO free SELECT generate_series(1, 1000)',
      'DELETE FROM busy WHERE id <= 500',
      'DELETE FROM free WHERE id <= 500',
    ])
    const pg = (await import('pg')).default
    const holder = new pg.Client({ connectionString: project.url })
    await holder.connect()
    try {
      // SHARE UPDATE EXCLUSIVE is what VACUUM takes: with SKIP_LOCKED it skips the table with a warning, no error.
      await holder.query('BEGIN; LOCK TABLE busy IN SHARE UPDATE EXCLUSIVE MODE')
      const result = await maintain(project, { task: 'vacuum', auto: false, tables: ['busy', 'free'] })
      expect(result.tasks.map((step) => [step.object, step.status])).toEqual([
        ['public.busy', 'incomplete'],
        ['public.free', 'done'],
      ])
      expect(result.tasks[0]!.message).toMatch(/^skipped: another session holds a lock/)
      expect(await deadTuples(project, 'busy')).toBe(500)
      expect(await deadTuples(project, 'free')).toBe(0)
    } finally {
      await holder.end()
    }
  })

  it('cancels a VACUUM that runs past the budget and reports it incomplete, with the tables not started as left', async () => {
    const project = await makeProject('postgres')
    await exec(project, [
      'CREATE TABLE slow (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = false)',
      'CREATE TABLE later (id int PRIMARY KEY) WITH (autovacuum_enabled = false)',
      `INSERT INTO slow SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g`,
      'DELETE FROM slow WHERE id % 2 = 0',
      // Cost-based delay makes this session's VACUUM sleep on every page: seconds for a few hundred pages.
      'DO $$ BEGIN EXECUTE format($f$ALTER DATABASE %I SET vacuum_cost_delay = 100$f$, current_database()); EXECUTE format($f$ALTER DATABASE %I SET vacuum_cost_limit = 1$f$, current_database()); END $$',
    ])
    const started = Date.now()
    const result = await maintain(project, { task: 'vacuum', auto: false, tables: ['slow', 'later'], budgetMs: 700 })
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(result.tasks.map((step) => [step.object, step.status])).toEqual([['public.slow', 'incomplete']])
    expect(result.tasks[0]!.message).toMatch(/^stopped when the budget ran out \(VACUUM cancelled/)
    expect(result.stopped).toBe('budget')
    expect(result.left.map((step) => step.object)).toEqual(['public.later'])

    // Ctrl-C (the signal) cancels it the same way, through PostgreSQL's cancel request.
    const interruption = new AbortController()
    const interrupted = maintain(project, {
      task: 'vacuum',
      auto: false,
      tables: ['slow', 'later'],
      signal: interruption.signal,
      onStep: (event) => {
        if (event.phase === 'start') setTimeout(() => interruption.abort(), 500)
      },
    })
    const stoppedAt = Date.now()
    const outcome = await interrupted
    expect(Date.now() - stoppedAt).toBeLessThan(10_000)
    expect(outcome.tasks.map((step) => [step.object, step.status])).toEqual([['public.slow', 'incomplete']])
    expect(outcome.tasks[0]!.message).toMatch(/^interrupted \(VACUUM cancelled/)
    expect(outcome.stopped).toBe('interrupted')
    expect(outcome.left.map((step) => step.object)).toEqual(['public.later'])
  })

  it('stops before the next table when the signal aborts, and reports what is left', async () => {
    const project = await makeProject('postgres')
    await exec(project, [
      'CREATE TABLE a1 (id int PRIMARY KEY)',
      'CREATE TABLE a2 (id int PRIMARY KEY)',
      'CREATE TABLE a3 (id int PRIMARY KEY)',
    ])
    const interruption = new AbortController()
    const result = await maintain(project, {
      task: 'analyze',
      auto: false,
      signal: interruption.signal,
      onStep: (event) => {
        if (event.phase === 'end') interruption.abort()
      },
    })
    expect(result.tasks.map((step) => `${step.object} ${step.status}`)).toEqual(['public.a1 done'])
    expect(result.stopped).toBe('interrupted')
    expect(result.left.map((step) => step.object)).toEqual(['public.a2', 'public.a3'])
  })

  it('reindex rebuilds invalid indexes concurrently and drops _ccnew leftovers', async () => {
    const project = await makeProject('postgres')
    await exec(project, [
      'CREATE TABLE t (id int PRIMARY KEY, x int)',
      'INSERT INTO t SELECT g, g FROM generate_series(0, 100) g',
    ])
    await expect(project.query('CREATE INDEX CONCURRENTLY t_inv ON t ((100 / x))')).rejects.toThrow(/division by zero/)
    await expect(project.query('CREATE INDEX CONCURRENTLY t_inv_ccnew ON t ((100 / x))')).rejects.toThrow(
      /division by zero/,
    )
    await project.query('DELETE FROM t WHERE x = 0')
    const result = await maintain(project, { task: 'reindex', auto: false })
    expect(result.tasks.map((step) => `${step.action} ${step.object} ${step.status}`).sort()).toEqual([
      'drop-index public.t_inv_ccnew done',
      'reindex public.t_inv done',
    ])
    const rows = await project.query(
      `SELECT c.relname, x.indisvalid FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid WHERE c.relname LIKE 't_inv%'`,
    )
    expect(rows).toEqual([{ relname: 't_inv', indisvalid: true }])
  })

  it('checkpoint runs for a superuser and is refused, saying why, for a role without pg_checkpoint; optimize is SQLite-only', async () => {
    const project = await makeProject('postgres')
    const result = await maintain(project, { task: 'checkpoint', auto: false })
    expect(result.tasks.map((step) => step.status)).toEqual(['done'])
    const role = `dbops_low_${process.pid}_${Date.now()}`
    await project.query(`CREATE ROLE ${role} LOGIN`)
    try {
      const url = new URL(project.url)
      url.username = role
      const low = { ...project, url: url.toString() }
      const refused = await maintain(low, { task: 'checkpoint', auto: false }).catch((caught: unknown) => caught)
      expect((refused as DbopsError).code).toBe('E_PRIVILEGE')
      expect((refused as DbopsError).hint).toContain(`GRANT pg_checkpoint TO ${role}`)
    } finally {
      await project.query(`DROP ROLE ${role}`)
    }
    const error = await maintain(project, { task: 'optimize', auto: false }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(DbopsError)
    expect((error as DbopsError).code).toBe('E_USAGE')
  })
})

describe('maintain on sqlite', () => {
  it('vacuum returns free pages, analyze and optimize write statistics, checkpoint reports the WAL', async () => {
    const project = await makeProject('sqlite')
    await exec(project, [
      'CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)',
      'CREATE INDEX t_v ON t (v)',
      'INSERT INTO t (v) WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 2000) SELECT randomblob(500) FROM s',
      'DELETE FROM t WHERE id > 100',
    ])
    const plan = await maintain(project, { task: undefined, auto: true, dryRun: true })
    expect(plan.tasks.map((step) => step.action)).toEqual(['vacuum', 'optimize'])
    expect(plan.tasks[1]!.reason).toContain('ANALYZE "main"."t"')

    const vacuum = await maintain(project, { task: 'vacuum', auto: false })
    expect(vacuum.tasks[0]!.status).toBe('done')
    expect(vacuum.tasks[0]!.before!.free_pages).toBeGreaterThan(100)
    expect(vacuum.tasks[0]!.after!.free_pages).toBe(0)

    const optimize = await maintain(project, { task: 'optimize', auto: false })
    expect(optimize.tasks[0]!.status).toBe('done')
    expect(await project.query('SELECT tbl FROM sqlite_stat1')).toEqual([{ tbl: 't' }])
    expect((await maintain(project, { task: undefined, auto: true, dryRun: true })).tasks).toEqual([])

    await project.query('DROP TABLE sqlite_stat1')
    const analyze = await maintain(project, { task: 'analyze', auto: false, tables: ['T'] })
    expect(analyze.tasks.map((step) => step.sql)).toEqual(['ANALYZE main."t"'])
    expect(await project.query('SELECT tbl FROM sqlite_stat1')).toEqual([{ tbl: 't' }])

    for (const mode of ['passive', 'truncate'] as const) {
      const checkpoint = await maintain(project, { task: 'checkpoint', auto: false, mode, budgetMs: 2000 })
      expect(checkpoint.tasks[0]!.status).toBe('done')
      expect(checkpoint.tasks[0]!.sql).toBe(`PRAGMA wal_checkpoint(${mode.toUpperCase()})`)
    }
  })
})
