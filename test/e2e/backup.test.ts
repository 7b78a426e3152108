// `dbops backup` and `dbops restore` as a cron job runs them: the built CLI, real pg_dump, real signals. Covers
// SIGKILL at random moments, the password staying out of pg_dump's command line, overlapping runs, the monitoring
// exit codes and metrics, and bad inputs (one line, the documented exit code, nothing deleted).
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import path from 'node:path'
import { spawn } from 'node:child_process'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createPgItemsDatabase,
  pgQuery,
  runCli,
  spawnCli,
  tempDir,
  waitForExit,
  type CliResult,
  type PgDatabase,
} from '../helpers/databases.js'
import { findPgBinDir, startThrowawayCluster, type PgServer } from '../helpers/global-setup.js'

const dirs: string[] = []
const databases: PgDatabase[] = []
afterAll(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  for (const database of databases) await database.drop().catch(() => {})
})

function workspace(): string {
  const dir = tempDir('dbops-backup-e2e')
  dirs.push(dir)
  return dir
}

function sqliteDatabase(dir: string, rows = 2000): string {
  const file = path.join(dir, 'app.db')
  const database = new Database(file)
  database.pragma('journal_mode = WAL')
  database.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, payload BLOB)')
  const insert = database.prepare('INSERT INTO items (name, payload) VALUES (?, randomblob(512))')
  database.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(`item ${i}`)
  })()
  database.close()
  return `sqlite:${file}`
}

async function pgDatabase(rows: number): Promise<PgDatabase> {
  const database = await createPgItemsDatabase('dbops_bk', rows)
  databases.push(database)
  return database
}

/** The one backup folder under `dir/backups` (named after the database when there is no config file). */
function backupFolder(dir: string): string {
  const names = readdirSync(path.join(dir, 'backups'))
  expect(names).toHaveLength(1)
  return path.join(dir, 'backups', names[0]!)
}

function errorLine(result: CliResult): string {
  const lines = result.stderr.split('\n').filter((line) => line.trim() !== '')
  expect(lines, result.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^error: .+\(hint: .+\)$/)
  return lines[0]!
}

function listIds(result: CliResult): string[] {
  expect(result.code, result.stderr).toBe(0)
  return (JSON.parse(result.stdout).backups as { id: string }[]).map((backup) => backup.id)
}

describe.each(['sqlite', 'postgres'] as const)('SIGKILL during backup create (%s)', (engine) => {
  it('never leaves a listed backup that fails verify; the next run succeeds and leaves no litter', async () => {
    const dir = workspace()
    const url = engine === 'sqlite' ? sqliteDatabase(dir, 20_000) : (await pgDatabase(200_000)).url
    const trials = engine === 'sqlite' ? 6 : 4
    // Without a config file each database has its own folder: backups/<file stem or database name>.
    const backupDir = path.join(dir, 'backups', engine === 'sqlite' ? 'app' : new URL(url).pathname.slice(1))
    // Into its one folder, stored as is, the dump is written as .tmp-<name> (pg_dump --file, SQLite's copy); a
    // streamed one (several destinations, compressed or encrypted) as .partial-<pid>-<name>.
    const temporaries = () =>
      existsSync(backupDir)
        ? readdirSync(backupDir).filter((name) => name.startsWith('.tmp-') || name.startsWith('.partial-'))
        : []
    const sizeOf = (file: string) => {
      try {
        return statSync(file).size
      } catch {
        return -1
      }
    }
    let landed = 0
    // A run that finishes before the kill proves nothing: it is run again (bounded) until `trials` kills landed.
    for (let attempt = 0; landed < trials && attempt < trials * 5; attempt++) {
      const listed = listIds(await runCli(['--url', url, 'backup', 'list', '--json'], { cwd: dir })).length
      const before = new Set(temporaries())
      const child = spawnCli(['--url', url, 'backup', 'create'], { cwd: dir })
      let alive = true
      const exited = waitForExit(child).finally(() => (alive = false))
      // The kill lands at a different point each trial: as soon as the artifact's temporary file appears, or once it
      // has grown (pg_dump streaming into it; SQLite after its page copy).
      const growTo = landed % 2 === 0 ? 0 : 1
      let temporary: string | undefined
      while (alive && temporary === undefined) {
        const fresh = temporaries().find((name) => !before.has(name))
        if (fresh !== undefined && sizeOf(path.join(backupDir, fresh)) >= growTo) temporary = fresh
        else await new Promise((resolve) => setImmediate(resolve))
      }
      if (temporary === undefined) {
        await exited
        continue
      }
      child.kill('SIGKILL')
      const result = await exited
      expect(result.signal).toBe('SIGKILL')
      const ids = listIds(await runCli(['--url', url, 'backup', 'list', '--json'], { cwd: dir }))
      const left = existsSync(path.join(backupDir, temporary))
      // Published in the instant between seeing the file and the kill: that run was not killed mid-backup.
      if (!left && ids.length === listed + 1) continue
      // Mid-backup for certain: the killed run left its temporary artifact and published nothing.
      expect(left).toBe(true)
      expect(ids).toHaveLength(listed)
      landed++
      for (const id of listIds(await runCli(['--url', url, 'backup', 'list', '--json'], { cwd: dir }))) {
        const verify = await runCli(['--url', url, 'backup', 'verify', id], { cwd: dir })
        expect(verify.code, `${id}: ${verify.stderr}`).toBe(0)
      }
    }
    expect(landed).toBe(trials)
    // Give an orphaned pg_dump (its parent was killed) time to finish writing into its unlinked file.
    const next = await runCli(['--url', url, 'backup', 'create', '--wait'], { cwd: dir })
    expect(next.code, next.stderr).toBe(0)
    expect(backupFolder(dir)).toBe(backupDir)
    expect(readdirSync(backupDir).filter((name) => name.startsWith('.'))).toEqual([])
    const ids = listIds(await runCli(['--url', url, 'backup', 'list', '--json'], { cwd: dir }))
    const artifacts = readdirSync(backupDir).filter((name) => !name.endsWith('.manifest.json'))
    expect(artifacts.length).toBe(ids.length)
    const verify = await runCli(['--url', url, 'backup', 'verify', '--latest', '--restore'], { cwd: dir })
    expect(verify.code, verify.stderr).toBe(0)
  })
})

const PASSWORD = 'Backup s3cret/pw:with@chars'
describe.skipIf(findPgBinDir() === undefined && process.env.CI !== 'true')('a server that wants a password', () => {
  let server: PgServer
  beforeAll(async () => {
    server = await startThrowawayCluster(() => {}, { password: PASSWORD })
    await pgQuery(
      server.url,
      `CREATE TABLE guarded (id integer PRIMARY KEY); INSERT INTO guarded SELECT generate_series(1, 100)`,
    )
  })
  afterAll(async () => {
    await server?.stop()
  })

  it("pg_dump's command line, the output and the manifest never hold the password", async () => {
    const dir = workspace()
    // A session holding an exclusive lock makes pg_dump wait, so it can be looked at while it runs.
    const locker = new pg.Client({ connectionString: server.url })
    await locker.connect()
    await locker.query('BEGIN; LOCK TABLE guarded IN ACCESS EXCLUSIVE MODE')
    const child = spawnCli(['--url', server.url, 'backup', 'create'], { cwd: dir })
    const exited = waitForExit(child)
    let cmdline = ''
    let environ = ''
    try {
      for (let attempt = 0; attempt < 200 && cmdline === ''; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 50))
        for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
          try {
            const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
            const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
            if (ppid !== child.pid) continue
            const line = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')
            if (!line.includes('--format=')) continue
            cmdline = line
            environ = readFileSync(`/proc/${pid}/environ`, 'utf8')
          } catch {
            // Gone meanwhile.
          }
        }
      }
    } finally {
      await locker.query('COMMIT')
      await locker.end()
    }
    const result = await exited
    // pg_dump writes the custom dump into the backup folder itself (--file, after the other options).
    expect(cmdline).toMatch(/pg_dump --format=custom --snapshot=/)
    expect(cmdline).toMatch(/ --file=\S*\/\.tmp-\S+\.dump/)
    expect(environ).toContain('PGPASSWORD=')
    expect(result.code, result.stderr).toBe(0)
    const backupDir = backupFolder(dir)
    const manifests = readdirSync(backupDir)
      .filter((name) => name.endsWith('.manifest.json'))
      .map((name) => readFileSync(path.join(backupDir, name), 'utf8'))
    expect(manifests).toHaveLength(1)
    for (const text of [cmdline, result.stdout, result.stderr, ...manifests]) {
      expect(text).not.toContain(PASSWORD)
      expect(text).not.toContain(encodeURIComponent(PASSWORD))
    }
    expect(JSON.parse(manifests[0]!).url).toContain(':***@')
    const verify = await runCli(['--url', server.url, 'backup', 'verify', '--restore', '--json'], { cwd: dir })
    expect(verify.code, verify.stderr).toBe(0)
    expect(verify.stdout + verify.stderr).not.toContain(PASSWORD)
  })
})

describe('overlapping runs, monitoring and metrics', () => {
  it('a second run exits 1 naming the holder, or waits with --wait', async () => {
    const dir = workspace()
    const url = sqliteDatabase(dir)
    const backupDir = path.join(dir, 'backups', 'app')
    mkdirSync(backupDir, { recursive: true })
    const holder = spawn('sleep', ['30'])
    writeFileSync(
      path.join(backupDir, '.lock'),
      JSON.stringify({
        pid: holder.pid,
        host: hostname(),
        processStart: null,
        startedAt: '2026-01-01T00:00:00Z',
        command: 'dbops backup create',
      }),
    )
    try {
      const second = await runCli(['--url', url, 'backup', 'create'], { cwd: dir })
      expect(second.code).toBe(1)
      expect(errorLine(second)).toContain(`pid ${holder.pid}`)
      const waiting = spawnCli(['--url', url, 'backup', 'create', '--wait'], { cwd: dir })
      const waited = waitForExit(waiting)
      // Kill the holder only once the second run says it waits for it (no fixed delay: a loaded machine starts slowly).
      await new Promise<void>((resolve, reject) => {
        let seen = ''
        waiting.stderr!.on('data', (chunk: Buffer | string) => {
          seen += chunk.toString()
          if (seen.includes(`waiting for dbops pid ${holder.pid}`)) resolve()
        })
        waiting.on('close', () => reject(new Error(`backup create --wait exited before waiting:\n${seen}`)))
      })
      expect(readdirSync(backupDir).filter((name) => name.endsWith('.manifest.json'))).toEqual([])
      holder.kill('SIGKILL')
      const result = await waited
      expect(result.code, result.stderr).toBe(0)
      expect(result.stderr).toContain(`waiting for dbops pid ${holder.pid}`)
    } finally {
      holder.kill('SIGKILL')
    }
  })

  it('check: 2 without a backup, 0 when fresh, 1 when too small; --json and --metrics-file', async () => {
    const dir = workspace()
    const url = sqliteDatabase(dir)
    const none = await runCli(['--url', url, 'backup', 'check'], { cwd: dir })
    expect(none.code).toBe(2)
    expect(none.stdout).toMatch(/^CRITICAL +default \(\S+app\.db\): no complete backup/)
    const metrics = path.join(dir, 'dbops.prom')
    const created = await runCli(['--url', url, 'backup', 'create', '--metrics-file', metrics, '--label', 'nightly'], {
      cwd: dir,
    })
    expect(created.code, created.stderr).toBe(0)
    const text = readFileSync(metrics, 'utf8')
    expect(text).toMatch(
      /^dbops_backup_last_success_timestamp_seconds\{engine="sqlite",target="default"\} \d+(\.\d+)?$/m,
    )
    expect(text).toMatch(/^dbops_backup_size_bytes\{engine="sqlite",target="default"\} \d+$/m)
    expect(text).toMatch(/^dbops_backup_duration_seconds\{engine="sqlite",target="default"\} [\d.e-]+$/m)
    const fresh = await runCli(['--url', url, 'backup', 'check', '--max-age', '1h', '--json'], { cwd: dir })
    expect(fresh.code).toBe(0)
    const document = JSON.parse(fresh.stdout)
    expect(document).toMatchObject({ ok: true, target: 'default', status: 'ok' })
    expect(document.ageSeconds).toBeLessThan(60)
    const small = await runCli(['--url', url, 'backup', 'check', '--min-size', '1GB'], { cwd: dir })
    expect(small.code).toBe(1)
    expect(small.stdout).toMatch(/WARN +default \(\S+app\.db\): newest backup is .+, less than 1.0 GB/)
    const list = await runCli(['--url', url, 'backup', 'list'], { cwd: dir })
    expect(list.stdout).toMatch(
      /^ID +FINISHED +SIZE +FORMAT +MIGRATION +VERIFIED +LABEL\n\d{8}T\d{6}Z-default .+ sqlite +- +no +nightly$/m,
    )
  })

  it('prune --dry-run lists keep reasons and deletes nothing; an empty policy is a usage error', async () => {
    const dir = workspace()
    const url = sqliteDatabase(dir, 10)
    for (let i = 0; i < 3; i++) expect((await runCli(['--url', url, 'backup', 'create'], { cwd: dir })).code).toBe(0)
    const empty = await runCli(['--url', url, 'backup', 'prune'], { cwd: dir })
    expect(empty.code).toBe(3)
    expect(errorLine(empty)).toContain('no retention policy')
    const dry = await runCli(['--url', url, 'backup', 'prune', '--keep-last', '1', '--dry-run'], { cwd: dir })
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).toMatch(/^keep +\S+ +last snapshot$/m)
    expect(dry.stdout.match(/^would remove/gm)).toHaveLength(2)
    expect(readdirSync(backupFolder(dir)).filter((name) => name.endsWith('.manifest.json'))).toHaveLength(3)
    const real = await runCli(['--url', url, 'backup', 'prune', '--keep-last', '1', '--json'], { cwd: dir })
    expect(JSON.parse(real.stdout)).toMatchObject({ ok: true, dryRun: false })
    expect(readdirSync(backupFolder(dir)).filter((name) => name.endsWith('.manifest.json'))).toHaveLength(1)
  })
})

describe('bad inputs: one line, the documented exit code, nothing deleted', () => {
  it('unknown id, corrupt artifact, non-empty restore target (SQLite)', async () => {
    const dir = workspace()
    const url = sqliteDatabase(dir)
    expect((await runCli(['--url', url, 'backup', 'create'], { cwd: dir })).code).toBe(0)
    const unknown = await runCli(['--url', url, 'backup', 'verify', '20200101T000000Z-nope'], { cwd: dir })
    expect(unknown.code).toBe(2)
    expect(errorLine(unknown)).toContain('there is no backup "20200101T000000Z-nope"')
    const restoreUnknown = await runCli(['--url', url, 'restore', 'nope-id', '--json'], { cwd: dir })
    expect(restoreUnknown.code).toBe(2)
    expect(JSON.parse(restoreUnknown.stdout).error.code).toBe('E_BACKUP_NOT_FOUND')

    const backupDir = backupFolder(dir)
    const id = listIds(await runCli(['--url', url, 'backup', 'list', '--json'], { cwd: dir }))[0]!
    const nonEmpty = await runCli(['--url', url, 'restore', id], { cwd: dir })
    expect(nonEmpty.code).toBe(2)
    expect(errorLine(nonEmpty)).toContain('is not empty')

    // <id>.sqlite.zst (or .gz): SQLite copies are compressed by default.
    const artifact = path.join(
      backupDir,
      readdirSync(backupDir).find((name) => name.startsWith(`${id}.sqlite`))!,
    )
    const bytes = readFileSync(artifact)
    bytes[100]! ^= 0xff
    writeFileSync(artifact, bytes)
    const corrupt = await runCli(['--url', url, 'backup', 'verify', id], { cwd: dir })
    expect(corrupt.code).toBe(2)
    expect(errorLine(corrupt)).toContain(`backup ${id} is corrupt`)
    expect(existsSync(artifact)).toBe(true)
    const json = await runCli(['--url', url, 'backup', 'verify', id, '--json'], { cwd: dir })
    expect(JSON.parse(json.stdout).error.code).toBe('E_BACKUP_CORRUPT')
  })

  it('an unwritable backup folder fails before anything runs', async () => {
    const dir = workspace()
    const url = sqliteDatabase(dir)
    writeFileSync(path.join(dir, 'blocker'), 'a file where the folder should be')
    writeFileSync(path.join(dir, 'dbops.config.json'), JSON.stringify({ backup: { dir: 'blocker' } }))
    const result = await runCli(['--url', url, 'backup', 'create'], { cwd: dir })
    expect(result.code).toBe(2)
    expect(errorLine(result)).toContain(
      `the backup folder ${path.join(dir, 'blocker', 'app')} is not a folder: a part of its path is a file`,
    )
  })

  describe('pg_dump', () => {
    let database: PgDatabase
    let fakeBin: string
    beforeAll(async () => {
      database = await pgDatabase(10)
      fakeBin = workspace()
      writeFileSync(path.join(fakeBin, 'pg_dump'), '#!/bin/sh\necho "pg_dump (PostgreSQL) 9.6.24"\n')
      chmodSync(path.join(fakeBin, 'pg_dump'), 0o755)
    })

    it('restore: a protected target is refused without --force; with --clean --force it restores and analyzes', async () => {
      const dir = workspace()
      const created = await runCli(['--url', database.url, 'backup', 'create', '--json'], { cwd: dir })
      expect(created.code, created.stderr).toBe(0)
      const manifest = path.join(backupFolder(dir), `${JSON.parse(created.stdout).backup.id}.manifest.json`)
      const config = workspace()
      writeFileSync(
        path.join(config, 'dbops.config.json'),
        JSON.stringify({ targets: { prod: { url: database.url, protected: true } } }),
      )
      const refused = await runCli(['restore', manifest, '--target', 'prod'], { cwd: config })
      expect(refused.code, refused.stderr).toBe(3)
      expect(errorLine(refused)).toMatch(
        /^error: target prod is protected: restoring would overwrite it \(hint: pass --force/,
      )
      await pgQuery(database.url, 'DELETE FROM items WHERE id > 5')
      const plainClean = await runCli(['restore', manifest, '--target', 'prod', '--clean', '--force', '--jobs', '2'], {
        cwd: config,
      })
      expect(plainClean.code, plainClean.stderr).toBe(0)
      expect(plainClean.stdout).toMatch(
        /^prod \(postgres:\/\/\S+\): restored \S+ of 127\.0\.0\.1:5432\/\S+ \(migration none\) with pg_restore 1\d\.\d+ --jobs=2 in .+, analyzed$/m,
      )
      expect(await pgQuery(database.url, 'SELECT count(*)::int AS n FROM items')).toEqual([{ n: 10 }])
      // Column statistics exist only once ANALYZE has run (pg_statistic is transactional, unlike pg_stat_*).
      expect(await pgQuery(database.url, `SELECT count(*)::int AS n FROM pg_stats WHERE tablename = 'items'`)).toEqual([
        { n: 3 },
      ])
    })

    it('missing: named, with where it looked; nothing written', async () => {
      const dir = workspace()
      const result = await runCli(['--url', database.url, 'backup', 'create'], {
        cwd: dir,
        env: { PATH: workspace(), PGBINDIR: undefined, DBOPS_PG_INSTALL_DIRS: '' },
      })
      expect(result.code).toBe(2)
      expect(errorLine(result)).toMatch(/^error: pg_dump was not found in PATH/)
      expect(existsSync(path.join(dir, 'backups'))).toBe(false) // not even an empty backup folder
    })

    it('older than the server: both versions named, before anything is written', async () => {
      const dir = workspace()
      const result = await runCli(['--url', database.url, 'backup', 'create'], {
        cwd: dir,
        env: { PATH: fakeBin, PGBINDIR: undefined, DBOPS_PG_INSTALL_DIRS: '' },
      })
      expect(result.code).toBe(2)
      expect(errorLine(result)).toMatch(
        /^error: pg_dump 9\.6\.24 \(.+\) is older than the server \(PostgreSQL 1\d\): pg_dump 1\d or newer is needed/,
      )
      expect(existsSync(path.join(dir, 'backups'))).toBe(false) // not even an empty backup folder
      const explicit = await runCli(['--url', database.url, 'backup', 'create'], {
        cwd: dir,
        env: { PGBINDIR: fakeBin },
      })
      expect(explicit.code).toBe(2)
      expect(errorLine(explicit)).toContain('pg_dump 9.6.24')
    })

    it('a too old pg_dump first on PATH is passed over for a suitable installed one', async () => {
      const dir = workspace()
      const result = await runCli(['--url', database.url, 'backup', 'create', '--json'], {
        cwd: dir,
        env: { PATH: `${fakeBin}:${process.env.PATH}`, PGBINDIR: undefined },
      })
      expect(result.code, result.stderr).toBe(0)
      expect(JSON.parse(result.stdout).backup.tools.pg_dump).toMatch(/^1\d\./)
    })
  })
})
