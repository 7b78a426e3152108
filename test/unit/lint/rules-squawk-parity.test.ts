// Rules squawk has that dbops lacked (issue 11): each a true positive and the near misses that must stay quiet.
import { describe, expect, it } from 'vitest'
import { lint, lintFiles, rules } from './lint-helpers.js'

async function only(rule: string, sql: string, options: Parameters<typeof lint>[1] = {}) {
  return (await lint(sql, options)).filter((finding) => finding.rule === rule)
}

describe('domains', () => {
  it('alter-domain-add-constraint: ADD CONSTRAINT and VALIDATE scan every column of the domain under SHARE', async () => {
    const [finding, ...rest] = await only(
      'alter-domain-add-constraint',
      'ALTER DOMAIN positive ADD CONSTRAINT positive_check CHECK (VALUE > 0);',
    )
    expect(rest).toEqual([])
    expect(finding).toMatchObject({ severity: 'warn', lock: 'SHARE', line: 2 })
    expect(finding!.message).toContain('blocks INSERT/UPDATE/DELETE')
    expect(finding!.safe).toContain('NOT VALID')
    expect(
      rules(await only('alter-domain-add-constraint', 'ALTER DOMAIN positive VALIDATE CONSTRAINT positive_check;')),
    ).toEqual(['alter-domain-add-constraint'])
  })

  it('alter-domain-add-constraint stays quiet for NOT VALID, other ALTER DOMAINs and a domain created in the run', async () => {
    expect(
      await only('alter-domain-add-constraint', 'ALTER DOMAIN positive ADD CONSTRAINT c CHECK (VALUE > 0) NOT VALID;'),
    ).toEqual([])
    expect(await only('alter-domain-add-constraint', 'ALTER DOMAIN positive SET DEFAULT 1;')).toEqual([])
    expect(await only('alter-domain-add-constraint', 'ALTER DOMAIN positive DROP CONSTRAINT c;')).toEqual([])
    expect(
      await only(
        'alter-domain-add-constraint',
        'CREATE DOMAIN positive AS int;\nALTER DOMAIN positive ADD CONSTRAINT c CHECK (VALUE > 0);',
      ),
    ).toEqual([])
  })

  it('create-domain-with-check: advice at CREATE DOMAIN, a rewrite warning where a column of it is added', async () => {
    const result = await lintFiles([
      'CREATE DOMAIN positive AS int CHECK (VALUE > 0);',
      'ALTER TABLE orders ADD COLUMN quantity positive;',
    ])
    const findings = result.findings.filter((finding) => finding.rule === 'create-domain-with-check')
    expect(findings.map((finding) => [finding.migration, finding.severity])).toEqual([
      ['1_m1', 'info'],
      ['2_m2', 'warn'],
    ])
    expect(findings[1]).toMatchObject({ table: 'orders', lock: 'ACCESS EXCLUSIVE' })
    expect(findings[1]!.message).toContain('rewrites orders')
  })

  it('create-domain-with-check stays quiet for a domain without CHECK, a table created in the run, CREATE TABLE', async () => {
    const quiet = await lintFiles([
      'CREATE DOMAIN plain AS int NOT NULL;\nCREATE DOMAIN positive AS int CHECK (VALUE > 0);',
      'ALTER TABLE orders ADD COLUMN a plain;\nCREATE TABLE items (q positive);\nALTER TABLE items ADD COLUMN r positive;',
    ])
    expect(
      quiet.findings.filter((finding) => finding.rule === 'create-domain-with-check').map((f) => f.migration),
    ).toEqual(['1_m1'])
  })
})

describe('drop-database', () => {
  it('is an error in a transaction:false file', async () => {
    const [finding, ...rest] = await only('drop-database', 'DROP DATABASE IF EXISTS reports;', {
      directive: 'transaction:false',
    })
    expect(rest).toEqual([])
    expect(finding).toMatchObject({ severity: 'error' })
    expect(finding!.message).toContain('DROP DATABASE reports')
  })

  it('stays quiet for DROP SCHEMA, DROP TABLE and CREATE DATABASE', async () => {
    const sql = 'DROP SCHEMA reports;\nDROP TABLE database;\nCREATE DATABASE reports;'
    expect(await only('drop-database', sql, { directive: 'transaction:false' })).toEqual([])
  })
})

describe('duplicate-column-assignment', () => {
  it('reports a column assigned twice in UPDATE, in a row assignment, and in ON CONFLICT DO UPDATE', async () => {
    expect(
      rules(await only('duplicate-column-assignment', 'UPDATE orders SET status = 1, status = 2 WHERE id = 1;')),
    ).toEqual(['duplicate-column-assignment'])
    expect(
      rules(await only('duplicate-column-assignment', 'UPDATE orders SET (a, b) = (1, 2), b = 3 WHERE id = 1;')),
    ).toEqual(['duplicate-column-assignment'])
    const [finding] = await only(
      'duplicate-column-assignment',
      'INSERT INTO orders (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 1, a = 2;',
    )
    expect(finding).toMatchObject({ severity: 'error', table: 'orders' })
    expect(finding!.message).toContain('column a is assigned twice')
  })

  it('stays quiet for distinct columns and subscripts of one array; still reports on a table created in the file', async () => {
    expect(await only('duplicate-column-assignment', 'UPDATE orders SET a = 1, b = 2 WHERE id = 1;')).toEqual([])
    expect(
      await only('duplicate-column-assignment', 'UPDATE orders SET tags[1] = 1, tags[2] = 2 WHERE id = 1;'),
    ).toEqual([])
    expect(
      rules(
        await only(
          'duplicate-column-assignment',
          'CREATE TABLE orders (a int);\nUPDATE orders SET a = 1, a = 2 WHERE true;',
        ),
      ),
    ).toEqual(['duplicate-column-assignment'])
  })
})

describe('prefer-robust-statements (transaction:false files run again after a failure part way)', () => {
  const nonTransactional = { directive: 'transaction:false' }

  it('reports statements that fail on a second run', async () => {
    const findings = await only(
      'prefer-robust-statements',
      'CREATE INDEX CONCURRENTLY orders_user_idx ON orders (user_id);\nDROP INDEX CONCURRENTLY orders_old_idx;\nALTER TABLE orders ADD COLUMN note text;\nALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0) NOT VALID;\nCREATE TABLE audit (id bigint);\nSELECT 1;',
      nonTransactional,
    )
    expect(findings.map((finding) => finding.line)).toEqual([2, 3, 4, 5, 6])
    expect(findings[0]!.safe).toContain('DROP INDEX CONCURRENTLY IF EXISTS orders_user_idx')
    expect(findings[0]!.message).toContain('runs again from its first statement')
  })

  it('stays quiet for robust forms, transactional files and a last statement that is not CONCURRENTLY', async () => {
    const robust =
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS a_idx ON orders (a);\nDROP INDEX CONCURRENTLY IF EXISTS b_idx;\nCREATE INDEX CONCURRENTLY b_idx ON orders (b);\nALTER TABLE orders ADD COLUMN IF NOT EXISTS note text;\nALTER TABLE orders DROP CONSTRAINT IF EXISTS positive;\nALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0) NOT VALID;\nCREATE TABLE IF NOT EXISTS audit (id bigint);\nSELECT 1;'
    expect(await only('prefer-robust-statements', robust, nonTransactional)).toEqual([])
    expect(
      await only(
        'prefer-robust-statements',
        'CREATE TABLE audit (id bigint);\nALTER TABLE orders ADD COLUMN note text;',
      ),
    ).toEqual([])
    expect(await only('prefer-robust-statements', 'SELECT 1;\nDROP TABLE audit;', nonTransactional)).toEqual([])
    // Alone, a failed build fails loudly on its INVALID index when run again; IF NOT EXISTS would keep that index.
    expect(
      await only('prefer-robust-statements', 'CREATE INDEX CONCURRENTLY i ON orders (a);', nonTransactional),
    ).toEqual([])
  })
})

describe('prefer-robust-statements on hatchet-dev/hatchet (third round): names, temporary tables, DO blocks, enums', () => {
  const nonTransactional = { directive: 'transaction:false' }

  it('names quoted identifiers as written, and a DROP INDEX IF EXISTS covers only the index it names', async () => {
    const findings = await only(
      'prefer-robust-statements',
      'DROP INDEX CONCURRENTLY IF EXISTS "Queue_old_key";\nALTER TABLE "QueueItem" ADD CONSTRAINT "QueueItem_priority_check" CHECK (priority >= 1) NOT VALID;\nCREATE UNIQUE INDEX "Queue_new_key" ON "QueueItem" ("stepRunId");\nALTER TABLE app."QueueItem" DROP COLUMN "retryCount";\nSELECT 1;',
      nonTransactional,
    )
    expect(findings.map((finding) => finding.line)).toEqual([3, 4, 5])
    expect(findings[0]).toMatchObject({ table: 'QueueItem' })
    expect(findings[0]!.message).toContain('ADD CONSTRAINT "QueueItem_priority_check" fails')
    expect(findings[0]!.safe).toContain('ALTER TABLE "QueueItem" DROP CONSTRAINT IF EXISTS "QueueItem_priority_check"')
    expect(findings[1]!.safe).toContain('CREATE INDEX IF NOT EXISTS "Queue_new_key"')
    expect(findings[2]).toMatchObject({ table: 'app.QueueItem' })
    expect(findings[2]!.safe).toBe('ALTER TABLE app."QueueItem" DROP COLUMN IF EXISTS "retryCount";')
    // Dropped IF EXISTS earlier in the file, under its quoted name: the create after it runs again.
    expect(
      await only(
        'prefer-robust-statements',
        'DROP INDEX CONCURRENTLY IF EXISTS "Queue_key";\nCREATE INDEX CONCURRENTLY "Queue_key" ON "QueueItem" (a);\nSELECT 1;',
        nonTransactional,
      ),
    ).toEqual([])
  })

  it('reports ALTER TYPE ... ADD VALUE without IF NOT EXISTS, not with it or in a transactional file', async () => {
    const [finding, ...rest] = await only(
      'prefer-robust-statements',
      `ALTER TYPE "StepRunEventReason" ADD VALUE 'TIMED_OUT';\nALTER TYPE status ADD VALUE IF NOT EXISTS 'x';\nALTER TYPE status RENAME VALUE 'a' TO 'b';\nSELECT 1;`,
      nonTransactional,
    )
    expect(rest).toEqual([])
    expect(finding).toMatchObject({ line: 2 })
    expect(finding!.safe).toBe('ALTER TYPE "StepRunEventReason" ADD VALUE IF NOT EXISTS ...;')
    expect(await only('prefer-robust-statements', `ALTER TYPE status ADD VALUE 'x';\nSELECT 1;`)).toEqual([])
  })

  it('stays quiet for a temporary table, which goes with the session that failed', async () => {
    const temp =
      'CREATE TEMP TABLE nulls AS SELECT id FROM events WHERE x IS NULL;\nCREATE LOCAL TEMPORARY TABLE ids (id bigint);\nSELECT 1;'
    expect(await only('prefer-robust-statements', temp, nonTransactional)).toEqual([])
    expect(
      rules(
        await only('prefer-robust-statements', 'CREATE UNLOGGED TABLE ids (id bigint);\nSELECT 1;', nonTransactional),
      ),
    ).toEqual(['prefer-robust-statements'])
  })

  it('judges a DO block as one statement: quiet when it is the last, reported when a statement follows it', async () => {
    const block =
      'DO $$\nBEGIN\n  CREATE TABLE events_new (id bigint);\n  DROP TABLE events;\n  ALTER TABLE events_new RENAME TO events;\nEND\n$$;'
    expect(await only('prefer-robust-statements', `SELECT 1;\n${block}`, nonTransactional)).toEqual([])
    const findings = await only('prefer-robust-statements', `${block}\nSELECT 1;`, nonTransactional)
    expect(findings.map((finding) => finding.message.split(' fails')[0])).toEqual([
      'CREATE TABLE events_new',
      'DROP TABLE events',
    ])
  })
})

describe('update-without-where names a quoted table (hatchet-dev/hatchet, third round)', () => {
  it('reports the table as PostgreSQL names it, schema-qualified or not', async () => {
    const [finding] = await only(
      'update-without-where',
      'UPDATE "WorkflowVersion" SET "checksum" = md5(random()::text);',
    )
    expect(finding).toMatchObject({ table: 'WorkflowVersion' })
    expect(finding!.message).toContain('every row of WorkflowVersion')
    const [qualified] = await only('delete-without-where', 'DELETE FROM app."Order Items";')
    expect(qualified).toMatchObject({ table: 'Order Items' })
    expect(await only('update-without-where', 'UPDATE "WorkflowVersion" SET a = 1 WHERE "id" = 2;')).toEqual([])
  })
})

describe('drop-table after a rename in the same file (riverqueue/river 005, third round)', () => {
  const swap =
    'ALTER TABLE river_migration RENAME TO river_migration_old;\nCREATE TABLE river_migration (line text, version bigint);\nINSERT INTO river_migration SELECT * FROM river_migration_old;\nDROP TABLE river_migration_old;'

  it('reports the rename, not the drop of the name the file itself gave', async () => {
    expect(rules(await lint(swap))).toEqual(['rename-table'])
    const inBlock = `DO $body$\nBEGIN\n  IF to_regclass('river_migration') IS NOT NULL THEN\n    ${swap.replace(/\n/g, '\n    ')}\n  END IF;\nEND;\n$body$ LANGUAGE 'plpgsql';`
    expect(rules(await lint(inBlock))).toEqual(['rename-table'])
  })

  it('still reports a drop of another table, and of a name renamed in an earlier migration', async () => {
    expect(
      rules(await lint('ALTER TABLE jobs RENAME TO jobs_old;\nDROP TABLE jobs_archive;')).filter(
        (r) => r === 'drop-table',
      ),
    ).toEqual(['drop-table'])
    const files = await lintFiles(['ALTER TABLE jobs RENAME TO jobs_old;', 'DROP TABLE jobs_old;'])
    expect(rules(files.findings)).toEqual(['rename-table', 'drop-table'])
  })
})

describe('safe SQL names mixed-case tables as SQL must (hatchet-dev/hatchet, third round)', () => {
  it('quotes a name that folding would change, and leaves plain lower-case names bare', async () => {
    const findings = await lint(
      [
        'ALTER TABLE "WorkflowVersion" ALTER COLUMN "checksum" SET NOT NULL;',
        'ALTER TABLE "QueueItem" ADD CHECK ("priority" >= 1);',
        'ALTER TABLE app."Step" ADD FOREIGN KEY ("actionId") REFERENCES "Action" (id);',
        'ALTER TABLE "Tenant" ADD UNIQUE ("slug");',
        'ALTER TABLE "StepRun" ALTER COLUMN "order" TYPE bigint;',
        'ALTER TABLE "Event" ADD COLUMN "eventId" uuid NOT NULL DEFAULT gen_random_uuid();',
        'ALTER TABLE "Lease" ADD COLUMN "expiresAt" timestamptz NOT NULL;',
        'UPDATE "WorkflowVersion" SET "checksum" = md5(random()::text);',
        'TRUNCATE "Event" CASCADE;',
        'ALTER TABLE "Worker" RENAME TO "WorkerOld";',
        'ALTER TABLE orders ALTER COLUMN total SET NOT NULL;',
      ].join('\n'),
    )
    const safe = (rule: string, nth = 0) => findings.filter((finding) => finding.rule === rule)[nth]?.safe ?? ''
    expect(safe('set-not-null-scan')).toContain(
      'ALTER TABLE "WorkflowVersion" ADD CONSTRAINT "WorkflowVersion_checksum_not_null" CHECK (checksum IS NOT NULL) NOT VALID;',
    )
    expect(safe('set-not-null-scan', 1)).toContain(
      'ALTER TABLE orders ADD CONSTRAINT orders_total_not_null CHECK (total IS NOT NULL)',
    )
    expect(safe('check-without-not-valid')).toContain('ALTER TABLE "QueueItem" VALIDATE CONSTRAINT "QueueItem_check";')
    expect(safe('foreign-key-without-not-valid')).toContain(
      'ALTER TABLE app."Step" ADD CONSTRAINT "Step_actionId_fkey" FOREIGN KEY ("actionId") REFERENCES "Action" NOT VALID',
    )
    expect(safe('unique-without-index')).toContain(
      'CREATE UNIQUE INDEX CONCURRENTLY "Tenant_slug_key" ON "Tenant" (slug)',
    )
    expect(safe('alter-column-type-rewrite')).toContain('ALTER TABLE "StepRun" ADD COLUMN order_new int8')
    expect(safe('alter-column-type-rewrite')).toContain('SET order_new = "order"')
    expect(safe('add-column-rewrite')).toContain('ALTER TABLE "Event" ADD COLUMN "eventId" uuid;')
    expect(safe('add-column-not-null-without-default')).toContain(
      'ALTER TABLE "Lease" ADD COLUMN "expiresAt" timestamptz NOT NULL',
    )
    expect(safe('update-without-where')).toContain('UPDATE "WorkflowVersion" SET ... WHERE')
    expect(safe('truncate-cascade')).toContain('TRUNCATE "Event";')
    expect(safe('rename-table')).toContain('CREATE VIEW "Worker" AS SELECT * FROM "WorkerOld";')
  })
})

describe('alter-column-type-rewrite says when a varchar widening rewrites nothing (temporalio/temporal v1.8, third round)', () => {
  it('hints at the no-rewrite case for varchar(n), varchar and text targets, not for other types', async () => {
    const findings = await only(
      'alter-column-type-rewrite',
      'ALTER TABLE current_executions ALTER COLUMN create_request_id TYPE VARCHAR(255);\nALTER TABLE t ALTER COLUMN a TYPE text;\nALTER TABLE t ALTER COLUMN b TYPE bigint;',
    )
    expect(findings.map((finding) => finding.severity)).toEqual(['warn', 'warn', 'warn'])
    expect(findings[0]!.message).toContain('no rewrite if create_request_id is a varchar of at most 255 already')
    expect(findings[1]!.message).toContain('no rewrite if a is varchar or text already')
    expect(findings[2]!.message).not.toContain('no rewrite')
  })
})

describe('validate-in-same-transaction (a hazard squawk found in supabase/auth that dbops missed)', () => {
  it('reports VALIDATE in the same transactional file as its ADD ... NOT VALID', async () => {
    const [finding, ...rest] = await only(
      'validate-in-same-transaction',
      'ALTER TABLE sessions ADD CONSTRAINT sessions_client_fkey FOREIGN KEY (client_id) REFERENCES clients (id) NOT VALID;\nALTER TABLE sessions VALIDATE CONSTRAINT sessions_client_fkey;',
    )
    expect(rest).toEqual([])
    expect(finding).toMatchObject({ line: 3, lock: 'SHARE ROW EXCLUSIVE', table: 'sessions' })
    expect(finding!.message).toContain('sessions and clients')
    const [check] = await only(
      'validate-in-same-transaction',
      'ALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT positive;',
    )
    expect(check).toMatchObject({ lock: 'ACCESS EXCLUSIVE' })
  })

  it('stays quiet for VALIDATE in the next migration, in a transaction:false file, and on a table created in the file', async () => {
    const next = await lintFiles([
      'ALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0) NOT VALID;',
      'ALTER TABLE orders VALIDATE CONSTRAINT positive;',
    ])
    expect(next.findings.filter((finding) => finding.rule === 'validate-in-same-transaction')).toEqual([])
    const both =
      'ALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT positive;'
    expect(await only('validate-in-same-transaction', both, { directive: 'transaction:false' })).toEqual([])
    expect(await only('validate-in-same-transaction', `CREATE TABLE orders (total int);\n${both}`)).toEqual([])
  })
})

describe('the new rules read words where they can (no parse of every ALTER TABLE or UPDATE)', () => {
  it('create-domain-with-check finds the column among several actions, schema-qualified', async () => {
    const result = await lintFiles([
      'CREATE DOMAIN app.positive AS int CONSTRAINT p CHECK (VALUE > 0);',
      'ALTER TABLE app.orders ADD COLUMN note text, ADD COLUMN IF NOT EXISTS quantity app.positive;',
    ])
    const [finding] = result.findings.filter((f) => f.rule === 'create-domain-with-check' && f.severity === 'warn')
    expect(finding).toMatchObject({ table: 'app.orders', migration: '2_m2' })
    expect(finding!.message).toContain('ADD COLUMN quantity')
  })

  it('duplicate-column-assignment sees a name repeated inside a row assignment', async () => {
    expect(
      rules(await only('duplicate-column-assignment', 'UPDATE orders SET (a, b) = (1, 2), a = 3 WHERE id = 1;')),
    ).toEqual(['duplicate-column-assignment'])
  })
})
