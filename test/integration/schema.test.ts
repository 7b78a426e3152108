// schema drift, schema dump and migrate test against real databases: each object kind is found extra, missing and
// changed; realistic schemas show no false drift; dumps are deterministic and reload; migrate test names the
// migration whose down does not undo its up. Scratch databases are gone afterwards.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  checkHealth,
  dumpSchema,
  migrateUp,
  schemaDrift,
  testMigrations,
  type SchemaDriftResult,
} from '../../src/index.js'
import type { SchemaEvent } from '../../src/schema/scratch.js'
import {
  exec,
  failure,
  makeProject,
  migration,
  withTarget,
  type EngineName,
  type Project,
} from '../helpers/projects.js'
import { pgQuery, pgServerUrl, REPO_ROOT } from '../helpers/databases.js'
import { PAGILA_LIKE, SQLITE_SET } from '../helpers/schema-sets.js'

async function migrated(engine: EngineName, files: Record<string, string>, config?: unknown): Promise<Project> {
  const project = await makeProject(engine, files, config)
  await withTarget(project, (target) => migrateUp(target))
  return project
}

async function drift(project: Project, ignore?: string[]): Promise<SchemaDriftResult> {
  return withTarget(project, (target) => schemaDrift(target, { ...(ignore && { ignore }), onEvent: recordScratch }))
}

const messagesOf = (result: SchemaDriftResult) => result.differences.map((difference) => difference.message)

function exampleMigrations(): Record<string, string> {
  const dir = path.join(REPO_ROOT, 'migrations')
  const names = [
    '20240101120000_create_users.sql',
    '20240102090000_create_posts.sql',
    '20240103150000_add_users_updated_at.sql',
  ]
  return Object.fromEntries(names.map((name) => [name, readFileSync(path.join(dir, name), 'utf8')]))
}

/**
 * The scratch databases this file's drift and migrate-test runs created (named by their "created ..." events), so
 * that other tests' databases on the shared server (createPgDatabase also uses dbops_test_) never count.
 */
const createdScratch = new Set<string>()
function recordScratch(event: SchemaEvent): void {
  const name = /^created scratch database (\S+)$/.exec(event.message)?.[1]
  if (name) createdScratch.add(name)
}

/** Which of them still exist (expected: none). */
async function scratchDatabases(): Promise<string[]> {
  if (createdScratch.size === 0) throw new Error('no scratch database was seen being created: did its event change?')
  const rows = await pgQuery(pgServerUrl(), 'SELECT datname FROM pg_database WHERE datname = ANY($1)', [
    [...createdScratch],
  ])
  return rows.map((row) => String(row.datname))
}

describe('schema drift on postgres', () => {
  it('finds no drift on a pagila-like schema and on the example migrations, and drops its scratch database', async () => {
    for (const files of [PAGILA_LIKE, exampleMigrations()]) {
      const project = await migrated('postgres', files)
      const result = await drift(project)
      expect(messagesOf(result)).toEqual([])
      expect(result.drift).toBe(false)
      expect(result.queries).toBe(1)
      expect(result.objects.database).toBeGreaterThan(20)
    }
    expect(await scratchDatabases()).toEqual([])
  })

  it('reports every kind of object that exists in the database but no migration creates, and not the objects of extensions', async () => {
    const project = await migrated('postgres', PAGILA_LIKE)
    await exec(project, [
      'CREATE SCHEMA extra_schema',
      "CREATE TYPE color AS ENUM ('red')",
      'CREATE DOMAIN extra_domain AS text',
      'CREATE SEQUENCE extra_seq',
      'CREATE TABLE extra_table (id int PRIMARY KEY, name text)',
      'ALTER TABLE actor ADD COLUMN extra_col int',
      'ALTER TABLE film ADD CONSTRAINT film_title_check CHECK (length(title) > 0)',
      'CREATE INDEX film_last_update_idx ON film (last_update)',
      'CREATE VIEW extra_view AS SELECT 1 AS one',
      'CREATE MATERIALIZED VIEW extra_mv AS SELECT 1 AS one',
      "CREATE FUNCTION extra_fn(a int) RETURNS int LANGUAGE sql AS 'SELECT a'",
      "CREATE PROCEDURE extra_proc() LANGUAGE sql AS 'SELECT 1'",
      'CREATE TRIGGER extra_trigger BEFORE INSERT ON language FOR EACH ROW EXECUTE FUNCTION last_updated()',
      'CREATE POLICY extra_policy ON billing.payment USING (true)',
      'CREATE EXTENSION pg_trgm',
    ])
    const messages = messagesOf(await drift(project))
    const extra = (subject: string) => `${subject} exists in the database but no migration creates it`
    expect(messages).toEqual(
      expect.arrayContaining([
        extra('schema extra_schema'),
        extra('enum color'),
        extra('domain extra_domain'),
        extra('sequence extra_seq'),
        extra('table extra_table'),
        extra('column actor.extra_col'),
        extra('constraint film.film_title_check'),
        extra('index film_last_update_idx'),
        extra('view extra_view'),
        extra('materialized view extra_mv'),
        extra('function extra_fn(a integer)'),
        extra('procedure extra_proc()'),
        extra('trigger language.extra_trigger'),
        extra('policy billing.payment.extra_policy'),
        extra('extension pg_trgm'),
      ]),
    )
    // The extra table once, not its columns; pg_trgm's functions and operators belong to the extension.
    expect(messages).toHaveLength(15)
  })

  it('reports objects the migrations create that are missing from the database', async () => {
    const project = await migrated('postgres', PAGILA_LIKE)
    await exec(project, [
      'DROP INDEX idx_actor_last_name',
      'ALTER TABLE actor DROP COLUMN nickname',
      'DROP VIEW actor_info',
      'DROP MATERIALIZED VIEW rental_by_rating',
      'DROP TRIGGER last_updated ON film',
      'DROP PROCEDURE refresh_ratings()',
      'ALTER TABLE film DROP CONSTRAINT film_rental_rate_check',
      'DROP POLICY payment_positive ON billing.payment',
      'DROP TABLE film_actor',
    ])
    const messages = messagesOf(await drift(project))
    const missing = (subject: string) => `${subject} is missing from the database (the migrations create it)`
    expect(messages).toEqual([
      missing('table film_actor'),
      missing('column actor.nickname'),
      missing('constraint film.film_rental_rate_check'),
      missing('index idx_actor_last_name'),
      missing('view actor_info'),
      missing('materialized view rental_by_rating'),
      missing('procedure refresh_ratings()'),
      missing('trigger film.last_updated'),
      missing('policy billing.payment.payment_positive'),
    ])
  })

  it('reports changed columns, indexes, constraints, views, functions, triggers, sequences, enums, domains and partitions with both sides', async () => {
    const project = await migrated('postgres', PAGILA_LIKE)
    await exec(project, [
      'ALTER TABLE actor ALTER COLUMN nickname TYPE text',
      "ALTER TABLE film ALTER COLUMN rating SET DEFAULT 'PG'",
      'ALTER TABLE film ALTER COLUMN description SET NOT NULL',
      'ALTER TABLE actor ALTER COLUMN actor_id SET GENERATED ALWAYS',
      'ALTER TABLE film ALTER COLUMN fulltext DROP EXPRESSION',
      'DROP INDEX idx_title',
      'CREATE INDEX idx_title ON film (title)',
      'ALTER TABLE film DROP CONSTRAINT film_rental_rate_check',
      'ALTER TABLE film ADD CONSTRAINT film_rental_rate_check CHECK (rental_rate > 0)',
      `CREATE OR REPLACE FUNCTION last_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.last_update = now();
  RETURN NEW;
END $$`,
      'DROP TRIGGER last_updated ON actor',
      'CREATE TRIGGER last_updated BEFORE INSERT OR UPDATE ON actor FOR EACH ROW EXECUTE FUNCTION last_updated()',
      'ALTER SEQUENCE billing.payment_payment_id_seq INCREMENT 5',
      "ALTER TYPE mpaa_rating ADD VALUE 'X'",
      'ALTER DOMAIN year DROP CONSTRAINT year_check',
      'ALTER TABLE billing.payment DETACH PARTITION billing.payment_p2022_02',
      `CREATE OR REPLACE VIEW actor_info AS
SELECT a.actor_id, a.first_name, a.last_name, group_concat(f.title || '!') AS film_info
FROM actor a LEFT JOIN film_actor fa ON fa.actor_id = a.actor_id LEFT JOIN film f ON f.film_id = fa.film_id
GROUP BY a.actor_id, a.first_name, a.last_name`,
    ])
    const messages = messagesOf(await drift(project))
    expect(messages).toEqual(
      expect.arrayContaining([
        'column actor.nickname is text in the database, character varying(50) in the migrations',
        "column film.rating: default is 'PG'::mpaa_rating in the database, 'G'::mpaa_rating in the migrations",
        'column film.description: not null is yes in the database, no in the migrations',
        'column actor.actor_id: identity is generated always in the database, generated by default in the migrations',
        "index idx_title: definition is CREATE INDEX idx_title ON public.film USING btree (title) in the database, CREATE INDEX idx_title ON public.film USING btree (title) WHERE (rating <> 'NC-17'::mpaa_rating) in the migrations",
        'constraint film.film_rental_rate_check: definition is CHECK (rental_rate > 0::numeric) in the database, CHECK (rental_rate >= 0::numeric) in the migrations',
        'function last_updated() has a different definition in the database than in the migrations (line 6: "NEW.last_update = now();" vs "NEW.last_update = CURRENT_TIMESTAMP;")',
        'sequence billing.payment_payment_id_seq: increment is 5 in the database, 1 in the migrations',
        "enum mpaa_rating: values is 'G', 'PG', 'PG-13', 'R', 'NC-17', 'X' in the database, 'G', 'PG', 'PG-13', 'R', 'NC-17' in the migrations",
        'domain year: constraints is none in the database, year_check CHECK (VALUE >= 1901 AND VALUE <= 2155) in the migrations',
        'table billing.payment_p2022_02: partition of is none in the database, billing.payment in the migrations',
      ]),
    )
    expect(
      messages.some((message) =>
        message.startsWith('column film.fulltext: generated is none in the database, to_tsvector('),
      ),
    ).toBe(true)
    expect(
      messages.some((message) =>
        message.startsWith(
          'trigger actor.last_updated: definition is CREATE TRIGGER last_updated BEFORE INSERT OR UPDATE',
        ),
      ),
    ).toBe(true)
    expect(messages).toContain(
      `view actor_info has a different definition in the database than in the migrations (line 4: "group_concat(f.title || '!'::text) AS film_info" vs "group_concat(f.title) AS film_info")`,
    )
    expect(
      messages.some((message) =>
        message.startsWith(
          "table billing.payment_p2022_02: partition bound is none in the database, FOR VALUES FROM ('2022-02-01",
        ),
      ),
    ).toBe(true)
    expect(messages).toHaveLength(15)
  })

  it('reads the catalog again after the session lost its prepared statement, or holds another of that name', async () => {
    const project = await migrated('postgres', exampleMigrations())
    await withTarget(project, async (target) => {
      const engine = await target.backend.schemaEngine()
      const first = await engine.readCatalog()
      await target.backend.query({ sql: 'DEALLOCATE ALL', parameters: [] })
      expect((await engine.readCatalog()).objects).toEqual(first.objects)
      await target.backend.query({ sql: 'DEALLOCATE ALL', parameters: [] })
      await target.backend.query({ sql: 'PREPARE dbops_schema_catalog AS SELECT 1', parameters: [] })
      const other = await (await target.backend.schemaEngine()).readCatalog()
      expect(other.objects).toEqual(first.objects)
    })
  })

  it('reports missing and changed schemas, types, sequences, functions, procedures, policies, materialized views and extensions', async () => {
    const files = {
      '001_objects.sql': migration(`CREATE SCHEMA s;
CREATE SCHEMA ext;
CREATE EXTENSION pg_trgm;
CREATE TYPE e AS ENUM ('a');
CREATE DOMAIN d AS integer;
CREATE SEQUENCE q;
CREATE FUNCTION f() RETURNS integer LANGUAGE sql AS 'SELECT 1';
CREATE PROCEDURE p() LANGUAGE sql AS 'SELECT 1';
CREATE TABLE t (id integer, v text);
ALTER TABLE t ENABLE ROW LEVEL SECURITY;
CREATE POLICY t_read ON t FOR SELECT USING (id > 0);
CREATE MATERIALIZED VIEW mv AS SELECT id FROM t;`),
    }
    const missing = await migrated('postgres', files)
    await exec(missing, [
      'DROP SCHEMA s',
      'DROP EXTENSION pg_trgm',
      'DROP TYPE e',
      'DROP DOMAIN d',
      'DROP SEQUENCE q',
      'DROP FUNCTION f()',
    ])
    const gone = (subject: string) => `${subject} is missing from the database (the migrations create it)`
    expect(messagesOf(await drift(missing))).toEqual([
      gone('extension pg_trgm'),
      gone('schema s'),
      gone('enum e'),
      gone('domain d'),
      gone('sequence q'),
      gone('function f()'),
    ])

    const changed = await migrated('postgres', files)
    await exec(changed, [
      'ALTER EXTENSION pg_trgm SET SCHEMA ext',
      "CREATE OR REPLACE PROCEDURE p() LANGUAGE sql AS 'SELECT 2'",
      'ALTER POLICY t_read ON t USING (id > 1)',
      'DROP MATERIALIZED VIEW mv',
      'CREATE MATERIALIZED VIEW mv AS SELECT id, v FROM t',
    ])
    const messages = messagesOf(await drift(changed))
    expect(messages).toEqual([
      'extension pg_trgm: schema is ext in the database, public in the migrations',
      expect.stringMatching(/^materialized view mv has a different definition in the database than in the migrations/),
      'procedure p() has a different definition in the database than in the migrations (line 3: "AS $procedure$SELECT 2$procedure$" vs "AS $procedure$SELECT 1$procedure$")',
      'policy t.t_read: using is (id > 1) in the database, (id > 0) in the migrations',
    ])
  })

  it('leaves out what schema.ignore and --ignore name', async () => {
    const project = await migrated('postgres', PAGILA_LIKE, { schema: { ignore: ['legacy_*'] } })
    await exec(project, [
      'CREATE TABLE legacy_log (id int)',
      'CREATE INDEX tmp_actor_idx ON actor (first_name)',
      'CREATE TABLE kept (id int)',
    ])
    const messages = messagesOf(
      await withTarget(project, async (target) => schemaDrift(target, { ignore: ['index:tmp_*'] })),
    )
    expect(messages).toEqual(['table kept exists in the database but no migration creates it'])
  })

  it('fails with the migration that no longer runs on an empty database, and drops the scratch database', async () => {
    const project = await migrated('postgres', { '001_a.sql': migration('CREATE TABLE a (id int);', 'DROP TABLE a;') })
    project.write('migrations/001_a.sql', migration('CREATE TABLE a (id int); SELECT * FROM nowhere;', 'DROP TABLE a;'))
    const error = await failure(drift(project))
    expect(error.code).toBe('E_DRIFT_BUILD')
    expect(error.message).toMatch(
      /cannot build the expected schema from the migrations: .*relation "nowhere" does not exist/,
    )
    expect(await scratchDatabases()).toEqual([])
  })
})

describe('schema drift on postgres, a LATIN1 database with C collation', () => {
  it('builds the scratch database with the source database encoding and locale', async () => {
    const name = `dbops_latin1_${process.pid}_${Date.now()}`
    await pgQuery(
      pgServerUrl(),
      `CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'`,
    )
    try {
      const url = new URL(pgServerUrl())
      url.pathname = `/${name}`
      // The migration refuses to run anywhere but a LATIN1 / C database: the replay in the scratch database
      // only succeeds if that database copied both.
      const files = {
        '001_words.sql': migration(
          `CREATE TABLE words (word text);
DO $$ DECLARE e text; c text; t text; BEGIN
  SELECT pg_encoding_to_char(encoding), datcollate, datctype INTO e, c, t FROM pg_database WHERE datname = current_database();
  IF e <> 'LATIN1' OR c <> 'C' OR t <> 'C' THEN RAISE EXCEPTION 'built in % / % / %, not LATIN1 / C / C', e, c, t; END IF;
END $$;`,
          'DROP TABLE words;',
        ),
      }
      const project: Project = { ...(await makeProject('sqlite', files)), engine: 'postgres', url: url.toString() }
      await withTarget(project, (target) => migrateUp(target))
      const result = await drift(project)
      expect(messagesOf(result)).toEqual([])
    } finally {
      await pgQuery(pgServerUrl(), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    }
  })
})

describe('schema drift on sqlite', () => {
  it('replays migrations in ledger order (one applied out of order), and warns about a file changed after it was applied', async () => {
    const project = await migrated('sqlite', {
      '001_a.sql': migration('CREATE TABLE a (id INTEGER PRIMARY KEY);', 'DROP TABLE a;'),
      '003_c.sql': migration('CREATE TABLE c (id INTEGER PRIMARY KEY);', 'DROP TABLE c;'),
    })
    // A branch merged late: 002 adds a column to the table 003 created, applied after it.
    project.write('migrations/002_b.sql', migration('ALTER TABLE c ADD COLUMN b TEXT;', 'ALTER TABLE c DROP COLUMN b;'))
    await withTarget(project, (target) => migrateUp(target, { allowOutOfOrder: true }))
    project.write(
      'migrations/001_a.sql',
      migration('-- a comment\nCREATE TABLE a (id INTEGER PRIMARY KEY);', 'DROP TABLE a;'),
    )
    const result = await drift(project)
    expect(result.migrations).toEqual(['001_a', '003_c', '002_b'])
    expect(result.warnings).toEqual([expect.stringMatching(/001_a\.sql was changed after it was applied/)])
    expect(messagesOf(result)).toEqual([])
  })

  it('finds no drift on a realistic schema and on the example migrations', async () => {
    for (const files of [SQLITE_SET, exampleMigrations()]) {
      const project = await migrated('sqlite', files)
      expect(messagesOf(await drift(project))).toEqual([])
    }
  })

  it('reports extra, missing and changed tables, columns, indexes, views, triggers and constraints', async () => {
    const project = await migrated('sqlite', SQLITE_SET)
    await exec(project, [
      'CREATE TABLE extra_table (id INTEGER PRIMARY KEY)',
      'ALTER TABLE orders ADD COLUMN note TEXT',
      'CREATE INDEX orders_created_at_idx ON orders (created_at)',
      'CREATE VIEW extra_view AS SELECT 1 AS one',
      'DROP TRIGGER orders_touch',
      'DROP VIEW user_orders',
      'DROP INDEX orders_user_id_idx',
      'CREATE INDEX orders_user_id_idx ON orders (user_id, id)',
      'PRAGMA foreign_keys = OFF',
      'CREATE TABLE users_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL, nickname VARCHAR(50), score INT, lower_nick TEXT GENERATED ALWAYS AS (lower(nickname)) VIRTUAL)',
      'DROP TABLE users',
      'ALTER TABLE users_new RENAME TO users',
    ])
    const messages = messagesOf(await drift(project))
    expect(messages).toEqual([
      'table extra_table exists in the database but no migration creates it',
      'table users: checks is none in the database, CHECK(score > 0) in the migrations',
      'column orders.note exists in the database but no migration creates it',
      'column users.nickname is VARCHAR(50) in the database, TEXT in the migrations',
      'constraint users.unique (email) is missing from the database (the migrations create it)',
      'index orders_created_at_idx exists in the database but no migration creates it',
      'index orders_user_id_idx: definition is CREATE INDEX orders_user_id_idx ON orders(user_id,id) in the database, CREATE INDEX orders_user_id_idx ON orders(user_id) in the migrations',
      'view extra_view exists in the database but no migration creates it',
      'view user_orders is missing from the database (the migrations create it)',
      'trigger orders.orders_touch is missing from the database (the migrations create it)',
    ])
  })
})

describe('schema drift on sqlite, table definitions', () => {
  it('reports what only the CREATE TABLE text holds (a generated expression), and only when nothing more precise differs', async () => {
    const project = await migrated('sqlite', SQLITE_SET)
    await exec(project, [
      'DROP VIEW user_orders',
      'PRAGMA foreign_keys = OFF',
      'CREATE TABLE users_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, nickname TEXT, score INT CHECK (score > 0), lower_nick TEXT GENERATED ALWAYS AS (upper(nickname)) VIRTUAL)',
      'DROP TABLE users',
      'ALTER TABLE users_new RENAME TO users',
      'CREATE VIEW user_orders AS SELECT user_id, count(*) AS n FROM orders GROUP BY user_id',
    ])
    const messages = messagesOf(await drift(project))
    expect(messages).toEqual([
      expect.stringMatching(
        /^table users: definition is CREATE TABLE "users"\(.*upper\(nickname\).* in the database, CREATE TABLE users\(.*lower\(nickname\).* in the migrations$/,
      ),
    ])
  })
})

describe.each(['postgres', 'sqlite'] as const)('health check schema_drift on %s', (engine) => {
  it('runs only when named, and warns with the number of differences', async () => {
    const project = await migrated(engine, exampleMigrations())
    const usual = await withTarget(project, (target) => checkHealth(target))
    expect(usual.checks.map((finding) => finding.check)).not.toContain('schema_drift')
    const clean = await withTarget(project, (target) => checkHealth(target, { only: ['schema_drift'] }))
    expect(clean.checks.find((finding) => finding.check === 'schema_drift')).toMatchObject({
      severity: 'ok',
      values: { differences: 0 },
    })
    await project.query('CREATE INDEX users_name_idx ON users (name)')
    const drifted = await withTarget(project, (target) => checkHealth(target, { only: ['schema_drift'] }))
    expect(drifted.checks.find((finding) => finding.check === 'schema_drift')).toMatchObject({
      severity: 'warn',
      values: { differences: 1 },
      message: expect.stringContaining('index users_name_idx exists in the database but no migration creates it'),
    })
  })
})

describe.each(['postgres', 'sqlite'] as const)('schema dump on %s', (engine) => {
  it('is byte-identical twice, ends with the applied versions, and reloads into an empty database that dumps the same', async () => {
    const project = await migrated(engine, engine === 'postgres' ? PAGILA_LIKE : SQLITE_SET)
    const first = await withTarget(project, (target) => dumpSchema(target))
    const second = await withTarget(project, (target) => dumpSchema(target))
    expect(second.sql).toBe(first.sql)
    expect(first.sql).not.toMatch(/\\restrict|Dumped from database version|Dumped by pg_dump/)
    expect(first.versions).toEqual(engine === 'postgres' ? ['001', '002', '003', '004', '005'] : ['001', '002'])
    expect(first.sql).toMatch(
      /INSERT INTO "?(public"\.")?dbops_migrations"? \(version, name, checksum, status, applied_seq, applied_at\) VALUES/,
    )
    const file = path.join(project.dir, 'schema.sql')
    await withTarget(project, (target) => dumpSchema(target, { out: file }))
    expect(readFileSync(file, 'utf8')).toBe(first.sql)

    const empty = await makeProject(engine, engine === 'postgres' ? PAGILA_LIKE : SQLITE_SET)
    if (engine === 'postgres')
      execFileSync('psql', ['--no-psqlrc', '-q', '-v', 'ON_ERROR_STOP=1', '-d', empty.url, '-f', file], {
        stdio: 'pipe',
      })
    else
      execFileSync('sqlite3', [empty.url.slice('sqlite:'.length)], {
        input: readFileSync(file),
        stdio: ['pipe', 'pipe', 'pipe'],
      })
    const reloaded = await withTarget(empty, (target) => dumpSchema(target))
    expect(reloaded.sql).toBe(first.sql)
    // The reloaded database knows its migrations (baselined) and matches them.
    expect(messagesOf(await drift(empty))).toEqual([])
  })
})

describe.each(['postgres', 'sqlite'] as const)('migrate test on %s', (engine) => {
  const good = engine === 'postgres' ? PAGILA_LIKE : SQLITE_SET

  it('passes sets whose downs undo their ups, and never touches the target database', async () => {
    for (const files of [good, exampleMigrations()]) {
      const project = await makeProject(engine, files)
      const result = await withTarget(project, (target) => testMigrations(target, { onEvent: recordScratch }))
      expect(result.failure).toBeNull()
      expect(result.passed).toBe(true)
      expect(result.tested).toHaveLength(Object.keys(files).length)
      const tables =
        engine === 'postgres'
          ? await project.query(
              `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'`,
            )
          : await project.query(`SELECT count(*) AS n FROM sqlite_master`)
      expect(Number(tables[0]!.n)).toBe(0)
    }
    if (engine === 'postgres') expect(await scratchDatabases()).toEqual([])
  })

  const base = {
    '001_users.sql': migration('CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);', 'DROP TABLE users;'),
    '002_posts.sql': migration(
      'CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id));',
      'DROP TABLE posts;',
    ),
  }

  it('names a down that forgets an index', async () => {
    const project = await makeProject(engine, {
      ...base,
      '003_add_posts_slug.sql': migration(
        'ALTER TABLE posts ADD COLUMN slug TEXT;\nCREATE INDEX posts_user_idx ON posts (user_id);',
        'ALTER TABLE posts DROP COLUMN slug;',
      ),
    })
    const result = await withTarget(project, (target) => testMigrations(target))
    expect(result.passed).toBe(false)
    expect(result.failure).toMatchObject({
      migration: '003_add_posts_slug',
      step: 'down',
      message: 'down of 003_add_posts_slug leaves index posts_user_idx behind',
    })
  })

  it("names an up-only migration in its own format's words (a Flyway V file without its U file)", async () => {
    const project = await makeProject(engine, {
      ...base,
      'V003__add_bio.sql': 'ALTER TABLE users ADD COLUMN bio TEXT;\n',
    })
    const result = await withTarget(project, (target) => testMigrations(target))
    expect(result.failure).toMatchObject({
      migration: 'V003__add_bio',
      step: 'down',
      message: "cannot roll back migrations/V003__add_bio.sql: there is no U003__*.sql (Flyway's undo file)",
    })
  })

  it('passes a set whose tool has no rollbacks when every up applies (plain SQL, Flyway without undo files)', async () => {
    for (const files of [
      <Record<string, string>>{
        '001_users.sql': 'CREATE TABLE users (id INTEGER PRIMARY KEY);\n',
        '002_bio.sql': 'ALTER TABLE users ADD COLUMN bio TEXT;\n',
      },
      {
        'V001__users.sql': 'CREATE TABLE users (id INTEGER PRIMARY KEY);\n',
        'V002__bio.sql': 'ALTER TABLE users ADD COLUMN bio TEXT;\n',
      },
    ]) {
      const project = await makeProject(engine, files)
      const result = await withTarget(project, (target) => testMigrations(target))
      expect(result).toMatchObject({ passed: true, failure: null, tested: [] })
      expect(result.untested).toEqual(
        Object.keys(files)
          .map((file) => file.replace(/\.sql$/, ''))
          .reverse(),
      )
    }
    // An up that fails still fails the test.
    const broken = await makeProject(engine, {
      '001_users.sql': 'CREATE TABLE users (id INTEGER PRIMARY KEY);\n',
      '002_bio.sql': 'ALTER TABLE nosuch ADD COLUMN bio TEXT;\n',
    })
    const result = await withTarget(broken, (target) => testMigrations(target))
    expect(result.failure).toMatchObject({ migration: '002_bio', step: 'up' })
  })

  it('names a down that drops the wrong column', async () => {
    const project = await makeProject(engine, {
      ...base,
      '003_add_nickname.sql': migration(
        'ALTER TABLE users ADD COLUMN nickname TEXT;',
        'ALTER TABLE users DROP COLUMN name;',
      ),
    })
    const result = await withTarget(project, (target) => testMigrations(target))
    expect(result.failure?.differences.map((difference) => difference.message)).toEqual([
      'down of 003_add_nickname drops column users.name, which existed before its up',
      'down of 003_add_nickname leaves column users.nickname behind',
    ])
    expect(result.failure?.message).toBe(
      'down of 003_add_nickname drops column users.name, which existed before its up (and 1 more difference)',
    )
  })

  it('names a down that leaves an object changed, in plain words (what it is after the down, what it was before)', async () => {
    const project = await makeProject(engine, {
      ...base,
      '003_posts_user_idx.sql': migration(
        'CREATE INDEX posts_user_idx ON posts (user_id);',
        'DROP INDEX posts_user_idx;',
      ),
      '004_unique_user.sql': migration(
        'DROP INDEX posts_user_idx;\nCREATE UNIQUE INDEX posts_user_idx ON posts (user_id);',
        'SELECT 1;',
      ),
    })
    const result = await withTarget(project, (target) => testMigrations(target))
    expect(result.failure).toMatchObject({ migration: '004_unique_user', step: 'down' })
    expect(result.failure!.message).toMatch(
      /^down of 004_unique_user does not restore index posts_user_idx: \w+ is .+ after the down, .+ before the up$/,
    )
    expect(result.failure!.message).not.toMatch(/ in (after|before) the /)
  })

  it('names a down that fails, with the database error', async () => {
    const project = await makeProject(engine, {
      ...base,
      '003_bad_down.sql': migration('CREATE TABLE tags (id INTEGER);', 'DROP TABLE tag;'),
    })
    const result = await withTarget(project, (target) => testMigrations(target))
    expect(result.failure).toMatchObject({ migration: '003_bad_down', step: 'down' })
    expect(result.failure!.message).toMatch(/^down of 003_bad_down fails: .*(does not exist|no such table)/)
  })

  it('names the line of the failing statement, the catalog read riding along with each step or not', async () => {
    const failingUp = await makeProject(engine, {
      ...base,
      '003_bad_up.sql': migration('CREATE TABLE tags (id INTEGER);\nSELECT nope FROM tags;', 'DROP TABLE tags;'),
    })
    const up = await withTarget(failingUp, (target) => testMigrations(target))
    expect(up.failure).toMatchObject({ migration: '003_bad_up', step: 'up' })
    expect(up.failure!.message).toMatch(
      // SQLite reports no position within the statement.
      new RegExp(`^up of 003_bad_up fails: .*003_bad_up\\.sql:3:${engine === 'postgres' ? 8 : 1}\\b.*nope`),
    )
    const failingDown = await makeProject(engine, {
      ...base,
      '003_bad_down.sql': migration('CREATE TABLE tags (id INTEGER);', 'DROP TABLE tags;\nDROP TABLE tag;'),
    })
    const down = await withTarget(failingDown, (target) => testMigrations(target))
    expect(down.failure).toMatchObject({ migration: '003_bad_down', step: 'down' })
    expect(down.failure!.message).toMatch(/^down of 003_bad_down fails: .*003_bad_down\.sql:6:1\b/)
  })

  if (engine === 'postgres')
    it('passes when a migration drops or replaces the prepared catalog read that follows it', async () => {
      const project = await makeProject(engine, {
        ...base,
        '003_deallocate.sql': migration(
          'CREATE TABLE tags (id INTEGER);\nDEALLOCATE ALL;',
          'DROP TABLE tags;\nDEALLOCATE ALL;',
        ),
        '004_replace.sql': migration(
          'CREATE TABLE labels (id INTEGER);\nDEALLOCATE ALL;\nPREPARE dbops_schema_catalog AS SELECT 1 AS one;',
          'DROP TABLE labels;\nDEALLOCATE ALL;\nPREPARE dbops_schema_catalog AS SELECT 1 AS one;',
        ),
      })
      const result = await withTarget(project, (target) => testMigrations(target))
      expect(result.failure).toBeNull()
      expect(result.tested).toEqual(['004_replace', '003_deallocate', '002_posts', '001_users'])
    })

  if (engine === 'postgres')
    it('stops at the up whose lint finds an error, naming it as migrate up would, after the ones before it', async () => {
      const project = await makeProject(engine, {
        ...base,
        '003_dup.sql': migration("UPDATE users SET name = 'a', name = 'b' WHERE id = 0;", 'SELECT 1;'),
        '004_tags.sql': migration('CREATE TABLE tags (id INTEGER);', 'DROP TABLE tags;'),
      })
      const result = await withTarget(project, (target) => testMigrations(target))
      expect(result.failure).toMatchObject({ migration: '003_dup', step: 'up' })
      expect(result.failure!.message).toMatch(
        /^up of 003_dup fails: 1 lint error\(s\) in the migrations to apply, nothing was run: \S*003_dup\.sql:2:\d+ duplicate-column-assignment: /,
      )
    })

  it('names an up that cannot run again after its down', async () => {
    const project = await makeProject(engine, {
      ...base,
      '003_seed_user.sql': migration("INSERT INTO users (id, name) VALUES (1, 'root');", ''),
    })
    const result = await withTarget(project, (target) => testMigrations(target))
    expect(result.failure).toMatchObject({ migration: '003_seed_user', step: 'redo' })
    expect(result.failure!.message).toMatch(/^up of 003_seed_user fails after its down: /)
  })

  it('with --from tests only the newer migrations, applying older ones once', async () => {
    const project = await makeProject(engine, {
      '001_users.sql': migration('CREATE TABLE users (id INTEGER PRIMARY KEY);', 'SELECT 1;'),
      '002_posts.sql': base['002_posts.sql'],
      '003_tags.sql': migration('CREATE TABLE tags (id INTEGER);', 'DROP TABLE tags;'),
    })
    const all = await withTarget(project, (target) => testMigrations(target))
    expect(all.failure?.message).toBe('down of 001_users leaves table users behind')
    const newer = await withTarget(project, (target) => testMigrations(target, { from: '002' }))
    expect(newer).toMatchObject({ passed: true, appliedOnce: 1, tested: ['003_tags', '002_posts'] })
  })

  it('with --from applies older files named by their version alone (convoy names its files 1677078479.sql)', async () => {
    const project = await makeProject(engine, {
      '1001.sql': migration('CREATE TABLE users (id INTEGER PRIMARY KEY);', 'DROP TABLE users;'),
      '1002.sql': migration(
        'CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id));',
        'DROP TABLE posts;',
      ),
    })
    const newer = await withTarget(project, (target) => testMigrations(target, { from: '1002' }))
    expect(newer).toMatchObject({ passed: true, appliedOnce: 1, tested: ['1002'] })
  })
})
