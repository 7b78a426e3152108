// A project moving to dbops from another tool keeps its files and its database: `up` must not run the history again.
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { pgQuery, runCli, sqliteUrl, usePgDatabase, useTempDir } from '../helpers/databases.js'

const tmp = useTempDir('dbops-other-ledgers')
const pg = usePgDatabase('dbops_other_ledger')
// Atlas's test needs a database of its own: the golang-migrate test leaves dbops' ledger filled in the shared one.
const atlasPg = usePgDatabase('dbops_atlas_ledger')

function project(name: string): string {
  const dir = path.join(tmp.path, name)
  mkdirSync(path.join(dir, 'migrations'), { recursive: true })
  const files: Record<string, string> = {
    '20240101000000_users.sql': 'CREATE TABLE users (id integer);',
    '20240102000000_roles.sql': "CREATE TABLE roles (name text); INSERT INTO roles VALUES ('admin');",
    '20240103000000_posts.sql': 'CREATE TABLE posts (id integer);',
  }
  for (const [file, up] of Object.entries(files))
    writeFileSync(path.join(dir, 'migrations', file), `-- migrate:up\n${up}\n\n-- migrate:down\nSELECT 1;\n`)
  return dir
}

describe('migrate up on a database another tool migrated', () => {
  it("SQLite with dbmate's schema_migrations: refused naming the baseline, which then lets up run only the rest", async () => {
    const dir = project('sqlite')
    const url = sqliteUrl(dir, 'app.db')
    const db = new Database(path.join(dir, 'app.db'))
    db.exec(`CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY);
      INSERT INTO schema_migrations VALUES ('20240101000000'), ('20240102000000');
      CREATE TABLE users (id integer); CREATE TABLE roles (name text); INSERT INTO roles VALUES ('admin');`)
    db.close()
    const status = await runCli(['--url', url, 'migrate', 'status'], { cwd: dir })
    expect(status.code).toBe(0)
    expect(status.stderr).toContain('warning: this database was migrated by another tool: schema_migrations')
    const refused = await runCli(['--url', url, 'migrate', 'up'], { cwd: dir })
    expect(refused.code).toBe(3)
    expect(refused.stderr).toContain(
      'this database was migrated by another tool: schema_migrations (dbmate, golang-migrate or Rails) records 2 migrations, newest 20240102000000',
    )
    expect(refused.stderr).toContain('"dbops migrate baseline 20240102000000"')
    const json = JSON.parse((await runCli(['--url', url, '--json', 'migrate', 'up'], { cwd: dir })).stdout)
    expect(json.error.code).toBe('E_OTHER_LEDGER')
    const check = new Database(path.join(dir, 'app.db'), { readonly: true })
    const tables = () =>
      check.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all()
    expect(tables()).toEqual(['roles', 'schema_migrations', 'users'])

    expect((await runCli(['--url', url, 'migrate', 'baseline', '20240102000000'], { cwd: dir })).code).toBe(0)
    const up = await runCli(['--url', url, 'migrate', 'up'], { cwd: dir })
    expect(up.code, up.stderr).toBe(0)
    expect(up.stdout).toContain('applied 1 migration')
    expect(check.prepare('SELECT count(*) FROM roles').pluck().get()).toBe(1)
    expect(tables()).toContain('posts')
    check.close()
  })

  it("PostgreSQL with golang-migrate's one-row schema_migrations: refused; --ignore-other-ledgers runs them anyway", async () => {
    const dir = project('postgres')
    await pgQuery(
      pg.url,
      'CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL); INSERT INTO schema_migrations VALUES (20240101000000, false)',
    )
    const refused = await runCli(['--url', pg.url, 'migrate', 'up'], { cwd: dir })
    expect(refused.code).toBe(3)
    expect(refused.stderr).toContain('records 1 migration, newest 20240101000000')
    expect(await pgQuery(pg.url, "SELECT to_regclass('users') AS u, to_regclass('dbops_migrations') AS l")).toEqual([
      { u: null, l: null },
    ])
    const forced = await runCli(['--url', pg.url, 'migrate', 'up', '--ignore-other-ledgers'], { cwd: dir })
    expect(forced.code, forced.stderr).toBe(0)
    expect(forced.stdout).toContain('applied 3 migrations')
  })

  it("PostgreSQL with Atlas's revisions table in its own schema, and an Atlas directory dbops applies as it is", async () => {
    const dir = path.join(tmp.path, 'atlas')
    mkdirSync(path.join(dir, 'migrations'), { recursive: true })
    writeFileSync(path.join(dir, 'migrations', 'atlas.sum'), 'h1:x=\n')
    writeFileSync(path.join(dir, 'migrations', '20240101000000_users.sql'), 'CREATE TABLE users (id bigint);\n')
    writeFileSync(
      path.join(dir, 'migrations', '20240102000000_users_id.sql'),
      '-- atlas:txmode none\n\nCREATE INDEX CONCURRENTLY users_id ON users (id);\n',
    )
    await pgQuery(
      atlasPg.url,
      `CREATE SCHEMA atlas_schema_revisions;
       CREATE TABLE atlas_schema_revisions.atlas_schema_revisions (version varchar PRIMARY KEY, description varchar);
       INSERT INTO atlas_schema_revisions.atlas_schema_revisions VALUES ('.atlas_cloud_identifiers', ''), ('20240101000000', 'users')`,
    )
    const refused = await runCli(['--url', atlasPg.url, 'migrate', 'up'], { cwd: dir })
    expect(refused.code).toBe(3)
    expect(refused.stderr).toContain(
      'atlas_schema_revisions.atlas_schema_revisions (Atlas) records 1 migration, newest 20240101000000',
    )
    expect(refused.stderr).toContain('"dbops migrate baseline 20240101000000"')
    await pgQuery(atlasPg.url, 'CREATE TABLE users (id bigint)')
    expect((await runCli(['--url', atlasPg.url, 'migrate', 'baseline', '20240101000000'], { cwd: dir })).code).toBe(0)
    const up = await runCli(['--url', atlasPg.url, 'migrate', 'up'], { cwd: dir })
    expect(up.code, up.stderr).toBe(0)
    expect(up.stdout).toContain('applied 1 migration')
    expect(
      await pgQuery(atlasPg.url, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_id'::regclass"),
    ).toEqual([{ indisvalid: true }])
  })

  it('migrations.ignoreOtherLedgers in the config: a database shared with an app that keeps its own ledger', async () => {
    const dir = project('shared')
    writeFileSync(path.join(dir, 'dbops.config.json'), JSON.stringify({ migrations: { ignoreOtherLedgers: true } }))
    const url = sqliteUrl(dir, 'app.db')
    const db = new Database(path.join(dir, 'app.db'))
    db.exec("CREATE TABLE schema_migrations (version varchar PRIMARY KEY); INSERT INTO schema_migrations VALUES ('1')")
    db.close()
    const status = await runCli(['--url', url, 'migrate', 'status'], { cwd: dir })
    expect(status.stderr).not.toContain('another tool')
    const up = await runCli(['--url', url, 'migrate', 'up'], { cwd: dir })
    expect(up.code, up.stderr).toBe(0)
    expect(up.stdout).toContain('applied 3 migrations')
  })

  it("other tools' empty ledgers do not stop a first up", async () => {
    const dir = project('empty')
    const url = sqliteUrl(dir, 'app.db')
    const db = new Database(path.join(dir, 'app.db'))
    db.exec('CREATE TABLE schema_migrations (version text); CREATE TABLE knex_migrations (id integer)')
    db.close()
    const up = await runCli(['--url', url, 'migrate', 'up'], { cwd: dir })
    expect(up.code, up.stderr).toBe(0)
  })
})
