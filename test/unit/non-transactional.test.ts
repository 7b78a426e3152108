import { describe, it, expect } from 'vitest'
import { nonTransactionalReason, transactionControl } from '../../src/sql/non-transactional.js'
import { splitStatements } from '../../src/sql/split-statements.js'

const pg = (sql: string): string | undefined => nonTransactionalReason(sql, 'postgres')
const lite = (sql: string): string | undefined => nonTransactionalReason(sql, 'sqlite')

describe('nonTransactionalReason: PostgreSQL', () => {
  it.each([
    ['CREATE INDEX CONCURRENTLY users_email_idx ON users (email)', 'CREATE INDEX CONCURRENTLY'],
    ['create unique index concurrently users_email_key on users (lower(email))', 'CREATE INDEX CONCURRENTLY'],
    ['CREATE INDEX CONCURRENTLY IF NOT EXISTS idx ON t (a)', 'CREATE INDEX CONCURRENTLY'],
    ['CREATE /* online */ INDEX\n  CONCURRENTLY idx ON t USING gin (doc)', 'CREATE INDEX CONCURRENTLY'],
    ['DROP INDEX CONCURRENTLY IF EXISTS users_email_idx', 'DROP INDEX CONCURRENTLY'],
    ['REINDEX INDEX CONCURRENTLY users_email_idx', 'REINDEX CONCURRENTLY'],
    ['REINDEX TABLE CONCURRENTLY public.users', 'REINDEX CONCURRENTLY'],
    ['REINDEX (VERBOSE) INDEX CONCURRENTLY x', 'REINDEX CONCURRENTLY'],
    ['REINDEX (CONCURRENTLY) TABLE users', 'REINDEX CONCURRENTLY'],
    ['REINDEX (VERBOSE, CONCURRENTLY true) TABLE users', 'REINDEX CONCURRENTLY'],
    ['REINDEX (TABLESPACE fast, CONCURRENTLY on) INDEX i', 'REINDEX CONCURRENTLY'],
    ['REINDEX SCHEMA public', 'REINDEX SCHEMA'],
    ['REINDEX DATABASE app', 'REINDEX DATABASE'],
    ['REINDEX (VERBOSE) SYSTEM app', 'REINDEX SYSTEM'],
    [
      'ALTER TABLE measurements DETACH PARTITION measurements_2020 CONCURRENTLY',
      'ALTER TABLE ... DETACH PARTITION CONCURRENTLY',
    ],
    [
      'ALTER TABLE IF EXISTS ONLY "Sales".orders DETACH PARTITION "Sales"."orders_2021" CONCURRENTLY',
      'ALTER TABLE ... DETACH PARTITION CONCURRENTLY',
    ],
    ['VACUUM', 'VACUUM'],
    ['vacuum (verbose, analyze) users', 'VACUUM'],
    ['VACUUM FULL big_table', 'VACUUM'],
    ['CREATE DATABASE reporting OWNER app', 'CREATE DATABASE'],
    ['DROP DATABASE IF EXISTS old_app WITH (FORCE)', 'DROP DATABASE'],
    ['ALTER DATABASE app SET TABLESPACE fast_ssd', 'ALTER DATABASE ... SET TABLESPACE'],
    ['ALTER DATABASE "App" SET TABLESPACE fast_ssd', 'ALTER DATABASE ... SET TABLESPACE'],
    ["CREATE TABLESPACE fast_ssd LOCATION '/mnt/ssd'", 'CREATE TABLESPACE'],
    ['DROP TABLESPACE IF EXISTS fast_ssd', 'DROP TABLESPACE'],
    ["ALTER SYSTEM SET work_mem = '64MB'", 'ALTER SYSTEM'],
    ['DISCARD ALL', 'DISCARD ALL'],
    ['CLUSTER', 'CLUSTER without a table name'],
    ['CLUSTER VERBOSE', 'CLUSTER without a table name'],
    ['CLUSTER (VERBOSE)', 'CLUSTER without a table name'], // PG 17+ syntax
    ["COMMIT PREPARED 'tx1'", 'COMMIT PREPARED'],
    ["ROLLBACK PREPARED 'tx1'", 'ROLLBACK PREPARED'],
  ])('%s -> %s', (sql, reason) => {
    expect(pg(sql)).toBe(reason)
  })

  it.each([
    'CREATE INDEX users_email_idx ON users (email)',
    'CREATE UNIQUE INDEX users_email_key ON users (email)',
    'DROP INDEX users_email_idx',
    'REINDEX INDEX users_email_idx',
    'REINDEX TABLE users',
    'REINDEX (VERBOSE) TABLE users',
    'REINDEX (CONCURRENTLY false) TABLE users',
    'REINDEX (CONCURRENTLY off, VERBOSE) INDEX i',
    'ALTER TABLE measurements DETACH PARTITION measurements_2020',
    'ALTER TABLE measurements DETACH PARTITION measurements_2020 FINALIZE',
    'ALTER TABLE measurements DETACH PARTITION "concurrently"',
    'ALTER TABLE measurements ATTACH PARTITION m2021 FOR VALUES FROM (1) TO (2)',
    'ALTER TABLE t ADD COLUMN concurrently int',
    "ALTER TYPE mood ADD VALUE 'meh'",
    "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh' BEFORE 'sad'",
    'REFRESH MATERIALIZED VIEW CONCURRENTLY totals',
    'ANALYZE users',
    "ALTER DATABASE app SET search_path = 'app, public'",
    'ALTER DATABASE app RENAME TO app2',
    'CLUSTER users USING users_pkey',
    'CLUSTER VERBOSE users',
    'CLUSTER (VERBOSE) users',
    'DISCARD PLANS',
    'COMMIT',
    'ROLLBACK',
    'CREATE TABLE vacuum_log (id int)',
    "INSERT INTO t VALUES ('VACUUM')",
    "SELECT 'CREATE INDEX CONCURRENTLY x ON y (z)'",
    '"VACUUM"',
    'CREATE INDEX "CONCURRENTLY" ON t (a)',
    'ALTER SYSTEMS',
  ])('allows %s', (sql) => {
    expect(pg(sql)).toBeUndefined()
  })

  it('is not fooled by comments', () => {
    expect(pg('-- CREATE INDEX CONCURRENTLY x ON t (a)\nCREATE INDEX x ON t (a)')).toBeUndefined()
    expect(pg('/* VACUUM */ SELECT 1')).toBeUndefined()
    expect(pg('SELECT 1 -- VACUUM')).toBeUndefined()
  })

  it('flags a statement after leading comments', () => {
    expect(pg('/* nightly */ -- really\nVACUUM ANALYZE')).toBe('VACUUM')
  })

  describe('subscriptions', () => {
    const conn = "CONNECTION 'host=primary dbname=app user=repl password=it''s;secret'"

    it('flags CREATE SUBSCRIPTION, which creates a replication slot by default', () => {
      expect(pg(`CREATE SUBSCRIPTION app_sub ${conn} PUBLICATION app_pub`)).toBe(
        'CREATE SUBSCRIPTION (creates a replication slot)',
      )
      expect(
        pg(`CREATE SUBSCRIPTION app_sub ${conn} PUBLICATION a, b WITH (copy_data = false, create_slot = true)`),
      ).toBe('CREATE SUBSCRIPTION (creates a replication slot)')
      expect(pg(`CREATE SUBSCRIPTION app_sub ${conn} PUBLICATION a WITH (create_slot)`)).toBe(
        'CREATE SUBSCRIPTION (creates a replication slot)',
      )
    })

    it('allows CREATE SUBSCRIPTION without a slot', () => {
      expect(
        pg(`CREATE SUBSCRIPTION s ${conn} PUBLICATION p WITH (create_slot = false, slot_name = 's')`),
      ).toBeUndefined()
      expect(
        pg(`CREATE SUBSCRIPTION s ${conn} PUBLICATION p WITH (slot_name = NONE, enabled = false, create_slot = off)`),
      ).toBeUndefined()
      expect(pg(`CREATE SUBSCRIPTION s ${conn} PUBLICATION p WITH (connect = false)`)).toBeUndefined()
    })

    it('is not fooled by option names inside the connection string', () => {
      expect(pg(`CREATE SUBSCRIPTION s CONNECTION 'create_slot = false' PUBLICATION p`)).toBe(
        'CREATE SUBSCRIPTION (creates a replication slot)',
      )
    })

    it('flags DROP SUBSCRIPTION', () => {
      expect(pg('DROP SUBSCRIPTION IF EXISTS app_sub')).toBe(
        'DROP SUBSCRIPTION (when the subscription has a replication slot)',
      )
    })

    it('flags ALTER SUBSCRIPTION that refreshes or changes slot options', () => {
      expect(pg('ALTER SUBSCRIPTION app_sub REFRESH PUBLICATION')).toBe('ALTER SUBSCRIPTION ... REFRESH PUBLICATION')
      expect(pg('ALTER SUBSCRIPTION app_sub REFRESH PUBLICATION WITH (copy_data = false)')).toBe(
        'ALTER SUBSCRIPTION ... REFRESH PUBLICATION',
      )
      expect(pg('ALTER SUBSCRIPTION app_sub SET PUBLICATION a, b')).toBe(
        'ALTER SUBSCRIPTION ... SET PUBLICATION (with refresh)',
      )
      expect(pg('ALTER SUBSCRIPTION app_sub ADD PUBLICATION c WITH (copy_data = false)')).toBe(
        'ALTER SUBSCRIPTION ... ADD PUBLICATION (with refresh)',
      )
      expect(pg('ALTER SUBSCRIPTION app_sub DROP PUBLICATION c WITH (refresh = true)')).toBe(
        'ALTER SUBSCRIPTION ... DROP PUBLICATION (with refresh)',
      )
      expect(pg('ALTER SUBSCRIPTION app_sub SET (failover = true)')).toBe('ALTER SUBSCRIPTION ... SET (failover)')
      expect(pg('ALTER SUBSCRIPTION app_sub SET (two_phase = false)')).toBe('ALTER SUBSCRIPTION ... SET (two_phase)')
    })

    it('allows ALTER SUBSCRIPTION that does not touch the slot', () => {
      expect(pg('ALTER SUBSCRIPTION app_sub SET PUBLICATION a WITH (refresh = false)')).toBeUndefined()
      expect(
        pg('ALTER SUBSCRIPTION app_sub ADD PUBLICATION c WITH (refresh = false, copy_data = false)'),
      ).toBeUndefined()
      expect(pg('ALTER SUBSCRIPTION app_sub ENABLE')).toBeUndefined()
      expect(pg('ALTER SUBSCRIPTION app_sub DISABLE')).toBeUndefined()
      expect(pg("ALTER SUBSCRIPTION app_sub SET (synchronous_commit = 'off')")).toBeUndefined()
      expect(pg("ALTER SUBSCRIPTION app_sub CONNECTION 'host=replica'")).toBeUndefined()
      expect(pg('ALTER SUBSCRIPTION app_sub OWNER TO admin')).toBeUndefined()
      expect(pg('ALTER SUBSCRIPTION app_sub RENAME TO other')).toBeUndefined()
    })
  })

  it('does not apply SQLite rules', () => {
    expect(pg('PRAGMA journal_mode = WAL')).toBeUndefined()
  })
})

describe('nonTransactionalReason: SQLite', () => {
  it.each([
    ['VACUUM', 'VACUUM'],
    ['vacuum main', 'VACUUM'],
    ["VACUUM INTO '/backups/app.db'", 'VACUUM'],
    ['PRAGMA journal_mode = WAL', 'PRAGMA journal_mode (a silent no-op inside a transaction)'],
    ['pragma main.journal_mode=delete', 'PRAGMA journal_mode (a silent no-op inside a transaction)'],
    ['PRAGMA journal_mode(WAL)', 'PRAGMA journal_mode (a silent no-op inside a transaction)'],
    ['PRAGMA synchronous = NORMAL', 'PRAGMA synchronous'],
    ['PRAGMA temp_store = MEMORY', 'PRAGMA temp_store'],
    ['PRAGMA foreign_keys = ON', 'PRAGMA foreign_keys (a silent no-op inside a transaction)'],
    ['PRAGMA foreign_keys=off', 'PRAGMA foreign_keys (a silent no-op inside a transaction)'],
    ['PRAGMA "main".foreign_keys = 0', 'PRAGMA foreign_keys (a silent no-op inside a transaction)'],
    ['DETACH DATABASE legacy', 'DETACH (the database is locked once the transaction has used it)'],
    ['detach legacy', 'DETACH (the database is locked once the transaction has used it)'],
  ])('%s -> %s', (sql, reason) => {
    expect(lite(sql)).toBe(reason)
  })

  it.each([
    'PRAGMA journal_mode',
    'PRAGMA main.journal_mode',
    'PRAGMA foreign_keys',
    'PRAGMA foreign_key_check',
    'PRAGMA foreign_key_list(users)',
    'PRAGMA user_version = 3',
    'PRAGMA defer_foreign_keys = ON',
    "ATTACH DATABASE 'other.db' AS other",
    'CREATE INDEX idx ON t (a)',
    "INSERT INTO t VALUES ('VACUUM')",
    '-- VACUUM\nSELECT 1',
  ])('allows %s', (sql) => {
    expect(lite(sql)).toBeUndefined()
  })

  it('does not apply PostgreSQL rules', () => {
    expect(lite('CREATE INDEX CONCURRENTLY x ON t (a)')).toBeUndefined()
    expect(lite('ALTER SYSTEM SET x = 1')).toBeUndefined()
  })
})

describe('transactionControl', () => {
  it.each([
    ['BEGIN', 'BEGIN'],
    ['begin work', 'BEGIN'],
    ['BEGIN ISOLATION LEVEL SERIALIZABLE', 'BEGIN'],
    ['START TRANSACTION READ ONLY', 'START TRANSACTION'],
    ['COMMIT', 'COMMIT'],
    ['COMMIT AND CHAIN', 'COMMIT'],
    ['END', 'END'],
    ['end transaction', 'END'],
    ['ROLLBACK', 'ROLLBACK'],
    ['ROLLBACK WORK', 'ROLLBACK'],
    ['ABORT', 'ABORT'],
    ["PREPARE TRANSACTION 'tx1'", 'PREPARE TRANSACTION'],
    ['/* done */ COMMIT', 'COMMIT'],
  ])('PostgreSQL %s -> %s', (sql, command) => {
    expect(transactionControl(sql, 'postgres')).toBe(command)
  })

  it.each([
    'SAVEPOINT before_backfill',
    'RELEASE SAVEPOINT before_backfill',
    'RELEASE before_backfill',
    'ROLLBACK TO SAVEPOINT before_backfill',
    'ROLLBACK TO before_backfill',
    'ROLLBACK WORK TO SAVEPOINT s',
    'ROLLBACK TRANSACTION TO s',
    "COMMIT PREPARED 'tx1'",
    "ROLLBACK PREPARED 'tx1'",
    'PREPARE get_user(int) AS SELECT * FROM users WHERE id = $1',
    'START something',
    'SELECT 1',
    "INSERT INTO log VALUES ('COMMIT')",
    '-- BEGIN\nSELECT 1',
    '"BEGIN"',
  ])('PostgreSQL %s -> undefined', (sql) => {
    expect(transactionControl(sql, 'postgres')).toBeUndefined()
  })

  it.each([
    ['BEGIN', 'BEGIN'],
    ['BEGIN DEFERRED', 'BEGIN'],
    ['BEGIN IMMEDIATE TRANSACTION', 'BEGIN'],
    ['begin exclusive', 'BEGIN'],
    ['COMMIT TRANSACTION', 'COMMIT'],
    ['END', 'END'],
    ['ROLLBACK TRANSACTION', 'ROLLBACK'],
  ])('SQLite %s -> %s', (sql, command) => {
    expect(transactionControl(sql, 'sqlite')).toBe(command)
  })

  it.each([
    'SAVEPOINT s',
    'RELEASE s',
    'ROLLBACK TO s',
    'ROLLBACK TRANSACTION TO SAVEPOINT s',
    'START TRANSACTION',
    'ABORT',
    'SELECT 1',
  ])('SQLite %s -> undefined', (sql) => {
    expect(transactionControl(sql, 'sqlite')).toBeUndefined()
  })
})

describe('with splitStatements', () => {
  it('classifies each statement of a real migration', () => {
    const sql = `-- migrate:up transaction:false
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_idx ON orders (customer_id);
-- DROP INDEX CONCURRENTLY would also be non-transactional
COMMENT ON INDEX orders_customer_idx IS 'VACUUM; later';
BEGIN;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.t := now(); RETURN NEW; END $$;
COMMIT;
`
    const rows = splitStatements(sql, 'postgres').map((s) => [
      s.line,
      nonTransactionalReason(s.text, 'postgres') ?? transactionControl(s.text, 'postgres') ?? '',
    ])
    expect(rows).toEqual([
      [2, 'CREATE INDEX CONCURRENTLY'],
      [4, ''],
      [5, 'BEGIN'],
      [6, ''],
      [7, 'COMMIT'],
    ])
  })

  it('classifies statements of a SQLite migration', () => {
    const sql = `PRAGMA foreign_keys = OFF;
CREATE TABLE users_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL);
CREATE TRIGGER users_new_ai AFTER INSERT ON users_new BEGIN
  INSERT INTO audit VALUES ('VACUUM; PRAGMA foreign_keys = ON');
END;
PRAGMA foreign_keys;
VACUUM;`
    const reasons = splitStatements(sql, 'sqlite').map((s) => nonTransactionalReason(s.text, 'sqlite'))
    expect(reasons).toEqual([
      'PRAGMA foreign_keys (a silent no-op inside a transaction)',
      undefined,
      undefined,
      undefined,
      'VACUUM',
    ])
  })
})
