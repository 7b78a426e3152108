// A SQLite database held by another process past migrations.lockWaitTimeout is E_LOCK_TIMEOUT (exit 2) naming the
// file, the lock and the setting: not "unexpected failure", and not a seed file's fault (issue 9 §5).
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { REPO_ROOT, runCli, tempDir, waitForExit, waitForOutput, type CliResult } from '../helpers/databases.js'

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** Another process holding the database: `sql` runs (BEGIN IMMEDIATE / EXCLUSIVE), then it waits until killed. */
async function holdLock(file: string, sql: string): Promise<ChildProcess> {
  const script = `const Database = require('better-sqlite3'); const db = new Database(process.argv[1]); db.exec(process.argv[2]); console.log('locked'); setInterval(() => {}, 1000)`
  const holder = spawn(process.execPath, ['-e', script, file, sql], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  await waitForOutput(holder, /locked/)
  return holder
}

async function release(holder: ChildProcess): Promise<void> {
  const exited = waitForExit(holder)
  holder.kill('SIGKILL')
  await exited
}

function project(): { dir: string; file: string } {
  const dir = tempDir('dbops-sqlite-lock')
  dirs.push(dir)
  mkdirSync(path.join(dir, 'migrations'))
  mkdirSync(path.join(dir, 'fixtures'))
  writeFileSync(
    path.join(dir, 'migrations', '001_t.sql'),
    '-- migrate:up\nCREATE TABLE t (id integer PRIMARY KEY, v text);\n',
  )
  writeFileSync(
    path.join(dir, 'dbops.config.json'),
    JSON.stringify({ targets: { app: { url: 'sqlite:./app.db' } }, migrations: { lockWaitTimeout: '1s' } }),
  )
  return { dir, file: path.join(dir, 'app.db') }
}

function lockTimeout(result: CliResult, file: string): void {
  expect(result.code, result.stderr).toBe(2)
  const { error } = JSON.parse(result.stdout)
  expect(error.code).toBe('E_LOCK_TIMEOUT')
  expect(error.message).toContain(`SQLite database ${file} longer than migrations.lockWaitTimeout (1s)`)
  expect(error.details).toMatchObject({ setting: 'migrations.lockWaitTimeout', waitedMs: 1000 })
}

describe('SQLite locked by another process', () => {
  it('migrate up and seed run wait lockWaitTimeout, then fail with E_LOCK_TIMEOUT and change nothing', async () => {
    const { dir, file } = project()
    expect((await runCli(['migrate', 'up'], { cwd: dir })).code).toBe(0)
    writeFileSync(path.join(dir, 'migrations', '002_u.sql'), '-- migrate:up\nCREATE TABLE u (id integer);\n')
    writeFileSync(path.join(dir, 'fixtures', 't.csv'), 'id,v\n1,x\n')

    const holder = await holdLock(file, 'BEGIN IMMEDIATE')
    try {
      const up = await runCli(['migrate', 'up', '--json'], { cwd: dir })
      lockTimeout(up, file)
      expect(JSON.parse(up.stdout).error.message).toMatch(/write lock/)
      const human = await runCli(['migrate', 'up'], { cwd: dir })
      expect(human.code).toBe(2)
      expect(human.stderr).toMatch(
        /^error: another connection held the SQLite database \S+app\.db longer than migrations\.lockWaitTimeout \(1s\)/m,
      )
      expect(human.stderr).not.toContain('unexpected failure')

      lockTimeout(await runCli(['seed', 'run', '--json'], { cwd: dir }), file)
      const seed = await runCli(['seed', 'run'], { cwd: dir })
      expect(seed.code).toBe(2)
      expect(seed.stderr).toContain('longer than migrations.lockWaitTimeout (1s)')
      expect(seed.stderr).not.toMatch(/fix the file/i)
    } finally {
      await release(holder)
    }
    const database = new Database(file, { readonly: true })
    try {
      expect(database.prepare('SELECT version FROM dbops_migrations ORDER BY version').all()).toEqual([
        { version: '001' },
      ])
      expect(database.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 0 })
    } finally {
      database.close()
    }
    // Once the lock is gone the same commands succeed.
    expect((await runCli(['migrate', 'up'], { cwd: dir })).code).toBe(0)
    expect((await runCli(['seed', 'run'], { cwd: dir })).code).toBe(0)
  })

  it('a read-only command on a rollback-journal database held exclusively is E_LOCK_TIMEOUT too', async () => {
    const { dir, file } = project()
    const setup = new Database(file)
    setup.exec('CREATE TABLE t (id integer PRIMARY KEY)')
    setup.close()
    const holder = await holdLock(file, 'BEGIN EXCLUSIVE')
    try {
      lockTimeout(await runCli(['migrate', 'status', '--json'], { cwd: dir }), file)
    } finally {
      await release(holder)
    }
  })
})
