import { describe, expect, it } from 'vitest'
import { migrateDown, migrateRedo, migrateUp, migrationStatus, type Target } from '../../src/index.js'
import { baselineMigrations, resolveMigration, restampMigration, validateMigrations } from '../../src/migrate/manage.js'
import {
  failure,
  withTarget,
  ENGINES,
  ledgerVersions,
  makeProject,
  migration,
  tableNames,
  type Project,
} from '../helpers/projects.js'

/** Runs `fn` while another session holds a lock on `table` that any ALTER TABLE has to wait for. */
async function whileLocked<T>(project: Project, table: string, fn: () => Promise<T>): Promise<T> {
  const pg = (await import('pg')).default
  const holder = new pg.Client({ connectionString: project.url })
  await holder.connect()
  try {
    await holder.query(`BEGIN; LOCK TABLE ${table} IN ACCESS SHARE MODE`)
    return await fn()
  } finally {
    await holder.end()
  }
}

const threeTables = {
  '001_a.sql': migration('CREATE TABLE a (id integer PRIMARY KEY);', 'DROP TABLE a;'),
  '002_b.sql': migration('CREATE TABLE b (id integer PRIMARY KEY);', 'DROP TABLE b;'),
  '003_c.sql': migration('CREATE TABLE c (id integer PRIMARY KEY);', 'DROP TABLE c;'),
}

describe.each(ENGINES)('migrate on %s', (engine) => {
  it('applies pending migrations in order, records them, and rolls back newest first', async () => {
    const project = await makeProject(engine, threeTables)
    await withTarget(project, async (target) => {
      const up = await migrateUp(target)
      expect(up.migrations.map((m) => [m.version, m.status])).toEqual([
        ['001', 'applied'],
        ['002', 'applied'],
        ['003', 'applied'],
      ])
      expect(await tableNames(project)).toEqual(['a', 'b', 'c'])
      const status = await migrationStatus(target)
      expect(status.upToDate).toBe(true)
      expect(status.migrations.every((m) => m.state === 'applied' && m.appliedChecksum === m.checksum)).toBe(true)

      const again = await migrateUp(target)
      expect(again.migrations).toEqual([])

      const down = await migrateDown(target)
      expect(down.migrations.map((m) => [m.version, m.status])).toEqual([['003', 'rolled-back']])
      expect(await tableNames(project)).toEqual(['a', 'b'])
      await migrateDown(target, { to: '0' })
      expect(await tableNames(project)).toEqual([])
      expect(await ledgerVersions(project)).toEqual([])
    })
  })

  it('records checksum, execution time and who applied each migration', async () => {
    const project = await makeProject(engine, threeTables)
    await withTarget(project, (target) => migrateUp(target, { steps: 1 }))
    const [row] = await project.query('SELECT * FROM dbops_migrations')
    expect(row).toMatchObject({ version: '001', name: 'a', status: 'applied' })
    expect(String(row!.checksum)).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(Number(row!.execution_ms)).toBeGreaterThanOrEqual(0)
    expect(String(row!.applied_by)).toContain('@')
  })

  it('honours --to and --steps', async () => {
    const project = await makeProject(engine, threeTables)
    await withTarget(project, async (target) => {
      await migrateUp(target, { to: '002' })
      expect(await ledgerVersions(project)).toEqual(['001', '002'])
      await migrateDown(target, { to: '001' })
      expect(await ledgerVersions(project)).toEqual(['001'])
      await migrateUp(target, { steps: 1 })
      expect(await ledgerVersions(project)).toEqual(['001', '002'])
      const error = await failure(migrateUp(target, { to: '999' }))
      expect(error.code).toBe('E_USAGE')
    })
  })

  it('rolls back in the reverse of the order applied, not version order', async () => {
    const project = await makeProject(engine, {
      '001_a.sql': threeTables['001_a.sql'],
      '003_c.sql': threeTables['003_c.sql'],
    })
    await withTarget(project, async (target) => {
      await migrateUp(target)
      project.write('migrations/002_b.sql', threeTables['002_b.sql'])
      const refused = await failure(migrateUp(target))
      expect(refused.code).toBe('E_OUT_OF_ORDER')
      expect(refused.message).toContain('002_b.sql')
      await migrateUp(target, { allowOutOfOrder: true })
      expect(await ledgerVersions(project)).toEqual(['001', '003', '002'])
      const down = await migrateDown(target, { steps: 2 })
      expect(down.migrations.map((m) => m.version)).toEqual(['002', '003'])
    })
  })

  it('rolls a failing migration back whole and names the file, line and column', async () => {
    const project = await makeProject(engine, {
      '001_ok.sql': migration('CREATE TABLE ok (id integer);'),
      '002_bad.sql': migration(
        'CREATE TABLE partial (id integer);\nINSERT INTO partial VALUES (1);\nSELECT * FROM no_such_table;',
      ),
    })
    await withTarget(project, async (target) => {
      const error = await failure(migrateUp(target))
      expect(error.code).toBe('E_MIGRATION_FAILED')
      expect(error.message).toMatch(/002_bad failed at migrations\/002_bad\.sql:4:\d+: .*no_such_table/)
      expect(await tableNames(project)).toEqual(['ok'])
      expect(await ledgerVersions(project)).toEqual(['001'])
    })
  })

  it('refuses to run when an applied file was edited, until restamped', async () => {
    const project = await makeProject(engine, threeTables)
    await withTarget(project, async (target) => {
      await migrateUp(target, { steps: 1 })
      project.write(
        'migrations/001_a.sql',
        migration('CREATE TABLE a (id integer PRIMARY KEY, x integer);', 'DROP TABLE a;'),
      )
      const error = await failure(migrateUp(target))
      expect(error.code).toBe('E_CHECKSUM_MISMATCH')
      expect(await ledgerVersions(project)).toEqual(['001'])
      expect((await migrationStatus(target)).migrations[0]!.state).toBe('drifted')
      expect((await validateMigrations(target)).problems.map((p) => p.check)).toEqual(['checksum'])
      await restampMigration(target, '001')
      await migrateUp(target)
      expect(await ledgerVersions(project)).toEqual(['001', '002', '003'])
    })
  })

  it('ignores line-ending changes when comparing checksums', async () => {
    const project = await makeProject(engine, threeTables)
    await withTarget(project, async (target) => {
      await migrateUp(target)
      project.write('migrations/001_a.sql', threeTables['001_a.sql'].replace(/\n/g, '\r\n'))
      expect((await migrationStatus(target)).upToDate).toBe(true)
    })
  })

  it('dry run plans and prints SQL but creates nothing, not even the ledger', async () => {
    const project = await makeProject(engine, threeTables)
    await withTarget(project, async (target) => {
      const plan = await migrateUp(target, { dryRun: true })
      expect(plan.migrations.map((m) => m.status)).toEqual(['planned', 'planned', 'planned'])
      expect(plan.migrations[0]!.sql).toContain('CREATE TABLE a')
    })
    if (engine === 'postgres') {
      expect(await project.query(`SELECT to_regclass('public.dbops_migrations') AS t`)).toEqual([{ t: null }])
    } else {
      const { existsSync } = await import('node:fs')
      expect(existsSync(project.url.slice('sqlite:'.length))).toBe(false)
    }
  })

  it('refuses a statement that cannot run in a transaction, before anything runs', async () => {
    const statement = engine === 'postgres' ? 'CREATE INDEX CONCURRENTLY a_idx ON a (id);' : 'VACUUM;'
    const project = await makeProject(engine, {
      '001_a.sql': migration('CREATE TABLE a (id integer);'),
      '002_idx.sql': migration(statement),
    })
    await withTarget(project, async (target) => {
      const error = await failure(migrateUp(target))
      expect(error.code).toBe('E_NON_TRANSACTIONAL_STATEMENT')
      expect(error.message).toContain('migrations/002_idx.sql:2:1')
      expect(error.hint).toContain('transaction:false')
      expect(await tableNames(project)).toEqual([])
    })
  })

  it('runs transaction:false sections statement by statement, including function and trigger bodies', async () => {
    const body =
      engine === 'postgres'
        ? `CREATE TABLE t (id integer, note text);
CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  NEW.note := coalesce(NEW.note, '') || ';bumped';
  RETURN NEW;
END;
$fn$;
CREATE TRIGGER t_bump BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION bump();
CREATE INDEX CONCURRENTLY t_id_idx ON t (id);
INSERT INTO t VALUES (1, 'x');`
        : `CREATE TABLE t (id integer, note text);
CREATE TRIGGER t_bump AFTER INSERT ON t BEGIN
  UPDATE t SET note = CASE WHEN note IS NULL THEN ';bumped' ELSE note || ';bumped' END WHERE id = NEW.id;
END;
INSERT INTO t VALUES (1, 'x');
VACUUM;`
    const project = await makeProject(engine, { '001_t.sql': migration(body, 'DROP TABLE t;', 'transaction:false') })
    await withTarget(project, (target) => migrateUp(target))
    expect(await project.query('SELECT note FROM t')).toEqual([{ note: 'x;bumped' }])
    const [row] = await project.query('SELECT status, statements_done, statements_total FROM dbops_migrations')
    const statements = engine === 'postgres' ? 5 : 4
    expect(row).toEqual({ status: 'applied', statements_done: statements, statements_total: statements })
  })

  it('records a transaction:false failure part way, refuses to continue, and resolve clears it', async () => {
    const project = await makeProject(engine, {
      '001_half.sql': migration(
        'CREATE TABLE first (id integer);\nCREATE TABLE first (id integer);\nCREATE TABLE never (id integer);',
        'DROP TABLE first;',
        'transaction:false',
      ),
      '002_next.sql': migration('CREATE TABLE next (id integer);'),
    })
    await withTarget(project, async (target) => {
      const error = await failure(migrateUp(target))
      expect(error.code).toBe('E_MIGRATION_FAILED')
      expect(error.message).toContain('migrations/001_half.sql:3:1')
      expect(error.hint).toContain('dbops migrate resolve 001')
      expect(await tableNames(project)).toEqual(['first'])
      const status = await migrationStatus(target)
      expect(status.migrations[0]).toMatchObject({ state: 'failed' })
      expect(status.migrations[0]!.error).toMatch(/after 1 of 3 statements at migrations\/001_half\.sql:3:1/)
      expect(status.upToDate).toBe(false)

      const blocked = await failure(migrateUp(target))
      expect(blocked.code).toBe('E_MIGRATION_FAILED')
      expect(await tableNames(project)).toEqual(['first'])

      await project.query('DROP TABLE first')
      await resolveMigration(target, '001', 'rolled-back')
      project.write(
        'migrations/001_half.sql',
        migration('CREATE TABLE first (id integer);', 'DROP TABLE first;', 'transaction:false'),
      )
      await migrateUp(target)
      expect(await tableNames(project)).toEqual(['first', 'next'])
    })
  })

  it("transaction:false with the file's own BEGIN ... COMMIT: a failure inside it is recorded as nothing settled", async () => {
    const project = await makeProject(engine, {
      '001_own.sql': migration(
        'BEGIN;\nCREATE TABLE a (x integer);\nINSERT INTO missing VALUES (1);\nCOMMIT;',
        undefined,
        'transaction:false',
      ),
    })
    await withTarget(project, async (target) => {
      const error = await failure(migrateUp(target))
      expect(error.hint).toMatch(/^0 of 4 statements before it stay applied/)
      expect(await tableNames(project)).toEqual([])
      const [row] = await project.query('SELECT status, statements_done, error_location FROM dbops_migrations')
      // PostgreSQL points at the missing table itself; SQLite reports the statement.
      const location = engine === 'postgres' ? 'migrations/001_own.sql:4:13' : 'migrations/001_own.sql:4:1'
      expect(row).toEqual({ status: 'failed', statements_done: 0, error_location: location })
    })
  })

  it('"down --to 0" rolls back everything, a version 0 migration included', async () => {
    const project = await makeProject(engine, {
      '0000_init.sql': migration('CREATE TABLE init (id integer);', 'DROP TABLE init;'),
      '0001_a.sql': migration('CREATE TABLE a (id integer);', 'DROP TABLE a;'),
    })
    await withTarget(project, async (target) => {
      await migrateUp(target)
      const down = await migrateDown(target, { to: '0' })
      expect(down.migrations.map((m) => m.version)).toEqual(['0001', '0000'])
      expect(await tableNames(project)).toEqual([])
      // The version-0 file's own spelling keeps it: roll back to just after the initial schema.
      await migrateUp(target)
      const toInit = await migrateDown(target, { to: '0000' })
      expect(toInit.migrations.map((m) => m.version)).toEqual(['0001'])
      expect(await tableNames(project)).toEqual(['init'])
    })
  })

  it('resolve --applied marks a failed migration as applied', async () => {
    const project = await makeProject(engine, {
      '001_half.sql': migration(
        'CREATE TABLE first (id integer);\nCREATE TABLE first (id integer);',
        'DROP TABLE first;',
        'transaction:false',
      ),
    })
    await withTarget(project, async (target) => {
      await failure(migrateUp(target))
      await resolveMigration(target, '001', 'applied')
      expect((await migrationStatus(target)).migrations[0]!.state).toBe('applied')
      const notFailed = await failure(resolveMigration(target, '001', 'applied'))
      expect(notFailed.code).toBe('E_NOTHING_TO_RESOLVE')
    })
  })

  it('baseline marks an existing database as migrated without running anything', async () => {
    const project = await makeProject(engine, threeTables)
    await project.query('CREATE TABLE a (id integer PRIMARY KEY)')
    await project.query('CREATE TABLE b (id integer PRIMARY KEY)')
    await withTarget(project, async (target) => {
      const result = await baselineMigrations(target, '002')
      expect(result.baselined.map((m) => m.version)).toEqual(['001', '002'])
      await migrateUp(target)
      expect(await ledgerVersions(project)).toEqual(['001', '002', '003'])
      const again = await failure(baselineMigrations(target, '002'))
      expect(again.code).toBe('E_ALREADY_MIGRATED')
    })
  })

  it('redo rolls back and reapplies the newest migration', async () => {
    const project = await makeProject(engine, threeTables)
    await withTarget(project, async (target) => {
      await migrateUp(target)
      await project.query('INSERT INTO c VALUES (1)')
      const result = await migrateRedo(target)
      expect(result.migrations.map((m) => [m.version, m.direction])).toEqual([
        ['003', 'down'],
        ['003', 'up'],
      ])
      expect(await project.query('SELECT count(*) AS n FROM c')).toEqual([{ n: engine === 'postgres' ? '0' : 0 }])
    })
  })

  it('refuses to roll back a migration without a down section, before touching anything', async () => {
    const project = await makeProject(engine, {
      '001_a.sql': migration('CREATE TABLE a (id integer);'),
      '002_b.sql': migration('CREATE TABLE b (id integer);', 'DROP TABLE b;'),
    })
    await withTarget(project, async (target) => {
      await migrateUp(target)
      const error = await failure(migrateDown(target, { steps: 2 }))
      expect(error.code).toBe('E_NO_DOWN')
      expect(await tableNames(project)).toEqual(['a', 'b'])
    })
  })

  it('reads golang-migrate pairs in place, long versions and explicit BEGIN/COMMIT included', async () => {
    const project = await makeProject(engine, {
      '1_init.up.sql': 'BEGIN;\nCREATE TABLE g (id integer);\nCOMMIT;\n',
      '1_init.down.sql': 'DROP TABLE g;\n',
      '20240101120000123456789_long.up.sql': 'CREATE TABLE long_version (id integer);',
      '20240101120000123456789_long.down.sql': 'DROP TABLE long_version;',
    })
    await withTarget(project, async (target) => {
      await migrateUp(target)
      expect(await ledgerVersions(project)).toEqual(['1', '20240101120000123456789'])
      await migrateDown(target, { to: '0' })
      expect(await tableNames(project)).toEqual([])
    })
  })

  it('keeps the ledger in the configured table (and schema on PostgreSQL), odd names quoted', async () => {
    const project = await makeProject(engine, threeTables, {
      migrations: { table: 'Schema History', schema: 'Ops Data' },
    })
    await withTarget(project, (target) => migrateUp(target))
    const table = engine === 'postgres' ? '"Ops Data"."Schema History"' : '"Schema History"'
    expect(await ledgerVersions(project, table)).toEqual(['001', '002', '003'])
  })
})

describe.each(ENGINES)('commit durability on %s', (engine) => {
  /** Records what the run asks of the real backend: each unit's durability, and flushes. */
  function recordDurability(target: Target): string[] {
    const calls: string[] = []
    const backend = target.backend
    const runTransactional = backend.runTransactional.bind(backend)
    const flushCommits = backend.flushCommits.bind(backend)
    backend.runTransactional = (unit) => {
      calls.push(unit.durable ? 'durable' : 'deferred')
      return runTransactional(unit)
    }
    backend.flushCommits = () => {
      calls.push('flush')
      return flushCommits()
    }
    return calls
  }

  it('waits for the disk once per run: at the last migration', async () => {
    const project = await makeProject(engine, threeTables)
    await withTarget(project, async (target) => {
      const calls = recordDurability(target)
      await migrateUp(target)
      expect(calls).toEqual(['deferred', 'deferred', 'durable'])
      if (engine === 'sqlite') {
        // The connection is left syncing every commit, as the last one did.
        const [row] = await target.backend.query<{ synchronous: number }>({ sql: 'PRAGMA synchronous', parameters: [] })
        expect(row?.synchronous).toBe(2)
      }
    })
  })

  it('flushes what a failed run committed before its failure', async () => {
    const project = await makeProject(engine, {
      ...threeTables,
      '004_bad.sql': migration('CREATE TABLE d (id integer PRIMARY KEY); SELECT * FROM missing;', 'DROP TABLE d;'),
    })
    await withTarget(project, async (target) => {
      const calls = recordDurability(target)
      const error = await failure(migrateUp(target))
      expect(error.code).toBe('E_MIGRATION_FAILED')
      expect(calls).toEqual(['deferred', 'deferred', 'deferred', 'durable', 'flush'])
      expect(await ledgerVersions(project)).toEqual(['001', '002', '003'])
    })
  })
})

describe('migrate on sqlite only', () => {
  it('runs a sqlite3 .dump as a transaction:false migration, without its PRAGMA foreign_keys=OFF leaking into later ones', async () => {
    const dump = [
      'PRAGMA foreign_keys=OFF;',
      'BEGIN TRANSACTION;',
      'CREATE TABLE parent(id integer primary key, name text);',
      "INSERT INTO parent VALUES(1,'it''s');",
      'CREATE TABLE child(id integer primary key, parent_id integer REFERENCES parent(id));',
      'CREATE TRIGGER upper_name AFTER INSERT ON parent BEGIN UPDATE parent SET name = upper(new.name) WHERE id = new.id; END;',
      'COMMIT;',
    ].join('\n')
    const project = await makeProject('sqlite', {
      '001_dump.sql': migration(dump, undefined, 'transaction:false'),
      '002_orphan.sql': migration('INSERT INTO child VALUES (1, 42);'),
    })
    await withTarget(project, async (target) => {
      const error = await failure(migrateUp(target))
      expect(error.message).toMatch(/002_orphan failed at .*FOREIGN KEY constraint failed/)
      expect(await ledgerVersions(project)).toEqual(['001'])
      expect(await tableNames(project)).toEqual(['child', 'parent'])
    })
  })
})

describe('migrate on postgres only', () => {
  it("carries the server's DETAIL, says what ran before the failure, and names a failed concurrent build's leftover", async () => {
    const project = await makeProject('postgres', {
      '001_t.sql': migration(
        "CREATE TABLE t (id integer PRIMARY KEY, email text);\nINSERT INTO t VALUES (1, 'a@x'), (2, 'a@x');",
      ),
      '002_dup.sql': migration("INSERT INTO t VALUES (1, 'b@x');"),
    })
    await withTarget(project, async (target) => {
      const error = await failure(migrateUp(target))
      expect(error.message).toMatch(
        /^002_dup failed at migrations\/002_dup\.sql:2:1: duplicate key value violates unique constraint "t_pkey": Key \(id\)=\(1\) already exists\.$/,
      )
      expect(error.details).toMatchObject({ detail: 'Key (id)=(1) already exists.', done: ['001'] })
    })

    const slow = await makeProject('postgres', {
      '001_slow.sql': migration('SELECT pg_sleep(2);', undefined, 'transaction:false statement_timeout:100ms'),
    })
    await withTarget(slow, async (target) => {
      const error = await failure(migrateUp(target))
      expect(error.code).toBe('E_STATEMENT_TIMEOUT')
      // The suggested directive keeps transaction:false: dropping it would change how the file runs.
      expect(error.hint).toContain('"-- migrate:up transaction:false statement_timeout:10m"')
    })
    // A format without a directive line (Flyway, goose, ...) is told to SET it in the file.
    const slowFlyway = await makeProject('postgres', {
      'V1__slow.sql': "SET statement_timeout = '100ms';\nSELECT pg_sleep(2);\n",
    })
    await withTarget(slowFlyway, async (target) => {
      const error = await failure(migrateUp(target))
      expect(error.code).toBe('E_STATEMENT_TIMEOUT')
      expect(error.hint).toContain(
        `make "SET statement_timeout = '10m';" the first statement of migrations/V1__slow.sql`,
      )
    })

    const index = await makeProject('postgres', {
      '001_t.sql': migration("CREATE TABLE t (id integer, email text);\nINSERT INTO t VALUES (1, 'a@x'), (2, 'a@x');"),
      '002_idx.sql': migration(
        'CREATE UNIQUE INDEX CONCURRENTLY t_email ON t (email);',
        undefined,
        'transaction:false statement_timeout:1m',
      ),
    })
    await withTarget(index, async (target) => {
      const error = await failure(migrateUp(target))
      expect(error.message).toMatch(/could not create unique index "t_email": Key \(email\)=\(a@x\) is duplicated\.$/)
      expect(error.hint).toMatch(
        /^0 of 1 statements before it stay applied, and the failed CREATE INDEX CONCURRENTLY left an INVALID index behind/,
      )
      const [row] = await index.query(`SELECT indisvalid FROM pg_index WHERE indexrelid = 't_email'::regclass`)
      expect(row).toEqual({ indisvalid: false })
    })
  })

  it('pins a failure inside the one-message migration to its statement, with the ledger created in the same message or not', async () => {
    // A runtime error carries no position: the statement is the one after the last completed one, counted past the
    // BEGIN, the session settings and (first migration only) the ledger's creation sent before the script.
    const first = await makeProject('postgres', {
      '001_first.sql': migration(
        'CREATE TABLE m (id integer);\nINSERT INTO m VALUES (1);\nSELECT 1 / 0;\nCREATE TABLE after_it (id integer);',
      ),
    })
    await withTarget(first, async (target) => {
      const error = await failure(migrateUp(target))
      expect(error.message).toMatch(/^001_first failed at migrations\/001_first\.sql:4:1: division by zero$/)
      expect(error.details?.statement).toBe('SELECT 1 / 0')
      expect(await tableNames(first)).toEqual([])
      const [ledger] = await first.query(`SELECT to_regclass('public.dbops_migrations') AS ledger`)
      expect(ledger).toEqual({ ledger: null })
    })

    const later = await makeProject('postgres', {
      '001_ok.sql': migration('CREATE TABLE ok (id integer);'),
      '002_bad.sql': migration(
        'CREATE TABLE m (id integer);\nINSERT INTO m VALUES (1);\nSELECT 1 / 0;\nCREATE TABLE after_it (id integer);',
      ),
      // A character of two UTF-8 bytes before a syntax error: PostgreSQL counts characters.
      '003_syntax.sql': migration("SELECT 'é';\nSELECT 'é', 1,, 2;"),
    })
    await withTarget(later, async (target) => {
      const error = await failure(migrateUp(target))
      expect(error.message).toMatch(/^002_bad failed at migrations\/002_bad\.sql:4:1: division by zero$/)
      expect(error.details).toMatchObject({ statement: 'SELECT 1 / 0', done: ['001'] })
      expect(await tableNames(later)).toEqual(['ok'])
      expect(await ledgerVersions(later)).toEqual(['001'])
      later.write('migrations/002_bad.sql', migration('CREATE TABLE m (id integer);'))
      const syntax = await failure(migrateUp(target))
      expect(syntax.message).toContain(
        '003_syntax failed at migrations/003_syntax.sql:3:15: syntax error at or near ","',
      )
      expect(await ledgerVersions(later)).toEqual(['001', '002'])
    })
  })

  it("runs a pg_dump schema with psql's \\restrict guard lines, and refuses other psql syntax before running anything", async () => {
    const dump = [
      '-- PostgreSQL database dump',
      '\\restrict kso4RHQ5tTH2Md4CB9XpLg1GSX',
      '',
      'SET statement_timeout = 0;',
      "SELECT pg_catalog.set_config('search_path', '', false);",
      'CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$',
      'BEGIN',
      '  NEW.at := now(); -- a comment; with a semicolon',
      '  RETURN NEW;',
      'END;',
      '$$;',
      'CREATE TABLE public."Odd Name" ("x y" integer, at timestamptz);',
      '\\unrestrict kso4RHQ5tTH2Md4CB9XpLg1GSX',
    ].join('\n')
    const project = await makeProject('postgres', {
      '001_schema.sql': migration(dump),
      '002_bad.sql': migration('\\restrict abc\nSELECT * FROM missing_table;'),
    })
    await withTarget(project, async (target) => {
      const error = await failure(migrateUp(target))
      // The guard line is blanked, not removed: the failure is still reported at its line in the file.
      expect(error.message).toMatch(/002_bad failed at migrations\/002_bad\.sql:3:\d+: .*missing_table/)
      expect(await tableNames(project)).toContain('Odd Name')
      expect(await ledgerVersions(project)).toEqual(['001'])
    })

    const copy = await makeProject('postgres', {
      '001_copy.sql': migration('CREATE TABLE c (id int);\nCOPY c (id) FROM stdin;\n1\n\\.\n'),
    })
    await withTarget(copy, async (target) => {
      const error = await failure(migrateUp(target))
      expect(error.code).toBe('E_PSQL_SYNTAX')
      expect(error.message).toBe(
        'migrations/001_copy.sql:3:1: COPY ... FROM stdin reads its data from psql, which dbops is not',
      )
      expect(await tableNames(copy)).toEqual([])
    })

    const meta = await makeProject('postgres', {
      '001_connect.sql': migration('CREATE TABLE e (id int);\n\\connect other\nCREATE TABLE f (id int);'),
    })
    await withTarget(meta, async (target) => {
      const error = await failure(migrateUp(target))
      expect(error.code).toBe('E_PSQL_SYNTAX')
      expect(error.message).toBe('migrations/001_connect.sql:3:1: \\connect is a psql meta-command, not SQL')
      expect(await tableNames(meta)).toEqual([])
    })
  })

  it('runs a golang-migrate file holding one CREATE INDEX CONCURRENTLY outside a transaction', async () => {
    const project = await makeProject('postgres', {
      '1_t.up.sql': 'CREATE TABLE t (id integer);',
      '2_idx.up.sql': 'CREATE INDEX CONCURRENTLY t_id_idx ON t (id);',
    })
    await withTarget(project, (target) => migrateUp(target))
    expect(await project.query(`SELECT indexname FROM pg_indexes WHERE tablename = 't'`)).toEqual([
      { indexname: 't_id_idx' },
    ])
  })

  it('runs a golang-migrate file that manages its own transactions as golang-migrate does, without wrapping it', async () => {
    // As in ente's server/migrations: two BEGIN ... COMMIT blocks in one .up.sql file.
    const blocks =
      'BEGIN;\nALTER TABLE t ADD COLUMN a integer;\nUPDATE t SET a = id;\nCOMMIT;\n\n' +
      'BEGIN;\nALTER TABLE t ADD COLUMN b integer;\nCOMMIT;\n'
    const project = await makeProject('postgres', {
      '1_t.up.sql': 'CREATE TABLE t (id integer);\nINSERT INTO t VALUES (1);',
      '2_blocks.up.sql': blocks,
    })
    await withTarget(project, (target) => migrateUp(target))
    expect(await project.query(`SELECT id, a, b FROM t`)).toEqual([{ id: 1, a: 1, b: null }])
    expect(await ledgerVersions(project)).toEqual(['1', '2'])

    // A dbmate file has a transaction of its own unless it says otherwise: the same blocks are refused there.
    const dbmate = await makeProject('postgres', {
      '001_t.sql': migration('CREATE TABLE t (id integer);'),
      '002_blocks.sql': migration(blocks),
    })
    await withTarget(dbmate, async (target) => {
      const error = await failure(migrateUp(target))
      expect(error.code).toBe('E_TRANSACTION_CONTROL')
      expect(error.message).toBe('migrations/002_blocks.sql:2:1: BEGIN inside a migration that runs in a transaction')
      expect(error.hint).toContain('manage transactions yourself (add transaction:false to the "-- migrate:up" line)')
      expect(await tableNames(dbmate)).toEqual([])
    })
  })

  it('reports a lock_timeout as such and leaves nothing behind', async () => {
    const project = await makeProject('postgres', {
      '001_t.sql': migration('CREATE TABLE t (id integer);'),
      '002_alter.sql': migration('ALTER TABLE t ADD COLUMN x integer;', undefined, 'lock_timeout:200ms'),
    })
    await withTarget(project, (target) => migrateUp(target, { steps: 1 }))
    const error = await whileLocked(project, 't', () => withTarget(project, (target) => failure(migrateUp(target))))
    expect(error.code).toBe('E_LOCK_TIMEOUT')
    expect(error.message).toContain('200ms')
    expect(error.message).toContain('migrations/002_alter.sql')
    expect(await ledgerVersions(project)).toEqual(['001'])
  })

  it("does not let one migration's SET leak into the next: lock_timeout and search_path hold for each", async () => {
    const project = await makeProject('postgres', {
      '001_t.sql': migration('CREATE TABLE t (id integer);'),
      // What pg_dump output starts with.
      '002_dump.sql': migration(
        "SET lock_timeout = 0;\nSELECT pg_catalog.set_config('search_path', '', false);\nCREATE TABLE public.dumped (id integer);",
      ),
      '003_unqualified.sql': migration('CREATE TABLE unqualified (id integer);'),
      '004_alter.sql': migration('ALTER TABLE t ADD COLUMN x integer;', undefined, 'lock_timeout:300ms'),
    })
    await withTarget(project, (target) => migrateUp(target, { to: '001' }))
    const error = await whileLocked(project, 't', () => withTarget(project, (target) => failure(migrateUp(target))))
    expect(error.code).toBe('E_LOCK_TIMEOUT')
    expect(error.message).toContain('004_alter')
    expect(await ledgerVersions(project)).toEqual(['001', '002', '003'])
    expect(await tableNames(project)).toEqual(['dumped', 't', 'unqualified'])
  })

  it('maps a syntax error to its exact line and column', async () => {
    const project = await makeProject('postgres', {
      '001_typo.sql': `-- migrate:up\n-- a comment line\nCREATE TABLE ok (id integer);\nCREATE TABLE broken (id integer,, x text);\n`,
    })
    await withTarget(project, async (target) => {
      const error = await failure(migrateUp(target))
      expect(error.message).toContain('migrations/001_typo.sql:4:33')
      expect(error.details?.sqlstate).toBe('42601')
    })
  })
})

describe('migrate up on postgres sends the next migration while one runs', () => {
  it('sends each migration but the first before the one before it finished, checking that one committed', async () => {
    const project = await makeProject('postgres', threeTables)
    await withTarget(project, async (target) => {
      const sent: (string | undefined)[] = []
      const runTransactional = target.backend.runTransactional.bind(target.backend)
      target.backend.runTransactional = (unit) => {
        sent.push(unit.after?.parameters[0] as string | undefined)
        return runTransactional(unit)
      }
      await migrateUp(target)
      expect(sent).toEqual([undefined, '001', '002'])
      expect(await ledgerVersions(project)).toEqual(['001', '002', '003'])
    })
  })

  it('never runs a migration after the one before it failed, even at its COMMIT', async () => {
    const project = await makeProject('postgres', {
      '001_p.sql': migration('CREATE TABLE p (id integer PRIMARY KEY);'),
      // The deferred foreign key fails at COMMIT: no statement of the migration fails before it.
      '002_c.sql': migration(
        'CREATE TABLE c (p integer REFERENCES p DEFERRABLE INITIALLY DEFERRED);\nINSERT INTO c VALUES (1);',
      ),
      '003_after.sql': migration('CREATE TABLE after_c (id integer);'),
      '004_later.sql': migration('CREATE TABLE later (id integer);'),
    })
    await withTarget(project, async (target) => {
      const error = await failure(migrateUp(target))
      expect(error.message).toMatch(/^002_c failed.*violates foreign key constraint/)
      expect(error.details).toMatchObject({ done: ['001'] })
      expect(await ledgerVersions(project)).toEqual(['001'])
      expect(await tableNames(project)).toEqual(['p'])
      // The session is usable after it: the run released its lock, a second run fails the same way.
      const again = await failure(migrateUp(target))
      expect(again.message).toMatch(/^002_c failed/)
    })
  })

  it('records when a migration sent ahead ran, and how long it ran', async () => {
    const project = await makeProject('postgres', {
      '001_slow.sql': migration('SELECT pg_sleep(0.4);'),
      '002_fast.sql': migration('CREATE TABLE fast (id integer);'),
    })
    await withTarget(project, async (target) => {
      const result = await migrateUp(target)
      expect(result.migrations[1]!.durationMs).toBeLessThan(300)
      const rows = await project.query(
        `SELECT version, execution_ms, extract(epoch from applied_at) * 1000 AS at FROM dbops_migrations ORDER BY applied_seq`,
      )
      expect(Number(rows[0]!.execution_ms)).toBeGreaterThanOrEqual(400)
      expect(Number(rows[1]!.execution_ms)).toBeLessThan(300)
      // It started once 001 ended, not when it was sent (while 001 was running).
      expect(Number(rows[1]!.at) - Number(rows[0]!.at)).toBeGreaterThanOrEqual(400)
    })
  })

  it('stops after the migration under way when interrupted: the one sent after it does not start', async () => {
    const project = await makeProject('postgres', {
      '001_slow.sql': migration('SELECT pg_sleep(0.6);'),
      '002_slow.sql': migration('CREATE TABLE two (id integer);\nSELECT pg_sleep(0.6);'),
      '003_t.sql': migration('CREATE TABLE three (id integer);'),
    })
    await withTarget(project, async (target) => {
      const controller = new AbortController()
      const done: string[] = []
      const run = migrateUp(target, {
        signal: controller.signal,
        onEvent: (event) => {
          if (event.type === 'done') done.push(event.id)
        },
      })
      setTimeout(() => controller.abort(), 300)
      const error = await failure(run)
      expect(error.code).toBe('E_INTERRUPTED')
      expect(error.message).toMatch(/^interrupted before 002_slow; 1 migration\(s\) done before it/)
      expect(done).toEqual(['001_slow'])
      expect(await ledgerVersions(project)).toEqual(['001'])
      expect(await tableNames(project)).toEqual([])
    })
  })
})
