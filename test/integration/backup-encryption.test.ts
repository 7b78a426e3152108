// Encrypted and compressed backups through the library on both engines, in a folder: round trips, a wrong or
// missing identity refused before anything is restored (the target untouched), verify with and without the
// identity, a corrupted stored object, compression ratios in the manifest, pg_dump's own -Z for custom dumps.
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { generateIdentity, identityToRecipient } from 'age-encryption'
import { beforeAll, describe, expect, it } from 'vitest'
import { migrateUp } from '../../src/index.js'
import { createBackup, restoreBackup, verifyBackup } from '../../src/backup/index.js'
import { recipientFingerprint } from '../../src/backup/encryption.js'
import { hasZstd } from '../../src/backup/compression.js'
import { failure, withTarget, ENGINES, makeProject, migration, tableNames, type Project } from '../helpers/projects.js'

const ROWS = 2000
const SCHEMA = {
  '001_items.sql': migration(`CREATE TABLE items (id integer PRIMARY KEY, note text NOT NULL);`),
  '002_data.sql': migration(
    `INSERT INTO items (id, note) SELECT i, 'secret row number ' || i FROM generate_series(1, ${ROWS}) AS i;`,
  ),
}
const SQLITE_SCHEMA = {
  '001_items.sql': SCHEMA['001_items.sql'],
  '002_data.sql': migration(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${ROWS})
INSERT INTO items (id, note) SELECT i, 'secret row number ' || i FROM n;`),
}

let identity: string
let recipient: string
beforeAll(async () => {
  identity = await generateIdentity()
  recipient = await identityToRecipient(identity)
})

function backupDir(project: Project): string {
  const names = readdirSync(path.join(project.dir, 'backups'))
  expect(names).toHaveLength(1)
  return path.join(project.dir, 'backups', names[0]!)
}

async function count(project: Project): Promise<number> {
  return Number((await project.query('SELECT count(*) AS n FROM items'))[0]!.n)
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')

describe.each(ENGINES)('encrypted backups on %s', (engine) => {
  const schema = engine === 'postgres' ? SCHEMA : SQLITE_SCHEMA

  async function encryptedBackup(format?: 'custom' | 'plain') {
    const source = await makeProject(engine, schema, { backup: { encrypt: { recipients: [recipient] } } })
    const { backup } = await withTarget(source, async (target) => {
      await migrateUp(target)
      return createBackup(target, format ? { format } : {})
    })
    return { source, backup, dir: backupDir(source) }
  }

  it('round trip: stored encrypted, the manifest says for whom, restore with the identity brings every row back', async () => {
    const { source, backup, dir } = await encryptedBackup()
    expect(backup.encryption).toEqual({ scheme: 'age', recipients: [recipientFingerprint(recipient)] })
    expect(backup.artifact).toMatch(/\.age$/)
    const stored = readFileSync(path.join(dir, backup.artifact))
    expect(stored.subarray(0, 21).toString()).toBe('age-encryption.org/v1')
    expect(stored.includes(Buffer.from('secret row number'))).toBe(false)
    expect(backup.sha256).toBe(sha(path.join(dir, backup.artifact)))
    expect(backup.sizeBytes).toBe(stored.length)
    expect(JSON.stringify(backup)).not.toContain(identity)

    const destination = await makeProject(engine)
    await withTarget(destination, (target) =>
      restoreBackup(target, path.join(dir, `${backup.id}.manifest.json`), { from: source.url, identities: [identity] }),
    )
    expect(await count(destination)).toBe(ROWS)
  })

  it('a wrong or missing identity is refused before anything is restored, naming the backup and the recipients', async () => {
    const { source, backup, dir } = await encryptedBackup()
    const destination = await makeProject(engine)
    // SQLite: a database file exists and must come out byte for byte the same.
    if (engine === 'sqlite') await destination.query('CREATE TABLE keep (x integer)')
    const before = engine === 'sqlite' ? sha(destination.url.slice('sqlite:'.length)) : undefined
    const manifestFile = path.join(dir, `${backup.id}.manifest.json`)
    const wrong = await generateIdentity()
    const refused = await failure(
      withTarget(destination, (target) =>
        restoreBackup(target, manifestFile, { from: source.url, identities: [wrong], force: true }),
      ),
    )
    expect(refused.code).toBe('E_BACKUP_IDENTITY')
    expect(refused.message).toContain(backup.id)
    expect(refused.message).toContain(recipientFingerprint(recipient))
    expect(refused.message).not.toContain(wrong)
    const missing = await failure(
      withTarget(destination, (target) =>
        restoreBackup(target, manifestFile, { from: source.url, identities: [], force: true }),
      ),
    )
    expect(missing.code).toBe('E_BACKUP_IDENTITY')
    expect(missing.message).toMatch(/no identity was given/)
    if (engine === 'sqlite') expect(sha(destination.url.slice('sqlite:'.length))).toBe(before)
    expect(await tableNames(destination)).toEqual(engine === 'sqlite' ? ['keep'] : [])
  })

  it('verify without the identity proves the stored bytes and says decryption was not checked; with it, restores', async () => {
    const { source } = await encryptedBackup()
    const bare = await withTarget(source, (target) => verifyBackup(target, { identities: [] }))
    expect(bare.verifiedBy).toBe('sha256')
    expect(bare.warnings.join('\n')).toMatch(/not decrypted: decryption and restore were not checked/)
    const refused = await failure(
      withTarget(source, (target) => verifyBackup(target, { restore: true, identities: [] })),
    )
    expect(refused.code).toBe('E_BACKUP_IDENTITY')
    const full = await withTarget(source, (target) => verifyBackup(target, { restore: true, identities: [identity] }))
    expect(full.verifiedBy).toBe('restore')
    expect(full.rows).toBe(ROWS + 2) // and the ledger's two rows
  })

  it('a changed stored object fails verify with and without the identity, and restore refuses it', async () => {
    const { source, backup, dir } = await encryptedBackup()
    const file = path.join(dir, backup.artifact)
    const bytes = readFileSync(file)
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01
    writeFileSync(file, bytes)
    const bare = await failure(withTarget(source, (target) => verifyBackup(target, { identities: [] })))
    expect(bare.code).toBe('E_BACKUP_CORRUPT')
    const full = await failure(withTarget(source, (target) => verifyBackup(target, { identities: [identity] })))
    expect(full.code).toBe('E_BACKUP_CORRUPT')
    const destination = await makeProject(engine)
    const refused = await failure(
      withTarget(destination, (target) =>
        restoreBackup(target, path.join(dir, `${backup.id}.manifest.json`), {
          from: source.url,
          identities: [identity],
          force: true,
        }),
      ),
    )
    expect(refused.code).toMatch(/E_BACKUP_CORRUPT|E_BACKUP_VERIFY_FAILED/)
    expect(await tableNames(destination)).toEqual([])
  })
})

describe.each(ENGINES)('compressed backups on %s', (engine) => {
  const schema = engine === 'postgres' ? SCHEMA : SQLITE_SCHEMA
  const expected = hasZstd() ? 'zstd' : 'gzip'

  it(`${engine === 'postgres' ? 'plain dumps' : 'copies'} are compressed (${expected} by default), the ratio recorded, and restore as before`, async () => {
    const source = await makeProject(engine, schema, engine === 'postgres' ? { backup: { format: 'plain' } } : {})
    const { backup } = await withTarget(source, async (target) => {
      await migrateUp(target)
      return createBackup(target)
    })
    expect(backup.compression).toMatchObject({ algorithm: expected })
    expect(backup.compression!.ratio).toBeGreaterThan(2)
    expect(backup.compression!.ratio).toBeCloseTo(backup.compression!.rawBytes / backup.sizeBytes, 1)
    expect(backup.artifact).toMatch(expected === 'zstd' ? /\.zst$/ : /\.gz$/)
    const dir = backupDir(source)
    const destination = await makeProject(engine)
    await withTarget(destination, (target) =>
      restoreBackup(target, path.join(dir, `${backup.id}.manifest.json`), { from: source.url }),
    )
    expect(await count(destination)).toBe(ROWS)
    const verified = await withTarget(source, (target) => verifyBackup(target, { restore: true }))
    expect(verified.rows).toBe(ROWS + 2) // and the ledger's two rows
  })

  it('--compress none and gzip are honoured; a cut-short compressed artifact fails verify', async () => {
    const source = await makeProject(engine, schema, engine === 'postgres' ? { backup: { format: 'plain' } } : {})
    const [none, gzip] = await withTarget(source, async (target) => {
      await migrateUp(target)
      return [
        (await createBackup(target, { compress: 'none' })).backup,
        (await createBackup(target, { compress: 'gzip' })).backup,
      ]
    })
    expect(none.compression ?? null).toBeNull()
    expect(gzip.compression).toMatchObject({ algorithm: 'gzip' })
    expect(gzip.sizeBytes).toBeLessThan(none.sizeBytes / 2)
    const dir = backupDir(source)
    const file = path.join(dir, gzip.artifact)
    const cut = readFileSync(file).subarray(0, Math.floor(gzip.sizeBytes / 2))
    writeFileSync(file, cut)
    const error = await failure(withTarget(source, (target) => verifyBackup(target, { id: gzip.id })))
    expect(error.code).toBe('E_BACKUP_CORRUPT')
  })
})

describe('PostgreSQL custom and directory formats', () => {
  it('are not compressed twice; backup.compressLevel becomes pg_dump -Z', async () => {
    const stored = await makeProject('postgres', SCHEMA, { backup: { compressLevel: 0 } })
    const [level0, byDefault] = await withTarget(stored, async (target) => {
      await migrateUp(target)
      const first = (await createBackup(target)).backup
      target.backup.compressLevel = undefined
      return [first, (await createBackup(target)).backup]
    })
    expect(level0.compression ?? null).toBeNull()
    expect(level0.artifact).toMatch(/\.dump$/)
    expect(level0.sizeBytes).toBeGreaterThan(byDefault.sizeBytes * 2)
  })

  it('directory format with encryption is a usage error before anything runs', async () => {
    const source = await makeProject('postgres', SCHEMA, { backup: { encrypt: { recipients: [recipient] } } })
    const error = await failure(withTarget(source, (target) => createBackup(target, { format: 'directory' })))
    expect(error.code).toBe('E_USAGE')
    expect(error.message).toMatch(/directory/)
  })
})
