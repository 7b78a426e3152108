// A real disk-full fault: the SQLite database lives on a small tmpfs (mounted for the test, so root only), and a seed
// or migration larger than the space left fails with SQLITE_FULL. SQLite then rolls the whole transaction back by
// itself; nothing of the failed file may be committed afterwards (a row-by-row retry once committed 64 rows).
import { execFileSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, tempDir } from '../helpers/databases.js'

/** Mounting needs root (CAP_SYS_ADMIN): probed once, and the fault tests are skipped where it is not possible. */
function canMountTmpfs(): boolean {
  if (process.getuid?.() !== 0) return false
  const probe = tempDir('dbops-mount-probe')
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' })
    execFileSync('umount', [probe])
    return true
  } catch {
    return false
  } finally {
    rmSync(probe, { recursive: true, force: true })
  }
}

function rows(file: string, sql: string): Record<string, unknown>[] {
  const database = new Database(file, { readonly: true, fileMustExist: true })
  try {
    return database.prepare(sql).all() as Record<string, unknown>[]
  } finally {
    database.close()
  }
}

function tables(file: string): string[] {
  return rows(file, `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).map((row) => String(row.name))
}

describe.skipIf(!canMountTmpfs())(
  'SQLite on a full disk (a real 8 MB tmpfs; skipped where it cannot be mounted)',
  () => {
    let dir: string
    const mounts: string[] = []
    beforeAll(() => {
      dir = tempDir('dbops-disk-full')
    })
    afterAll(() => {
      for (const mount of mounts.splice(0)) execFileSync('umount', [mount])
      if (dir) rmSync(dir, { recursive: true, force: true })
    })
    /** A fresh 8 MB tmpfs: smaller than better-sqlite3's 16 MB page cache, so the first spill to the WAL runs out of space. */
    function smallDisk(name: string): string {
      const mount = path.join(dir, name)
      mkdirSync(mount)
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mount])
      mounts.push(mount)
      return mount
    }

    it('seed run: a CSV that fills the disk commits no row and no ledger row', async () => {
      const project = path.join(dir, 'seed-project')
      mkdirSync(path.join(project, 'migrations'), { recursive: true })
      mkdirSync(path.join(project, 'fixtures'))
      writeFileSync(
        path.join(project, 'migrations', '001_items.sql'),
        '-- migrate:up\nCREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);\n',
      )
      const lines = ['id,name']
      for (let id = 1; id <= 24_000; id++) lines.push(`${id},${'x'.repeat(1000)}`)
      writeFileSync(path.join(project, 'fixtures', 'items.csv'), `${lines.join('\n')}\n`)
      const file = path.join(smallDisk('seed-disk'), 'seed.db')
      const url = `sqlite:${file}`

      expect((await runCli(['migrate', 'up', '--url', url], { cwd: project })).code).toBe(0)
      const seeded = await runCli(['seed', 'run', '--url', url, '--json'], { cwd: project })
      expect(seeded.code, seeded.stderr).toBe(2)
      const error = JSON.parse(seeded.stdout).error
      // The fault happened: the disk, not the data, stopped the load.
      expect(error).toMatchObject({
        code: 'E_SEED_FAILED',
        details: { sqlstate: 'SQLITE_FULL', file: 'fixtures/items.csv' },
      })
      expect(rows(file, 'SELECT count(*) AS n FROM items')).toEqual([{ n: 0 }])
      expect(tables(file)).not.toContain('dbops_seeds')

      const status = await runCli(['seed', 'status', '--url', url, '--json'], { cwd: project })
      expect(JSON.parse(status.stdout).seeds).toMatchObject([{ name: 'items.csv', state: 'new' }])
    })

    it('seed run: a module seed that ignores the full disk and goes on commits nothing, ledger row included', async () => {
      const project = path.join(dir, 'module-project')
      mkdirSync(path.join(project, 'migrations'), { recursive: true })
      mkdirSync(path.join(project, 'fixtures'))
      writeFileSync(
        path.join(project, 'migrations', '001_items.sql'),
        '-- migrate:up\nCREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);\n',
      )
      // A common pattern: ignore a failed insert (a duplicate, say) and carry on.
      writeFileSync(
        path.join(project, 'fixtures', 'items.js'),
        `export async function seed(db) {
  let failures = 0
  for (let id = 1; id <= 24000; id++) {
    try {
      await db.insertInto('items').values({ id, name: 'x'.repeat(1000) }).execute()
    } catch (error) {
      if (failures++ === 0) process.stderr.write('first failure: ' + error.code + '\\n')
    }
  }
  return 24000
}
`,
      )
      const file = path.join(smallDisk('module-disk'), 'module.db')
      const url = `sqlite:${file}`
      expect((await runCli(['migrate', 'up', '--url', url], { cwd: project })).code).toBe(0)
      const seeded = await runCli(['seed', 'run', '--url', url, '--json'], { cwd: project })
      expect(seeded.stderr).toMatch(/first failure: SQLITE_FULL/)
      expect(seeded.code, seeded.stderr).toBe(2)
      expect(JSON.parse(seeded.stdout).error).toMatchObject({
        code: 'E_SEED_FAILED',
        details: { file: 'fixtures/items.js' },
      })
      expect(rows(file, 'SELECT count(*) AS n FROM items')).toEqual([{ n: 0 }])
      expect(tables(file)).not.toContain('dbops_seeds')
    })

    it('migrate up: a migration that fills the disk leaves no table, no row and no ledger row of it', async () => {
      const project = path.join(dir, 'migrate-project')
      mkdirSync(path.join(project, 'migrations'), { recursive: true })
      writeFileSync(
        path.join(project, 'migrations', '001_first.sql'),
        '-- migrate:up\nCREATE TABLE first (id INTEGER PRIMARY KEY);\n',
      )
      // A plain script: on failure dbops runs it again statement by statement to say which statement failed.
      writeFileSync(
        path.join(project, 'migrations', '002_big.sql'),
        [
          '-- migrate:up',
          'CREATE TABLE big (id INTEGER PRIMARY KEY, payload TEXT);',
          "INSERT INTO big (payload) VALUES ('small');",
          'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30000) INSERT INTO big (payload) SELECT hex(randomblob(500)) FROM n;',
          'INSERT INTO first (id) VALUES (42);',
          '',
        ].join('\n'),
      )
      const file = path.join(smallDisk('migrate-disk'), 'migrate.db')
      const url = `sqlite:${file}`

      const up = await runCli(['migrate', 'up', '--url', url, '--json'], { cwd: project })
      expect(up.code, up.stderr).toBe(2)
      const error = JSON.parse(up.stdout).error
      expect(error.code).toBe('E_MIGRATION_FAILED')
      expect(error.details).toMatchObject({ sqlstate: 'SQLITE_FULL', migration: '002', done: ['001'] })
      expect(tables(file)).not.toContain('big')
      expect(rows(file, 'SELECT count(*) AS n FROM first')).toEqual([{ n: 0 }])
      expect(rows(file, 'SELECT version, status FROM dbops_migrations ORDER BY version')).toEqual([
        { version: '001', status: 'applied' },
      ])
    })
  },
)
