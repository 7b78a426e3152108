// A goose project run by dbops as it is: its annotations, its NO TRANSACTION files, and its ledger on the database.
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { pgQuery, runCli, usePgDatabase, useTempDir } from '../helpers/databases.js'

const tmp = useTempDir('dbops-goose')
const pg = usePgDatabase('dbops_goose')

const FILES: Record<string, string> = {
  '00001_users.sql': `-- +goose Up
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
-- +goose StatementBegin
CREATE FUNCTION lower_email() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.email := lower(NEW.email);
  RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER users_lower BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION lower_email();

-- +goose Down
DROP TABLE users;
DROP FUNCTION lower_email();
`,
  '00002_users_email_idx.sql': `-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY users_email_idx ON users (email);

-- +goose Down
DROP INDEX CONCURRENTLY users_email_idx;
`,
}

describe('goose migrations', () => {
  it('apply, roll back, and a database goose migrated asks for the baseline first', async () => {
    const dir = path.join(tmp.path, 'project')
    mkdirSync(path.join(dir, 'migrations'), { recursive: true })
    for (const [name, text] of Object.entries(FILES)) writeFileSync(path.join(dir, 'migrations', name), text)
    const up = await runCli(['--url', pg.url, 'migrate', 'up'], { cwd: dir })
    expect(up.code, up.stderr).toBe(0)
    expect(up.stdout).toContain('applied 2 migrations')
    await pgQuery(pg.url, "INSERT INTO users VALUES (1, 'A@Example.COM')")
    expect(await pgQuery(pg.url, 'SELECT email FROM users')).toEqual([{ email: 'a@example.com' }])
    expect(
      await pgQuery(pg.url, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email_idx'::regclass"),
    ).toEqual([{ indisvalid: true }])
    const down = await runCli(['--url', pg.url, 'migrate', 'down', '--to', '0'], { cwd: dir })
    expect(down.code, down.stderr).toBe(0)
    expect(await pgQuery(pg.url, "SELECT to_regclass('users') AS t")).toEqual([{ t: null }])

    // As goose leaves a database: its ledger, with the row 0 it starts from.
    await pgQuery(pg.url, 'DROP TABLE dbops_migrations')
    await pgQuery(
      pg.url,
      `CREATE TABLE goose_db_version (id serial PRIMARY KEY, version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp DEFAULT now());
       INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true)`,
    )
    const refused = await runCli(['--url', pg.url, 'migrate', 'up'], { cwd: dir })
    expect(refused.code).toBe(3)
    expect(refused.stderr).toContain('goose_db_version (goose) records 1 migration, newest 1')
    expect(refused.stderr).toContain('"dbops migrate baseline 00001"')
  })
})
