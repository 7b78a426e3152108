// Errors and output as a user meets them through the built CLI: filesystem errors, malformed files, target selection,
// Nagios output, control characters, interrupts (real signals), hints, and newcomer friction.
import { execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import {
  createPgDatabase,
  pgQuery,
  runCli,
  spawnCli,
  tempDir,
  waitForExit,
  type CliResult,
  type PgDatabase,
} from '../helpers/databases.js'

const databases: PgDatabase[] = []
const mounts: string[] = []
afterAll(async () => {
  for (const mount of mounts.splice(0)) execFileSync('umount', ['-l', mount])
  for (const database of databases.splice(0)) await database.drop().catch(() => {})
})

const UP = (sql: string) => `-- migrate:up\n${sql}\n`

/** A project folder with `files` (relative paths) written into it. */
function project(files: Record<string, string> = {}): string {
  const dir = tempDir('dbops-errors-e2e')
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    writeFileSync(path.join(dir, name), text)
  }
  return dir
}

function errorLines(result: CliResult): string[] {
  return result.stderr.split('\n').filter((line) => line.startsWith('error: '))
}

/** Exactly one `error: ... (hint: ...)` line, never "unexpected failure", never a stack trace. */
function oneError(result: CliResult): string {
  const lines = result.stderr.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('warning: '))
  expect(lines, result.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^error: .+ \(hint: .+\)$/)
  expect(lines[0]).not.toContain('unexpected failure')
  return lines[0]!
}

/** A tmpfs of `kb` KiB (a real file system that fills up or goes read-only); unmounted after the file. */
function smallFileSystem(kb: number): string {
  const dir = tempDir('dbops-errors-mnt')
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kb}k`, 'tmpfs', dir])
  mounts.push(dir)
  return dir
}

function fill(dir: string): void {
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${path.join(dir, 'fill')}`, 'bs=4k'], { stdio: 'ignore' })
  } catch {
    // dd stops with "No space left on device": that is the point.
  }
  expect(
    statSync(dir) &&
      execFileSync('df', ['--output=avail', dir], { encoding: 'utf8' }).trim().split('\n').at(-1)!.trim(),
  ).toBe('0')
}

function sqliteDatabase(dir: string, sql = 'CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)'): string {
  const file = path.join(dir, 'app.db')
  const database = new Database(file)
  database.pragma('journal_mode = WAL')
  database.exec(sql)
  database.close()
  return `sqlite:${file}`
}

/** Sends one SIGINT and waits until dbops says it is stopping (its handler has run). */
function interrupt(child: ChildProcess): Promise<void> {
  child.kill('SIGINT')
  return new Promise<void>((resolve) =>
    child.stderr!.on('data', (chunk: Buffer) => chunk.toString().includes('SIGINT: stopping') && resolve()),
  )
}

describe('filesystem errors are one line naming the path and a fix, exit 2, code E_FILESYSTEM', () => {
  it('a directory named like a migration (EISDIR) and a symlink loop (ELOOP)', async () => {
    const dir = project({ 'migrations/001_a.sql': UP('CREATE TABLE a (id int);') })
    mkdirSync(path.join(dir, 'migrations', '002_x.sql'))
    const url = `sqlite:${path.join(dir, 'app.db')}`
    const eisdir = await runCli(['--url', url, 'migrate', 'up'], { cwd: dir })
    expect(eisdir.code).toBe(2)
    expect(oneError(eisdir)).toContain(`${path.join(dir, 'migrations', '002_x.sql')}: is a directory`)
    const json = JSON.parse((await runCli(['--url', url, '--json', 'migrate', 'status'], { cwd: dir })).stdout)
    expect(json.error).toMatchObject({
      code: 'E_FILESYSTEM',
      details: { errno: 'EISDIR', path: path.join(dir, 'migrations', '002_x.sql') },
    })

    rmSync(path.join(dir, 'migrations', '002_x.sql'), { recursive: true })
    symlinkSync('003_loop.sql', path.join(dir, 'migrations', '003_loop.sql'))
    const eloop = await runCli(['--url', url, 'migrate', 'validate'], { cwd: dir })
    expect(eloop.code).toBe(2)
    expect(oneError(eloop)).toMatch(
      /003_loop\.sql: too many symbolic links \(a symlink loop\) \(ELOOP, open\) \(hint: fix or remove the symbolic link\)/,
    )
  })

  it('a full disk (ENOSPC) under the metrics file and the backup folder, and a read-only one (EROFS) for prune and --metrics-file', async () => {
    const dir = project({ 'migrations/001_a.sql': UP('CREATE TABLE a (id int);') })
    const url = sqliteDatabase(dir)
    const mount = smallFileSystem(256)
    writeFileSync(
      path.join(dir, 'dbops.config.json'),
      JSON.stringify({ targets: { app: { url, backup: { dir: path.join(mount, 'backups') } } } }),
    )
    for (let i = 0; i < 2; i++) expect((await runCli(['backup', 'create'], { cwd: dir })).code).toBe(0)
    fill(mount)

    const metrics = await runCli(['health', '--metrics-file', path.join(mount, 'dbops.prom')], { cwd: dir })
    expect(metrics.code).toBe(2)
    expect(errorLines(metrics)).toEqual([
      expect.stringContaining(`${path.join(mount, 'dbops.prom')}: no space left on the device (disk full)`),
    ])
    const backup = await runCli(['backup', 'create'], { cwd: dir })
    expect(backup.code).toBe(2)
    expect(oneError(backup)).toMatch(
      /no space left on the device \(disk full\) \(ENOSPC, \w+\) \(hint: free some space/,
    )

    rmSync(path.join(mount, 'fill'))
    execFileSync('mount', ['-o', 'remount,ro', mount])
    const prune = await runCli(['backup', 'prune', '--keep-last', '1'], { cwd: dir })
    expect(prune.code).toBe(2)
    expect(oneError(prune)).toMatch(
      new RegExp(
        `${path.join(mount, 'backups')}.*: read-only file system \\(EROFS, \\w+\\) \\(hint: point dbops at a writable location`,
      ),
    )
    const readOnly = await runCli(['health', '--metrics-file', path.join(mount, 'dbops.prom')], { cwd: dir })
    expect(readOnly.code).toBe(2)
    expect(errorLines(readOnly)).toEqual([
      expect.stringContaining(
        `${path.join(mount, 'dbops.prom')}: read-only file system (EROFS, open) (hint: point dbops at a writable location`,
      ),
    ])
  })
})

describe('malformed and unreadable files', () => {
  it('a second "-- migrate:up" or "-- migrate:down" line is an error naming the line', async () => {
    const dir = project({
      'migrations/001_a.sql':
        '-- migrate:up\nCREATE TABLE a (id int);\n-- migrate:up\nCREATE TABLE b (id int);\n-- migrate:down\nDROP TABLE a;\n',
    })
    const url = `sqlite:${path.join(dir, 'app.db')}`
    for (const command of [
      ['migrate', 'validate'],
      ['migrate', 'up'],
    ]) {
      const result = await runCli(['--url', url, ...command], { cwd: dir })
      expect(result.code).toBe(2)
      expect(oneError(result)).toContain(
        'migrations/001_a.sql:3: a second "-- migrate:up" line (the first is on line 1)',
      )
    }
    expect(
      existsSync(path.join(dir, 'app.db'))
        ? new Database(path.join(dir, 'app.db'))
            .prepare("SELECT name FROM sqlite_master WHERE name IN ('a', 'b')")
            .all()
        : [],
    ).toEqual([])
    writeFileSync(
      path.join(dir, 'migrations', '001_a.sql'),
      '-- migrate:up\nCREATE TABLE a (id int);\n-- migrate:down\nDROP TABLE a;\n\n-- migrate:down\nSELECT 1;\n',
    )
    expect(oneError(await runCli(['--url', url, 'migrate', 'validate'], { cwd: dir }))).toContain(
      '001_a.sql:6: a second "-- migrate:down" line (the first is on line 3)',
    )
  })

  it('a seed behind a broken symlink or a symlink loop is an error naming it, and seed status --check fails', async () => {
    const dir = project({ 'seeds/01_users.csv': 'id,email\n1,a@example.com\n' })
    const url = sqliteDatabase(dir)
    writeFileSync(path.join(dir, 'dbops.config.json'), JSON.stringify({ seeds: { dir: 'seeds' } }))
    symlinkSync(path.join(dir, 'elsewhere', 'orders.csv'), path.join(dir, 'seeds', '02_orders.csv'))
    const broken = await runCli(['--url', url, 'seed', 'status', '--check'], { cwd: dir })
    expect(broken.code).toBe(2)
    expect(oneError(broken)).toContain(
      `seed ${path.join(dir, 'seeds', '02_orders.csv')} is a symbolic link that cannot be followed (its target does not exist)`,
    )
    rmSync(path.join(dir, 'seeds', '02_orders.csv'))
    symlinkSync('03_loop.csv', path.join(dir, 'seeds', '03_loop.csv'))
    const loop = await runCli(['--url', url, 'seed', 'run'], { cwd: dir })
    expect(loop.code).toBe(2)
    expect(oneError(loop)).toContain('03_loop.csv is a symbolic link that cannot be followed (a symlink loop)')
  })
})

describe('target selection and flags', () => {
  it('--all and --target work without defaultTarget; only a run naming neither needs it', async () => {
    const dir = project()
    const config = {
      targets: { a: { url: `sqlite:${path.join(dir, 'a.db')}` }, b: { url: `sqlite:${path.join(dir, 'b.db')}` } },
    }
    writeFileSync(path.join(dir, 'dbops.config.json'), JSON.stringify(config))
    const all = await runCli(['--all', '--json', 'migrate', 'status'], { cwd: dir })
    expect(all.code, all.stderr).toBe(0)
    expect(JSON.parse(all.stdout).targets.map((target: { target: string }) => target.target)).toEqual(['a', 'b'])
    const one = await runCli(['--target', 'b', '--json', 'migrate', 'status'], { cwd: dir })
    expect(one.code, one.stderr).toBe(0)
    expect(JSON.parse(one.stdout).target).toBe('b')
    const neither = await runCli(['migrate', 'status'], { cwd: dir })
    expect(neither.code).toBe(3)
    expect(oneError(neither)).toContain(
      'defaultTarget: required to run without --target or --all when there are several targets (a, b)',
    )
  })

  it('--concurrency 0, -3 or abc is a usage error (exit 3)', async () => {
    const dir = project()
    for (const value of ['0', '-3', 'abc']) {
      const result = await runCli(
        ['--url', `sqlite:${path.join(dir, 'x.db')}`, '--all', '--concurrency', value, 'migrate', 'status'],
        { cwd: dir },
      )
      expect(result.code, result.stderr).toBe(3)
      expect(oneError(result)).toContain(
        `'--concurrency <n>' argument '${value}' is invalid. --concurrency takes a whole number from 1 to 100`,
      )
    }
  })
})

describe('health --format nagios', () => {
  it('prints "DBOPS HEALTH UNKNOWN - <message>" on stdout for usage and config errors, exit 3', async () => {
    const dir = project()
    const url = sqliteDatabase(dir)
    const cases: [string[], string][] = [
      [['--url', url, 'health', '--format', 'nagios', '--threshold', 'bogus'], '--threshold "bogus"'],
      [['--url', url, 'health', '--format', 'nagios', '--bogus'], "unknown option '--bogus'"],
      [['--config', path.join(dir, 'missing.json'), 'health', '--format', 'nagios'], 'missing.json does not exist'],
    ]
    for (const [args, text] of cases) {
      const result = await runCli(args, { cwd: dir })
      expect(result.code).toBe(3)
      expect(result.stdout).toMatch(/^DBOPS HEALTH UNKNOWN - .+\n$/)
      expect(result.stdout).toContain(text)
    }
  })

  it('perfdata: exact integers for bytes and counts, no e-notation', async () => {
    const dir = project()
    const url = sqliteDatabase(
      dir,
      'CREATE TABLE t (b BLOB); INSERT INTO t SELECT randomblob(3000) FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) SELECT i FROM n)',
    )
    const file = url.slice('sqlite:'.length)
    const result = await runCli(
      ['--url', url, 'health', '--format', 'nagios', '--threshold', 'wal_size.warn=1000001B'],
      { cwd: dir },
    )
    expect(result.code, result.stdout).toBe(0)
    const perfdata = result.stdout.split(' | ')[1]!
    expect(perfdata).toContain('wal_size=0B;1000001;1073741824;0;')
    const size = statSync(file).size + (existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0)
    expect(perfdata).toContain(`database_size=${size}B;`)
    expect(perfdata).not.toMatch(/\de[-+]?\d/)
  })
})

describe('control characters in identifiers', () => {
  it('are shown escaped in human output (a table named ESC[2J does not clear the screen); --json keeps the name', async () => {
    const dir = project()
    const url = sqliteDatabase(dir, 'CREATE TABLE "\u001b[2J\u001b[Hevil" (a int)')
    const human = await runCli(['--url', url, 'audit'], { cwd: dir })
    expect(human.stdout).toContain('\\x1b[2J\\x1b[Hevil')
    expect(human.stdout + human.stderr).not.toContain('\u001b')
    const json = await runCli(['--url', url, '--json', 'audit'], { cwd: dir })
    expect(
      JSON.parse(json.stdout)
        .findings.map((finding: { subject: string }) => finding.subject)
        .join(),
    ).toContain('\u001b[2J\u001b[Hevil')
  })
})

describe('interrupts: first Ctrl-C stops at a safe point and exits 2, a second exits at once with 130', () => {
  /** Resolves once the database shows `application` waiting on a lock (the CLI is mid-work, on the server). */
  async function waitUntilBlocked(url: string, application: string): Promise<void> {
    for (;;) {
      const rows = await pgQuery(
        url,
        `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
        [application],
      )
      if (rows.length > 0) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  async function waitForStopLock(url: string): Promise<void> {
    for (;;) {
      const rows = await pgQuery(
        url,
        `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = ${0x64626f71}::oid AND granted`,
      )
      if (rows.length > 0) return
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  async function lockedDatabase(): Promise<{ database: PgDatabase; locker: pg.Client }> {
    const database = await createPgDatabase('dbops_sigint')
    databases.push(database)
    await pgQuery(
      database.url,
      'CREATE TABLE gate (id int); CREATE TABLE big (id int); INSERT INTO big SELECT generate_series(1, 1000)',
    )
    const locker = new pg.Client({ connectionString: database.url })
    await locker.connect()
    await locker.query('BEGIN; LOCK TABLE gate IN ACCESS EXCLUSIVE MODE')
    return { database, locker }
  }

  it('migrate up: one SIGINT finishes the running migration, starts no other, exits 2 saying so', async () => {
    const { database, locker } = await lockedDatabase()
    const dir = project({
      'migrations/001_wait.sql': UP('SELECT count(*) FROM gate;'),
      'migrations/002_next.sql': UP('CREATE TABLE next (id int);'),
    })
    const child = spawnCli(['--url', database.url, 'migrate', 'up'], { cwd: dir })
    const exited = waitForExit(child)
    try {
      await waitUntilBlocked(database.url, 'dbops migrate up')
      // The handler has run once its message is out; then the migration may finish.
      await interrupt(child)
      // 002 was sent while 001 runs (PostgreSQL pipelines the units): the stop is in force once its advisory lock
      // (class 0x64626f71, see stopSendingAhead) is held on the server. A migration the server began before that
      // finishes, as the one under way does.
      await waitForStopLock(database.url)
    } finally {
      await locker.query('ROLLBACK')
      await locker.end()
    }
    const result = await exited
    expect(result.code, result.stderr).toBe(2)
    expect(result.stderr).toContain('interrupted before 002_next')
    expect(
      (await pgQuery(database.url, 'SELECT version FROM dbops_migrations ORDER BY version')).map((row) => row.version),
    ).toEqual(['001'])
  })

  it('migrate up: one SIGINT while the only migration runs lets it finish (nothing was sent ahead to stop)', async () => {
    const { database, locker } = await lockedDatabase()
    const dir = project({ 'migrations/001_wait.sql': UP('SELECT count(*) FROM gate;') })
    const child = spawnCli(['--url', database.url, 'migrate', 'up'], { cwd: dir })
    const exited = waitForExit(child)
    try {
      await waitUntilBlocked(database.url, 'dbops migrate up')
      await interrupt(child)
      // Give a wrongly sent cancel time to land before the gate opens: the migration must still be waiting.
      await waitUntilBlocked(database.url, 'dbops migrate up')
    } finally {
      await locker.query('ROLLBACK')
      await locker.end()
    }
    const result = await exited
    expect(result.code, result.stderr).toBe(2)
    expect(
      (await pgQuery(database.url, 'SELECT version FROM dbops_migrations ORDER BY version')).map((row) => row.version),
    ).toEqual(['001'])
  })

  it('migrate up: a second SIGINT exits 130 at once with a message', async () => {
    const { database, locker } = await lockedDatabase()
    const dir = project({ 'migrations/001_wait.sql': UP('CREATE TABLE made (id int); SELECT count(*) FROM gate;') })
    const child = spawnCli(['--url', database.url, 'migrate', 'up'], { cwd: dir })
    const exited = waitForExit(child)
    let result: CliResult
    try {
      await waitUntilBlocked(database.url, 'dbops migrate up')
      await interrupt(child)
      child.kill('SIGINT')
      result = await exited
    } finally {
      await locker.query('ROLLBACK')
      await locker.end()
    }
    expect(result.code).toBe(130)
    expect(result.stderr).toContain('error: SIGINT again: exiting now, without waiting for a safe point')
  })

  it('maintain vacuum: Ctrl-C during a VACUUM cancels it and exits 2, as its help says', async () => {
    const { database, locker } = await lockedDatabase()
    const dir = project()
    const child = spawnCli(['--url', database.url, 'maintain', 'vacuum', '--tables', 'gate', '--lock-timeout', '60s'], {
      cwd: dir,
    })
    const exited = waitForExit(child)
    try {
      await waitUntilBlocked(database.url, 'dbops maintain')
      await interrupt(child)
    } finally {
      await locker.query('ROLLBACK')
      await locker.end()
    }
    const result = await exited
    expect(result.code, result.stdout + result.stderr).toBe(2)
    expect(result.stdout + result.stderr).toMatch(/interrupted/)
  })
})

describe('hints and messages', () => {
  it('--timeout and --lock-timeout name themselves once', async () => {
    const dir = project()
    const url = sqliteDatabase(dir)
    const wait = await runCli(['--url', url, 'wait', '--timeout', 'abc'], { cwd: dir })
    expect(wait.code).toBe(3)
    expect(oneError(wait)).toMatch(/^error: --timeout: "abc" is not a duration/)
    const up = await runCli(['--url', url, 'migrate', 'up', '--lock-timeout', 'abc'], { cwd: dir })
    expect(up.code).toBe(3)
    expect(oneError(up)).toMatch(/^error: --lock-timeout: "abc" is not a duration/)
  })

  it('a JSON config saved with a byte order mark loads', async () => {
    const dir = project()
    writeFileSync(
      path.join(dir, 'dbops.config.json'),
      `\uFEFF${JSON.stringify({ targets: { app: { url: `sqlite:${path.join(dir, 'app.db')}` } } })}`,
    )
    const result = await runCli(['--json', 'config', 'show'], { cwd: dir })
    expect(result.code, result.stdout + result.stderr).toBe(0)
    expect(JSON.parse(result.stdout).defaultTarget).toBe('app')
  })

  it('a SQLite database on a full disk says the disk is full', async () => {
    const mount = smallFileSystem(256)
    const dir = project({ 'migrations/001_a.sql': UP('CREATE TABLE a (id int);') })
    const url = `sqlite:${path.join(mount, 'app.db')}`
    expect((await runCli(['--url', url, 'migrate', 'up'], { cwd: dir })).code).toBe(0)
    for (const suffix of ['-wal', '-shm']) rmSync(path.join(mount, `app.db${suffix}`), { force: true })
    fill(mount)
    const result = await runCli(['--url', url, 'migrate', 'status'], { cwd: dir })
    expect(result.code).toBe(2)
    const line = oneError(result)
    expect(line).toContain(`the disk holding ${mount} is full`)
    expect(line).not.toContain('check that the directory exists')
  })

  it('a lost connection outside a migration does not talk about a migration', async () => {
    const database = await createPgDatabase('dbops_lost')
    databases.push(database)
    await pgQuery(database.url, 'CREATE TABLE gate (id int)')
    const locker = new pg.Client({ connectionString: database.url })
    await locker.connect()
    await locker.query('BEGIN; LOCK TABLE gate IN ACCESS EXCLUSIVE MODE')
    // ANALYZE waits for the lock held here: the session to cut is the CLI's own, mid-command.
    const child = spawnCli(
      ['--url', database.url, 'maintain', 'analyze', '--tables', 'gate', '--lock-timeout', '60s'],
      { cwd: project() },
    )
    const exited = waitForExit(child)
    try {
      for (;;) {
        const rows = await pgQuery(
          database.url,
          `SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE application_name = 'dbops maintain' AND wait_event_type = 'Lock'`,
        )
        if (rows.length > 0) break
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    } finally {
      await locker.query('ROLLBACK')
      await locker.end()
    }
    const result = await exited
    expect(result.code).toBe(2)
    expect(oneError(result)).toContain('lost the connection')
    expect(result.stderr).toContain('Run "dbops maintain" again')
    expect(result.stderr).not.toMatch(/migration/)
  })
})

describe('newcomer friction', () => {
  it('sqlite:./data/app.db: migrate up creates data/; a read-only command creates nothing', async () => {
    const dir = project({ 'migrations/001_a.sql': UP('CREATE TABLE a (id int);') })
    const status = await runCli(['--url', 'sqlite:./other/app.db', 'migrate', 'status'], { cwd: dir })
    expect(status.code).toBe(0)
    expect(existsSync(path.join(dir, 'other'))).toBe(false)
    const up = await runCli(['--url', 'sqlite:./data/app.db', 'migrate', 'up'], { cwd: dir })
    expect(up.code, up.stderr).toBe(0)
    expect(existsSync(path.join(dir, 'data', 'app.db'))).toBe(true)
  })

  it("a config importing 'dbops' in a project without it gets a hint naming the fix", async () => {
    const dir = project({
      'package.json': '{"type":"module"}',
      'dbops.config.ts': "import { defineConfig } from 'dbops'\nexport default defineConfig({})\n",
    })
    const result = await runCli(['migrate', 'status'], { cwd: dir })
    expect(result.code).toBe(3)
    expect(oneError(result)).toContain(
      '(hint: install dbops in the project (npm install --save-dev dbops), or drop the import and export the object itself)',
    )
  })

  it('migrate new twice in one second picks the next free version; an untouched template is warned about', async () => {
    const dir = project()
    mkdirSync(path.join(dir, 'migrations'))
    // Versions for the next few seconds already taken: the clock cannot step past them during the test.
    const now = Date.now()
    const taken = [0, 1, 2, 3, 4, 5].map((second) =>
      new Date(now + second * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14),
    )
    for (const version of taken)
      writeFileSync(path.join(dir, 'migrations', `${version}_x.sql`), UP('SELECT 1;'), { flag: 'w' })
    const first = await runCli(['--json', 'migrate', 'new', 'add_users'], { cwd: dir })
    expect(first.code, first.stdout).toBe(0)
    const second = await runCli(['--json', 'migrate', 'new', 'add_orders'], { cwd: dir })
    expect(second.code, second.stdout).toBe(0)
    const versions = [JSON.parse(first.stdout).version, JSON.parse(second.stdout).version]
    expect(new Set([...taken, ...versions]).size).toBe(taken.length + 2)
    const up = await runCli(['--url', 'sqlite:./app.db', 'migrate', 'up'], { cwd: dir })
    expect(up.code).toBe(0)
    expect(up.stderr).toContain(
      `warning: migrations/${versions[0]}_add_users.sql has no SQL in its up section (an untouched "dbops migrate new" template?)`,
    )
    const validate = await runCli(['--url', 'sqlite:./app.db', 'migrate', 'validate'], { cwd: dir })
    expect(validate.stderr).toContain(`${versions[1]}_add_orders.sql has no SQL in its up section`)
  })

  it('subcommand --help lists the global options', async () => {
    const result = await runCli(['migrate', 'up', '--help'])
    expect(result.code).toBe(0)
    for (const option of ['--url <url>', '--target <name>', '--json', '--all']) expect(result.stdout).toContain(option)
  })

  it('tables fit the terminal width (COLUMNS): the last column wraps under itself', async () => {
    const dir = project()
    const url = sqliteDatabase(
      dir,
      'CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id))',
    )
    const result = await runCli(['--url', url, 'audit'], { cwd: dir, env: { COLUMNS: '80' } })
    const lines = result.stdout.split('\n')
    const row = lines.findIndex((line) => line.includes('fk_without_index'))
    expect(row, result.stdout).toBeGreaterThan(0)
    // The message continues on the next line, starting under the MESSAGE column.
    const header = lines.find((line) => line.includes('MESSAGE'))!
    expect(lines[row + 1]!.indexOf(lines[row + 1]!.trim())).toBe(header.indexOf('MESSAGE'))
    // The table's lines; the summary line names the database file, whose path is as long as it is.
    const table = lines.filter((text) => !text.startsWith('  ') && !text.includes('finding(s)'))
    for (const line of table) expect(line.length, line).toBeLessThanOrEqual(80)
  })

  it('maintain prints sizes with units, and timestamps have one format', async () => {
    const dir = project({ 'migrations/001_a.sql': UP('CREATE TABLE a (id int);') })
    const url = sqliteDatabase(dir)
    const maintain = await runCli(['--url', url, 'maintain', 'vacuum'], { cwd: dir })
    expect(maintain.code, maintain.stderr).toBe(0)
    expect(maintain.stdout).toMatch(/file_bytes \d+(\.\d)? kB → \d+(\.\d)? kB/)
    expect((await runCli(['--url', url, 'migrate', 'up'], { cwd: dir })).code).toBe(0)
    expect((await runCli(['--url', url, 'backup', 'create'], { cwd: dir })).code).toBe(0)
    const stamp = /\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?Z/g
    const status = (await runCli(['--url', url, 'migrate', 'status'], { cwd: dir })).stdout
    const list = (await runCli(['--url', url, 'backup', 'list'], { cwd: dir })).stdout
    const shapes = new Set(
      [...status.matchAll(stamp), ...list.matchAll(stamp)].map((match) => match[0].replace(/\d/g, '9')),
    )
    expect([...shapes]).toEqual(['9999-99-99 99:99:99Z'])
    expect(readdirSync(dir)).toContain('backups')
  })
})
