// Connections behave like libpq (issue 9 §5): connect_timeout / PGCONNECT_TIMEOUT, and sslmode against a throwaway
// TLS cluster whose pg_hba.conf refuses plaintext (so any success proves TLS was used), for dbops and pg_dump.
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
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

function openssl(...args: string[]): void {
  const made = spawnSync('openssl', args, { encoding: 'utf8' })
  expect(made.status, made.stderr).toBe(0)
}

/** A self-signed certificate for `subject`, valid two days; `extra` adds options such as -addext. */
function selfSigned(keyFile: string, certFile: string, subject: string, ...extra: string[]): void {
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    subject,
    ...extra,
    '-keyout',
    keyFile,
    '-out',
    certFile,
  )
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

describe('sslmode=prefer against a server that refuses TLS', () => {
  it('goes on in plaintext on the same connection, as libpq does (one connection, not two)', async () => {
    // Answers the SSLRequest with 'N', then refuses the startup message that follows on the same socket.
    const connections: string[][] = []
    const server = net.createServer((socket) => {
      const seen: string[] = []
      connections.push(seen)
      socket.on('error', () => {})
      socket.on('data', (data) => {
        const code = data.length >= 8 ? data.readInt32BE(4) : 0
        if (code === 80877103) {
          seen.push('SSLRequest')
          socket.write('N')
        } else if (code === 196608) {
          seen.push('StartupMessage')
          const fields = Buffer.from('SFATAL\0C28000\0Mrefused by the test server\0\0')
          const header = Buffer.alloc(5)
          header.write('E')
          header.writeInt32BE(fields.length + 4, 1)
          socket.end(Buffer.concat([header, fields]))
        }
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = server.address() as net.AddressInfo
      const result = await runCli(['--url', `postgres://app@127.0.0.1:${port}/app`, 'migrate', 'status', '--json'], {
        cwd: workDir(),
        env: { HOME: emptyHome() },
      })
      expect(result.code).toBe(2)
      expect(errorOf(result).message).toContain('refused by the test server')
      expect(connections).toEqual([['SSLRequest', 'StartupMessage']])
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
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
    selfSigned(keyFile, certFile, '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1')
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

describe('client certificates (sslcert / sslkey) against a server that requires them', () => {
  let cluster: PgServer
  let dir = ''
  let base = ''
  const file = (name: string) => path.join(dir, name)
  /** A key and a certificate for `subject`, signed by the test CA. */
  const signed = (name: string, subject: string, extensions?: string) => {
    openssl(
      'req',
      '-new',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      subject,
      '-keyout',
      file(`${name}.key`),
      '-out',
      file(`${name}.csr`),
    )
    const extra: string[] = []
    if (extensions) {
      writeFileSync(file(`${name}.ext`), extensions)
      extra.push('-extfile', file(`${name}.ext`))
    }
    openssl(
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      file(`${name}.crt`),
      ...extra,
    )
    chmodSync(file(`${name}.key`), 0o600) // libpq (pg_dump) refuses a private key others can read
  }
  beforeAll(async () => {
    dir = tempDir('dbops-clientcert')
    dirs.push(dir)
    selfSigned(file('ca.key'), file('ca.crt'), '/CN=dbops test CA')
    signed('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\n')
    // cert authentication maps the certificate's CN to the database user.
    signed('client', '/CN=postgres')
    cluster = await startThrowawayCluster(() => {}, {
      ssl: {
        cert: readFileSync(file('server.crt'), 'utf8'),
        key: readFileSync(file('server.key'), 'utf8'),
        ca: readFileSync(file('ca.crt'), 'utf8'),
      },
      hba: 'local all all trust\nhostssl all all 127.0.0.1/32 cert\n',
    })
    base = cluster.url
  }, 120_000)
  afterAll(async () => {
    await cluster?.stop()
  })

  const verified = () => `${base}?sslmode=verify-full&sslrootcert=${encodeURIComponent(file('ca.crt'))}`
  const withClientCert = () =>
    `${verified()}&sslcert=${encodeURIComponent(file('client.crt'))}&sslkey=${encodeURIComponent(file('client.key'))}`

  it('migrate status and backup create (pg_dump) authenticate with the client certificate', async () => {
    const project = workDir()
    const env = { HOME: emptyHome() } // no ~/.postgresql/postgresql.crt to fall back on
    const status = await runCli(['--url', withClientCert(), 'migrate', 'status', '--json'], { cwd: project, env })
    expect(status.code, status.stdout + status.stderr).toBe(0)
    noDriverWarnings(status)
    expect((await runCli(['--url', withClientCert(), 'migrate', 'up'], { cwd: project, env })).code).toBe(0)
    const backup = await runCli(['--url', withClientCert(), 'backup', 'create', '--json'], { cwd: project, env })
    expect(backup.code, backup.stdout + backup.stderr).toBe(0)
    noDriverWarnings(backup)
    // The same through PGSSLCERT / PGSSLKEY, as libpq reads them.
    const fromEnv = await runCli(['--url', verified(), 'backup', 'create', '--json'], {
      cwd: project,
      env: { ...env, PGSSLCERT: file('client.crt'), PGSSLKEY: file('client.key') },
    })
    expect(fromEnv.code, fromEnv.stdout + fromEnv.stderr).toBe(0)
  })

  it('without the client certificate: a one-line connection error, exit 2', async () => {
    const project = workDir()
    const env = { HOME: emptyHome() }
    for (const args of [
      ['migrate', 'status'],
      ['backup', 'create'],
    ]) {
      const result = await runCli(['--url', verified(), ...args], { cwd: project, env })
      expect(result.code, result.stderr).toBe(2)
      const errors = result.stderr.split('\n').filter((line) => line.startsWith('error: '))
      expect(errors, result.stderr).toHaveLength(1)
      expect(errors[0]).toMatch(/certificate/i)
      expect(result.stderr).not.toMatch(/^ {4}at /m)
      noDriverWarnings(result)
      const json = await runCli(['--url', verified(), ...args, '--json'], { cwd: project, env })
      expect(errorOf(json)).toMatchObject({
        code: 'E_AUTH',
        message: expect.stringContaining('connection requires a valid client certificate'),
        hint: expect.stringContaining('sslcert and sslkey'),
      })
    }
  })
})
