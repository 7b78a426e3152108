// A project moving from Flyway keeps its V/U files and its database: dbops runs the files as they are, rolls back with
// U files, refuses a rollback without one, and does not run a history Flyway recorded again.
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { pgQuery, runCli, sqliteUrl, usePgDatabase, useTempDir } from '../helpers/databases.js'

const tmp = useTempDir('dbops-flyway-format')
const pg = usePgDatabase('dbops_flyway')
const ledgerPg = usePgDatabase('dbops_flyway_ledger')

/** A Flyway project: V1, V2 with its U2, V3 without one (and on PostgreSQL V4, a lone CREATE INDEX CONCURRENTLY). */
function flywayProject(name: string, postgres: boolean): string {
  const dir = path.join(tmp.path, name)
  mkdirSync(path.join(dir, 'migrations'), { recursive: true })
  const files: Record<string, string> = {
    'V1__create_users.sql': 'CREATE TABLE users (id integer PRIMARY KEY);\n',
    'V2__add_email.sql': 'ALTER TABLE users ADD COLUMN email text;\n',
    'U2__add_email.sql': 'ALTER TABLE users DROP COLUMN email;\n',
    'V003__create_posts.sql': 'CREATE TABLE posts (id integer PRIMARY KEY);\n',
    ...(postgres && { 'V10__users_email_idx.sql': 'CREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n' }),
  }
  for (const [file, text] of Object.entries(files)) writeFileSync(path.join(dir, 'migrations', file), text)
  return dir
}

async function states(url: string, dir: string): Promise<string[]> {
  const status = await runCli(['--url', url, '--json', 'migrate', 'status'], { cwd: dir })
  expect(status.code, status.stderr).toBe(0)
  expect(status.stderr).not.toContain('warning')
  return (
    JSON.parse(status.stdout) as { migrations: { version: string; name: string; state: string }[] }
  ).migrations.map((m) => `${m.version} ${m.name} ${m.state}`)
}

describe('Flyway migrations', () => {
  for (const engine of ['sqlite', 'postgres'] as const) {
    it(`${engine}: up and status over V files in version order, down with a U file, refused without one`, async () => {
      const postgres = engine === 'postgres'
      const dir = flywayProject(engine, postgres)
      const url = postgres ? pg.url : sqliteUrl(dir, 'app.db')
      const up = await runCli(['--url', url, 'migrate', 'up'], { cwd: dir })
      expect(up.code, up.stderr).toBe(0)
      expect(up.stdout).toContain(`applied ${postgres ? 4 : 3} migrations`)
      expect(await states(url, dir)).toEqual([
        '1 create_users applied',
        '2 add_email applied',
        '003 create_posts applied',
        ...(postgres ? ['10 users_email_idx applied'] : []),
      ])
      if (postgres) {
        // Flyway runs a file of one statement that cannot run in a transaction outside one, and so does dbops.
        expect(await pgQuery(pg.url, "SELECT to_regclass('users_email_idx')::text AS i")).toEqual([
          { i: 'users_email_idx' },
        ])
        writeFileSync(path.join(dir, 'migrations', 'U10__users_email_idx.sql'), 'DROP INDEX users_email_idx;\n')
        expect((await runCli(['--url', url, 'migrate', 'down'], { cwd: dir })).code).toBe(0)
      }

      const refused = await runCli(['--url', url, 'migrate', 'down'], { cwd: dir })
      expect(refused.code).toBe(2)
      expect(refused.stderr).toContain(
        `cannot roll back ${path.join('migrations', 'V003__create_posts.sql')}: there is no U003__*.sql (Flyway's undo file)`,
      )
      expect(refused.stderr).toContain('add U003__create_posts.sql holding the rollback')

      writeFileSync(path.join(dir, 'migrations', 'U003__create_posts.sql'), 'DROP TABLE posts;\n')
      const down = await runCli(['--url', url, 'migrate', 'down', '--to', '1'], { cwd: dir })
      expect(down.code, down.stderr).toBe(0)
      expect((await states(url, dir)).slice(0, 3)).toEqual([
        '1 create_users applied',
        '2 add_email pending',
        '003 create_posts pending',
      ])
      const columns = postgres
        ? (
            await pgQuery(url, "SELECT column_name AS c FROM information_schema.columns WHERE table_name = 'users'")
          ).map((row) => row.c as string)
        : (() => {
            const db = new Database(path.join(dir, 'app.db'), { readonly: true })
            try {
              return db.prepare("SELECT name FROM pragma_table_info('users')").pluck().all() as string[]
            } finally {
              db.close()
            }
          })()
      expect(columns).toEqual(['id'])
    })
  }

  it('a CREATE INDEX CONCURRENTLY beside other statements is refused, naming the .sql.conf that runs it as Flyway would', async () => {
    const dir = path.join(tmp.path, 'conf')
    mkdirSync(path.join(dir, 'migrations'), { recursive: true })
    const file = path.join(dir, 'migrations', 'V1__t.sql')
    writeFileSync(
      file,
      'CREATE TABLE IF NOT EXISTS t (a int);\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_a ON t (a);\n',
    )
    const refused = await runCli(['--url', ledgerPg.url, 'migrate', 'up'], { cwd: dir })
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain(
      `add ${path.join('migrations', 'V1__t.sql')}.conf holding "executeInTransaction=false", as Flyway reads it`,
    )
    writeFileSync(`${file}.conf`, 'executeInTransaction=false\n')
    const up = await runCli(['--url', ledgerPg.url, 'migrate', 'up'], { cwd: dir })
    expect(up.code, up.stderr).toBe(0)
    await pgQuery(ledgerPg.url, 'DROP TABLE t; DROP TABLE dbops_migrations')
  })

  for (const engine of ['sqlite', 'postgres'] as const) {
    it(`${engine}: a database Flyway migrated asks for the baseline of its newest applied version, as the files spell it`, async () => {
      const postgres = engine === 'postgres'
      const dir = flywayProject(`ledger-${engine}`, false)
      const url = postgres ? ledgerPg.url : sqliteUrl(dir, 'ledger.db')
      // Flyway's history: V3 failed, so the newest applied migration is 2.
      const history = `CREATE TABLE flyway_schema_history (installed_rank integer PRIMARY KEY, version varchar(50),
          description varchar(200) NOT NULL, type varchar(20) NOT NULL, script varchar(1000) NOT NULL, checksum integer,
          installed_by varchar(100) NOT NULL, installed_on timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
          execution_time integer NOT NULL, success boolean NOT NULL);
        INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, installed_by, execution_time, success) VALUES
          (1, '1', 'create users', 'SQL', 'V1__create_users.sql', 'app', 5, true),
          (2, '2', 'add email', 'SQL', 'V2__add_email.sql', 'app', 5, true),
          (3, '003', 'create posts', 'SQL', 'V003__create_posts.sql', 'app', 5, false);
        CREATE TABLE users (id integer PRIMARY KEY, email text);`
      if (postgres) await pgQuery(url, history)
      else {
        const db = new Database(path.join(dir, 'ledger.db'))
        db.exec(history.replaceAll('true', '1').replaceAll('false', '0'))
        db.close()
      }
      const refused = await runCli(['--url', url, 'migrate', 'up'], { cwd: dir })
      expect(refused.code).toBe(3)
      expect(refused.stderr).toContain('flyway_schema_history (Flyway) records 2 migrations, newest 2')
      expect(refused.stderr).toContain('"dbops migrate baseline 2"')
      expect((await runCli(['--url', url, 'migrate', 'baseline', '2'], { cwd: dir })).code).toBe(0)
      const up = await runCli(['--url', url, 'migrate', 'up'], { cwd: dir })
      expect(up.code, up.stderr).toBe(0)
      expect(up.stdout).toContain('applied 1 migration')
    })
  }
})
