// Output to a pipe or a file is written directly (src/output/stdio.ts): node's process.stdout / process.stderr
// streams cost start-up time to create (their net and stream modules), and the output must not change without them.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { CLI_BIN, REPO_ROOT, runCli, spawnCli } from '../helpers/databases.js'
import { makeProject, migration } from '../helpers/projects.js'

const TRACE = path.join(REPO_ROOT, 'test', 'e2e', 'fixtures-trace-stdio.cjs')
const traced = (cwd: string) => ({ cwd, env: { NODE_OPTIONS: `--require ${TRACE}`, NO_COLOR: '1' } })

describe('output to pipes and files', () => {
  it('--help, migrate up and migrate status print as before without creating node stdio streams', async () => {
    const project = await makeProject('sqlite', {
      '1_a.sql': migration('CREATE TABLE a (id integer PRIMARY KEY);', 'DROP TABLE a;'),
      '2_b.sql': migration('CREATE TABLE b (id integer PRIMARY KEY);', 'DROP TABLE b;'),
    })
    const help = await runCli(['--help'], traced(project.dir))
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/^Usage: dbops \[options\] \[command\]\n/)
    expect(help.stdout).toContain('Exit codes: 0 ok')
    expect(help.stderr).toBe('created streams: none\n')

    const up = await runCli(['--url', project.url, 'migrate', 'up'], traced(project.dir))
    expect(up.code).toBe(0)
    expect(up.stderr).toMatch(/^applying 1_a \.\.\. done in .+\napplying 2_b \.\.\. done in .+\n/)
    expect(up.stderr).toMatch(/\ncreated streams: none\n$/)
    expect(up.stdout).toMatch(/applied 2 migrations/)

    const status = await runCli(['--url', project.url, 'migrate', 'status', '--json'], traced(project.dir))
    expect(status.code).toBe(0)
    expect(JSON.parse(status.stdout).summary).toMatchObject({ applied: 2, pending: 0 })
    expect(status.stderr).toBe('created streams: none\n')

    // cron's `> /dev/null`: a character device that is no terminal is written the same way.
    const quiet = spawnSync(
      'sh',
      ['-c', `"${process.execPath}" "${CLI_BIN}" --url '${project.url}' migrate status > /dev/null`],
      {
        ...traced(project.dir),
        env: { ...process.env, ...traced(project.dir).env },
        encoding: 'utf8',
      },
    )
    expect(quiet.status).toBe(0)
    expect(quiet.stderr).toBe('created streams: none\n')

    const usage = await runCli(['migrate', 'bogus'], traced(project.dir))
    expect(usage.code).toBe(3)
    expect(usage.stderr).toBe(
      `error: unknown command 'bogus' (hint: run "dbops --help" for usage)\ncreated streams: none\n`,
    )
  })

  it('writes to a file as to a pipe, and a reader that stops early ends the output quietly (exit 0)', async () => {
    // ~100 kB of status table: more than a pipe holds, so the writes meet the closed pipe (EPIPE).
    const name = (i: number) => `${String(i + 1).padStart(4, '0')}_create_table_number_${i}_with_quite_a_long_name`
    const project = await makeProject(
      'sqlite',
      Object.fromEntries(
        Array.from({ length: 1500 }, (_, i) => [`${name(i)}.sql`, migration(`CREATE TABLE t${i} (id integer);`)]),
      ),
    )
    const toFile = spawnSync(
      'sh',
      ['-c', `"${process.execPath}" "${CLI_BIN}" --url '${project.url}' migrate status > status.txt`],
      {
        cwd: project.dir,
        env: { ...process.env, NO_COLOR: '1' },
        encoding: 'utf8',
      },
    )
    expect(toFile.status).toBe(0)
    const lines = readFileSync(path.join(project.dir, 'status.txt'), 'utf8').split('\n')
    expect(lines[1]).toMatch(/^VERSION +NAME +STATE/)
    expect(lines.at(-2)).toBe('0 applied, 1500 pending')
    expect(lines.filter((line) => /_name +pending$/.test(line))).toHaveLength(1500)

    const child = spawnCli(['--url', project.url, 'migrate', 'status'], { cwd: project.dir })
    let stderr = ''
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text))
    const first = await new Promise<string>((resolve) =>
      child.stdout!.once('data', (chunk: Buffer) => resolve(String(chunk))),
    )
    child.stdout!.destroy()
    const code = await new Promise((resolve) => child.on('close', resolve))
    expect(first).toMatch(/^default \(.+\): sqlite, ledger dbops_migrations/)
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' })
  })
})
