// The library does what the CLI does (issue 9 §6): password scrubbing, maintain task names and down's steps/to are
// checked by the library itself, so a library user gets the CLI's safety.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  maintainTarget,
  migrateDown,
  migrateUp,
  migrationStatus,
  openTarget,
  resolveConfig,
  scrubSecrets,
  type MaintainOptions,
} from '../../src/index.js'
import { failure, makeProject, migration, withTarget } from '../helpers/projects.js'

describe('library parity with the CLI', () => {
  it('registers the passwords of the URLs it resolves and opens, so scrubSecrets hides them', async () => {
    const project = await makeProject('sqlite')
    writeFileSync(
      path.join(project.dir, 'dbops.config.json'),
      JSON.stringify({
        targets: { app: { url: project.url }, replica: { url: 'postgres://reader:from-config-pw@127.0.0.1:1/app' } },
        defaultTarget: 'app',
      }),
    )
    await resolveConfig({ cwd: project.dir, env: {} })
    expect(scrubSecrets('connect failed for reader:from-config-pw')).toBe('connect failed for reader:***')

    const target = await openTarget({
      cwd: project.dir,
      env: { DATABASE_URL: 'postgres://x:from-env-pw@h/db' },
      target: 'replica',
      url: 'postgres://flag:from-flag-pw@127.0.0.1:1/app',
    })
    await target.close()
    expect(scrubSecrets('from-flag-pw / from-env-pw')).toBe('*** / ***')
    expect(target.database).toBe('postgres://flag:***@127.0.0.1:1/app')
  })

  it('maintainTarget refuses an unknown task, and no task without auto, as the CLI does', async () => {
    const project = await makeProject('sqlite')
    await project.query('CREATE TABLE t (id INTEGER PRIMARY KEY)')
    const unknown = await failure(
      withTarget(project, (target) =>
        maintainTarget(target, { task: 'defrag', auto: false } as unknown as MaintainOptions),
      ),
    )
    expect(unknown).toMatchObject({ code: 'E_USAGE', message: 'unknown task "defrag"' })
    const none = await failure(
      withTarget(project, (target) => maintainTarget(target, { task: undefined, auto: false })),
    )
    expect(none).toMatchObject({ code: 'E_USAGE', message: 'name a task or pass --auto' })
  })

  it('migrateDown refuses steps together with to instead of letting to win, and rolls nothing back', async () => {
    const project = await makeProject('sqlite', {
      '001_a.sql': migration('CREATE TABLE a (id integer);', 'DROP TABLE a;'),
      '002_b.sql': migration('CREATE TABLE b (id integer);', 'DROP TABLE b;'),
      '003_c.sql': migration('CREATE TABLE c (id integer);', 'DROP TABLE c;'),
    })
    await withTarget(project, (target) => migrateUp(target))
    const both = await failure(withTarget(project, (target) => migrateDown(target, { steps: 1, to: '001' })))
    expect(both).toMatchObject({ code: 'E_USAGE', message: '--steps and --to cannot be used together' })
    const badSteps = await failure(withTarget(project, (target) => migrateDown(target, { steps: 0 })))
    expect(badSteps.code).toBe('E_USAGE')
    const status = await withTarget(project, (target) => migrationStatus(target))
    expect(status.summary).toMatchObject({ applied: 3, pending: 0 })
  })
})
