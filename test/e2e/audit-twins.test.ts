// Issue 10 §1: `dbops audit --fix` given a migration's index and a hand-made twin drops the hand-made one, even when
// the hand-made one is older and sorts first, so applying the fix elsewhere never loses the migration's index.
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from '../helpers/databases.js'
import { makeProject, migration } from '../helpers/projects.js'

describe('dbops audit --fix with identical indexes', () => {
  it('keeps the index the migrations create and says why', async () => {
    const project = await makeProject('postgres', {
      '001_orders.sql': migration(
        'CREATE TABLE orders (id int PRIMARY KEY, placed_at timestamptz);',
        'DROP TABLE orders;',
      ),
    })
    const cli = (...args: string[]) => runCli(['--url', project.url, ...args], { cwd: project.dir })
    expect((await cli('migrate', 'up')).code).toBe(0)
    await project.query('CREATE INDEX idx_orders_placed ON orders (placed_at)')
    project.write(
      'migrations/002_orders_placed_at.sql',
      migration('CREATE INDEX orders_placed_at_idx ON orders (placed_at);', 'DROP INDEX orders_placed_at_idx;'),
    )
    expect((await cli('migrate', 'up')).code).toBe(0)

    const report = await cli('audit', '--checks', 'duplicate_index', '--json')
    expect(report.code).toBe(1)
    const [finding] = JSON.parse(report.stdout).findings
    expect(finding).toMatchObject({
      subject: 'public.idx_orders_placed',
      detail: { duplicateOf: 'public.orders_placed_at_idx', kept: 'migration 002_orders_placed_at.sql creates it' },
    })

    expect((await cli('audit', '--checks', 'duplicate_index', '--fix', 'twins')).code).toBe(1)
    const file = readdirSync(path.join(project.dir, 'migrations')).find((name) => name.endsWith('_twins.sql'))!
    const text = readFileSync(path.join(project.dir, 'migrations', file), 'utf8')
    expect(text).toContain('DROP INDEX CONCURRENTLY IF EXISTS "public"."idx_orders_placed";')
    expect(text).not.toMatch(/DROP INDEX[^;]*orders_placed_at_idx/)
  })
})
