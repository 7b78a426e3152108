// SQLite's table rebuild (https://www.sqlite.org/lang_altertable.html#otheralter) on a table other rows reference:
// with foreign keys on (as dbops, diesel and better-sqlite3 open SQLite), DROP TABLE fails inside the migration's
// transaction, where PRAGMA foreign_keys=OFF does nothing. Shape of vaultwarden's 2020-08-02-025025_add_favorites_table.
import { describe, expect, it } from 'vitest'
import { runCli, type CliResult } from '../helpers/databases.js'
import { makeProject, type Project } from '../helpers/projects.js'

const cli = (project: Project, ...args: string[]): Promise<CliResult> =>
  runCli(['--url', project.url, ...args], { cwd: project.dir })

const REBUILD = `CREATE TABLE new_ciphers (uuid TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL);
INSERT INTO new_ciphers (uuid, name) SELECT uuid, name FROM ciphers;
DROP TABLE ciphers;
ALTER TABLE new_ciphers RENAME TO ciphers;`

describe('a SQLite table rebuild of a referenced table', () => {
  it("fails rolled back, and the hint says why and how to run it outside a transaction in the file's format", async () => {
    const project = await makeProject('sqlite', {
      '1_init.sql': `-- migrate:up
CREATE TABLE ciphers (uuid TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL, favorite BOOLEAN NOT NULL);
CREATE TABLE folders_ciphers (cipher_uuid TEXT NOT NULL REFERENCES ciphers (uuid), folder TEXT NOT NULL);
INSERT INTO ciphers VALUES ('c1', 'mail', 1);
INSERT INTO folders_ciphers VALUES ('c1', 'f1');
-- migrate:down
`,
    })
    expect((await cli(project, 'migrate', 'up')).code).toBe(0)
    project.write('migrations/2_drop_favorite/up.sql', `-- 1. (foreign keys off: see the hint)\n${REBUILD}\n`)
    const failed = await cli(project, 'migrate', 'up', '--no-lint', '--json')
    expect(failed.code).toBe(2)
    const { error } = JSON.parse(failed.stdout)
    expect(error.code).toBe('E_MIGRATION_FAILED')
    expect(error.message).toBe(
      '2_drop_favorite failed at migrations/2_drop_favorite/up.sql:4:1: FOREIGN KEY constraint failed',
    )
    expect(error.hint).toContain('nothing of it was applied (rolled back). DROP TABLE deletes the rows first')
    expect(error.hint).toContain('PRAGMA foreign_keys=OFF does nothing inside a transaction')
    expect(error.hint).toContain(
      'add a metadata.toml holding "run_in_transaction = false" beside migrations/2_drop_favorite/up.sql',
    )
    expect(await project.query("SELECT name FROM sqlite_master WHERE name = 'new_ciphers'")).toEqual([])

    // What the hint says works: outside a transaction, foreign keys off around the file's own BEGIN ... COMMIT.
    project.write('migrations/2_drop_favorite/metadata.toml', 'run_in_transaction = false\n')
    project.write(
      'migrations/2_drop_favorite/up.sql',
      `PRAGMA foreign_keys=OFF;\nBEGIN;\n${REBUILD}\nPRAGMA foreign_key_check;\nCOMMIT;\n`,
    )
    const applied = await cli(project, 'migrate', 'up', '--no-lint')
    expect(applied.code).toBe(0)
    expect(await project.query('SELECT * FROM folders_ciphers')).toEqual([{ cipher_uuid: 'c1', folder: 'f1' }])
    expect(await project.query('PRAGMA foreign_key_check')).toEqual([])
  })

  it('a foreign key failure elsewhere keeps the plain hint', async () => {
    const project = await makeProject('sqlite', {
      '1_init.sql': `-- migrate:up
CREATE TABLE a (id INTEGER PRIMARY KEY);
CREATE TABLE b (a_id INTEGER REFERENCES a (id));
INSERT INTO b VALUES (7);
-- migrate:down
`,
    })
    const failed = await cli(project, 'migrate', 'up', '--json')
    expect(failed.code).toBe(2)
    expect(JSON.parse(failed.stdout).error.hint).toBe(
      'nothing of it was applied (rolled back): fix the file and run again',
    )
  })
  it('PRAGMA foreign_keys in a transactional file: refused, and the hint gives the file that works, not a migration of its own', async () => {
    // memos' 0.2/00__user_role.sql starts "PRAGMA foreign_keys = off;" and runs in a transaction.
    const project = await makeProject('sqlite', {
      '1_rebuild.sql': `-- migrate:up\nPRAGMA foreign_keys = off;\n${REBUILD}\n-- migrate:down\n`,
    })
    const refused = await cli(project, 'migrate', 'up', '--no-lint', '--json')
    expect(refused.code).toBe(2)
    const { error } = JSON.parse(refused.stdout)
    expect(error.code).toBe('E_NON_TRANSACTIONAL_STATEMENT')
    expect(error.hint).toBe(
      'add transaction:false to the "-- migrate:up" line, and wrap its statements in a transaction of its own after the PRAGMA: PRAGMA foreign_keys=OFF; BEGIN; ... PRAGMA foreign_key_check; COMMIT (a migration of its own would not do: dbops turns foreign keys back on before each migration)',
    )
    const linted = await cli(project, 'migrate', 'lint', '--offline', '--json')
    const [finding] = JSON.parse(linted.stdout).findings
    expect(finding).toMatchObject({ rule: 'non-transactional-statement', line: 2 })
    expect(finding.safe).toContain('a migration of its own would not do')
    expect(finding.safe).not.toContain('in a migration of its own (')
  })
})
