// Connections behave like libpq (issue 9 §5): connect_timeout / PGCONNECT_TIMEOUT, and sslmode against a throwaway
// TLS cluster whose pg_hba.conf refuses plaintext (so any success proves TLS was used), for dbops and pg_dump.
import { spawnSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, tempDir, type CliResult } from '../helpers/databases.js'
import { startThrowawayCluster, type PgServer } from '../helpers/global-setup.js'

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

function workDir(): string {
  const dir = tempDir('dbops-conn')
  dirs.push(dir)
  mkdirSync(path.join(dir, 'migrations'))
  writeFileSync(path.join(dir, 'migrations', '001_a.sql'), '-- migrate:up\nCREATE TABLE a (id integer);\n')
  return dir
}

/** An empty HOME: no ~/.postgresql certificates of the machine running the tests. */
function emptyHome(): string {
  const dir = tempDir('dbops-home')
  dirs.push(dir)
  return dir
}

function errorOf(result: CliResult): { code: string; message: string } {
  return JSON.parse(result.stdout).error
}

/** Leaks nothing of pg's own warnings: the multi-line SECURITY WARNING, or any Node process warning. */
function noDriverWarnings(result: CliResult): void {
  expect(result.stderr).not.toMatch(/SECURITY WARNING|\(node:\d+\)|DeprecationWarning/)
}

describe('connect timeout', () => {
  let server: net.Server
  const sockets = new Set<net.Socket>()
  let port = 0
  let accepted = 0
  beforeAll(async () => {
    // Accepts TCP connections and never says a word: a firewall or a wedged server as a client meets it.
    server = net.createServer((socket) => {
      accepted++
      sockets.add(socket)
      socket.on('error', () => {})
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as net.AddressInfo).port
  })
  afterAll(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })

  it('honours ?connect_timeout=N in the URL (seconds), separately from the lock wait', async () => {
    const before = accepted
    const result = await runCli(
      ['--url', `postgres://postgres@127.0.0.1:${port}/app?connect_timeout=2`, 'migrate', 'status', '--json'],
      {
        cwd: workDir(),
        timeoutMs: 20_000,
      },
    )
    expect(accepted).toBeGreaterThan(before)
    expect(result.code).toBe(2)
    expect(errorOf(result)).toMatchObject({
      code: 'E_CONNECTION',
      message: expect.stringMatching(/no answer within 2s \(connect_timeout\)$/),
    })
  })

  it('honours PGCONNECT_TIMEOUT when the URL has no connect_timeout', async () => {
    const result = await runCli(['--url', `postgres://postgres@127.0.0.1:${port}/app`, 'migrate', 'up', '--json'], {
      cwd: workDir(),
      env: { PGCONNECT_TIMEOUT: '2' },
      timeoutMs: 20_000,
    })
    expect(result.code).toBe(2)
    expect(errorOf(result).message).toMatch(/no answer within 2s \(PGCONNECT_TIMEOUT\)$/)
  })

  it('rejects a connect_timeout that is not a number of seconds as a config error', async () => {
    const result = await runCli(
      ['--url', `postgres://postgres@127.0.0.1:${port}/app?connect_timeout=3s`, 'migrate', 'status'],
      { cwd: workDir() },
    )
    expect(result.code).toBe(3)
    expect(result.stderr).toContain('invalid connect_timeout "3s"')
  })
})

describe('sslmode against the normal (plaintext) test server', () => {
  it('no sslmode means prefer: falls back to plaintext; require refuses it', async () => {
    const server = process.env.DBOPS_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
    const shown = spawnSync('psql', [server, '-Atc', 'SHOW ssl'], { encoding: 'utf8' })
    if (shown.stdout.trim() !== 'off') return // The server offers TLS here: the TLS cluster below covers prefer.
    const preferred = await runCli(['--url', server, 'migrate', 'status', '--json'], { cwd: workDir() })
    expect(preferred.code, preferred.stderr).toBe(0)
    noDriverWarnings(preferred)
    const required = await runCli(['--url', `${server}?sslmode=require`, 'migrate', 'status', '--json'], {
      cwd: workDir(),
    })
    expect(required.code).toBe(2)
    expect(errorOf(required).message).toContain('the server does not support TLS, and sslmode=require requires it')
    noDriverWarnings(required)
  })
})

describe('sslmode against a TLS-only server', () => {
  let cluster: PgServer
  let certFile = ''
  let base = ''
  let localhost = ''
  beforeAll(async () => {
    const dir = tempDir('dbops-tls')
    dirs.push(dir)
    certFile = path.join(dir, 'server.crt')
    const keyFile = path.join(dir, 'server.key')
    const made = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { encoding: 'utf8' },
    )
    expect(made.status, made.stderr).toBe(0)
    const { readFileSync } = await import('node:fs')
    cluster = await startThrowawayCluster(() => {}, {
      ssl: { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') },
      hba: 'local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n',
    })
    base = cluster.url
    localhost = cluster.url.replace('127.0.0.1', 'localhost')
  }, 120_000)
  afterAll(async () => {
    await cluster?.stop()
  })

  const status = (url: string, env: Record<string, string | undefined> = {}) =>
    runCli(['--url', url, 'migrate', 'status', '--json'], { cwd: workDir(), env })

  it('uses TLS by default (prefer) and with require on a self-signed certificate, without pg warnings', async () => {
    for (const url of [base, `${base}?sslmode=prefer`, `${base}?sslmode=require`, `${base}?sslmode=no-verify`]) {
      const result = await status(url)
      expect(result.code, `${url}: ${result.stderr}`).toBe(0)
      noDriverWarnings(result)
    }
    // allow tries plaintext first; the server refuses it, so the second attempt is TLS.
    expect((await status(`${base}?sslmode=allow`)).code).toBe(0)
    // As in libpq, a Unix-domain socket never uses TLS, whatever sslmode says.
    const port = new URL(base).port
    expect(
      (
        await status(
          `postgres://postgres@/postgres?host=${encodeURIComponent(cluster.dir!)}&port=${port}&sslmode=require`,
        )
      ).code,
    ).toBe(0)
    const disabled = await status(`${base}?sslmode=disable`)
    expect(disabled.code).toBe(2)
    expect(errorOf(disabled).message).toMatch(/no encryption|rejects connection/)
  })

  it('verify-ca and verify-full check the certificate against sslrootcert; verify-full also checks the host', async () => {
    const rootcert = `sslrootcert=${encodeURIComponent(certFile)}`
    expect((await status(`${base}?sslmode=verify-full&${rootcert}`)).code).toBe(0)
    expect((await status(`${localhost}?sslmode=verify-ca&${rootcert}`)).code).toBe(0)
    const wrongHost = await status(`${localhost}?sslmode=verify-full&${rootcert}`)
    expect(wrongHost.code).toBe(2)
    expect(errorOf(wrongHost)).toMatchObject({
      code: 'E_CONNECTION',
      message: expect.stringMatching(/localhost|altnames|Hostname/i),
    })
    // Without a root certificate, verification uses the system's CAs, which do not know this self-signed one.
    const untrusted = await status(`${base}?sslmode=verify-ca`, { HOME: emptyHome() })
    expect(untrusted.code).toBe(2)
    expect(errorOf(untrusted).message).toMatch(/self[- ]signed|certificate/i)
    noDriverWarnings(untrusted)
    // PGSSLMODE and PGSSLROOTCERT apply when the URL says nothing, as in libpq.
    expect((await status(base, { PGSSLMODE: 'verify-full', PGSSLROOTCERT: certFile })).code).toBe(0)
    const missing = await status(`${base}?sslmode=verify-full&sslrootcert=/nonexistent/root.crt`)
    expect(missing.code).toBe(3)
    expect(errorOf(missing).message).toBe('cannot read sslrootcert /nonexistent/root.crt: ENOENT')
  })

  it('pg_dump gets the same settings (environment, not arguments): backup create over verify-full', async () => {
    const dir = workDir()
    const url = `${base}?sslmode=verify-full&sslrootcert=${encodeURIComponent(certFile)}`
    expect((await runCli(['--url', url, 'migrate', 'up'], { cwd: dir })).code).toBe(0)
    const backup = await runCli(['--url', url, 'backup', 'create', '--json'], { cwd: dir, env: { HOME: emptyHome() } })
    expect(backup.code, backup.stderr).toBe(0)
    noDriverWarnings(backup)
    // The server refuses plaintext and pg_dump has no ~/.postgresql/root.crt to verify with: the backups prove that
    // sslmode and sslrootcert reached it, from the URL and from the PG* variables dbops was started with.
    const fromEnv = await runCli(['--url', base, 'backup', 'create', '--json'], {
      cwd: dir,
      env: { HOME: emptyHome(), PGSSLMODE: 'verify-full', PGSSLROOTCERT: certFile },
    })
    expect(fromEnv.code, fromEnv.stderr).toBe(0)
    // verify --restore: pg_restore into a scratch database, then dbops reads it back, all over TLS without checks.
    const verified = await runCli(['--url', `${base}?sslmode=require`, 'backup', 'verify', '--restore', '--json'], {
      cwd: dir,
      env: { HOME: emptyHome() },
    })
    expect(verified.code, verified.stdout + verified.stderr).toBe(0)
    noDriverWarnings(verified)
  })
})
