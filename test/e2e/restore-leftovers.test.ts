// A SQLite restore killed with SIGKILL leaves its staged copy (`.app.db.dbops-restore-<pid>.tmp`, the size of the
// database) beside the file; the next restore or backup create of that database removes the copies of dead
// processes and never one of a live process (issue 9 §4).
import { existsSync, readdirSync, rmSync, watch, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli, spawnCli, tempDir, waitForExit } from '../helpers/databases.js'

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const STAGED = /^\.app\.db\.dbops-restore-(\d+)\.tmp$/

function count(file: string): number {
  const database = new Database(file, { readonly: true })
  try {
    return (database.prepare('SELECT count(*) AS n FROM items').get() as { n: number }).n
  } finally {
    database.close()
  }
}

/**
 * Starts `restore --force` and SIGKILLs it the moment its staged copy appears in the folder (an fs.watch event, not a
 * delay). Returns the name of the copy it left, or undefined when the restore got past its rename first.
 */
async function killMidRestore(dir: string, id: string): Promise<string | undefined> {
  const watcher = watch(dir)
  try {
    const child = spawnCli(['--url', 'sqlite:./app.db', 'restore', id, '--force'], { cwd: dir })
    let seen: string | undefined
    watcher.on('change', (_type, name) => {
      if (seen === undefined && STAGED.test(String(name))) {
        seen = String(name)
        child.kill('SIGKILL')
      }
    })
    const result = await waitForExit(child)
    if (result.signal !== 'SIGKILL') expect(result.code, result.stderr).toBe(0)
    return result.signal === 'SIGKILL' && seen !== undefined && existsSync(path.join(dir, seen)) ? seen : undefined
  } finally {
    watcher.close()
  }
}

describe('leftovers of killed SQLite restores', () => {
  it("the next backup create and the next restore remove dead restores' copies, never a live one's", async () => {
    const dir = tempDir('dbops-restore-kill')
    dirs.push(dir)
    const file = path.join(dir, 'app.db')
    const database = new Database(file)
    database.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, payload BLOB)')
    const insert = database.prepare('INSERT INTO items (payload) VALUES (randomblob(4000))')
    database.transaction(() => {
      for (let i = 0; i < 12_000; i++) insert.run()
    })()
    database.close()
    const created = await runCli(['--url', 'sqlite:./app.db', 'backup', 'create', '--json'], { cwd: dir })
    expect(created.code, created.stderr).toBe(0)
    const id = JSON.parse(created.stdout).backup.id as string
    const killed = async () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        // A row added after the backup shows whether the restore replaced the file.
        if (count(file) === 12_000) {
          const writer = new Database(file)
          writer.exec("INSERT INTO items (payload) VALUES (x'00')")
          writer.close()
        }
        const name = await killMidRestore(dir, id)
        if (name === undefined) continue
        // The kill landed mid-restore: its staged copy is there and the database was not replaced.
        expect(count(file)).toBe(12_001)
        return name
      }
      throw new Error('no kill landed mid-restore in 5 attempts')
    }
    const first = await killed()

    // A leftover name whose process is alive (this test's worker stands in for a restore still running).
    const live = `.app.db.dbops-restore-${process.pid}.tmp`
    writeFileSync(path.join(dir, live), 'a restore still running')
    const staged = () =>
      readdirSync(dir)
        .filter((name) => STAGED.test(name))
        .sort()
    expect(staged()).toEqual([first, live].sort())

    // Killed while the staged copy's journal mode was being set: its WAL is a leftover too (a pid above 2^22 is dead).
    const wal = '.app.db.dbops-restore-4194999.tmp-wal'
    writeFileSync(path.join(dir, wal), 'x')
    const backup = await runCli(['--url', 'sqlite:./app.db', 'backup', 'create'], { cwd: dir })
    expect(backup.code, backup.stderr).toBe(0)
    expect(staged()).toEqual([live])
    expect(existsSync(path.join(dir, wal))).toBe(false)

    const second = await killed()
    expect(staged()).toEqual([second, live].sort())
    const restored = await runCli(['--url', 'sqlite:./app.db', 'restore', id, '--force'], { cwd: dir })
    expect(restored.code, restored.stderr).toBe(0)
    expect(staged()).toEqual([live])
    expect(count(file)).toBe(12_000)
  })
})
