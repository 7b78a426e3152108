// Encrypted and compressed backups as cron and an operator run them: the built CLI, real pg_dump/pg_restore/psql
// and zstd, a folder and a bucket (moto). The identity comes from --identity or DBOPS_AGE_IDENTITY and must never
// reach a child program's command line or environment, the output or the manifest; a wrong or missing one restores
// nothing.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import Database from 'better-sqlite3'
import { generateIdentity, identityToRecipient } from 'age-encryption'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgDatabase, pgQuery, runCli, tempDir, type CliResult, type PgDatabase } from '../helpers/databases.js'
import { startS3Server, TEST_AWS_ENV, type S3Server } from '../helpers/s3-server.js'
import { recipientFingerprint } from '../../src/backup/encryption.js'
import { hasZstd } from '../../src/backup/compression.js'
import { openStorage } from '../../src/storage/open-storage.js'

const ROWS = 3000
const databases: PgDatabase[] = []
let s3: S3Server
let identity: string
let recipient: string
let identityFile: string
let wrongIdentityFile: string
/** Wrappers of pg_dump, pg_restore, psql and zstd that log their command line and environment, then run the real one. */
let wrappers: { dir: string; log: string }

beforeAll(async () => {
  s3 = await startS3Server()
  identity = await generateIdentity()
  recipient = await identityToRecipient(identity)
  const keys = tempDir('dbops-age-keys')
  identityFile = path.join(keys, 'key.txt')
  writeFileSync(identityFile, `# public key: ${recipient}\n${identity}\n`, { mode: 0o600 })
  wrongIdentityFile = path.join(keys, 'wrong.txt')
  writeFileSync(wrongIdentityFile, `${await generateIdentity()}\n`, { mode: 0o600 })
  wrappers = makeWrappers()
}, 60_000)
afterAll(async () => {
  for (const database of databases) await database.drop().catch(() => {})
  await s3?.stop()
})

function makeWrappers(): { dir: string; log: string } {
  const dir = tempDir('dbops-wrappers')
  const log = path.join(dir, 'calls.log')
  const which = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim()
  // The newest installed PostgreSQL's programs themselves (a distribution's /usr/bin/pg_dump may be a wrapper).
  const installed = existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql')
        .sort((a, b) => Number(b) - Number(a))
        .map((major) => path.join('/usr/lib/postgresql', major, 'bin'))
        .find((dir) => existsSync(path.join(dir, 'pg_dump')))
    : undefined
  const pgTool = (tool: string) => (installed ? path.join(installed, tool) : which(tool))
  const real: Record<string, string> = {
    pg_dump: pgTool('pg_dump'),
    pg_restore: pgTool('pg_restore'),
    psql: pgTool('psql'),
    zstd: which('zstd'),
  }
  for (const [name, target] of Object.entries(real)) {
    if (!existsSync(target)) continue
    const script = path.join(dir, name)
    writeFileSync(
      script,
      `#!/bin/sh\n{ echo "CALL ${name} $*"; env | sed 's/^/ENV /'; } >> '${log}'\nexec '${target}' "$@"\n`,
    )
    chmodSync(script, 0o755)
  }
  return { dir, log }
}

function calls(): string {
  return existsSync(wrappers.log) ? readFileSync(wrappers.log, 'utf8') : ''
}

async function pgDatabase(rows = ROWS): Promise<PgDatabase> {
  const database = await createPgDatabase('dbops_crypt')
  databases.push(database)
  if (rows > 0)
    await pgQuery(
      database.url,
      `CREATE TABLE items (id integer PRIMARY KEY, note text);
      INSERT INTO items SELECT i, 'secret row ' || i || ' ' || md5(i::text) FROM generate_series(1, ${rows}) AS i`,
    )
  return database
}

function sqliteFile(dir: string, name: string, rows = ROWS): string {
  const file = path.join(dir, name)
  const database = new Database(file)
  database.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, note TEXT)')
  const insert = database.prepare('INSERT INTO items (id, note) VALUES (?, ?)')
  database.transaction(() => {
    for (let i = 1; i <= rows; i++) insert.run(i, `secret row ${i} ${'x'.repeat(40)}`)
  })()
  database.close()
  return file
}

type Place = 'folder' | 'bucket'

/** A project whose one target `app` backs up `url`, encrypted for `recipient` unless `encrypt` is false. */
async function project(place: Place, url: string, backup: Record<string, unknown> = {}): Promise<string> {
  const dir = tempDir('dbops-crypt-e2e')
  const location =
    place === 'folder'
      ? { dir: 'backups' }
      : {
          dir: `s3://${await s3.createBucket()}/backups`,
          s3: { endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true },
        }
  writeFileSync(
    path.join(dir, 'dbops.config.json'),
    JSON.stringify({
      targets: { app: { url } },
      backup: { ...location, encrypt: { recipients: [recipient] }, ...backup },
    }),
  )
  return dir
}

/** Runs the CLI with the AWS test credentials and the logging wrappers in front of the real programs. */
function cli(args: string[], cwd: string, env: Record<string, string | undefined> = {}): Promise<CliResult> {
  return runCli(args, {
    cwd,
    env: {
      ...TEST_AWS_ENV,
      PGBINDIR: wrappers.dir,
      PATH: `${wrappers.dir}:${process.env.PATH}`,
      DBOPS_AGE_IDENTITY: undefined,
      ...env,
    },
  })
}

function errorLine(result: CliResult): string {
  const lines = result.stderr.split('\n').filter((line) => line.trim() !== '')
  expect(lines, result.stderr).toHaveLength(1)
  return lines[0]!
}

async function createJson(cwd: string, args: string[] = []): Promise<Record<string, any>> {
  const result = await cli(['backup', 'create', '--json', ...args], cwd)
  expect(result.code, result.stderr).toBe(0)
  return JSON.parse(result.stdout).backup
}

/** The stored object's bytes (a folder's file, a bucket's object) and a way to replace them. */
async function storedObject(cwd: string, artifact: string) {
  const config = JSON.parse(readFileSync(path.join(cwd, 'dbops.config.json'), 'utf8'))
  const location = config.backup.dir.startsWith('s3://') ? `${config.backup.dir}/app` : path.join(cwd, 'backups', 'app')
  const storage = await openStorage(location, config.backup.s3 ?? {})
  const parts: Buffer[] = []
  for await (const part of await storage.get(artifact)) parts.push(part as Buffer)
  return {
    bytes: Buffer.concat(parts),
    replace: (bytes: Buffer) => storage.put(artifact, Readable.from([bytes])),
  }
}

const expectNoSecret = (...texts: string[]) => {
  for (const text of texts) {
    expect(text).not.toContain(identity)
    expect(text).not.toContain(identity.toLowerCase())
  }
}

describe.each(['folder', 'bucket'] as const)('encrypted backups in a %s', (place) => {
  it('PostgreSQL: round trip with --identity and with DBOPS_AGE_IDENTITY; the key reaches no child, output or manifest', async () => {
    const source = await pgDatabase()
    const cwd = await project(place, source.url)
    const created = await cli(['backup', 'create'], cwd)
    expect(created.code, created.stderr).toBe(0)
    expect(created.stdout).toMatch(/backup \S+ \(custom, age-encrypted, /)
    const listed = JSON.parse((await cli(['backup', 'list', '--json'], cwd)).stdout).backups
    const backup = listed[0]
    expect(backup.encryption).toEqual({ scheme: 'age', recipients: [recipientFingerprint(recipient)] })
    expect(backup.artifact).toMatch(/\.dump\.age$/)
    const stored = await storedObject(cwd, backup.artifact)
    expect(stored.bytes.includes(Buffer.from('secret row'))).toBe(false)
    expect(createHash('sha256').update(stored.bytes).digest('hex')).toBe(backup.sha256)

    writeFileSync(wrappers.log, '')
    const byFile = await pgDatabase(0)
    const restored = await cli(
      ['--url', byFile.url, 'restore', backup.id, '--identity', identityFile, '--allow-other-database'],
      cwd,
    )
    expect(restored.code, restored.stderr).toBe(0)
    expect(Number((await pgQuery(byFile.url, 'SELECT count(*) AS n FROM items'))[0]!.n)).toBe(ROWS)

    const byEnv = await pgDatabase(0)
    const fromEnv = await cli(['--url', byEnv.url, 'restore', backup.id, '--allow-other-database', '--json'], cwd, {
      DBOPS_AGE_IDENTITY: readFileSync(identityFile, 'utf8'),
    })
    expect(fromEnv.code, fromEnv.stderr).toBe(0)
    expect(Number((await pgQuery(byEnv.url, 'SELECT count(*) AS n FROM items'))[0]!.n)).toBe(ROWS)
    // The children ran through the wrappers (the log proves it) and none saw the key, in argv or environment.
    expect(calls()).toMatch(/CALL pg_restore /)
    expect(calls()).not.toMatch(/DBOPS_AGE_IDENTITY/)
    const manifestText = JSON.stringify(listed)
    expectNoSecret(
      calls(),
      created.stdout,
      created.stderr,
      restored.stdout,
      restored.stderr,
      fromEnv.stdout,
      fromEnv.stderr,
      manifestText,
    )
  })

  it('PostgreSQL: a wrong or missing identity exits 3 naming the backup and the recipients; nothing is restored', async () => {
    const source = await pgDatabase()
    const cwd = await project(place, source.url)
    const backup = await createJson(cwd)
    const target = await pgDatabase(0)
    writeFileSync(wrappers.log, '')
    const wrong = await cli(
      ['--url', target.url, 'restore', backup.id, '--identity', wrongIdentityFile, '--allow-other-database'],
      cwd,
    )
    expect(wrong.code).toBe(3)
    const line = errorLine(wrong)
    expect(line).toContain(backup.id)
    expect(line).toContain(recipientFingerprint(recipient))
    expect(line).toMatch(/cannot be decrypted with the identity given/)
    const missing = await cli(['--url', target.url, 'restore', backup.id, '--allow-other-database'], cwd)
    expect(missing.code).toBe(3)
    expect(errorLine(missing)).toMatch(
      new RegExp(`backup ${backup.id} is encrypted \\(for .+\\) and no identity was given`),
    )
    // pg_restore never started, and the database is as empty as before.
    expect(calls()).not.toMatch(/CALL pg_restore --dbname/)
    expect(await pgQuery(target.url, `SELECT count(*)::int AS n FROM pg_class WHERE relname = 'items'`)).toEqual([
      { n: 0 },
    ])
  })

  it('verify: without the identity the stored sha256 is proven and decryption is said to be unchecked; --restore needs it', async () => {
    const source = await pgDatabase()
    const cwd = await project(place, source.url)
    await createJson(cwd)
    const bare = await cli(['backup', 'verify'], cwd)
    expect(bare.code, bare.stderr).toBe(0)
    expect(bare.stdout).toMatch(/verified \(sha256\)/)
    expect(bare.stdout + bare.stderr).toMatch(/not decrypted: decryption and restore were not checked/)
    const refused = await cli(['backup', 'verify', '--restore'], cwd)
    expect(refused.code).toBe(3)
    expect(errorLine(refused)).toMatch(/no identity was given/)
    const full = await cli(['backup', 'verify', '--restore', '--identity', identityFile, '--json'], cwd)
    expect(full.code, full.stderr).toBe(0)
    expect(JSON.parse(full.stdout)).toMatchObject({ verifiedBy: 'restore', rows: ROWS })
    expectNoSecret(full.stdout, full.stderr)
  })

  it('a corrupted stored object fails verify (exit 2) with and without the identity', async () => {
    const source = await pgDatabase()
    const cwd = await project(place, source.url)
    const backup = await createJson(cwd)
    const stored = await storedObject(cwd, backup.artifact)
    const bytes = Buffer.from(stored.bytes)
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01
    await stored.replace(bytes)
    const bare = await cli(['backup', 'verify', '--json'], cwd)
    expect(bare.code).toBe(2)
    expect(JSON.parse(bare.stdout).error.code).toBe('E_BACKUP_CORRUPT')
    const full = await cli(['backup', 'verify', '--identity', identityFile, '--json'], cwd)
    expect(full.code, full.stdout + full.stderr).toBe(2)
    expect(JSON.parse(full.stdout).error.code).toBe('E_BACKUP_CORRUPT')
  })

  it('SQLite: compressed and encrypted round trip; a wrong identity leaves the target file byte for byte as it was', async () => {
    const work = tempDir('dbops-crypt-sqlite')
    const source = sqliteFile(work, 'app.db')
    const cwd = await project(place, `sqlite:${source}`)
    const backup = await createJson(cwd)
    expect(backup.artifact).toMatch(hasZstd() ? /\.sqlite\.zst\.age$/ : /\.sqlite\.gz\.age$/)
    expect(backup.compression.ratio).toBeGreaterThan(2)
    const target = sqliteFile(work, 'target.db', 5)
    const before = createHash('sha256').update(readFileSync(target)).digest('hex')
    const wrong = await cli(
      [
        '--url',
        `sqlite:${target}`,
        'restore',
        backup.id,
        '--identity',
        wrongIdentityFile,
        '--force',
        '--allow-other-database',
      ],
      cwd,
    )
    expect(wrong.code).toBe(3)
    expect(errorLine(wrong)).toContain(backup.id)
    expect(createHash('sha256').update(readFileSync(target)).digest('hex')).toBe(before)
    expect(readdirSync(work).filter((name) => name.includes('dbops-restore'))).toEqual([])
    const restored = await cli(
      [
        '--url',
        `sqlite:${target}`,
        'restore',
        backup.id,
        '--identity',
        identityFile,
        '--force',
        '--allow-other-database',
      ],
      cwd,
    )
    expect(restored.code, restored.stderr).toBe(0)
    const database = new Database(target, { readonly: true })
    expect(database.prepare('SELECT count(*) AS n FROM items').get()).toEqual({ n: ROWS })
    database.close()
  })
})

describe.each(['folder', 'bucket'] as const)('compression in a %s', (place) => {
  it('a plain dump is compressed, the ratio reported in output and manifest, and it restores', async () => {
    const source = await pgDatabase()
    const cwd = await project(place, source.url, { encrypt: undefined, format: 'plain' })
    const human = await cli(['backup', 'create', '--compress', 'gzip'], cwd)
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toMatch(/\(plain, gzip \d+(\.\d+)?x, /)
    const backup = await createJson(cwd, hasZstd() ? ['--compress', 'zstd'] : [])
    expect(backup.compression).toMatchObject({ algorithm: hasZstd() ? 'zstd' : 'gzip' })
    expect(backup.compression.rawBytes).toBeGreaterThan(backup.sizeBytes * 2)
    const target = await pgDatabase(0)
    const restored = await cli(['--url', target.url, 'restore', backup.id, '--allow-other-database'], cwd)
    expect(restored.code, restored.stderr).toBe(0)
    expect(Number((await pgQuery(target.url, 'SELECT count(*) AS n FROM items'))[0]!.n)).toBe(ROWS)
    const bad = await cli(['backup', 'create', '--compress', 'xz'], cwd)
    expect(bad.code).toBe(3)
    expect(errorLine(bad)).toMatch(/--compress takes auto, zstd, gzip or none, not "xz"/)
  })
})

describe('directory format', () => {
  it('with encryption is refused before anything is written (exit 3)', async () => {
    const source = await pgDatabase(10)
    const cwd = await project('folder', source.url)
    const result = await cli(['backup', 'create', '--format', 'directory'], cwd)
    expect(result.code).toBe(3)
    expect(errorLine(result)).toMatch(/directory/)
    mkdirSync(path.join(cwd, 'backups'), { recursive: true })
    expect(
      readdirSync(path.join(cwd, 'backups')).flatMap((name) => readdirSync(path.join(cwd, 'backups', name))),
    ).toEqual([])
  })
})
