// The package as a library user gets it: `import ... from 'dbops'` resolves through package.json "exports" to dist/.
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { REPO_ROOT, runCli } from '../helpers/databases.js'
import { makeProject, migration } from '../helpers/projects.js'

describe('dbops as a library', () => {
  it('imports openTarget, migrateUp, migrateDown and migrationStatus from "dbops" and returns what --json prints', async () => {
    const project = await makeProject('sqlite', {
      '001_a.sql': migration('CREATE TABLE a (id integer);', 'DROP TABLE a;'),
      '002_b.sql': migration('CREATE TABLE b (id integer);', 'DROP TABLE b;'),
    })
    const script = `
      import { openTarget, migrateUp, migrateDown, migrationStatus } from 'dbops'
      const target = await openTarget({ url: ${JSON.stringify(project.url)}, cwd: ${JSON.stringify(project.dir)} })
      try {
        const up = await migrateUp(target)
        const down = await migrateDown(target)
        const status = await migrationStatus(target)
        console.log(JSON.stringify({ up, down, status }))
      } finally {
        await target.close()
      }`
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8' })
    expect(run.stderr).toBe('')
    const { up, down, status } = JSON.parse(run.stdout)
    expect(up.migrations.map((m: { version: string; status: string }) => [m.version, m.status])).toEqual([
      ['001', 'applied'],
      ['002', 'applied'],
    ])
    expect(down.migrations.map((m: { version: string }) => m.version)).toEqual(['002'])
    expect(status.summary).toMatchObject({ applied: 1, pending: 1 })

    const cli = await runCli(['--url', project.url, 'migrate', 'status', '--json'], { cwd: project.dir })
    const { ok, database, ...fromCli } = JSON.parse(cli.stdout)
    expect(ok).toBe(true)
    expect(database).toBe(project.url.slice('sqlite:'.length))
    expect(fromCli).toEqual(status)
  })
})
