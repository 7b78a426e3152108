// Each rule: a true positive, and the near misses that must stay quiet (statically, PostgreSQL unless said).
import { describe, expect, it } from 'vitest'
import type { LintResult } from '../../../src/lint/types.js'
import { LINT_RULES } from '../../../src/lint/rules/index.js'
import { lint, lintFiles, rules } from './lint-helpers.js'

/** Findings of `rule` only (advice rules are on at info and would crowd every CREATE TABLE). */
async function only(rule: string, sql: string, options: Parameters<typeof lint>[1] = {}) {
  return (await lint(sql, options)).filter((finding) => finding.rule === rule)
}

describe('lock hazards', () => {
  it('create-index-without-concurrently: names the lock and what it blocks, and gives the safe SQL', async () => {
    const [finding, ...rest] = await only(
      'create-index-without-concurrently',
      'CREATE INDEX orders_user_idx ON orders (user_id);',
    )
    expect(rest).toEqual([])
    expect(finding).toMatchObject({
      severity: 'warn',
      line: 2,
      column: 1,
      lock: 'SHARE',
      table: 'orders',
      file: 'migrations/1_m1.sql',
      migration: '1_m1',
    })
    expect(finding!.message).toBe('CREATE INDEX takes SHARE on orders: blocks INSERT/UPDATE/DELETE for the whole build')
    expect(finding!.safe).toContain('CREATE INDEX CONCURRENTLY orders_user_idx ON orders (user_id);')
    expect(finding!.safe).toContain('transaction:false')
  })

  it('create-index-without-concurrently stays quiet for CONCURRENTLY, ON ONLY, and a table created earlier in the file', async () => {
    expect(
      await only('create-index-without-concurrently', 'CREATE INDEX CONCURRENTLY i ON orders (a);', {
        directive: 'transaction:false',
      }),
    ).toEqual([])
    expect(await only('create-index-without-concurrently', 'CREATE INDEX i ON ONLY measurements (a);')).toEqual([])
    expect(
      await only(
        'create-index-without-concurrently',
        'CREATE TABLE orders (id bigint);\nCREATE UNIQUE INDEX i ON orders (id);',
      ),
    ).toEqual([])
    expect(
      await only(
        'create-index-without-concurrently',
        'CREATE TABLE "Orders" (id bigint);\nCREATE INDEX i ON "Orders" (id);',
      ),
    ).toEqual([])
  })

  it('a table created in an earlier file is not fresh when linting statically (it may be large by now)', async () => {
    const { lintFiles } = await import('./lint-helpers.js')
    const result = await lintFiles(['CREATE TABLE orders (id bigint);', 'CREATE INDEX i ON orders (id);'])
    expect(rules(result.findings)).toContain('create-index-without-concurrently')
  })

  it('drop-index-without-concurrently, but not for CONCURRENTLY or an index created in the same file', async () => {
    expect(rules(await only('drop-index-without-concurrently', 'DROP INDEX orders_user_idx;'))).toEqual([
      'drop-index-without-concurrently',
    ])
    expect(
      await only('drop-index-without-concurrently', 'DROP INDEX CONCURRENTLY orders_user_idx;', {
        directive: 'transaction:false',
      }),
    ).toEqual([])
    expect(
      await only('drop-index-without-concurrently', 'CREATE INDEX tmp_idx ON t (a);\nDROP INDEX tmp_idx;'),
    ).toEqual([])
  })

  it('reindex-without-concurrently: both option spellings count', async () => {
    expect(rules(await only('reindex-without-concurrently', 'REINDEX INDEX orders_user_idx;'))).toEqual([
      'reindex-without-concurrently',
    ])
    expect(
      await only('reindex-without-concurrently', 'REINDEX TABLE CONCURRENTLY orders;', {
        directive: 'transaction:false',
      }),
    ).toEqual([])
    expect(
      await only('reindex-without-concurrently', 'REINDEX (CONCURRENTLY) TABLE orders;', {
        directive: 'transaction:false',
      }),
    ).toEqual([])
  })

  it('detach-partition-without-concurrently (the safe form needs PostgreSQL 14)', async () => {
    const [finding] = await only(
      'detach-partition-without-concurrently',
      'ALTER TABLE measurements DETACH PARTITION measurements_2020;',
    )
    expect(finding!.safe).toContain('DETACH PARTITION measurements_2020 CONCURRENTLY')
    const [old] = await only(
      'detach-partition-without-concurrently',
      'ALTER TABLE measurements DETACH PARTITION measurements_2020;',
      { pgVersion: 13 },
    )
    expect(old!.safe).toContain('needs PostgreSQL 14')
    expect(
      await only(
        'detach-partition-without-concurrently',
        'ALTER TABLE measurements DETACH PARTITION measurements_2020 CONCURRENTLY;',
        { directive: 'transaction:false' },
      ),
    ).toEqual([])
  })

  it('foreign-key-without-not-valid: the safe SQL is NOT VALID plus VALIDATE in the next migration', async () => {
    const [finding] = await only(
      'foreign-key-without-not-valid',
      'ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);',
    )
    expect(finding!.message).toContain('SHARE ROW EXCLUSIVE on orders and users')
    expect(finding!.safe).toContain('REFERENCES users (id) NOT VALID;')
    expect(finding!.safe).toContain('ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk;')
    expect(
      rules(
        await only('foreign-key-without-not-valid', 'ALTER TABLE orders ADD COLUMN user_id bigint REFERENCES users;'),
      ),
    ).toEqual(['foreign-key-without-not-valid'])
  })

  it('foreign-key-without-not-valid stays quiet for NOT VALID, VALIDATE, and a foreign key in CREATE TABLE', async () => {
    expect(
      await only(
        'foreign-key-without-not-valid',
        'ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;',
      ),
    ).toEqual([])
    expect(await only('foreign-key-without-not-valid', 'ALTER TABLE orders VALIDATE CONSTRAINT f;')).toEqual([])
    expect(
      await only('foreign-key-without-not-valid', 'CREATE TABLE orders (user_id bigint REFERENCES users);'),
    ).toEqual([])
  })

  it('foreign-key-without-not-valid: a table just filled by CREATE TABLE AS blocks writes to the existing table it references', async () => {
    // The new table is nobody's yet, but the check of every row copied into it runs under SHARE ROW EXCLUSIVE on users.
    const [finding, ...rest] = await only(
      'foreign-key-without-not-valid',
      'CREATE TABLE order_likes AS SELECT user_id, order_id FROM likes;\n' +
        'ALTER TABLE order_likes ADD CONSTRAINT order_likes_user_fk FOREIGN KEY (user_id) REFERENCES users;',
    )
    expect(rest).toEqual([])
    expect(finding).toMatchObject({ table: 'users', lock: 'SHARE ROW EXCLUSIVE', line: 3 })
    expect(finding!.message).toContain('every row copied into order_likes')
    expect(finding!.safe).toContain('REFERENCES users NOT VALID;')
    expect(finding!.safe).toContain('ALTER TABLE order_likes VALIDATE CONSTRAINT order_likes_user_fk;')
    expect(
      rules(
        await only(
          'foreign-key-without-not-valid',
          'CREATE TABLE order_likes (user_id) AS SELECT user_id FROM likes;\n' +
            'SELECT * INTO order_likes2 FROM likes;\n' +
            'ALTER TABLE order_likes ADD FOREIGN KEY (user_id) REFERENCES users;\n' +
            'ALTER TABLE order_likes2 ADD FOREIGN KEY (user_id) REFERENCES users;',
        ),
      ),
    ).toEqual(['foreign-key-without-not-valid', 'foreign-key-without-not-valid'])
  })

  it('foreign-key-without-not-valid stays quiet for a new table that is empty, or that references another new table', async () => {
    for (const sql of [
      'CREATE TABLE order_likes (user_id bigint);\nALTER TABLE order_likes ADD FOREIGN KEY (user_id) REFERENCES users;',
      'CREATE TABLE order_likes (id bigint GENERATED ALWAYS AS IDENTITY, user_id bigint);\n' +
        'ALTER TABLE order_likes ADD FOREIGN KEY (user_id) REFERENCES users;',
      'CREATE TABLE order_likes AS SELECT user_id FROM likes WITH NO DATA;\nALTER TABLE order_likes ADD FOREIGN KEY (user_id) REFERENCES users;',
      'CREATE TABLE users (id bigint PRIMARY KEY);\nCREATE TABLE order_likes AS SELECT user_id FROM likes;\n' +
        'ALTER TABLE order_likes ADD FOREIGN KEY (user_id) REFERENCES users NOT VALID;',
      'CREATE TABLE users (id bigint PRIMARY KEY);\nCREATE TABLE order_likes AS SELECT user_id FROM likes;\n' +
        'ALTER TABLE order_likes ADD FOREIGN KEY (user_id) REFERENCES users;',
    ])
      expect(await only('foreign-key-without-not-valid', sql), sql).toEqual([])
  })

  it('check-without-not-valid, not for NOT VALID', async () => {
    expect(
      rules(await only('check-without-not-valid', 'ALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0);')),
    ).toEqual(['check-without-not-valid'])
    expect(
      await only('check-without-not-valid', 'ALTER TABLE orders ADD CONSTRAINT positive CHECK (total > 0) NOT VALID;'),
    ).toEqual([])
  })

  it('set-not-null-scan: quiet after a validated CHECK (col IS NOT NULL) on PostgreSQL 12+, not before 12', async () => {
    const [finding] = await only('set-not-null-scan', 'ALTER TABLE orders ALTER COLUMN note SET NOT NULL;')
    expect(finding!.safe).toContain('CHECK (note IS NOT NULL) NOT VALID')
    expect(finding!.safe).toContain('VALIDATE CONSTRAINT orders_note_not_null')
    const proven =
      'ALTER TABLE orders ADD CONSTRAINT c CHECK (note IS NOT NULL) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT c;\nALTER TABLE orders ALTER COLUMN note SET NOT NULL;'
    expect(await only('set-not-null-scan', proven)).toEqual([])
    expect(rules(await only('set-not-null-scan', proven, { pgVersion: 11 }))).toEqual(['set-not-null-scan'])
    // Not validated: still a scan.
    expect(
      rules(
        await only(
          'set-not-null-scan',
          'ALTER TABLE orders ADD CONSTRAINT c CHECK (note IS NOT NULL) NOT VALID;\nALTER TABLE orders ALTER COLUMN note SET NOT NULL;',
        ),
      ),
    ).toEqual(['set-not-null-scan'])
  })

  it('add-column-rewrite: volatile defaults, serial, stored generated columns; any default before PostgreSQL 11', async () => {
    expect(
      rules(await only('add-column-rewrite', 'ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid();')),
    ).toEqual(['add-column-rewrite'])
    expect(rules(await only('add-column-rewrite', 'ALTER TABLE orders ADD COLUMN n bigserial;'))).toEqual([
      'add-column-rewrite',
    ])
    expect(
      rules(
        await only(
          'add-column-rewrite',
          'ALTER TABLE orders ADD COLUMN total2 int GENERATED ALWAYS AS (total * 2) STORED;',
        ),
      ),
    ).toEqual(['add-column-rewrite'])
    expect(
      await only('add-column-rewrite', "ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new';"),
    ).toEqual([])
    expect(
      await only('add-column-rewrite', 'ALTER TABLE orders ADD COLUMN created timestamptz DEFAULT now();'),
    ).toEqual([])
    expect(
      await only('add-column-rewrite', 'ALTER TABLE orders ADD COLUMN created timestamptz DEFAULT current_timestamp;'),
    ).toEqual([])
    const [old] = await only('add-column-rewrite', "ALTER TABLE orders ADD COLUMN status text DEFAULT 'new';", {
      pgVersion: 10,
    })
    expect(old!.message).toContain('before PostgreSQL 11')
  })

  it('add-column-not-null-without-default, not with a default or an identity', async () => {
    expect(
      rules(await only('add-column-not-null-without-default', 'ALTER TABLE orders ADD COLUMN status text NOT NULL;')),
    ).toEqual(['add-column-not-null-without-default'])
    expect(
      await only(
        'add-column-not-null-without-default',
        "ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'x';",
      ),
    ).toEqual([])
    expect(
      await only(
        'add-column-not-null-without-default',
        'ALTER TABLE orders ADD COLUMN n bigint GENERATED ALWAYS AS IDENTITY;',
      ),
    ).toEqual([])
  })

  it('alter-column-type-rewrite', async () => {
    expect(
      rules(await only('alter-column-type-rewrite', 'ALTER TABLE orders ALTER COLUMN total TYPE bigint;')),
    ).toEqual(['alter-column-type-rewrite'])
    expect(await only('alter-column-type-rewrite', 'ALTER TABLE orders ALTER COLUMN total SET DEFAULT 0;')).toEqual([])
  })

  it('alter-column-type-rewrite: quiet where PostgreSQL changes the type in place, by the type set earlier in the run', async () => {
    const retypes = async (change: string, earlier = 'CREATE TABLE t (id bigint, a varchar(10), n numeric(10,2));') =>
      rules(
        (await lintFiles([earlier, change])).findings.filter((finding) => finding.rule === 'alter-column-type-rewrite'),
      ).length
    // In place: a longer or no varchar limit, varchar to text and back, more numeric precision at the same scale.
    expect(await retypes('ALTER TABLE t ALTER COLUMN a TYPE varchar(20);')).toBe(0)
    expect(await retypes('ALTER TABLE t ALTER COLUMN a TYPE text;')).toBe(0)
    expect(await retypes('ALTER TABLE public.t ALTER COLUMN a SET DATA TYPE varchar;')).toBe(0)
    expect(await retypes('ALTER TABLE t ALTER COLUMN n TYPE numeric(12,2);')).toBe(0)
    expect(await retypes('ALTER TABLE t ALTER COLUMN n TYPE numeric;')).toBe(0)
    // Rewrites: a shorter limit, a new scale, another type, a USING expression, a new collation.
    expect(await retypes('ALTER TABLE t ALTER COLUMN a TYPE varchar(5);')).toBe(1)
    expect(await retypes('ALTER TABLE t ALTER COLUMN n TYPE numeric(12,3);')).toBe(1)
    expect(await retypes('ALTER TABLE t ALTER COLUMN id TYPE numeric;')).toBe(1)
    expect(await retypes('ALTER TABLE t ALTER COLUMN a TYPE text USING upper(a);')).toBe(1)
    expect(await retypes('ALTER TABLE t ALTER COLUMN a TYPE text COLLATE "C";')).toBe(1)
    // The latest type before the change counts: varchar(50) by then, so varchar(30) shortens it.
    expect(
      await retypes(
        'ALTER TABLE t ALTER COLUMN a TYPE varchar(30);',
        'CREATE TABLE t (a varchar(10));\nALTER TABLE t ALTER COLUMN a TYPE varchar(50);',
      ),
    ).toBe(1)
    // A column added earlier in the same file to a table from elsewhere.
    expect(
      await retypes(
        'ALTER TABLE u ADD COLUMN b varchar(5);\nALTER TABLE u ALTER COLUMN b TYPE varchar(9);',
        'SELECT 1;',
      ),
    ).toBe(0)
    // Followed through renames of the table and of the column: text then, so varchar(20) adds a limit (a rewrite).
    const renamed =
      'CREATE TABLE t0 (b varchar(10), c text);\nALTER TABLE t0 RENAME TO t;\nALTER TABLE t RENAME b TO a;'
    expect(await retypes('ALTER TABLE t ALTER COLUMN a TYPE varchar(20);', renamed)).toBe(0)
    expect(
      await retypes(
        'ALTER TABLE t ALTER COLUMN a TYPE varchar(20);',
        `${renamed}\nALTER TABLE t DROP COLUMN a;\nALTER TABLE t RENAME COLUMN c TO a;`,
      ),
    ).toBe(1)
    // Unknown before (no target, not set in the files): still a rewrite.
    expect(await retypes('ALTER TABLE other ALTER COLUMN a TYPE varchar(20);')).toBe(1)
  })

  it('unique-without-index: PRIMARY KEY / UNIQUE, not USING INDEX', async () => {
    const [finding] = await only('unique-without-index', 'ALTER TABLE orders ADD PRIMARY KEY (id);')
    expect(finding!.safe).toContain('CREATE UNIQUE INDEX CONCURRENTLY orders_pkey ON orders (id)')
    expect(finding!.safe).toContain('ADD CONSTRAINT orders_pkey PRIMARY KEY USING INDEX orders_pkey')
    expect(rules(await only('unique-without-index', 'ALTER TABLE orders ADD CONSTRAINT u UNIQUE (code);'))).toEqual([
      'unique-without-index',
    ])
    expect(
      await only('unique-without-index', 'ALTER TABLE orders ADD CONSTRAINT u UNIQUE USING INDEX orders_code_idx;'),
    ).toEqual([])
  })

  it('vacuum-full-or-cluster, not plain VACUUM', async () => {
    expect(
      rules(await only('vacuum-full-or-cluster', 'VACUUM FULL orders;', { directive: 'transaction:false' })),
    ).toEqual(['vacuum-full-or-cluster'])
    expect(rules(await only('vacuum-full-or-cluster', 'CLUSTER orders USING orders_pkey;'))).toEqual([
      'vacuum-full-or-cluster',
    ])
    expect(
      await only('vacuum-full-or-cluster', 'VACUUM (ANALYZE) orders;', { directive: 'transaction:false' }),
    ).toEqual([])
  })

  it('update/delete without WHERE; quiet with WHERE, and a WHERE in a subquery does not count', async () => {
    expect(rules(await only('update-without-where', "UPDATE orders SET status = 'x';"))).toEqual([
      'update-without-where',
    ])
    expect(await only('update-without-where', "UPDATE orders SET status = 'x' WHERE id < 10;")).toEqual([])
    expect(rules(await only('delete-without-where', 'DELETE FROM orders;'))).toEqual(['delete-without-where'])
    expect(
      rules(
        await only('update-without-where', 'UPDATE orders SET n = (SELECT count(*) FROM items WHERE items.o = 1);'),
      ),
    ).toEqual(['update-without-where'])
    expect(await only('delete-without-where', 'DELETE FROM orders WHERE id = 1;')).toEqual([])
  })
})

describe('breaking changes and correctness', () => {
  it('drop-column, drop-table, rename-column, rename-table; quiet on a table created in the same file', async () => {
    expect(rules(await lint('ALTER TABLE orders DROP COLUMN legacy;'))).toEqual(['drop-column'])
    expect(rules(await lint('DROP TABLE orders;'))).toEqual(['drop-table'])
    expect(rules(await lint('ALTER TABLE orders RENAME COLUMN a TO b;'))).toEqual(['rename-column'])
    expect(rules(await lint('ALTER TABLE orders RENAME TO purchases;'))).toEqual(['rename-table'])
    expect(
      await lint('CREATE TABLE tmp (id bigint);\nALTER TABLE tmp RENAME COLUMN id TO key;\nDROP TABLE tmp;'),
    ).toEqual([])
  })

  it('drop-table: a table created again in the same file is replaced, not dropped; quoted names are named (SQLite)', async () => {
    // memos' LATEST__SCHEMA.sql: DROP TABLE IF EXISTS `memo`; ... CREATE TABLE memo (...)
    const recreate = 'DROP TABLE IF EXISTS `memo`;\nCREATE TABLE memo (id integer PRIMARY KEY);'
    expect(await lint(recreate, { engine: 'sqlite' })).toEqual([])
    expect(await lint('DROP TABLE sso_nonce;\nCREATE TABLE sso_nonce (state text PRIMARY KEY);')).toEqual([])
    const quoted = await lint('DROP TABLE `memo`;\nDROP TABLE main."Odd ""one""";\nDROP TABLE [x y];', {
      engine: 'sqlite',
    })
    expect(quoted.map((finding) => finding.message)).toEqual([
      'DROP TABLE memo breaks running code that still uses it',
      'DROP TABLE odd "one" breaks running code that still uses it',
      'DROP TABLE x y breaks running code that still uses it',
    ])
  })

  it('drop-not-null, not SET NOT NULL or DROP DEFAULT', async () => {
    expect(rules(await lint('ALTER TABLE orders ALTER COLUMN note DROP NOT NULL;'))).toEqual(['drop-not-null'])
    expect(await lint('ALTER TABLE orders ALTER COLUMN note DROP DEFAULT;')).toEqual([])
    expect(await lint('CREATE TABLE t (a int NOT NULL);\nALTER TABLE t ALTER COLUMN a DROP NOT NULL;')).toEqual([])
  })

  it('truncate-cascade, not a plain TRUNCATE', async () => {
    expect(rules(await lint('TRUNCATE orders CASCADE;'))).toEqual(['truncate-cascade'])
    expect(await lint('TRUNCATE orders;')).toEqual([])
  })

  it('enum-value-in-transaction: an error before PostgreSQL 12 in a transactional file only', async () => {
    const [finding] = await lint("ALTER TYPE mood ADD VALUE 'meh';", { pgVersion: 11 })
    expect(finding).toMatchObject({ rule: 'enum-value-in-transaction', severity: 'error' })
    expect(await lint("ALTER TYPE mood ADD VALUE 'meh';", { pgVersion: 12 })).toEqual([])
    expect(await lint("ALTER TYPE mood ADD VALUE 'meh';", { pgVersion: 11, directive: 'transaction:false' })).toEqual(
      [],
    )
  })

  it('identifier-too-long: over 63 bytes (multi-byte characters count as bytes), not at 63', async () => {
    const long = 'a'.repeat(64)
    const [finding] = await lint(`CREATE TABLE t (${long} bigint);`)
    expect(finding).toMatchObject({ rule: 'identifier-too-long' })
    expect(finding!.message).toContain(`"${'a'.repeat(63)}"`)
    expect(await lint(`CREATE TABLE t (${'a'.repeat(63)} bigint);`)).toEqual([])
    expect(rules(await lint(`CREATE TABLE t ("${'é'.repeat(32)}" bigint);`))).toEqual(['identifier-too-long'])
    // A long string is not a name.
    expect(await lint(`INSERT INTO t VALUES ('${'a'.repeat(80)}');`)).toEqual([])
  })

  it('non-transactional-statement: what up would refuse, unless the file says transaction:false', async () => {
    const [finding] = await lint('CREATE INDEX CONCURRENTLY i ON orders (a);')
    expect(finding).toMatchObject({ rule: 'non-transactional-statement', severity: 'error' })
    expect(finding!.message).toContain('"dbops migrate up" refuses it')
    expect(await lint('CREATE INDEX CONCURRENTLY i ON orders (a);', { directive: 'transaction:false' })).toEqual([])
  })

  it('transaction-control: BEGIN inside a transactional file; a BEGIN ... COMMIT around the whole file is fine', async () => {
    expect(rules(await lint('CREATE TABLE a (id bigint);\nCOMMIT;\nCREATE TABLE b (id bigint);'))).toEqual([
      'transaction-control',
    ])
    expect(await lint('BEGIN;\nCREATE TABLE a (id bigint);\nCOMMIT;')).toEqual([])
  })

  it('syntax-error: reported at its position; the other statements are still linted', async () => {
    const sql = 'CREATE TABLE ok (id bigint);\nALTER TABLE orders ADDD COLUMN x int;\nDROP TABLE orders;'
    // Only statements a rule looks at are parsed by default; --check-syntax parses them all.
    expect(rules(await lint(sql))).toEqual(['drop-table'])
    expect(rules(await lint('ALTER TABLE orders DROP COLUMN x y;'))).toEqual(['syntax-error'])
    const findings = await lint(sql, { checkSyntax: true })
    expect(rules(findings)).toEqual(['syntax-error', 'drop-table'])
    expect(findings[0]).toMatchObject({ severity: 'error', line: 3 })
    expect(findings[0]!.column).toBe(20)
    expect(findings[0]!.message).toContain('syntax error at or near "ADDD"')
  })
})

describe('type advice (info, switchable)', () => {
  it('prefer-bigint-id, prefer-identity, prefer-timestamptz, prefer-text; quiet for the preferred types', async () => {
    const findings = await lint(
      'CREATE TABLE orders (id serial PRIMARY KEY, user_id int, created timestamp, code varchar(20), flag char(1));',
    )
    expect(rules(findings)).toEqual([
      'prefer-bigint-id',
      'prefer-identity',
      'prefer-timestamptz',
      'prefer-text',
      'prefer-text',
    ])
    expect(findings.every((finding) => finding.severity === 'info')).toBe(true)
    expect(
      await lint(
        'CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id bigint, count int, created timestamptz, code text, v varchar);',
      ),
    ).toEqual([])
  })

  it('a config switches advice off or raises it', async () => {
    const sql = 'CREATE TABLE orders (created timestamp);'
    expect(await lint(sql, { rules: { 'prefer-timestamptz': 'off' } })).toEqual([])
    expect((await lint(sql, { rules: { 'prefer-timestamptz': 'error' } }))[0]).toMatchObject({ severity: 'error' })
    await expect(lint(sql, { rules: { 'prefer-nothing': 'off' } })).rejects.toThrow(
      /unknown lint rule "prefer-nothing"/,
    )
  })
})

describe('SQLite', () => {
  it('sqlite-unsupported-alter: forms SQLite refuses; quiet for what it supports', async () => {
    expect(rules(await lint('ALTER TABLE orders ALTER COLUMN a TYPE text;', { engine: 'sqlite' }))).toEqual([
      'sqlite-unsupported-alter',
    ])
    expect(rules(await lint('ALTER TABLE orders ADD COLUMN a text NOT NULL;', { engine: 'sqlite' }))).toEqual([
      'sqlite-unsupported-alter',
    ])
    expect(
      rules(await lint('ALTER TABLE orders ADD COLUMN a text DEFAULT CURRENT_TIMESTAMP;', { engine: 'sqlite' })),
    ).toEqual(['sqlite-unsupported-alter'])
    expect(rules(await lint('ALTER TABLE orders ADD CONSTRAINT c CHECK (a > 0);', { engine: 'sqlite' }))).toEqual([
      'sqlite-unsupported-alter',
    ])
    expect(await lint("ALTER TABLE orders ADD COLUMN a text NOT NULL DEFAULT 'x';", { engine: 'sqlite' })).toEqual([])
    expect(await lint('ALTER TABLE orders ADD COLUMN a text;', { engine: 'sqlite' })).toEqual([])
  })

  it('sqlite-unsupported-alter: what SQLite refuses only on a table with rows is not reported on a table the run creates', async () => {
    const rowDependent = [
      'ALTER TABLE t ADD COLUMN x text NOT NULL;',
      'ALTER TABLE t ADD COLUMN y text DEFAULT CURRENT_TIMESTAMP;',
      'ALTER TABLE t ADD COLUMN z int AS (1) STORED;',
    ]
    // In the same file (statically, what an earlier file created may have rows by now).
    const created = await lint(['CREATE TABLE t (id integer PRIMARY KEY);', ...rowDependent].join('\n'), {
      engine: 'sqlite',
    })
    expect(created).toEqual([])
    const existing = await lint(rowDependent.join('\n'), { engine: 'sqlite' })
    expect(existing.map((finding) => finding.message)).toEqual([
      "SQLite's ADD COLUMN cannot add NOT NULL without a non-NULL default to a table with rows",
      "SQLite's ADD COLUMN cannot add a non-constant default to a table with rows",
      "SQLite's ADD COLUMN cannot add a STORED generated column to a table with rows",
    ])
    // UNIQUE and PRIMARY KEY columns are refused on an empty table too.
    const unique = await lint('CREATE TABLE t (id integer);\nALTER TABLE t ADD COLUMN u text UNIQUE;', {
      engine: 'sqlite',
    })
    expect(rules(unique)).toEqual(['sqlite-unsupported-alter'])
  })

  it('sqlite-unsupported-alter: a literal in parentheses is a constant default; an expression in them is not', async () => {
    for (const fallback of ['(0)', '((-1))', "('x')", '(1.5)', '(NULL)'])
      expect(
        await lint(`ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT ${fallback};`, { engine: 'sqlite' }),
        fallback,
      ).toEqual([])
    for (const fallback of ['(1 + 2)', "(strftime('%s', 'now'))", '(abs(-1))'])
      expect(
        rules(await lint(`ALTER TABLE t ADD COLUMN c int DEFAULT ${fallback};`, { engine: 'sqlite' })),
        fallback,
      ).toEqual(['sqlite-unsupported-alter'])
  })

  it("sqlite-unsupported-alter: DROP forms other than a column's (atuin-scripts' MySQL-style DROP INDEX)", async () => {
    for (const sql of [
      'ALTER TABLE scripts DROP INDEX name_uniq_idx;',
      'ALTER TABLE scripts DROP PRIMARY KEY;',
      'ALTER TABLE scripts DROP FOREIGN KEY scripts_fk;',
      'ALTER TABLE scripts DROP CONSTRAINT scripts_fk;',
    ])
      expect(rules(await lint(sql, { engine: 'sqlite' })), sql).toEqual(['sqlite-unsupported-alter'])
    expect(rules(await lint('ALTER TABLE scripts DROP COLUMN tags;', { engine: 'sqlite' }))).toEqual(['drop-column'])
    expect(rules(await lint('ALTER TABLE scripts DROP tags;', { engine: 'sqlite' }))).toEqual(['drop-column'])
  })

  it('the table rebuild: warned without PRAGMA foreign_key_check, quiet with it; the drop is not a breaking change', async () => {
    const rebuild =
      'CREATE TABLE new_orders (id integer PRIMARY KEY, total integer);\nINSERT INTO new_orders SELECT id, total FROM orders;\nDROP TABLE orders;\nALTER TABLE new_orders RENAME TO orders;'
    expect(rules(await lint(rebuild, { engine: 'sqlite' }))).toEqual(['sqlite-rebuild-without-foreign-key-check'])
    expect(await lint(`${rebuild}\nPRAGMA foreign_key_check;`, { engine: 'sqlite' })).toEqual([])
  })

  it("the older rebuild order (rename away, create anew, copy, drop the renamed copy): warned for what it does to other tables' foreign keys, not as a rename or a drop", async () => {
    // vaultwarden's migrations/sqlite/2018-04-27-155151_create_users_ciphers/up.sql: afterwards attachments
    // REFERENCES "oldCiphers", a table that no longer exists.
    const renameFirst =
      'ALTER TABLE ciphers RENAME TO oldCiphers;\nCREATE TABLE ciphers (uuid text PRIMARY KEY, name text);\nINSERT INTO ciphers SELECT uuid, name FROM oldCiphers;\nDROP TABLE oldCiphers;'
    const [finding, ...rest] = await lint(renameFirst, { engine: 'sqlite' })
    expect(rest).toEqual([])
    expect(finding).toMatchObject({ rule: 'sqlite-rebuild-renames-old-table', severity: 'warn', line: 2, column: 1 })
    expect(finding!.message).toContain('points the foreign keys, triggers and views of other tables at oldciphers')
    expect(finding!.safe).toContain('ALTER TABLE new_ciphers RENAME TO ciphers;')
    // A rename that is not followed by a new table of the old name is a rename.
    expect(
      rules(await lint('ALTER TABLE ciphers RENAME TO old_ciphers;\nDROP TABLE old_ciphers;', { engine: 'sqlite' })),
    ).toEqual(['rename-table'])
  })

  it("memos' rename-away rebuild and quoted renames: one finding each, naming the tables", async () => {
    // memos 0.2/00__user_role.sql: a leftover copy dropped first, then the older rebuild order.
    const memos =
      'DROP TABLE IF EXISTS _user_old;\nALTER TABLE\n  user RENAME TO _user_old;\nCREATE TABLE user (id integer PRIMARY KEY);\nINSERT INTO user SELECT id FROM _user_old;\nDROP TABLE IF EXISTS _user_old;'
    expect(rules(await lint(memos, { engine: 'sqlite' }))).toEqual(['sqlite-rebuild-renames-old-table'])
    // memos 0.26/00__rename_resource_to_attachment.sql
    const [renamed, ...rest] = await lint('ALTER TABLE `resource` RENAME TO `attachment`;', { engine: 'sqlite' })
    expect(rest).toEqual([])
    expect(renamed).toMatchObject({ rule: 'rename-table', table: 'resource' })
    expect(renamed!.message).toBe('RENAME TO attachment breaks running code that still uses resource')
  })

  it('shared rules work from the words: drop/rename, UPDATE without WHERE; PostgreSQL-only rules stay out', async () => {
    expect(rules(await lint('ALTER TABLE orders DROP COLUMN legacy;', { engine: 'sqlite' }))).toEqual(['drop-column'])
    expect(rules(await lint('ALTER TABLE orders RENAME TO purchases;', { engine: 'sqlite' }))).toEqual(['rename-table'])
    expect(rules(await lint("UPDATE orders SET a = 'x';", { engine: 'sqlite' }))).toEqual(['update-without-where'])
    expect(await lint('UPDATE orders SET a = 1 WHERE id = 2;', { engine: 'sqlite' })).toEqual([])
    expect(
      await lint('CREATE INDEX i ON orders (a);\nCREATE TABLE t (id int, at timestamp);', { engine: 'sqlite' }),
    ).toEqual([])
    expect(rules(await lint('VACUUM;', { engine: 'sqlite' }))).toEqual(['non-transactional-statement'])
  })
})

describe('parsing in batches', () => {
  it('gives the findings each file gives linted alone: a syntax error, a trailing comment, statements across files', async () => {
    const files = [
      'ALTER TABLE a ADD COLUMN n int NOT NULL -- no default here\n;\nCREATE INDEX a_n ON a (n);',
      'ALTER TABLE b ADDD COLUMN x int;\nALTER TABLE b ADD CONSTRAINT b_fk FOREIGN KEY (x) REFERENCES a (id);',
      'CREATE TABLE c (id serial PRIMARY KEY, at timestamp);\nALTER TABLE a ALTER COLUMN n TYPE bigint;',
      'CREATE TABLE "Quoted" AS SELECT 1 AS x;\nUPDATE a SET n = 1;\nSELECT \'unterminated',
    ]
    const strip = (result: LintResult) => result.findings.map(({ file: _file, migration: _migration, ...rest }) => rest)
    for (const checkSyntax of [false, true]) {
      const together = strip(await lintFiles(files, { checkSyntax }))
      const alone = []
      for (const sql of files) alone.push(...strip(await lintFiles([sql], { checkSyntax })))
      expect(together).toEqual(alone)
      expect(together.map((finding) => finding.rule)).toContain(
        checkSyntax ? 'syntax-error' : 'foreign-key-without-not-valid',
      )
    }
  })
})

describe('what a file can hold, judged before it is split', () => {
  it('finds keywords in any case (the lower-cased pre-check, then the word test)', async () => {
    expect(rules(await lint('Alter Table orders Drop Column note;'))).toContain('drop-column')
    expect(rules(await lint('alter table orders add constraint c check (n > 0);'))).toContain('check-without-not-valid')
    expect(rules(await lint('Update orders Set a = 1;'))).toContain('update-without-where')
    expect(rules(await lint('create Index orders_a ON orders (a);'))).toContain('create-index-without-concurrently')
    expect(await lint('CREATE TABLE altered (dropped int, indexed int);\nINSERT INTO altered VALUES (1, 2);')).toEqual(
      [],
    )
  })

  it('parses ahead with the tables created on the way, as the loop does: the same findings as file by file', async () => {
    const files = [
      'CREATE TABLE a (id serial PRIMARY KEY);\nCREATE INDEX a_id ON a (id);\nCREATE INDEX b_id ON b (id);',
      'CREATE TABLE b (id int);\nALTER TABLE b ADD CONSTRAINT b_c CHECK (id > 0);\nCREATE INDEX a_x ON a (id);',
      'CREATE INDEX b_y ON b (id);\nCREATE TABLE c (id int);\nCREATE INDEX c_id ON c (id);',
    ]
    const strip = (result: LintResult) => result.findings.map(({ file: _file, migration: _migration, ...rest }) => rest)
    for (const directive of [undefined, 'transaction:false']) {
      const together = strip(await lintFiles(files, { ...(directive && { directive }) }))
      const alone = []
      for (const sql of files) alone.push(...strip(await lintFiles([sql], { ...(directive && { directive }) })))
      expect(together).toEqual(alone)
      // Statically a table from an earlier file is not new; one created earlier in the same file is.
      const indexes = together.filter((finding) => finding.rule === 'create-index-without-concurrently')
      expect(indexes.map((finding) => finding.table)).toEqual(['b', 'a', 'b'])
    }
  })
})

describe('mayFindWords', () => {
  it('each rule that names its words finds nothing in a section that mentions every word but those', () => {
    // The words mayFind asks about, in an order its own regexes match (alter type, drop not null): all there except
    // the rule's own words.
    const everything =
      'alter type add drop not null rename domain check detach database set references reindex cascade validate update delete primary unique full cluster'.split(
        ' ',
      )
    const named = LINT_RULES.filter((rule) => rule.mayFindWords !== undefined)
    expect(named.map((rule) => rule.id)).toContain('sqlite-unsupported-alter')
    for (const rule of named) {
      const words = everything.filter((word) => !rule.mayFindWords!.includes(word))
      const sql = words.join(' ')
      for (const transactional of [true, false]) {
        const scope = { transactional, isFresh: () => true, mentions: (word: string) => words.includes(word) }
        expect(rule.mayFind!(sql, scope), rule.id).toBe(false)
      }
      // And the words do open it (the test above is not vacuous): with them all, mayFind may say yes.
      const all = { transactional: true, isFresh: () => false, mentions: () => true }
      expect(rule.mayFind!(everything.join(' '), all), rule.id).toBe(true)
    }
  })
})
