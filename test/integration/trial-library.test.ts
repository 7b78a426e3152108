// The library as a demanding user calls it: options a TypeScript caller can pass but that mean nothing are refused
// before anything runs, never read as "everything".
import { describe, expect, it } from 'vitest'
import { migrateUp } from '../../src/index.js'
import {
  ENGINES,
  failure,
  ledgerVersions,
  makeProject,
  migration,
  tableNames,
  withTarget,
} from '../helpers/projects.js'

const twoTables = {
  '001_a.sql': migration('CREATE TABLE a (id integer PRIMARY KEY);', 'DROP TABLE a;'),
  '002_b.sql': migration('CREATE TABLE b (id integer PRIMARY KEY);', 'DROP TABLE b;'),
}

describe.each(ENGINES)('library on %s (trial)', (engine) => {
  it.each([0, -1, 1.5, Number.NaN])('migrateUp({ steps: %s }) is a UsageError and applies nothing', async (steps) => {
    const project = await makeProject(engine, twoTables)
    await withTarget(project, async (target) => {
      const error = await failure(migrateUp(target, { steps }))
      expect(error.code).toBe('E_USAGE')
      expect(error.message).toBe(`--steps takes a whole number of at least 1, not ${String(steps)}`)
    })
    expect(await tableNames(project)).toEqual([])
    expect(await ledgerVersions(project).catch(() => [])).toEqual([])
  })

  it('migrateUp({ steps: 1 }) applies one migration', async () => {
    const project = await makeProject(engine, twoTables)
    await withTarget(project, async (target) => {
      expect((await migrateUp(target, { steps: 1 })).migrations.map((m) => m.version)).toEqual(['001'])
    })
  })
})
