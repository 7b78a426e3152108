// Projects in other tools' layouts run by dbops as they are: diesel's folder per migration (with a metadata.toml that
// turns the transaction off) and Prisma's up-only migration.sql folders.
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { pgQuery, runCli, sqliteUrl, usePgDatabase, useTempDir } from '../helpers/databases.js'

const tmp = useTempDir('dbops-folder-layouts')
const pg = usePgDatabase('dbops_folder_layouts')
const prismaPg = usePgDatabase('dbops_prisma_layout')
const hasuraPg = usePgDatabase('dbops_hasura_layout')

function write(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    writeFileSync(path.join(dir, name), text)
  }
}

/** A diesel project; the index migration runs outside a transaction (CONCURRENTLY on PostgreSQL). */
function dieselProject(name: string, concurrently: boolean): string {
  const dir = path.join(tmp.path, name)
  const index = concurrently ? 'INDEX CONCURRENTLY' : 'INDEX'
  write(dir, {
    'migrations/00000000000000_diesel_initial_setup/up.sql': 'CREATE TABLE setup_marker (id integer);\n',
    'migrations/00000000000000_diesel_initial_setup/down.sql': 'DROP TABLE setup_marker;\n',
    'migrations/2019-02-26-002946_create_users/up.sql':
      '-- Your SQL goes here\nCREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL);\n',
    'migrations/2019-02-26-002946_create_users/down.sql': 'DROP TABLE users;\n',
    'migrations/2019-02-27-000000_users_email_idx/up.sql': `CREATE ${index} users_email_idx ON users (email);\n`,
    'migrations/2019-02-27-000000_users_email_idx/down.sql': `DROP ${index} users_email_idx;\n`,
    'migrations/2019-02-27-000000_users_email_idx/metadata.toml': 'run_in_transaction = false\n',
  })
  return dir
}

interface StatusJson {
  migrations: { version: string; name: string; state: string }[]
}

async function states(url: string, dir: string): Promise<string[]> {
  const status = await runCli(['--url', url, '--json', 'migrate', 'status'], { cwd: dir })
  expect(status.code, status.stderr).toBe(0)
  return (JSON.parse(status.stdout) as StatusJson).migrations.map((m) => `${m.version} ${m.name} ${m.state}`)
}

describe('diesel migrations', () => {
  for (const engine of ['sqlite', 'postgres'] as const) {
    it(`${engine}: up, status, down and redo over folders, versions without diesel's dashes`, async () => {
      const dir = dieselProject(engine, engine === 'postgres')
      const url = engine === 'sqlite' ? sqliteUrl(dir, 'app.db') : pg.url
      const indexes = async (): Promise<string[]> =>
        engine === 'sqlite'
          ? (() => {
              const db = new Database(path.join(dir, 'app.db'), { readonly: true })
              try {
                return db
                  .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'users_email_idx'")
                  .all()
                  .map((row) => (row as { name: string }).name)
              } finally {
                db.close()
              }
            })()
          : (
              await pgQuery(
                pg.url,
                "SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indisvalid AND indexrelid = to_regclass('users_email_idx')",
              )
            ).map((row) => row.name as string)

      const up = await runCli(['--url', url, 'migrate', 'up'], { cwd: dir })
      expect(up.code, up.stderr).toBe(0)
      expect(up.stdout).toContain('applied 3 migrations')
      expect(await indexes()).toEqual(['users_email_idx'])
      expect(await states(url, dir)).toEqual([
        '00000000000000 diesel_initial_setup applied',
        '20190226002946 create_users applied',
        '20190227000000 users_email_idx applied',
      ])
      // The expected schema is built from copies of the folders.
      const drift = await runCli(['--url', url, 'schema', 'drift'], { cwd: dir })
      expect(drift.code, drift.stderr).toBe(0)
      expect(drift.stdout).toContain('no drift')
      const human = await runCli(['--url', url, 'migrate', 'status'], { cwd: dir })
      expect(human.stdout).toMatch(/20190227000000\s+users_email_idx\s+applied/)

      const down = await runCli(['--url', url, 'migrate', 'down'], { cwd: dir })
      expect(down.code, down.stderr).toBe(0)
      expect(await indexes()).toEqual([])
      expect((await states(url, dir))[2]).toBe('20190227000000 users_email_idx pending')

      const redo = await runCli(['--url', url, 'migrate', 'redo'], { cwd: dir })
      expect(redo.code, redo.stderr).toBe(0)
      expect(redo.stdout + redo.stderr).toContain('2019-02-26-002946_create_users')
      const again = await runCli(['--url', url, 'migrate', 'up'], { cwd: dir })
      expect(again.code, again.stderr).toBe(0)
      expect(await indexes()).toEqual(['users_email_idx'])
      expect((await states(url, dir)).every((line) => line.endsWith(' applied'))).toBe(true)
    })
  }

  it("a database diesel migrated asks for the baseline, spelled as dbops reads diesel's versions", async () => {
    const dir = dieselProject('diesel-ledger', true)
    const url = sqliteUrl(dir, 'ledger.db')
    const db = new Database(path.join(dir, 'ledger.db'))
    db.exec(`CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);
      INSERT INTO __diesel_schema_migrations (version) VALUES ('00000000000000'), ('20190226002946');`)
    db.close()
    const refused = await runCli(['--url', url, 'migrate', 'up'], { cwd: dir })
    expect(refused.code).toBe(3)
    expect(refused.stderr).toContain('__diesel_schema_migrations (diesel) records 2 migrations, newest 20190226002946')
    expect(refused.stderr).toContain('"dbops migrate baseline 20190226002946"')
  })
})

describe('Prisma migrations', () => {
  it('apply migration.sql folders; down is refused, naming the file and what to do instead', async () => {
    const dir = path.join(tmp.path, 'prisma')
    write(dir, {
      'prisma/migrations/migration_lock.toml': 'provider = "postgresql"\n',
      'prisma/migrations/20230101000000_init/migration.sql':
        '-- CreateTable\nCREATE TABLE "User" (\n    "id" SERIAL NOT NULL,\n    "email" TEXT NOT NULL,\n\n    CONSTRAINT "User_pkey" PRIMARY KEY ("id")\n);\n',
      'prisma/migrations/20230102000000_email_unique/migration.sql':
        '-- CreateIndex\nCREATE UNIQUE INDEX "User_email_key" ON "User"("email");\n',
      'dbops.config.json': JSON.stringify({ migrations: { dir: 'prisma/migrations' } }),
    })
    const up = await runCli(['--url', prismaPg.url, 'migrate', 'up'], { cwd: dir })
    expect(up.code, up.stderr).toBe(0)
    expect(up.stdout).toContain('applied 2 migrations')
    expect(up.stderr).not.toContain('warning')
    expect(await pgQuery(prismaPg.url, `SELECT to_regclass('"User_email_key"')::text AS i`)).toEqual([
      { i: '"User_email_key"' },
    ])
    const down = await runCli(['--url', prismaPg.url, 'migrate', 'down'], { cwd: dir })
    expect(down.code).toBe(2)
    expect(down.stderr).toContain(
      `cannot roll back ${path.join('prisma', 'migrations', '20230102000000_email_unique', 'migration.sql')}: Prisma migrations are up only (no rollback)`,
    )
    expect(down.stderr).toContain('dbops migrate new revert_email_unique')
    expect(await pgQuery(prismaPg.url, `SELECT to_regclass('"User_email_key"')::text AS i`)).toEqual([
      { i: '"User_email_key"' },
    ])
  })
})

describe('Hasura migrations', () => {
  it("read from the database's folder; above it, a warning says so; Hasura's ledger asks for the baseline", async () => {
    const dir = path.join(tmp.path, 'hasura')
    write(dir, {
      'migrations/default/1650000000000_init/up.sql': 'CREATE TABLE "public"."users" ("id" serial PRIMARY KEY);\n',
      'migrations/default/1650000000000_init/down.sql': 'DROP TABLE "public"."users";\n',
      'migrations/default/1650000000001_add_email/up.sql': 'ALTER TABLE "public"."users" ADD COLUMN "email" text;\n',
      'migrations/default/1650000000001_add_email/down.sql': 'ALTER TABLE "public"."users" DROP COLUMN "email";\n',
    })
    const above = await runCli(['--url', hasuraPg.url, 'migrate', 'status'], { cwd: dir })
    expect(above.stderr).toContain(`ignoring ${path.join('migrations', 'default')}${path.sep}: a folder whose name`)
    expect(above.stderr).toContain('set migrations.dir to it')

    writeFileSync(path.join(dir, 'dbops.config.json'), JSON.stringify({ migrations: { dir: 'migrations/default' } }))
    await pgQuery(
      hasuraPg.url,
      `CREATE SCHEMA hdb_catalog; CREATE TABLE hdb_catalog.schema_migrations (version bigint PRIMARY KEY, dirty boolean NOT NULL);
       INSERT INTO hdb_catalog.schema_migrations VALUES (1650000000000, false)`,
    )
    const refused = await runCli(['--url', hasuraPg.url, 'migrate', 'up'], { cwd: dir })
    expect(refused.code).toBe(3)
    expect(refused.stderr).toContain('hdb_catalog.schema_migrations (Hasura) records 1 migration, newest 1650000000000')
    expect(refused.stderr).toContain('"dbops migrate baseline 1650000000000"')

    await pgQuery(hasuraPg.url, 'DROP SCHEMA hdb_catalog CASCADE')
    const up = await runCli(['--url', hasuraPg.url, 'migrate', 'up'], { cwd: dir })
    expect(up.code, up.stderr).toBe(0)
    expect(up.stdout).toContain('applied 2 migrations')
    const down = await runCli(['--url', hasuraPg.url, 'migrate', 'down'], { cwd: dir })
    expect(down.code, down.stderr).toBe(0)
    expect(
      await pgQuery(
        hasuraPg.url,
        "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'users'",
      ),
    ).toEqual([{ n: 1 }])
  })
})
