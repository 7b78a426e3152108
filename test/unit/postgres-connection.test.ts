// How a URL's libpq settings map onto node-postgres and onto pg_dump's environment (no server needed).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  connectTimeoutMs,
  fallbackSsl,
  libpqConnectionEnvironment,
  libpqSettings,
  pgClientSsl,
  usesUnixSocket,
  withoutLibpqParams,
} from '../../src/backends/postgres/postgres-connection.js'
import { libpqEnvironment } from '../../src/backends/postgres/postgres-dump-tools.js'

const home = mkdtempSync(path.join(tmpdir(), 'dbops-libpq-'))
afterAll(() => rmSync(home, { recursive: true, force: true }))
const url = 'postgres://app:pw@db.example:5432/app'

describe('libpq settings', () => {
  it('reads the URL first, then PG* variables, then the defaults (prefer, 10 s)', () => {
    expect(libpqSettings(url, {})).toEqual({
      sslmode: 'prefer',
      connectTimeoutSeconds: 10,
      connectTimeoutSource: 'the default',
    })
    expect(libpqSettings(url, { PGSSLMODE: 'require', PGCONNECT_TIMEOUT: '4' })).toMatchObject({
      sslmode: 'require',
      connectTimeoutSeconds: 4,
      connectTimeoutSource: 'PGCONNECT_TIMEOUT',
    })
    expect(
      libpqSettings(`${url}?sslmode=disable&connect_timeout=7`, { PGSSLMODE: 'require', PGCONNECT_TIMEOUT: '4' }),
    ).toMatchObject({ sslmode: 'disable', connectTimeoutSeconds: 7, connectTimeoutSource: 'connect_timeout' })
    expect(libpqSettings(`${url}?sslmode=no-verify`, {}).sslmode).toBe('require')
    // libpq: 0 or less waits forever, 1 counts as 2.
    expect(libpqSettings(`${url}?connect_timeout=0`, {}).connectTimeoutSeconds).toBe(0)
    expect(libpqSettings(`${url}?connect_timeout=1`, {}).connectTimeoutSeconds).toBe(2)
    expect(() => libpqSettings(url, { PGSSLMODE: 'sometimes' })).toThrow(/invalid sslmode "sometimes" in PGSSLMODE/)
    expect(() => libpqSettings(`${url}?connect_timeout=ten`, {})).toThrow(/invalid connect_timeout "ten"/)
  })

  it('caps the connect timeout by a command deadline, which also bounds "forever"', () => {
    expect(connectTimeoutMs(libpqSettings(url, {}))).toBe(10_000)
    expect(connectTimeoutMs(libpqSettings(url, {}), 3000)).toBe(3000)
    expect(connectTimeoutMs(libpqSettings(`${url}?connect_timeout=0`, {}), 5000)).toBe(5000)
    expect(connectTimeoutMs(libpqSettings(`${url}?connect_timeout=0`, {}))).toBe(0)
  })

  it('maps sslmode onto Node TLS options as libpq behaves', () => {
    const ssl = (query: string) => pgClientSsl(libpqSettings(`${url}${query}`, {}), home)
    expect(ssl('?sslmode=disable')).toBe(false)
    expect(ssl('?sslmode=allow')).toBe(false)
    expect(ssl('')).toEqual({ rejectUnauthorized: false })
    expect(ssl('?sslmode=require')).toEqual({ rejectUnauthorized: false })
    expect(ssl('?sslmode=verify-full')).toEqual({ rejectUnauthorized: true })
    const verifyCa = ssl('?sslmode=verify-ca') as { rejectUnauthorized: boolean; checkServerIdentity: () => unknown }
    expect(verifyCa.rejectUnauthorized).toBe(true)
    expect(verifyCa.checkServerIdentity()).toBeUndefined()
    const root = path.join(home, 'ca.crt')
    writeFileSync(root, 'PEM')
    // require with a root certificate verifies the chain (libpq's verify-ca), not the host.
    expect(ssl(`?sslmode=require&sslrootcert=${root}`)).toMatchObject({ ca: 'PEM', rejectUnauthorized: true })
    expect(ssl(`?sslmode=verify-full&sslrootcert=${root}`)).toEqual({ ca: 'PEM', rejectUnauthorized: true })
    expect(() => ssl('?sslmode=verify-full&sslrootcert=/nonexistent.crt')).toThrow(
      'cannot read sslrootcert /nonexistent.crt: ENOENT',
    )
  })

  it('falls back only the way libpq does', () => {
    const refused = new Error('The server does not support SSL connections')
    expect(fallbackSsl(libpqSettings(url, {}), refused)).toBe(false)
    expect(fallbackSsl(libpqSettings(`${url}?sslmode=require`, {}), refused)).toBeUndefined()
    expect(
      fallbackSsl(libpqSettings(url, {}), Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })),
    ).toBeUndefined()
    expect(
      fallbackSsl(
        libpqSettings(`${url}?sslmode=allow`, {}),
        Object.assign(new Error('no pg_hba.conf entry'), { code: '28000' }),
      ),
    ).toEqual({ rejectUnauthorized: false })
  })

  it('knows a Unix-domain socket host (where libpq never uses TLS)', () => {
    expect(usesUnixSocket('postgres://postgres@/app?host=/var/run/postgresql&sslmode=require')).toBe(true)
    expect(usesUnixSocket('postgres://%2Fvar%2Frun%2Fpostgresql/app')).toBe(true)
    expect(usesUnixSocket(`${url}?sslmode=require`)).toBe(false)
  })

  it('hides the libpq parameters from node-postgres and keeps the rest', () => {
    expect(withoutLibpqParams(`${url}?sslmode=require&application_name=x&sslrootcert=/a&connect_timeout=3`)).toBe(
      `${url}?application_name=x`,
    )
    expect(withoutLibpqParams(`${url}?sslmode=require`)).toBe(url)
  })

  it('gives pg_dump the same settings in its environment, inherited PG* variables included', () => {
    expect(libpqConnectionEnvironment(`${url}?sslmode=no-verify&connect_timeout=3&sslrootcert=/r.crt`, {})).toEqual({
      PGSSLMODE: 'require',
      PGCONNECT_TIMEOUT: '3',
      PGSSLROOTCERT: '/r.crt',
    })
    expect(
      libpqConnectionEnvironment(url, {
        PGSSLMODE: 'verify-full',
        PGSSLCERT: '/c',
        PGSSLKEY: '/k',
        PGCONNECT_TIMEOUT: '5',
      }),
    ).toEqual({
      PGSSLMODE: 'verify-full',
      PGCONNECT_TIMEOUT: '5',
      PGSSLCERT: '/c',
      PGSSLKEY: '/k',
    })
    const env = libpqEnvironment(`${url}?sslmode=verify-ca&sslrootcert=/r.crt`)
    expect(env).toMatchObject({
      PGSSLMODE: 'verify-ca',
      PGSSLROOTCERT: '/r.crt',
      PGPASSWORD: 'pw',
      PGHOST: 'db.example',
    })
  })
})
