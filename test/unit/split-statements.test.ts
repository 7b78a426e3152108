import { describe, it, expect } from 'vitest'
import { hasStatements, leadingWords, splitStatements, type SqlDialect } from '../../src/sql/split-statements.js'

const texts = (sql: string, dialect: SqlDialect = 'postgres'): string[] =>
  splitStatements(sql, dialect).map((s) => s.text)

describe('splitStatements: basics (both dialects)', () => {
  for (const dialect of ['postgres', 'sqlite'] as const) {
    describe(dialect, () => {
      it('splits on semicolons and trims', () => {
        expect(texts('CREATE TABLE a (id int);\n  INSERT INTO a VALUES (1) ;\n\nSELECT 1', dialect)).toEqual([
          'CREATE TABLE a (id int)',
          'INSERT INTO a VALUES (1)',
          'SELECT 1',
        ])
      })

      it('drops empty statements and statements that are only comments', () => {
        expect(texts(';;  ;\n-- nothing here\n/* nor here */;', dialect)).toEqual([])
        expect(texts('SELECT 1;;\n;SELECT 2;\n-- trailing comment\n', dialect)).toEqual(['SELECT 1', 'SELECT 2'])
        expect(texts('', dialect)).toEqual([])
        expect(texts('   \n\t ', dialect)).toEqual([])
      })

      it('drops leading comments but keeps interior and trailing ones', () => {
        const sql = '-- add users\n/* v2 */ CREATE TABLE users ( -- the table\n  id int /* key */\n) -- done\n;'
        expect(texts(sql, dialect)).toEqual(['CREATE TABLE users ( -- the table\n  id int /* key */\n) -- done'])
      })

      it('returns a final statement without a semicolon, with its trailing comment', () => {
        expect(texts('SELECT 1; SELECT 2 -- last\n\n', dialect)).toEqual(['SELECT 1', 'SELECT 2 -- last'])
      })

      it('ignores semicolons inside strings, quoted identifiers and comments', () => {
        const sql = [
          "INSERT INTO notes (body) VALUES ('a;b', 'it''s; fine', '-- not a comment', '/* nor this */')",
          'CREATE TABLE "we;ird" ("col;""x""" int)',
          'SELECT 1 -- a comment; with a semicolon\n, 2 /* another; one */ , 3',
        ].join(';\n')
        expect(texts(sql, dialect)).toEqual([
          "INSERT INTO notes (body) VALUES ('a;b', 'it''s; fine', '-- not a comment', '/* nor this */')",
          'CREATE TABLE "we;ird" ("col;""x""" int)',
          'SELECT 1 -- a comment; with a semicolon\n, 2 /* another; one */ , 3',
        ])
      })

      it('splits BEGIN; and COMMIT; like any other statement', () => {
        expect(texts('BEGIN;\nUPDATE t SET x = 1;\nCOMMIT;\nbegin transaction;end;', dialect)).toEqual([
          'BEGIN',
          'UPDATE t SET x = 1',
          'COMMIT',
          'begin transaction',
          'end',
        ])
      })

      it('does not split on semicolons inside parentheses', () => {
        expect(texts('SELECT (1; 2); SELECT 3', dialect)).toEqual(['SELECT (1; 2)', 'SELECT 3'])
        // A stray closing parenthesis does not make the depth negative.
        expect(texts('SELECT 1); SELECT (2); SELECT 3', dialect)).toEqual(['SELECT 1)', 'SELECT (2)', 'SELECT 3'])
      })

      it('returns an unterminated string or comment as the last statement instead of throwing', () => {
        expect(texts("SELECT 1; INSERT INTO t VALUES ('oops; SELECT 2;\n", dialect)).toEqual([
          'SELECT 1',
          "INSERT INTO t VALUES ('oops; SELECT 2;",
        ])
        expect(texts('SELECT 1; SELECT 2 /* never closed; SELECT 3;', dialect)).toEqual([
          'SELECT 1',
          'SELECT 2 /* never closed; SELECT 3;',
        ])
        expect(texts('SELECT "never closed; SELECT 3', dialect)).toEqual(['SELECT "never closed; SELECT 3'])
      })

      it('handles unicode text', () => {
        const sql = "INSERT INTO städte (name) VALUES ('Zürich; 🇨🇭'), ('東京');\nSELECT 'ok' AS ✓;"
        expect(texts(sql, dialect)).toEqual([
          "INSERT INTO städte (name) VALUES ('Zürich; 🇨🇭'), ('東京')",
          "SELECT 'ok' AS ✓",
        ])
      })
    })
  }
})

describe('splitStatements: positions', () => {
  it('gives start, end, line and column of each statement', () => {
    const sql = '-- header\nSELECT 1;\n  /* c */ SELECT\n  2 ;   SELECT 3'
    const statements = splitStatements(sql, 'postgres')
    expect(statements.map(({ line, column }) => [line, column])).toEqual([
      [2, 1],
      [3, 11],
      [4, 9],
    ])
    for (const s of statements) {
      expect(sql.slice(s.start, s.end)).toBe(s.text)
    }
    expect(statements[1]).toMatchObject({ text: 'SELECT\n  2', start: 30, end: 40 })
  })

  it('counts CRLF as one line break and trims a trailing CR', () => {
    const sql = 'SELECT 1;\r\n\r\nSELECT\r\n  2\r\n;\r\n   SELECT 3 -- done\r\n'
    const statements = splitStatements(sql, 'postgres')
    expect(statements.map(({ text, line, column }) => [text, line, column])).toEqual([
      ['SELECT 1', 1, 1],
      ['SELECT\r\n  2', 3, 1],
      ['SELECT 3 -- done', 6, 4],
    ])
  })

  it('counts a lone CR as a line break', () => {
    const statements = splitStatements('SELECT 1;\rSELECT 2;\n\rSELECT 3', 'sqlite')
    expect(statements.map(({ line, column }) => [line, column])).toEqual([
      [1, 1],
      [2, 1],
      [4, 1],
    ])
  })

  it('counts lines inside strings, comments and dollar bodies', () => {
    const sql = "SELECT 'a\nb';\n/* x\ny */ DO $$\nBEGIN\nEND $$;\n-- z\n  SELECT 4"
    const statements = splitStatements(sql, 'postgres')
    expect(statements.map(({ line, column }) => [line, column])).toEqual([
      [1, 1],
      [4, 6],
      [8, 3],
    ])
  })

  it('measures columns in UTF-16 units', () => {
    const [, second] = splitStatements("SELECT '🐘'; SELECT 2", 'postgres')
    expect(second).toMatchObject({ text: 'SELECT 2', line: 1, column: 14, start: 13 })
  })
})

describe('splitStatements: PostgreSQL', () => {
  it('keeps plpgsql function bodies in $$ together', () => {
    const fn = `CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$`
    const trigger = `CREATE TRIGGER users_updated_at BEFORE UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION set_updated_at()`
    expect(texts(`${fn};\n\n${trigger};\nSELECT 1;`)).toEqual([fn, trigger, 'SELECT 1'])
  })

  it('keeps $tag$ bodies together, including a $$ inside $outer$', () => {
    const fn = `CREATE FUNCTION make_fn(name text) RETURNS void LANGUAGE plpgsql AS $outer$
BEGIN
  EXECUTE format($q$CREATE FUNCTION %I() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$$q$, name);
  RAISE NOTICE 'created %; done', name; -- $$ in a comment
END;
$outer$`
    expect(texts(`${fn};\nSELECT make_fn('x');`)).toEqual([fn, "SELECT make_fn('x')"])
  })

  it('keeps $body$ with semicolons and quotes together', () => {
    const fn = `CREATE FUNCTION add(a int, b int) RETURNS int AS $body$
  SELECT a + b; -- it's ok: ' is inside the body
$body$ LANGUAGE sql IMMUTABLE`
    expect(texts(`${fn};SELECT add(1, 2)`)).toEqual([fn, 'SELECT add(1, 2)'])
  })

  it('keeps a DO block together', () => {
    const block = `DO $do$
DECLARE r record;
BEGIN
  FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
    EXECUTE 'ANALYZE ' || quote_ident(r.tablename) || ';';
  END LOOP;
END
$do$`
    expect(texts(`${block};\nDO LANGUAGE plpgsql $$ BEGIN PERFORM 1; END $$;`)).toEqual([
      block,
      'DO LANGUAGE plpgsql $$ BEGIN PERFORM 1; END $$',
    ])
  })

  it('does not treat $1, $ inside identifiers or a tag starting with a digit as dollar quotes', () => {
    expect(texts('PREPARE q(int) AS SELECT $1; EXECUTE q(1)')).toEqual(['PREPARE q(int) AS SELECT $1', 'EXECUTE q(1)'])
    expect(texts('SELECT a$b$c, x$$y FROM t$1; SELECT 2')).toEqual(['SELECT a$b$c, x$$y FROM t$1', 'SELECT 2'])
    expect(texts('SELECT $1$; SELECT 2')).toEqual(['SELECT $1$', 'SELECT 2'])
  })

  it('matches the closing tag exactly (tags are case-sensitive)', () => {
    const body = 'DO $Fn$ BEGIN RAISE NOTICE $fn$x;$fn$; END $Fn$'
    expect(texts(`${body}; SELECT 1`)).toEqual([body, 'SELECT 1'])
  })

  it('handles E-strings with backslash escapes', () => {
    expect(texts("INSERT INTO t VALUES (E'it\\'s; fine\\\\'), (e'a\\nb;'); SELECT 2")).toEqual([
      "INSERT INTO t VALUES (E'it\\'s; fine\\\\'), (e'a\\nb;')",
      'SELECT 2',
    ])
    // Without the E prefix a backslash is an ordinary character (standard_conforming_strings = on).
    expect(texts("SELECT 'C:\\'; SELECT 2")).toEqual(["SELECT 'C:\\'", 'SELECT 2'])
    // `e` at the end of a longer word is not an E prefix.
    expect(texts("SELECT type'a\\'; SELECT 2")).toEqual(["SELECT type'a\\'", 'SELECT 2'])
  })

  it('handles U&\'...\' strings and U&"..." identifiers', () => {
    expect(texts(`SELECT U&'d\\0061t\\+000061;' AS U&"col;umn"; SELECT 2`)).toEqual([
      `SELECT U&'d\\0061t\\+000061;' AS U&"col;umn"`,
      'SELECT 2',
    ])
  })

  it('handles nested block comments', () => {
    expect(texts('/* outer /* inner; */ still comment; */ SELECT 1; SELECT 2')).toEqual(['SELECT 1', 'SELECT 2'])
    expect(texts('SELECT 1 /* a /* b */ c; */; SELECT 2')).toEqual(['SELECT 1 /* a /* b */ c; */', 'SELECT 2'])
  })

  it('ends -- comments at a lone CR as PostgreSQL does', () => {
    expect(texts('SELECT 1 -- note\r; SELECT 2')).toEqual(['SELECT 1 -- note', 'SELECT 2'])
  })

  it('keeps CREATE RULE ... DO ALSO ( ...; ... ) together', () => {
    const rule = `CREATE RULE log_update AS ON UPDATE TO accounts DO ALSO (
  INSERT INTO audit VALUES (old.id, 'update');
  NOTIFY accounts_changed
)`
    expect(texts(`${rule};\nSELECT 1`)).toEqual([rule, 'SELECT 1'])
  })

  it('keeps BEGIN ATOMIC function and procedure bodies together, with CASE ... END inside', () => {
    const fn = `CREATE OR REPLACE FUNCTION grade(score int) RETURNS text
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
  SELECT CASE WHEN score >= 90 THEN 'A' WHEN score >= 80 THEN 'B' ELSE 'C' END;
  SELECT case when score < 0 then 'invalid' end; -- lower case
END`
    const proc = `create procedure insert_data(a integer, b integer)
language sql
begin atomic
  insert into tbl values (a);
  insert into tbl values (case b when 0 then null else b end);
end`
    expect(texts(`${fn};\n${proc};\nCALL insert_data(1, 2);`)).toEqual([fn, proc, 'CALL insert_data(1, 2)'])
  })

  it('handles an empty BEGIN ATOMIC body and comments between BEGIN and ATOMIC', () => {
    const fn = 'CREATE PROCEDURE nothing() BEGIN /* sql-standard */ ATOMIC END'
    expect(texts(`${fn}; SELECT 1`)).toEqual([fn, 'SELECT 1'])
  })

  it('does not count CASE/END outside a BEGIN ATOMIC body', () => {
    // RETURN expression form (no body block); CASE ... END in parentheses; parameters named begin/end.
    const fn = 'CREATE FUNCTION sign_of(x int) RETURNS int LANGUAGE sql RETURN CASE WHEN x < 0 THEN -1 ELSE 1 END'
    const fn2 =
      'CREATE FUNCTION span(begin int, "end" int) RETURNS int LANGUAGE sql RETURN (CASE WHEN begin > 0 THEN 1 END)'
    expect(texts(`${fn};\n${fn2};\nSELECT 3`)).toEqual([fn, fn2, 'SELECT 3'])
  })

  it('needs BEGIN directly before ATOMIC, outside parentheses', () => {
    // A parameter named begin of a type named atomic; a function named atomic.
    const fn = 'CREATE FUNCTION f(begin atomic) RETURNS int LANGUAGE sql RETURN 1'
    const fn2 = 'CREATE FUNCTION atomic() RETURNS int LANGUAGE sql RETURN 2'
    expect(texts(`${fn}; ${fn2}; SELECT 3`)).toEqual([fn, fn2, 'SELECT 3'])
  })

  it('does not treat quoted "end" or words containing end/case as keywords', () => {
    const fn = `CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC
  SELECT "end", "case", backend, legend, case_id FROM t;
  SELECT 'end';
END`
    expect(texts(`${fn}; SELECT 2`)).toEqual([fn, 'SELECT 2'])
  })

  it('does not treat BEGIN ATOMIC outside CREATE FUNCTION/PROCEDURE as a block', () => {
    expect(texts('SELECT 1 AS begin, 2 AS atomic; SELECT 3')).toEqual(['SELECT 1 AS begin, 2 AS atomic', 'SELECT 3'])
  })

  it('treats [ and backticks as ordinary characters', () => {
    expect(texts('SELECT a[1], `x; SELECT 2')).toEqual(['SELECT a[1], `x', 'SELECT 2'])
    expect(texts('SELECT arr[1;2]; SELECT 2')).toEqual(['SELECT arr[1', '2]', 'SELECT 2'])
  })

  it('returns an unterminated dollar body as the last statement', () => {
    expect(texts('SELECT 1; DO $$ BEGIN PERFORM 1; END; SELECT 2;')).toEqual([
      'SELECT 1',
      'DO $$ BEGIN PERFORM 1; END; SELECT 2;',
    ])
  })

  it('returns an unterminated BEGIN ATOMIC body as the last statement', () => {
    expect(texts('CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2;')).toEqual([
      'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2;',
    ])
  })
})

describe('splitStatements: SQLite', () => {
  it('keeps a trigger body together', () => {
    const trigger = `CREATE TRIGGER users_touch AFTER UPDATE ON users
BEGIN
  UPDATE users SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id;
  INSERT INTO audit (what) VALUES ('touch; users');
END`
    expect(texts(`${trigger};\nSELECT 1;`, 'sqlite')).toEqual([trigger, 'SELECT 1'])
  })

  it('keeps a trigger with CASE ... END inside together', () => {
    const trigger = `CREATE TEMP TRIGGER IF NOT EXISTS orders_status AFTER INSERT ON orders
WHEN CASE WHEN NEW.total > 0 THEN 1 ELSE 0 END
BEGIN
  UPDATE orders SET status = CASE
    WHEN NEW.total > 100 THEN 'big'
    WHEN NEW.total > 10 THEN 'medium'
    ELSE 'small'
  END WHERE id = NEW.id;
  SELECT CASE WHEN NEW.total < 0 THEN RAISE(ABORT, 'negative; total') END;
END`
    expect(texts(`${trigger};\nINSERT INTO orders (total) VALUES (5);`, 'sqlite')).toEqual([
      trigger,
      'INSERT INTO orders (total) VALUES (5)',
    ])
  })

  it('is not fooled by columns named end or case, quoted or not', () => {
    const trigger = `create temporary trigger ranges_fix before insert on ranges begin
  update ranges set "end" = "begin", [case] = 1, \`end\` = 2 where id = new.id;
  update ranges set end = 3, legend = 'x', backend = 'END;' where id = new.id;
end`
    expect(texts(`${trigger};\nselect 1`, 'sqlite')).toEqual([trigger, 'select 1'])
  })

  it('handles comments between the last ; and END', () => {
    const trigger =
      'CREATE TRIGGER t AFTER DELETE ON a BEGIN DELETE FROM b WHERE a_id = OLD.id; -- cascade\n/* done */ END'
    expect(texts(`${trigger}; SELECT 1`, 'sqlite')).toEqual([trigger, 'SELECT 1'])
  })

  it('handles backtick and bracket identifiers', () => {
    expect(texts('CREATE TABLE `a;b` ([c;d] int, `e``;f` text); SELECT 2', 'sqlite')).toEqual([
      'CREATE TABLE `a;b` ([c;d] int, `e``;f` text)',
      'SELECT 2',
    ])
  })

  it('does not nest block comments', () => {
    expect(texts('/* a /* b */ SELECT 1; SELECT 2', 'sqlite')).toEqual(['SELECT 1', 'SELECT 2'])
  })

  it('has no E-strings or dollar quotes', () => {
    expect(texts("SELECT E'a\\'; SELECT 2", 'sqlite')).toEqual(["SELECT E'a\\'", 'SELECT 2'])
    expect(texts('SELECT $$; SELECT $a; SELECT 3', 'sqlite')).toEqual(['SELECT $$', 'SELECT $a', 'SELECT 3'])
  })

  it('ends -- comments only at LF', () => {
    expect(texts('SELECT 1 -- note\r; still comment\nSELECT 2', 'sqlite')).toEqual([
      'SELECT 1 -- note\r; still comment\nSELECT 2',
    ])
  })

  it('does not treat CREATE FUNCTION specially (no such statement)', () => {
    expect(texts('CREATE FUNCTION x BEGIN ATOMIC SELECT 1; END', 'sqlite')).toEqual([
      'CREATE FUNCTION x BEGIN ATOMIC SELECT 1',
      'END',
    ])
  })

  it('treats a PostgreSQL trigger statement as plain', () => {
    const trigger = 'CREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW EXECUTE FUNCTION f()'
    expect(texts(`${trigger}; SELECT 1; SELECT 2`, 'postgres')).toEqual([trigger, 'SELECT 1', 'SELECT 2'])
  })
})

describe('splitStatements: PostgreSQL, inside a statement its first words show is plain', () => {
  // The splitter passes over the words, spaces and symbols of such a statement in one step: what may end it or hide a
  // semicolon must still be seen wherever it is.
  it('sees a quote, comment or dollar quote right after a word or a lone - and /', () => {
    expect(
      texts("UPDATE t SET a = x-1, b = 4/2, c = d-- c;\n, e = f/* ; */, g = h$i$j, k = $$;$$, l = m||'n;o'; SELECT 2"),
    ).toEqual([
      "UPDATE t SET a = x-1, b = 4/2, c = d-- c;\n, e = f/* ; */, g = h$i$j, k = $$;$$, l = m||'n;o'",
      'SELECT 2',
    ])
  })

  it("reads E'...' only as a word of its own, and a word ending in e before a quote as a word and a string", () => {
    expect(texts("INSERT INTO t VALUES (1,E'\\';x'),(2,e'\\'');SELECT 2")).toEqual([
      "INSERT INTO t VALUES (1,E'\\';x'),(2,e'\\'')",
      'SELECT 2',
    ])
    // some'\' is the word some and the string '\' (a backslash is ordinary there): the statement ends at the ;
    expect(texts("SELECT some'\\'; SELECT 2")).toEqual(["SELECT some'\\'", 'SELECT 2'])
    expect(texts("SELECT 1E'\\'; SELECT 2")).toEqual(["SELECT 1E'\\'", 'SELECT 2'])
  })

  it('counts parentheses, non-ASCII words and lines past the skipped text', () => {
    const sql =
      'CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO ü VALUES (1); NOTIFY t);\n\n  SELECT ünï;\nSELECT 3'
    expect(splitStatements(sql, 'postgres').map((s) => [s.text, s.line, s.column])).toEqual([
      ['CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO ü VALUES (1); NOTIFY t)', 1, 1],
      ['SELECT ünï', 3, 3],
      ['SELECT 3', 4, 1],
    ])
  })

  it('still follows BEGIN ATOMIC in a routine whose first words come after a comment', () => {
    const proc = 'CREATE /* c */ OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END'
    expect(texts(`${proc}; SELECT 3`)).toEqual([proc, 'SELECT 3'])
  })
})

describe('splitStatements: large input', () => {
  it('splits a 5 MB script in one linear pass', () => {
    const chunk = [
      "INSERT INTO events (id, payload) VALUES (1, 'x; y -- z /* w'), (2, E'a\\'b');",
      'CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;',
      '/* comment; */ -- another; one\n',
      'CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; END;\n',
    ].join('\n')
    const copies = Math.ceil((5 * 1024 * 1024) / chunk.length)
    const sql = chunk.repeat(copies)
    expect(sql.length).toBeGreaterThan(5 * 1024 * 1024)
    const statements = splitStatements(sql, 'postgres')
    expect(statements).toHaveLength(copies * 3)
    expect(statements.at(-1)?.text).toBe(
      'CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; END',
    )
    expect(statements.at(-1)?.line).toBe(copies * 5)
  })

  it('does not go quadratic on many unterminated dollar signs or deep comments', () => {
    const sql = 'SELECT $a '.repeat(200_000) + '/*'.repeat(200_000)
    const statements = splitStatements(sql, 'postgres')
    expect(statements).toHaveLength(1)
    expect(statements[0]?.end).toBe(sql.length)
  })
})

describe('leadingWords', () => {
  it('upper-cases words and skips whitespace and comments', () => {
    expect(leadingWords('create /* c */ unique\n-- x\n index concurrently idx on t (a)', 4)).toEqual([
      'CREATE',
      'UNIQUE',
      'INDEX',
      'CONCURRENTLY',
    ])
  })

  it('returns one placeholder per string or quoted identifier', () => {
    expect(leadingWords(`INSERT INTO "VACUUM" VALUES ('VACUUM', E'\\'VACUUM', $x$VACUUM$x$)`, 20)).toEqual([
      'INSERT',
      'INTO',
      '"',
      'VALUES',
      '(',
      "'",
      ',',
      "'",
      ',',
      "'",
      ')',
    ])
    expect(leadingWords('PRAGMA [main].`journal_mode` = wal', 10, 'sqlite')).toEqual([
      'PRAGMA',
      '"',
      '.',
      '"',
      '=',
      'WAL',
    ])
  })

  it('keeps a quoted identifier as written when asked for names (strings stay placeholders)', () => {
    expect(
      leadingWords(`ALTER TABLE app."Order ""x""" ADD CONSTRAINT "WHERE" CHECK (a <> 'x')`, 20, 'postgres', true),
    ).toEqual([
      'ALTER',
      'TABLE',
      'APP',
      '.',
      '"Order ""x"""',
      'ADD',
      'CONSTRAINT',
      '"WHERE"',
      'CHECK',
      '(',
      'A',
      '<',
      '>',
      "'",
      ')',
    ])
  })

  it('returns punctuation as single-character tokens', () => {
    expect(leadingWords('REINDEX (VERBOSE, CONCURRENTLY false) INDEX s.idx', 20)).toEqual([
      'REINDEX',
      '(',
      'VERBOSE',
      ',',
      'CONCURRENTLY',
      'FALSE',
      ')',
      'INDEX',
      'S',
      '.',
      'IDX',
    ])
    expect(leadingWords('SELECT $1 <= 2.5', 10)).toEqual(['SELECT', '$1', '<', '=', '2', '.', '5'])
  })

  it('stops at max', () => {
    expect(leadingWords('a b c d e', 2)).toEqual(['A', 'B'])
    expect(leadingWords('-- only a comment', 5)).toEqual([])
  })

  it('uses the dialect for nested comments', () => {
    expect(leadingWords('/* a /* b */ VACUUM', 1, 'sqlite')).toEqual(['VACUUM'])
    expect(leadingWords('/* a /* b */ VACUUM', 1, 'postgres')).toEqual([])
  })
})

describe('hasStatements', () => {
  it('says whether splitStatements finds any statement, in both dialects', () => {
    const cases = [
      '',
      '   \n\t',
      ';;',
      '-- only a comment',
      '/* a /* nested */ comment */',
      '/* a /* nested */ SELECT 1',
      '-- a\r\nSELECT 1',
      ';\n-- x\n;SELECT 1',
      "'unterminated",
      '$$ body',
      '`x`',
      '[x]',
    ]
    for (const dialect of ['postgres', 'sqlite'] as const)
      for (const sql of cases)
        expect(hasStatements(sql, dialect), `${dialect}: ${sql}`).toBe(texts(sql, dialect).length > 0)
  })
})
