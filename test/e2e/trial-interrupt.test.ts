// Ctrl-C while a SQLite command waits for another writer's lock: the wait ends at once with E_INTERRUPTED (exit 2,
// one JSON document with --json), not when the other writer lets go or lockWaitTimeout runs out.
import { mkdirSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { runCli, spawnCli, tempDir, waitForExit } from '../helpers/databases.js'

/** Resolves once process `pid` has `file` open (the CLI reached the database, past its signal handlers). */
async function opened(pid: number, file: string): Promise<void> {
  for (;;) {
    const links = readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`)
      } catch {
        return ''
      }
    })
    if (links.includes(file)) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function project(): { dir: string; file: string } {
  const dir = tempDir('dbops-trial-interrupt')
  mkdirSync(path.join(dir, 'migrations'))
  mkdirSync(path.join(dir, 'fixtures'))
  writeFileSync(path.join(dir, 'migrations', '001_t.sql'), '-- migrate:up\nCREATE TABLE t (id integer PRIMARY KEY);\n')
  writeFileSync(path.join(dir, 'fixtures', 't.csv'), 'id\n1\n')
  // A wait the test would never see the end of: only the interrupt can end it.
  writeFileSync(
    path.join(dir, 'dbops.config.json'),
    JSON.stringify({ targets: { app: { url: 'sqlite:./app.db' } }, migrations: { lockWaitTimeout: '1h' } }),
  )
  return { dir, file: path.join(dir, 'app.db') }
}

describe('Ctrl-C during a SQLite lock wait (trial)', () => {
  it.each([
    // Opening the database is followed by the lock wait with no turn of the event loop in between; a seed file is
    // opened after the check for an interrupt before each seed.
    ['migrate up', ['migrate', 'up'], false, 'app.db-wal'],
    ['seed run', ['seed', 'run'], true, 'fixtures/t.csv'],
  ])(
    '%s stops with E_INTERRUPTED while another writer holds the database',
    async (_name, args, migrated, waitsAfter) => {
      const { dir, file } = project()
      if (migrated) expect((await runCli(['migrate', 'up'], { cwd: dir })).code).toBe(0)
      const holder = new Database(file)
      holder.pragma('journal_mode = WAL')
      holder.exec('BEGIN IMMEDIATE')
      try {
        const child = spawnCli([...args, '--json'], { cwd: dir })
        const exited = waitForExit(child)
        await opened(child.pid!, path.join(dir, waitsAfter))
        child.kill('SIGINT')
        const result = await exited
        expect(result.code, result.stderr).toBe(2)
        const documents = result.stdout.trim().split(/\n(?=\{)/)
        expect(documents).toHaveLength(1)
        expect(JSON.parse(documents[0]!)).toMatchObject({
          ok: false,
          error: {
            code: 'E_INTERRUPTED',
            message: expect.stringContaining(`waiting for the write lock on the SQLite database ${file}`),
          },
        })
        expect(holder.inTransaction).toBe(true)
      } finally {
        holder.exec('ROLLBACK')
        holder.close()
      }
    },
  )
})

/** Resolves once process `pid` has a file open whose path matches `pattern`. */
async function hasOpen(pid: number, pattern: RegExp): Promise<void> {
  for (;;) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      let link = ''
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`)
      } catch {
        // Closed meanwhile.
      }
      if (pattern.test(link)) return
    }
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

describe('Ctrl-C during a step that blocks (trial)', () => {
  it('maintain --auto --json: Ctrl-C during VACUUM stops before the next step, one document, ok false, E_INTERRUPTED', async () => {
    const dir = tempDir('dbops-trial-maintain')
    const file = path.join(dir, 'app.db')
    const database = new Database(file)
    database.exec('CREATE TABLE a (id integer PRIMARY KEY, v text); CREATE INDEX a_v ON a (v)')
    const insert = database.prepare('INSERT INTO a (v) VALUES (?)')
    database.transaction(() => {
      for (let i = 0; i < 150_000; i++) insert.run(`${'x'.repeat(150)}${i}`)
    })()
    // Most pages free: --auto plans a VACUUM, then PRAGMA optimize.
    database.exec('DELETE FROM a WHERE id > 50000')
    database.close()
    const child = spawnCli(['maintain', '--auto', '--url', `sqlite:${file}`, '--json'])
    const exited = waitForExit(child)
    // VACUUM's temporary database (deleted at once, still open) or its journal: the VACUUM is under way.
    await hasOpen(child.pid!, /etilqs_|app\.db-journal/)
    child.kill('SIGINT')
    const result = await exited
    expect(result.code, result.stderr).toBe(2)
    const documents = result.stdout.trim().split(/\n(?=\{)/)
    expect(documents).toHaveLength(1)
    const document = JSON.parse(documents[0]!)
    expect(document).toMatchObject({ ok: false, stopped: 'interrupted', error: { code: 'E_INTERRUPTED' } })
    expect(document.tasks.map((task: { action: string }) => task.action)).toEqual(['vacuum'])
    expect(document.left.map((task: { action: string }) => task.action)).toEqual(['optimize'])
  })
})

describe('a SQLite database in rollback-journal mode with a writer (trial)', () => {
  it('migrate up waits lockWaitTimeout for the write lock, instead of failing at once claiming it waited', async () => {
    const { dir, file } = project()
    writeFileSync(
      path.join(dir, 'dbops.config.json'),
      JSON.stringify({ targets: { app: { url: 'sqlite:./app.db' } }, migrations: { lockWaitTimeout: '1s' } }),
    )
    const holder = new Database(file)
    holder.exec('CREATE TABLE other (id integer)')
    holder.exec('BEGIN IMMEDIATE')
    holder.exec('INSERT INTO other VALUES (1)')
    try {
      const result = await runCli(['migrate', 'up', '--json'], { cwd: dir })
      expect(result.code, result.stderr).toBe(2)
      // Before: E_LOCK_TIMEOUT for the "database lock" at once, from the switch to WAL SQLite refuses without waiting.
      expect(JSON.parse(result.stdout).error).toMatchObject({
        code: 'E_LOCK_TIMEOUT',
        details: { lock: 'write lock', waitedMs: 1000 },
      })
    } finally {
      holder.exec('ROLLBACK')
      holder.close()
    }
  })
})
