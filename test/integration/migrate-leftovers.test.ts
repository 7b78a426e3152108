// Issue 10 §1: a failed CREATE INDEX CONCURRENTLY is said to leave an invalid index behind only when pg_index has one.
import { describe, expect, it } from 'vitest'
import { migrateUp } from '../../src/index.js'
import { failure, makeProject, migration, withTarget } from '../helpers/projects.js'

describe('failed concurrent index builds on postgres', () => {
  it('say nothing of an invalid index when the table does not exist', async () => {
    const project = await makeProject('postgres', {
      '001_idx.sql': migration(
        'CREATE INDEX CONCURRENTLY orders_placed_at_idx ON orders (placed_at);',
        undefined,
        'transaction:false',
      ),
    })
    await withTarget(project, async (target) => {
      const error = await failure(migrateUp(target))
      expect(error.message).toContain('relation "orders" does not exist')
      expect(error.hint).not.toContain('INVALID')
      expect(error.hint).toMatch(/^0 of 1 statements before it stay applied; fix the database/)
    })
    expect(await project.query(`SELECT 1 FROM pg_index WHERE NOT indisvalid`)).toEqual([])
  })

  it('name the invalid index a failed build did leave', async () => {
    const project = await makeProject('postgres', {
      '001_t.sql': migration(
        `CREATE TABLE "Odd T" (id integer, email text);\nINSERT INTO "Odd T" VALUES (1, 'a@x'), (2, 'a@x');`,
      ),
      '002_idx.sql': migration(
        'CREATE UNIQUE INDEX CONCURRENTLY "Odd Email" ON public."Odd T" (email);',
        undefined,
        'transaction:false',
      ),
    })
    await withTarget(project, async (target) => {
      const error = await failure(migrateUp(target))
      expect(error.hint).toContain('left an INVALID index behind, Odd Email (drop it')
    })
  })
})
