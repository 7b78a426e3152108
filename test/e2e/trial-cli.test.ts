// A demanding new user's command lines: flags that contradict each other, bad URLs, Ctrl-C at awkward moments.
import { readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli, tempDir } from '../helpers/databases.js'

function twoTargets(): string {
  const dir = tempDir('dbops-trial-cli')
  writeFileSync(
    path.join(dir, 'dbops.config.mjs'),
    "export default { defaultTarget: 'dev', targets: { dev: { url: 'sqlite:./dev.db' }, ci: { url: 'sqlite:./ci.db' } } }\n",
  )
  return dir
}

describe('config show (trial)', () => {
  it('--url with --all is a usage error, as for every other command', async () => {
    const dir = twoTargets()
    const result = await runCli(['config', 'show', '--url', 'sqlite:./other.db', '--all', '--json'], { cwd: dir })
    expect(result.code).toBe(3)
    expect(JSON.parse(result.stdout).error).toMatchObject({
      code: 'E_USAGE',
      message: expect.stringContaining('cannot be used with --all'),
    })
  })

  it('--target with --all is a usage error; --all alone shows every target', async () => {
    const dir = twoTargets()
    const both = await runCli(['config', 'show', '-t', 'ci', '--all', '--json'], { cwd: dir })
    expect(both.code).toBe(3)
    expect(JSON.parse(both.stdout).error.message).toBe('--target and --all cannot be used together')
    const all = await runCli(['config', 'show', '--all', '--json'], { cwd: dir })
    expect(Object.keys(JSON.parse(all.stdout).targets)).toEqual(['dev', 'ci'])
  })
})

describe('a bad --url is blamed on --url (trial)', () => {
  it.each([
    [
      'an unknown scheme',
      'mysql://app:s3cret-pw@db/app',
      /^--url "mysql:\/\/app:\*\*\*@db\/app": unsupported scheme "mysql"/,
    ],
    ['no scheme', 'localhost/app', /^--url "localhost\/app": missing scheme/],
    ['an unparsable URL', 'postgres://app:s3cret-pw@[db/app', /^--url "postgres:\/\/app:\*\*\*@\[db\/app": /],
  ])('%s: E_USAGE naming --url and the redacted URL, not the config file', async (_name, url, message) => {
    const dir = twoTargets()
    const result = await runCli(['migrate', 'status', '--url', url, '--json'], { cwd: dir })
    expect(result.code).toBe(3)
    const error = JSON.parse(result.stdout).error
    expect(error).toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(message) })
    expect(error.hint).toContain('--url postgres://')
    expect(result.stdout + result.stderr).not.toContain('s3cret-pw')
    expect(result.stdout).not.toContain('dbops.config')
  })

  it('a SQLite URL naming a folder or a file that is no database says so', async () => {
    const dir = twoTargets()
    const folder = await runCli(['migrate', 'status', '--url', `sqlite:${dir}`, '--json'], { cwd: dir })
    expect(folder.code).toBe(2)
    expect(JSON.parse(folder.stdout).error.message).toBe(
      `cannot open sqlite:${dir}: it is a folder, not a database file`,
    )
    writeFileSync(
      path.join(dir, 'notes.txt'),
      'not a database, but long enough to have a header of a hundred bytes or so.....\n',
    )
    const text = await runCli(['migrate', 'status', '--url', 'sqlite:./notes.txt', '--json'], { cwd: dir })
    expect(text.code).toBe(2)
    expect(JSON.parse(text.stdout).error.hint).toContain('is not a SQLite database')
  })
})

describe('a seeds folder that is a file (trial)', () => {
  it('seed status is an error naming it, not "no seeds yet"', async () => {
    const dir = tempDir('dbops-trial-seeds-file')
    writeFileSync(path.join(dir, 'fixtures'), 'not a folder\n')
    const result = await runCli(['seed', 'status', '--url', 'sqlite:./app.db', '--json'], { cwd: dir })
    expect(result.code).toBe(2)
    expect(JSON.parse(result.stdout).error).toMatchObject({
      code: 'E_SEEDS_DIR',
      message: `the seeds folder ${path.join(dir, 'fixtures')} is a file, not a folder`,
    })
  })
})

describe('several migrate new at once (trial)', () => {
  it('each gets a version of its own and succeeds', async () => {
    const dir = tempDir('dbops-trial-new')
    const results = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((i) =>
        runCli(['migrate', 'new', `same${i % 2}`, '--url', 'sqlite:./app.db'], { cwd: dir }),
      ),
    )
    for (const result of results) expect(result.code, result.stderr).toBe(0)
    const versions = readdirSync(path.join(dir, 'migrations')).map((name) => name.split('_')[0])
    expect(new Set(versions).size).toBe(6)
  })
})
