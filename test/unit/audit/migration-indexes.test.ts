import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { indexesCreatedByMigrations } from '../../../src/audit/migration-indexes.js'
import { tempTree } from '../../helpers/databases.js'

describe('indexesCreatedByMigrations', () => {
  it("finds the indexes that files and migration folders' up files create, not their down files", () => {
    const dir = tempTree(
      {
        '1_a.sql': '-- migrate:up\nCREATE INDEX a_idx ON t (a);\n-- migrate:down\nCREATE INDEX gone ON t (a);\n',
        '2019-02-26-002946_b/up.sql': 'CREATE INDEX b_idx ON t (b);\n',
        '2019-02-26-002946_b/down.sql': 'CREATE INDEX b_down ON t (b);\n',
        '20230101000000_c/migration.sql': 'CREATE UNIQUE INDEX "C_key" ON "T"("c");\n',
      },
      'dbops-migration-indexes',
    )
    expect(Object.fromEntries(indexesCreatedByMigrations(dir))).toEqual({
      a_idx: '1_a.sql',
      b_idx: join('2019-02-26-002946_b', 'up.sql'),
      C_key: join('20230101000000_c', 'migration.sql'),
    })
  })
})
