// A server that wants a password (SCRAM-SHA-256), as production servers do: the shared test server trusts everyone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findPgBinDir, startThrowawayCluster, type PgServer } from '../helpers/global-setup.js'
import { runCli, tempDir } from '../helpers/databases.js'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'

const PASSWORD = 'S3cret pw/with:odd@chars'
const canStart = findPgBinDir() !== undefined

describe.skipIf(!canStart && process.env.CI !== 'true')('password authentication (SCRAM)', () => {
  let server: PgServer
  let dir: string
  beforeAll(async () => {
    server = await startThrowawayCluster(() => {}, { password: PASSWORD })
    dir = tempDir('dbops-scram')
    mkdirSync(path.join(dir, 'migrations'))
    writeFileSync(
      path.join(dir, 'migrations', '001_a.sql'),
      '-- migrate:up\nCREATE TABLE a (id integer);\n-- migrate:down\nDROP TABLE a;\n',
    )
  })
  afterAll(async () => {
    await server?.stop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('migrates with the right password and never prints it', async () => {
    const up = await runCli(['--url', server.url, 'migrate', 'up'], { cwd: dir })
    expect(up.stderr).toMatch(/applying 001_a \.\.\. done/)
    expect(up.code).toBe(0)
    const status = await runCli(['--url', server.url, 'migrate', 'status', '--verbose'], { cwd: dir })
    expect(status.stdout).toMatch(/001\s+a\s+applied/)
    for (const output of [up.stdout, up.stderr, status.stdout, status.stderr]) {
      expect(output).not.toContain(PASSWORD)
      expect(output).not.toContain(encodeURIComponent(PASSWORD))
    }
  })

  it('a wrong password is one line, exit 2, E_AUTH in --json, and the password appears nowhere', async () => {
    const wrong = server.url.replace(encodeURIComponent(PASSWORD), encodeURIComponent('wrong-Passw0rd'))
    const result = await runCli(['--url', wrong, 'migrate', 'up'], { cwd: dir })
    expect(result.code).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(
      /^error: authentication failed for postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/postgres: password authentication failed/,
    )
    const json = await runCli(['--url', wrong, 'migrate', 'status', '--json'], { cwd: dir })
    expect(JSON.parse(json.stdout).error.code).toBe('E_AUTH')
    for (const output of [result.stdout, result.stderr, json.stdout, json.stderr])
      expect(output).not.toContain('wrong-Passw0rd')
  })
})
