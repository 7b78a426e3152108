import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { indexesCreatedByMigrations } from '../../../src/audit/migration-indexes.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe('indexesCreatedByMigrations', () => {
  it("finds the indexes that files and migration folders' up files create, not their down files", () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbops-migration-indexes-'))
    dirs.push(dir)
    writeFileSync(
      join(dir, '1_a.sql'),
      '-- migrate:up\nCREATE INDEX a_idx ON t (a);\n-- migrate:down\nCREATE INDEX gone ON t (a);\n',
    )
    mkdirSync(join(dir, '2019-02-26-002946_b'))
    writeFileSync(join(dir, '2019-02-26-002946_b', 'up.sql'), 'CREATE INDEX b_idx ON t (b);\n')
    writeFileSync(join(dir, '2019-02-26-002946_b', 'down.sql'), 'CREATE INDEX b_down ON t (b);\n')
    mkdirSync(join(dir, '20230101000000_c'))
    writeFileSync(join(dir, '20230101000000_c', 'migration.sql'), 'CREATE UNIQUE INDEX "C_key" ON "T"("c");\n')
    expect(Object.fromEntries(indexesCreatedByMigrations(dir))).toEqual({
      a_idx: '1_a.sql',
      b_idx: join('2019-02-26-002946_b', 'up.sql'),
      C_key: join('20230101000000_c', 'migration.sql'),
    })
  })
})
