// Faults a new user meets outside migrations: a SQLite file this user may only read, a backup folder that is a file.
// Each must be one line naming the path and the fix (never "unexpected failure"), with the documented exit code.
import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { canBindMount, nobodyUser, pgQuery, pgServerUrl, runCli, tempDir, usePgDatabase } from '../helpers/databases.js'

const mounts: string[] = []
afterAll(() => {
  for (const mount of mounts.splice(0)) execFileSync('umount', [mount])
})

/** Makes `dir` read-only for dbops: a read-only bind mount as root (root ignores modes), else file modes. */
function makeReadOnly(dir: string, file: string): void {
  if (process.getuid?.() === 0) {
    execFileSync('mount', ['--bind', dir, dir])
    mounts.push(dir)
    execFileSync('mount', ['-o', 'remount,bind,ro', dir])
  } else {
    chmodSync(file, 0o444)
    chmodSync(dir, 0o555)
  }
}

const canMakeReadOnly = process.getuid?.() !== 0 || canBindMount()

describe.skipIf(!canMakeReadOnly)('a SQLite database this user may only read', () => {
  const project = tempDir('dbops-read-only-file')
  const data = path.join(project, 'data')
  const file = path.join(data, 'app.db')
  mkdirSync(data)
  mkdirSync(path.join(project, 'migrations'))
  mkdirSync(path.join(project, 'fixtures'))
  writeFileSync(path.join(project, 'migrations', '001_more.sql'), '-- migrate:up\nCREATE TABLE more (id INTEGER);\n')
  writeFileSync(path.join(project, 'fixtures', 'items.csv'), 'id,name\n1,one\n')
  const database = new Database(file)
  database.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)')
  database.close()
  makeReadOnly(data, file)
  const url = `sqlite:${file}`

  for (const command of [
    ['migrate', 'up'],
    ['seed', 'run'],
  ]) {
    it(`${command.join(' ')} names the file and the fix, exit 2`, async () => {
      const result = await runCli([...command, '--url', url, '--json'], { cwd: project })
      expect(result.code, result.stderr).toBe(2)
      const { error } = JSON.parse(result.stdout)
      expect(error.code).toBe('E_FILESYSTEM')
      expect(error.message).toContain(`cannot write to the SQLite database ${file}`)
      expect(error.hint).toContain('write access')

      const human = await runCli([...command, '--url', url], { cwd: project })
      expect(human.stderr).not.toContain('unexpected failure')
      expect(human.stderr).toContain(file)
    })
  }

  it('maintain analyze reports the step failed because the file is read-only', async () => {
    const result = await runCli(['maintain', 'analyze', '--url', url, '--json'], { cwd: project })
    expect(result.code, result.stderr).toBe(2)
    const [task] = JSON.parse(result.stdout).tasks
    expect(task).toMatchObject({ action: 'analyze', status: 'failed' })
    expect(task.message).toContain(`cannot write to the SQLite database ${file}`)
  })
})

describe('backup create into a backup folder that is a file', () => {
  const project = tempDir('dbops-backup-dir-file')
  const file = path.join(project, 'app.db')
  new Database(file).exec('CREATE TABLE items (id INTEGER PRIMARY KEY)')
  const notAFolder = path.join(project, 'backups.txt')
  writeFileSync(notAFolder, 'not a folder\n')

  for (const [dir, why] of [
    [notAFolder, 'a file has its name'],
    [path.join(notAFolder, 'app'), 'a part of its path is a file'],
  ] as const) {
    it(`${path.basename(dir)}: ${why}`, async () => {
      const app = { url: `sqlite:${file}`, backup: { dir } } // a target's own backup.dir is its folder
      writeFileSync(path.join(project, 'dbops.config.json'), JSON.stringify({ targets: { app } }))
      const result = await runCli(['backup', 'create', '--json'], { cwd: project })
      expect(result.code, result.stderr).toBe(2)
      expect(JSON.parse(result.stdout).error).toMatchObject({
        code: 'E_BACKUP_DIR',
        message: `the backup folder ${dir} is not a folder: ${why}`,
        hint: 'set backup.dir to a folder',
      })
    })
  }
})

// Root may write anywhere: as root the CLI runs as nobody; as anyone else file modes suffice.
const unprivileged = process.getuid?.() === 0 ? nobodyUser() : { uid: process.getuid!(), gid: process.getgid!() }

describe.skipIf(!unprivileged)('backup create into a backup folder this user may not write', () => {
  const project = tempDir('dbops-backup-dir-denied')
  chmodSync(project, 0o755) // readable by nobody: the config and the database
  const file = path.join(project, 'app.db')
  new Database(file).exec('CREATE TABLE items (id INTEGER PRIMARY KEY)')
  const locked = path.join(project, 'locked')
  mkdirSync(locked)
  chmodSync(locked, 0o555)
  const asUser = process.getuid?.() === 0 ? { user: unprivileged! } : {}

  for (const dir of [locked, path.join(locked, 'app')]) {
    it(`${path.relative(project, dir)}: names the folder, "permission denied" and the fix, exit 2`, async () => {
      writeFileSync(
        path.join(project, 'dbops.config.json'),
        JSON.stringify({ targets: { app: { url: `sqlite:${file}`, backup: { dir } } } }),
      )
      const result = await runCli(['backup', 'create', '--json'], { cwd: project, ...asUser })
      expect(result.code, result.stderr).toBe(2)
      const { error } = JSON.parse(result.stdout)
      expect(error).toMatchObject({ code: 'E_BACKUP_DIR', details: { path: dir, errno: 'EACCES' } })
      expect(error.message).toMatch(
        new RegExp(`^cannot write to the backup folder ${dir}: permission denied \\(EACCES`),
      )
      expect(error.hint).toContain('make the folder writable by the user running dbops')
      expect(error.hint).toContain('backup.dir')

      const human = await runCli(['backup', 'create'], { cwd: project, ...asUser })
      expect(human.code).toBe(2)
      expect(human.stderr.trim().split('\n')).toHaveLength(1)
      expect(human.stderr).toContain(`${dir}: permission denied`)
    })
  }
})

describe.skipIf(!canMakeReadOnly)('backup create under a read-only folder', () => {
  const project = tempDir('dbops-backup-dir-read-only')
  const file = path.join(project, 'app.db')
  new Database(file).exec('CREATE TABLE items (id INTEGER PRIMARY KEY)')
  const readOnly = path.join(project, 'read-only')
  mkdirSync(readOnly)
  writeFileSync(path.join(readOnly, 'keep'), '')
  makeReadOnly(readOnly, path.join(readOnly, 'keep'))

  it('a folder still to be made names the real problem of its parent, not ENOENT', async () => {
    const dir = path.join(readOnly, 'backups', 'app')
    writeFileSync(
      path.join(project, 'dbops.config.json'),
      JSON.stringify({ targets: { app: { url: `sqlite:${file}`, backup: { dir } } } }),
    )
    const result = await runCli(['backup', 'create', '--json'], { cwd: project })
    expect(result.code, result.stderr).toBe(2)
    const { error } = JSON.parse(result.stdout)
    expect(error.code).toBe('E_BACKUP_DIR')
    expect(error.message).toContain(`cannot write to the backup folder ${dir}: `)
    expect(error.message).not.toContain('ENOENT')
    expect(error.details.errno).toMatch(/^(EROFS|EACCES)$/)
    expect(error.message).toContain(`at ${readOnly})`)
  })
})

describe('restore --latest --from <url> with no backup of that database', () => {
  it('names the URL as given (password redacted), not an internal folder name', async () => {
    const project = tempDir('dbops-restore-from-url')
    const file = path.join(project, 'app.db')
    new Database(file).close()
    const from = 'postgres://app:s3cret@127.0.0.1:1/prod'
    const result = await runCli(['restore', '--latest', '--url', `sqlite:${file}`, '--from', from, '--json'], {
      cwd: project,
    })
    expect(result.code, result.stderr).toBe(2)
    const { error } = JSON.parse(result.stdout)
    expect(error.code).toBe('E_BACKUP_NOT_FOUND')
    expect(error.message).toContain('no backup of --from postgres://app:***@127.0.0.1:1/prod that can be restored')
    expect(result.stdout).not.toContain('s3cret')
  })
})

describe('health --format nagios: a usage or configuration error is still one plugin line on stdout', () => {
  const project = tempDir('dbops-nagios-usage')
  const file = path.join(project, 'app.db')
  new Database(file).close()
  const cases: [string, string[], object | undefined][] = [
    ['--only with an unknown check', ['--only', 'bogus'], undefined],
    ['--threshold of an unknown check', ['--threshold', 'bogus.warn=1'], undefined],
    ['--threshold with a bad value', ['--threshold', 'freelist.warn=lots'], undefined],
    ['a bad threshold in the config', [], { health: { thresholds: { freelist: { warn: 'lots' } } } }],
  ]
  for (const [name, flags, config] of cases) {
    it(name, async () => {
      writeFileSync(
        path.join(project, 'dbops.config.json'),
        JSON.stringify({ ...config, targets: { app: { url: `sqlite:${file}` } } }),
      )
      const result = await runCli(['health', '--format', 'nagios', ...flags], { cwd: project })
      expect(result.code, result.stderr).toBe(3)
      expect(result.stdout).toMatch(/^DBOPS HEALTH UNKNOWN - \S.*\n$/)
    })
  }
})

describe('seed status after seed run --env', () => {
  it('a seed applied from an environment folder is not "missing" while its file is there', async () => {
    const project = tempDir('dbops-seed-env-status')
    mkdirSync(path.join(project, 'fixtures', 'dev'), { recursive: true })
    const file = path.join(project, 'app.db')
    new Database(file).exec('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)')
    writeFileSync(path.join(project, 'fixtures', '01_items.csv'), 'id,name\n1,one\n')
    writeFileSync(path.join(project, 'fixtures', 'dev', '02_more.sql'), "INSERT INTO items VALUES (2, 'two');\n")
    const app = { url: `sqlite:${file}` }
    const seeds = { environments: { dev: ['.', 'dev'] } }
    writeFileSync(path.join(project, 'dbops.config.json'), JSON.stringify({ seeds, targets: { app } }))
    expect((await runCli(['seed', 'run', '--env', 'dev'], { cwd: project })).code).toBe(0)

    const status = await runCli(['seed', 'status', '--check', '--json'], { cwd: project })
    expect(status.code, status.stdout).toBe(0)
    expect(JSON.parse(status.stdout).summary).toMatchObject({ applied: 1, missing: 0 })

    rmSync(path.join(project, 'fixtures', 'dev', '02_more.sql'))
    const gone = await runCli(['seed', 'status', '--check', '--json'], { cwd: project })
    expect(gone.code).toBe(1)
    const missing = JSON.parse(gone.stdout).seeds.filter((seed: any) => seed.state === 'missing')
    expect(missing.map((seed: any) => seed.name)).toEqual(['dev/02_more.sql'])
  })
})

describe('a table name with a line break', () => {
  it('audit prints each suggested fix on one line, the break shown as \\n', async () => {
    const project = tempDir('dbops-newline-name')
    const file = path.join(project, 'app.db')
    new Database(file).exec(
      'CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE "line\nbreak" (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent (id))',
    )
    const result = await runCli(['audit', '--url', `sqlite:${file}`, '--checks', 'fk_without_index'], { cwd: project })
    expect(result.code, result.stderr).toBe(1)
    const fixes = result.stdout.split('\n').filter((line) => line.includes('CREATE INDEX'))
    expect(fixes).toEqual([expect.stringMatching(/^ {2}CREATE INDEX .*"line\\nbreak" \("parent_id"\);$/)])
    expect(result.stdout).not.toMatch(/^break/m)
  })
})

describe('maintain as a role that may not VACUUM the table (PostgreSQL)', () => {
  const database = usePgDatabase('dbops_trial_maintain')
  const role = `dbops_trial_${process.pid}`
  afterAll(async () => {
    await pgQuery(database.url, `DROP OWNED BY ${role}`).catch(() => {})
    await pgQuery(pgServerUrl(), `DROP ROLE IF EXISTS ${role}`)
  })

  it('says the role lacks the right, not that another session holds a lock; exit 2', async () => {
    await pgQuery(
      database.url,
      `CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 2000);
       CREATE ROLE ${role} LOGIN; GRANT SELECT ON items TO ${role}`,
    )
    const url = new URL(database.url)
    url.username = role
    url.password = ''
    const result = await runCli(['--url', url.toString(), 'maintain', 'vacuum', '--tables', 'items', '--json'])
    expect(result.code, result.stderr).toBe(2)
    const [task] = JSON.parse(result.stdout).tasks
    expect(task.status).toBe('failed')
    expect(task.message).toContain(`role ${role} may not VACUUM it`)
    expect(task.message).not.toContain('lock')
  })
})

describe('maintain progress for a table name with a line break', () => {
  it('is one line per step on stderr', async () => {
    const project = tempDir('dbops-newline-maintain')
    const file = path.join(project, 'app.db')
    new Database(file).exec('CREATE TABLE "line\nbreak" (id INTEGER PRIMARY KEY)')
    const result = await runCli(['maintain', 'analyze', '--tables', 'line\nbreak', '--url', `sqlite:${file}`], {
      cwd: project,
    })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toMatch(/^analyze "line\\nbreak" \.\.\. done in \S+\n$/)
  })
})

describe('backup create of a SQLite URL that names no database', () => {
  const project = tempDir('dbops-backup-no-database')
  mkdirSync(path.join(project, 'folder'))
  writeFileSync(path.join(project, 'text.db'), 'not a database\n')
  for (const [url, message, hint] of [
    ['sqlite:./folder', 'it is a folder, not a database file', 'the URL names the database file itself'],
    ['sqlite:./text.db', 'file is not a database', 'is not a SQLite database'],
    ['sqlite:./missing.db', 'does not exist', 'check the URL'],
  ]) {
    it(`${url}: says what it is, and leaves no backup folder`, async () => {
      const result = await runCli(['--url', url!, 'backup', 'create', '--json'], { cwd: project })
      expect(result.code, result.stderr).toBe(2)
      const { error } = JSON.parse(result.stdout)
      expect(error.message).toContain(message)
      expect(error.hint).toContain(hint)
      expect(existsSync(path.join(project, 'backups'))).toBe(false)
    })
  }
})
