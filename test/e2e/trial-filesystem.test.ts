// Commands that create a file (migrate new, seed new, audit --fix) on a full disk: a one-line error naming the path,
// exit 2, and no empty or cut-off file left behind for the next command to trip over.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, tempDir } from '../helpers/databases.js'

/** A 64 KiB tmpfs (root only), filled to the last byte; undefined when it cannot be mounted. */
function mountFullDisk(): string | undefined {
  const dir = tempDir('dbops-trial-full')
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'ignore' })
  } catch {
    return undefined
  }
  mkdirSync(path.join(dir, 'migrations'))
  mkdirSync(path.join(dir, 'fixtures'))
  try {
    writeFileSync(path.join(dir, 'filler'), Buffer.alloc(128 * 1024))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error
  }
  return dir
}

const disk = mountFullDisk()

describe.skipIf(disk === undefined)('creating files on a full disk (trial)', () => {
  const dir = disk!
  let database: string
  beforeAll(() => {
    database = path.join(tempDir('dbops-trial-full-db'), 'app.db')
    const db = new Database(database)
    db.exec(
      'CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id));',
    )
    db.close()
  })
  afterAll(() => {
    execFileSync('umount', [dir])
    rmSync(dir, { recursive: true, force: true })
  })

  it.each([
    [
      'migrate new',
      ['migrate', 'new', 'add_users'],
      'migrations',
      /^\/.*\/migrations\/\d{14}_add_users\.sql: no space left/,
    ],
    ['seed new', ['seed', 'new', 'users'], 'fixtures', /^\/.*\/fixtures\/01_users\.sql: no space left/],
    [
      'audit --fix',
      ['audit', '--fix', 'add_indexes'],
      'migrations',
      /^\/.*\/migrations\/\d{14}_add_indexes\.sql: no space left/,
    ],
  ])('%s: E_FILESYSTEM naming the file, nothing left in the folder', async (_name, args, folder, message) => {
    const result = await runCli([...args, '--url', `sqlite:${database}`, '--json'], { cwd: dir })
    expect(result.code, result.stderr).toBe(2)
    const error = JSON.parse(result.stdout).error
    expect(error).toMatchObject({ code: 'E_FILESYSTEM', message: expect.stringMatching(message) })
    expect(error.message).toContain('ENOSPC')
    expect(readdirSync(path.join(dir, folder))).toEqual([])
  })

  it('backup create: E_FILESYSTEM naming the lock, and no lock file left in the backup folder', async () => {
    const result = await runCli(['backup', 'create', '--url', `sqlite:${database}`, '--json'], { cwd: dir })
    expect(result.code, result.stderr).toBe(2)
    const folder = path.join(dir, 'backups', 'app')
    expect(JSON.parse(result.stdout).error).toMatchObject({
      code: 'E_FILESYSTEM',
      message: `${folder}/.lock: no space left on the device (disk full) (ENOSPC, write)`,
    })
    expect(readdirSync(folder)).toEqual([])
  })
})
