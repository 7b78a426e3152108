import { describe, expect, it } from 'vitest'
import { parseDatabaseUrl, redactSecrets, redactUrl } from '../../../src/config/database-url.js'

const base = '/srv/project'

describe('parseDatabaseUrl: PostgreSQL', () => {
  it.each([
    'postgres://user:secret@db.example.com:5432/app',
    'postgresql://user@localhost/app',
    'postgres://localhost/app?sslmode=require&application_name=dbops',
    'postgres://user@localhost/app?sslmode=verify-full',
    'postgres:///app?host=/var/run/postgresql',
    'postgres://%2Fvar%2Frun%2Fpostgresql/app',
    'postgres://[::1]:5432/app',
    'POSTGRES://localhost/app',
    'postgres://user:p%40ss@localhost/app',
    'postgres://localhost/app?sslrootcert=/nowhere/ca.pem&sslmode=verify-ca',
  ])('accepts %s and passes it on unchanged', (url) => {
    expect(parseDatabaseUrl(url, base)).toEqual({ engine: 'postgres', url })
  })

  it('rejects a non-numeric or out-of-range port', () => {
    expect(() => parseDatabaseUrl('postgres://user@localhost:abc/app', base)).toThrow(/invalid port/)
    expect(() => parseDatabaseUrl('postgres://user@localhost:70000/app', base)).toThrow(/invalid port/)
    expect(() => parseDatabaseUrl('postgres://localhost/app?port=x', base)).toThrow('invalid port "x"')
  })

  it('rejects an unknown sslmode', () => {
    expect(() => parseDatabaseUrl('postgres://localhost/app?sslmode=sometimes', base)).toThrow(
      'unknown sslmode "sometimes"',
    )
  })

  it('rejects postgres: without //', () => {
    expect(() => parseDatabaseUrl('postgres:localhost/app', base)).toThrow(/starts with postgres:\/\//)
  })

  it('never repeats the password in its messages', () => {
    for (const url of ['postgres://u:hunter2@localhost:abc/app', 'postgres://u:hun/ter2@localhost:5432/app']) {
      let message = ''
      try {
        parseDatabaseUrl(url, base)
      } catch (error) {
        message = (error as Error).message
      }
      expect(message).not.toBe('')
      expect(message).not.toMatch(/hunter2|hun|ter2/)
    }
  })
})

describe('parseDatabaseUrl: SQLite', () => {
  it.each([
    ['sqlite:./data/app.db', '/srv/project/data/app.db'],
    ['sqlite:app.db', '/srv/project/app.db'],
    ['sqlite:../shared.db', '/srv/shared.db'],
    ['sqlite:///var/lib/app.db', '/var/lib/app.db'],
    ['sqlite:/var/lib/app.db', '/var/lib/app.db'],
    ['sqlite://app.db', '/srv/project/app.db'],
    ['sqlite3:./app.db', '/srv/project/app.db'],
    ['file:./x.db', '/srv/project/x.db'],
    ['file:///abs/x.db', '/abs/x.db'],
    ['file:///abs/with%20space.db', '/abs/with space.db'],
    ['sqlite::memory:', ':memory:'],
    ['file::memory:', ':memory:'],
  ])('reads %s as %s', (url, path) => {
    expect(parseDatabaseUrl(url, base)).toEqual({ engine: 'sqlite', path })
  })

  it.each(['sqlite:', 'sqlite://', 'file:', 'sqlite3:'])('rejects %j, which has no path', (url) => {
    expect(() => parseDatabaseUrl(url, base)).toThrow(/no database file path/)
  })

  it('rejects query parameters rather than making them part of the file name', () => {
    expect(() => parseDatabaseUrl('sqlite:./app.db?mode=ro', base)).toThrow(/no query parameters/)
  })
})

describe('parseDatabaseUrl: other schemes', () => {
  it('names the unsupported scheme and the supported ones', () => {
    expect(() => parseDatabaseUrl('mysqlx://root@localhost/app', base)).toThrow(
      'unsupported scheme "mysqlx" (use postgres://, postgresql://, sqlite: or file:)',
    )
  })

  it('rejects a URL without a scheme', () => {
    expect(() => parseDatabaseUrl('./dev.db', base)).toThrow(/missing scheme/)
    expect(() => parseDatabaseUrl('', base)).toThrow(/missing scheme/)
  })
})

describe('redactUrl', () => {
  it.each([
    ['postgres://user:secret@host:5432/db', 'postgres://user:***@host:5432/db'],
    ['postgres://user@host/db', 'postgres://user@host/db'],
    ['postgres://host:5432/db', 'postgres://host:5432/db'],
    ['postgres://user:p@ss:w/rd@host/db', 'postgres://user:***@host/db'],
    [
      'postgres://host/db?user=me&password=secret&sslmode=require',
      'postgres://host/db?user=me&password=***&sslmode=require',
    ],
    ['postgres://user:secret@host:abc/db', 'postgres://user:***@host:abc/db'],
    [
      'postgres://user:secret@host/db?application_name=me@laptop',
      'postgres://user:***@host/db?application_name=me@laptop',
    ],
    ['sqlite:./dev.db', 'sqlite:./dev.db'],
    ['not a url', 'not a url'],
    ['', ''],
  ])('%s -> %s', (url, redacted) => {
    expect(redactUrl(url)).toBe(redacted)
  })
})

describe('redactSecrets', () => {
  it('redacts URL passwords and password= values inside free text', () => {
    const text = 'could not reach postgres://app:s3cret@db/app (password=other) and mysql://x:y@z'
    const redacted = redactSecrets(text)
    expect(redacted).not.toMatch(/s3cret|other|:y@/)
    expect(redacted).toContain('postgres://app:***@db/app')
  })
})
