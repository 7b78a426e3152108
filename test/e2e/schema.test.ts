// dbops schema dump / schema drift / migrate test as a user runs them: exit codes, the --json document, files
// written (also after migrate up, down and redo with dumpAfterMigrate), and the scratch database dropped on Ctrl-C.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { spawnSync, type ChildProcess } from 'node:child_process'
import { pgQuery, pgServerUrl, REPO_ROOT, runCli, spawnCli, waitForExit, type CliResult } from '../helpers/databases.js'
import { makeProject, migration, type EngineName, type Project } from '../helpers/projects.js'

const cli = (project: Project, ...args: string[]): Promise<CliResult> =>
  runCli(['--url', project.url, ...args], { cwd: project.dir })

/** Resolves with stderr so far once it matches `pattern` (progress lines go to stderr). */
function waitForStderr(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = ''
    const onData = (data: Buffer) => {
      seen += data.toString()
      if (pattern.test(seen)) {
        child.stderr?.off('data', onData)
        child.off('close', onClose)
        resolve(seen)
      }
    }
    const onClose = () => reject(new Error(`exited before printing ${pattern}: ${seen}`))
    child.stderr?.on('data', onData)
    child.on('close', onClose)
  })
}

const FILES = {
  '001_users.sql': migration('CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);', 'DROP TABLE users;'),
  '002_posts.sql': migration(
    'CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id));\nCREATE INDEX posts_user_idx ON posts (user_id);',
    'DROP TABLE posts;',
  ),
}

describe.each(['postgres', 'sqlite'] as EngineName[])('dbops schema on %s', (engine) => {
  it('schema drift exits 0 without drift, 1 with drift naming the object, and prints one JSON document', async () => {
    const project = await makeProject(engine, FILES)
    expect((await cli(project, 'migrate', 'up')).code).toBe(0)
    const clean = await cli(project, 'schema', 'drift')
    expect(clean.stderr).toMatch(/dropped scratch (database dbops_drift_|file)/)
    expect(clean.stdout).toMatch(/no drift between .* and its 2 applied migration\(s\)/)
    expect(clean.code).toBe(0)

    await project.query('CREATE INDEX posts_id_user_idx ON posts (id, user_id)')
    const drifted = await cli(project, 'schema', 'drift')
    expect(drifted.code).toBe(1)
    expect(drifted.stdout).toContain('index posts_id_user_idx exists in the database but no migration creates it')
    const document = JSON.parse((await cli(project, 'schema', 'drift', '--json')).stdout)
    expect(document).toMatchObject({
      ok: false,
      target: 'default',
      engine,
      drift: true,
      migrations: ['001_users', '002_posts'],
      differences: [
        {
          kind: 'index',
          object: 'posts_id_user_idx',
          change: 'extra',
          message: expect.stringContaining('posts_id_user_idx'),
        },
      ],
    })
    expect((await cli(project, 'schema', 'drift', '--ignore', 'posts_id_*')).code).toBe(0)
  })

  it('migrate test exits 1 naming the migration whose down does not undo its up; the database is untouched', async () => {
    const project = await makeProject(engine, {
      ...FILES,
      '002_posts.sql': migration(
        FILES['002_posts.sql'].split('\n-- migrate:down')[0]!.replace('-- migrate:up\n', ''),
        'DROP INDEX posts_user_idx;',
      ),
    })
    const result = await cli(project, 'migrate', 'test')
    expect(result.stdout).toContain('down of 002_posts leaves table posts behind')
    expect(result.code).toBe(1)
    const good = await makeProject(engine, FILES)
    const passed = await cli(good, 'migrate', 'test', '--json')
    expect(JSON.parse(passed.stdout)).toMatchObject({
      ok: true,
      passed: true,
      tested: ['002_posts', '001_users'],
      failure: null,
    })
    expect(passed.code).toBe(0)
    expect((await cli(good, 'migrate', 'status', '--json')).stdout).toMatch(/"pending": 2/)
    expect((await cli(good, 'migrate', 'test', '--from', 'abc')).code).toBe(3)
  })

  it('schema dump writes the same file twice; migrate up rewrites it with dumpAfterMigrate', async () => {
    const project = await makeProject(engine, FILES, { schema: { file: 'db/schema.sql', dumpAfterMigrate: true } })
    const up = await cli(project, 'migrate', 'up', '--steps', '1')
    expect(up.code).toBe(0)
    const file = path.join(project.dir, 'db', 'schema.sql')
    expect(up.stderr).toContain(`wrote the schema to ${file}`)
    expect(readFileSync(file, 'utf8')).not.toContain('posts')
    expect((await cli(project, 'migrate', 'up')).code).toBe(0)
    const afterUp = readFileSync(file, 'utf8')
    expect(afterUp).toContain('posts_user_idx')
    expect(afterUp).toMatch(/'002', 'posts', 'sha256:[0-9a-f]+', 'baselined', 2,/)
    const dumped = await cli(project, 'schema', 'dump')
    expect(dumped.stdout).toContain(`wrote the schema of ${project.url.replace(/^sqlite:/, '')} to ${file}`)
    expect(readFileSync(file, 'utf8')).toBe(afterUp)
    const out = path.join(project.dir, 'other.sql')
    expect((await cli(project, 'schema', 'dump', '--out', out)).code).toBe(0)
    expect(readFileSync(out, 'utf8')).toBe(afterUp)
  })

  it('dumpAfterMigrate rewrites the file after migrate down and redo, and not after a failed migration', async () => {
    const project = await makeProject(engine, FILES, { schema: { file: 'db/schema.sql', dumpAfterMigrate: true } })
    const file = path.join(project.dir, 'db', 'schema.sql')
    expect((await cli(project, 'migrate', 'up')).code).toBe(0)
    expect(readFileSync(file, 'utf8')).toContain('posts_user_idx')

    const down = await cli(project, 'migrate', 'down')
    expect(down.code, down.stderr).toBe(0)
    expect(down.stderr).toContain(`wrote the schema to ${file}`)
    const afterDown = readFileSync(file, 'utf8')
    expect(afterDown).not.toContain('posts')
    expect(afterDown).toContain('users')

    writeFileSync(file, 'stale\n')
    const redo = await cli(project, 'migrate', 'redo')
    expect(redo.code, redo.stderr).toBe(0)
    expect(redo.stderr).toContain(`wrote the schema to ${file}`)
    const afterRedo = readFileSync(file, 'utf8')
    expect(afterRedo).not.toContain('posts')
    expect(afterRedo).toMatch(/'001', 'users'/)

    expect((await cli(project, 'migrate', 'up')).code).toBe(0)
    const before = readFileSync(file, 'utf8')
    project.write(
      'migrations/003_broken.sql',
      migration('CREATE TABLE broken (id INTEGER);\nSELECT no_such_column FROM users;'),
    )
    const failed = await cli(project, 'migrate', 'up')
    expect(failed.code).toBe(2)
    expect(failed.stderr).not.toContain('wrote the schema')
    expect(readFileSync(file, 'utf8')).toBe(before)
  })
})

describe('dbops schema as a library', () => {
  it('exports dumpSchema, schemaDrift and testMigrations, returning what --json prints', async () => {
    const project = await makeProject('sqlite', FILES)
    expect((await cli(project, 'migrate', 'up')).code).toBe(0)
    const script = `
      import { openTarget, dumpSchema, schemaDrift, testMigrations } from 'dbops'
      const target = await openTarget({ url: ${JSON.stringify(project.url)}, cwd: ${JSON.stringify(project.dir)} })
      try {
        const dump = await dumpSchema(target)
        const drift = await schemaDrift(target)
        const test = await testMigrations(target)
        console.log(JSON.stringify({ dump, drift, test }))
      } finally {
        await target.close()
      }`
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8' })
    expect(run.stderr).toBe('')
    const { dump, drift, test } = JSON.parse(run.stdout)
    const printed = JSON.parse((await cli(project, 'schema', 'drift', '--json')).stdout)
    expect({ ok: true, ...drift }).toEqual(printed)
    expect(dump).toMatchObject({
      target: 'default',
      file: null,
      versions: ['001', '002'],
      sql: expect.stringContaining('CREATE INDEX posts_user_idx'),
    })
    expect(test).toMatchObject({ passed: true, tested: ['002_posts', '001_users'] })
  })
})

describe('dbops schema --all', () => {
  it('checks every target, exits with the worst code, and dumps one file per target', async () => {
    const project = await makeProject('sqlite', FILES, {
      targets: { one: { url: 'sqlite:one.db' }, two: { url: 'sqlite:two.db' } },
      defaultTarget: 'one',
      schema: { file: 'db/{target}.sql' },
    })
    const run = (...args: string[]) => runCli(args, { cwd: project.dir })
    expect((await run('--all', 'migrate', 'up')).code).toBe(0)
    const { default: Database } = await import('better-sqlite3')
    const two = new Database(path.join(project.dir, 'two.db'))
    two.exec('ALTER TABLE users ADD COLUMN nickname TEXT')
    two.close()
    const drift = await run('--all', 'schema', 'drift', '--json')
    expect(drift.code).toBe(1)
    const document = JSON.parse(drift.stdout)
    expect(document.targets.map((entry: any) => [entry.target, entry.drift])).toEqual([
      ['one', false],
      ['two', true],
    ])
    expect(document.targets[1].differences[0].message).toBe(
      'column users.nickname exists in the database but no migration creates it',
    )
    expect((await run('--all', 'schema', 'dump')).code).toBe(0)
    expect(readFileSync(path.join(project.dir, 'db', 'one.sql'), 'utf8')).not.toContain('nickname')
    expect(readFileSync(path.join(project.dir, 'db', 'two.sql'), 'utf8')).toContain('nickname')
    const noPlaceholder = await run('--all', 'schema', 'dump', '--out', 'x.sql')
    expect(noPlaceholder.code).toBe(3)
    expect(noPlaceholder.stderr).toContain('with --all, --out needs "{target}" in the path')
  })
})

describe('dbops schema on postgres, interrupted', () => {
  it('drops the scratch database when schema drift is interrupted with Ctrl-C', async () => {
    const project = await makeProject('postgres', {
      '001_slow.sql': migration('CREATE TABLE a (id int);', 'DROP TABLE a;'),
      '002_slow.sql': migration('SELECT pg_sleep(1);', ''),
      '003_more.sql': migration('CREATE TABLE b (id int);', 'DROP TABLE b;'),
    })
    expect((await cli(project, 'migrate', 'up')).code).toBe(0)
    const child = spawnCli(['--url', project.url, 'schema', 'drift'], { cwd: project.dir })
    const line = await waitForStderr(child, /applying 3 migration\(s\) to scratch database (dbops_drift_[0-9a-f]+)/)
    const name = /(dbops_drift_[0-9a-f]+)/.exec(line)![1]!
    expect(await pgQuery(pgServerUrl(), 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).toHaveLength(1)
    child.kill('SIGINT')
    const result = await waitForExit(child)
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/interrupted/)
    expect(await pgQuery(pgServerUrl(), 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).toHaveLength(0)
    expect(existsSync(project.dir)).toBe(true)
  })
})
