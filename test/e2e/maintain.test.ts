// `dbops maintain` through the CLI: usage errors, the --dry-run plan, --json shape, exit codes.
import { describe, expect, it } from 'vitest'
import { runCli, spawnCli, waitForExit, type CliResult } from '../helpers/databases.js'
import { makeProject, type Project } from '../helpers/projects.js'

const maintain = (project: Project, ...args: string[]): Promise<CliResult> =>
  runCli(['--url', project.url, 'maintain', ...args], { cwd: project.dir })

describe('dbops maintain', () => {
  it('refuses a missing or unknown task with exit 3', async () => {
    const project = await makeProject('sqlite')
    await project.query('CREATE TABLE t (id INTEGER PRIMARY KEY)')
    const none = await maintain(project)
    expect(none.code).toBe(3)
    expect(none.stderr).toMatch(/^error: name a task or pass --auto/)
    expect((await maintain(project, 'defrag')).code).toBe(3)
    expect((await maintain(project, 'vacuum', '--budget', '10')).code).toBe(3)
    expect((await maintain(project, 'optimize', '--tables', 'missing')).code).toBe(3)
  })

  it('prints the plan with reasons on --dry-run, runs it, and reports per-step figures in JSON', async () => {
    const project = await makeProject('postgres')
    for (const statement of [
      'CREATE TABLE "Busy Table" (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = false)',
      'INSERT INTO "Busy Table" SELECT g, \'x\' FROM generate_series(1, 2000) g',
      'DELETE FROM "Busy Table" WHERE id > 100',
    ]) {
      await project.query(statement)
    }
    const plan = await maintain(project, '--auto', '--dry-run')
    expect(plan.code).toBe(0)
    expect(plan.stdout).toMatch(/plan \(dry run, nothing runs\): 1 step/)
    expect(plan.stdout).toMatch(/vacuum\s+public\."Busy Table"\s+1900 dead tuples > 50 \+ 0\.2 ×/)

    const run = await maintain(project, '--auto', '--json')
    expect(run.code).toBe(0)
    const document = JSON.parse(run.stdout)
    expect(document).toMatchObject({
      ok: true,
      target: 'default',
      task: 'auto',
      dryRun: false,
      left: [],
      stopped: null,
    })
    expect(document.tasks).toEqual([
      expect.objectContaining({
        action: 'vacuum',
        object: 'public."Busy Table"',
        status: 'done',
        before: expect.objectContaining({ dead_tuples: 1900 }),
        after: expect.objectContaining({ dead_tuples: 0 }),
      }),
    ])

    const spent = await maintain(project, 'analyze', '--budget', '0', '--json')
    expect(spent.code).toBe(1)
    expect(JSON.parse(spent.stdout)).toMatchObject({ stopped: 'budget', tasks: [] })
  })

  it('runs a SQLite checkpoint', async () => {
    const project = await makeProject('sqlite')
    await project.query('CREATE TABLE t (id INTEGER PRIMARY KEY)')
    const result = await maintain(project, 'checkpoint', '--mode', 'truncate', '--budget', '2s')
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/checkpoint\s+main\s+done/)
  })

  it('stops at the next table on SIGINT and reports what is left', async () => {
    const project = await makeProject('postgres')
    await project.query(
      `DO $$ BEGIN FOR i IN 1..300 LOOP EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY)', 'm' || i); END LOOP; END $$`,
    )
    const child = spawnCli(['--url', project.url, 'maintain', 'analyze', '--json'], { cwd: project.dir })
    child.stderr!.once('data', () => child.kill('SIGINT'))
    const result = await waitForExit(child)
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/SIGINT: stopping at the next safe point/)
    const document = JSON.parse(result.stdout)
    expect(document).toMatchObject({ ok: false, stopped: 'interrupted' })
    expect(document.tasks.length).toBeGreaterThan(0)
    expect(document.left.length).toBeGreaterThan(0)
    expect(document.tasks.length + document.left.length).toBe(300)
  })
})
