// Backups and restores that stay safe around other processes and the file they replace (issue 9 §3, §4, §6),
// driven through the library API a program would use (src/index.ts), with real processes where two meet.
import { spawnSync } from 'node:child_process'
import { chownSync, chmodSync, existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import {
  createBackup,
  openTarget,
  resolveConfig,
  restoreBackup,
  restoreSearchDirs,
  verifyBackup,
  DbopsError,
  type Target,
} from '../../src/index.js'
import { CLI_BIN, tempDir } from '../helpers/databases.js'

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

function workspace(config?: unknown): string {
  const dir = tempDir('dbops-backup-safety')
  dirs.push(dir)
  if (config !== undefined) writeFileSync(path.join(dir, 'dbops.config.json'), JSON.stringify(config))
  return dir
}

function sqliteFile(file: string, table: string, rows = 10): void {
  const database = new Database(file)
  database.exec(`CREATE TABLE ${table} (id INTEGER PRIMARY KEY, note TEXT)`)
  const insert = database.prepare(`INSERT INTO ${table} (note) VALUES (?)`)
  for (let i = 0; i < rows; i++) insert.run(`row ${i}`)
  database.close()
}

async function withTarget<T>(
  options: Parameters<typeof openTarget>[0],
  fn: (target: Target) => Promise<T>,
): Promise<T> {
  const target = await openTarget(options)
  try {
    return await fn(target)
  } finally {
    await target.close()
  }
}

describe('the backup folder lock', () => {
  it('a prune started while verify --restore reads a backup is refused, and the verify still proves it', async () => {
    const dir = workspace()
    const file = path.join(dir, 'app.db')
    sqliteFile(file, 'items', 200)
    const url = `sqlite:${file}`
    const older = await withTarget({ url, cwd: dir }, async (target) => (await createBackup(target)).backup)
    await withTarget({ url, cwd: dir }, (target) => createBackup(target, { now: () => new Date(Date.now() + 2000) }))
    let prune: ReturnType<typeof spawnSync> | undefined
    const verified = await withTarget({ url, cwd: dir }, (target) =>
      verifyBackup(target, {
        id: older.id,
        restore: true,
        onEvent: (event) => {
          // The verify holds the folder and has chosen its backup; a prune runs to the end right now.
          if (event.message.startsWith('restoring into') && !prune) {
            prune = spawnSync(
              process.execPath,
              [CLI_BIN, '--url', url, 'backup', 'prune', '--keep-last', '1', '--json'],
              { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } },
            )
          }
        },
      }),
    )
    expect(prune, 'the verify never reached its restore step').toBeDefined()
    expect(prune!.status, String(prune!.stderr)).toBe(1)
    expect(JSON.parse(String(prune!.stdout)).error).toMatchObject({
      code: 'E_BACKUP_LOCKED',
      message: expect.stringContaining('"dbops backup verify"'),
    })
    expect(verified).toMatchObject({ id: older.id, verifiedBy: 'restore', recorded: true })
    expect(existsSync(path.join(dir, 'backups', 'app', older.artifact))).toBe(true)
    // Once the verify is done the folder is free: the same prune runs (and keeps the now verified backup).
    const after = spawnSync(
      process.execPath,
      [CLI_BIN, '--url', url, 'backup', 'prune', '--keep-last', '1', '--json'],
      { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } },
    )
    expect(after.status, after.stderr).toBe(0)
    expect(readdirSync(path.join(dir, 'backups', 'app')).filter((name) => name.startsWith('.lock'))).toEqual([])
  })
})

describe('SQLite restore and the file it replaces', () => {
  it.skipIf(process.getuid?.() !== 0)(
    'keeps the owner, group and mode of the database file (nobody:nogroup 0664)',
    async () => {
      const dir = workspace()
      const file = path.join(dir, 'app.db')
      sqliteFile(file, 'items')
      const url = `sqlite:${file}`
      const manifest = await withTarget({ url, cwd: dir }, async (target) => (await createBackup(target)).backup)
      const nobody = Number(spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout.trim())
      const nogroup = Number(spawnSync('getent', ['group', 'nogroup'], { encoding: 'utf8' }).stdout.split(':')[2])
      expect(Number.isInteger(nobody) && Number.isInteger(nogroup)).toBe(true)
      chmodSync(file, 0o664)
      chownSync(file, nobody, nogroup)
      await withTarget({ url, cwd: dir }, (target) => restoreBackup(target, manifest.id, { force: true }))
      const after = statSync(file)
      expect(after.mode & 0o7777).toBe(0o664)
      expect([after.uid, after.gid]).toEqual([nobody, nogroup])
      expect(new Database(file, { readonly: true }).prepare('SELECT count(*) AS n FROM items').get()).toEqual({ n: 10 })
    },
  )
})

describe('restore search folders live in the library', () => {
  it("finds a backup in another target's folder from the config, and restores it only when `from` names that target", async () => {
    const dir = workspace({
      defaultTarget: 'staging',
      targets: { prod: { url: 'sqlite:./prod.db' }, staging: { url: 'sqlite:./staging.db' } },
    })
    sqliteFile(path.join(dir, 'prod.db'), 'orders')
    sqliteFile(path.join(dir, 'staging.db'), 'scratch')
    const config = await resolveConfig({ cwd: dir })
    const id = await withTarget({ cwd: dir, target: 'prod' }, async (target) => (await createBackup(target)).backup.id)
    await withTarget({ cwd: dir, target: 'staging' }, async (staging) => {
      expect(restoreSearchDirs(staging, config)).toEqual([
        path.join(dir, 'backups', 'staging'),
        path.join(dir, 'backups', 'prod'),
      ])
      const refused = await restoreBackup(staging, id, { config, force: true }).catch((error: unknown) => error)
      expect(refused).toBeInstanceOf(DbopsError)
      expect((refused as DbopsError).code).toBe('E_USAGE')
      expect((refused as DbopsError).message).toContain(
        `was taken from ${path.join(dir, 'prod.db')}, not from ${path.join(dir, 'staging.db')}`,
      )
      const restored = await restoreBackup(staging, id, { config, from: 'prod', force: true })
      expect(restored).toMatchObject({ id, source: path.join(dir, 'prod.db'), database: path.join(dir, 'staging.db') })
    })
    const tables = new Database(path.join(dir, 'staging.db'), { readonly: true })
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
      .all()
    expect(tables).toEqual([{ name: 'orders' }])
  })
})
