// Backups in an S3-compatible bucket (moto on loopback), through the library, on both engines: create, list, verify
// (checksum and --restore), restore, prune, check and metrics behave as on a folder; several destinations; an object
// corrupted in the bucket; leftovers of interrupted uploads.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import {
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import { generateIdentity, identityToRecipient } from 'age-encryption'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrateUp } from '../../src/index.js'
import {
  checkBackups,
  createBackup,
  pruneBackups,
  restoreBackup,
  verifyBackup,
  writeBackupMetrics,
} from '../../src/backup/index.js'
import { targetBackups } from '../../src/backup/ownership.js'
import { failure, withTarget, ENGINES, makeProject, migration, type EngineName } from '../helpers/projects.js'
import { startS3Server, type S3Server } from '../helpers/s3-server.js'

let server: S3Server
let client: S3Client

beforeAll(async () => {
  server = await startS3Server()
  client = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true })
}, 60_000)

afterAll(async () => {
  client?.destroy()
  await server?.stop()
})

const SCHEMA: Record<EngineName, string> = {
  postgres: migration(`CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL);
INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 500) AS i;`),
  sqlite: migration(`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) INSERT INTO items SELECT i, 'item ' || i FROM n;`),
}

async function keys(bucket: string): Promise<string[]> {
  const page = await client.send(new ListObjectsV2Command({ Bucket: bucket }))
  return (page.Contents ?? []).map((object) => object.Key!).sort()
}

async function uploads(bucket: string): Promise<string[]> {
  const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))
  return (page.Uploads ?? []).map((upload) => upload.Key!)
}

function s3Config(bucket: string, extra: Record<string, unknown> = {}) {
  return { backup: { dir: `s3://${bucket}/db`, s3: { endpoint: server.endpoint, forcePathStyle: true }, ...extra } }
}

describe.each(ENGINES)('%s backups in a bucket', (engine) => {
  it('create, list, verify (--restore), restore, prune, check and metrics work as on a folder', async () => {
    const bucket = await server.createBucket()
    const project = await makeProject(engine, { '001_items.sql': SCHEMA[engine] }, s3Config(bucket))
    await withTarget(project, async (target) => {
      await migrateUp(target)
      expect(target.backup.dir).toMatch(new RegExp(`^s3://${bucket}/db/`))
      const progress: number[] = []
      const first = await createBackup(target, {
        onEvent: (event) => event.type === 'progress' && progress.push(event.bytes),
      })
      expect(first.destinations).toEqual([expect.objectContaining({ name: 'default', ok: true })])
      expect(progress.length).toBeGreaterThan(0)
      // The manifest sits next to the artifact, in the bucket; nothing else is left behind.
      const stored = await keys(bucket)
      const prefix = target.backup.dir.slice(`s3://${bucket}/`.length)
      expect(stored).toEqual(
        [`${prefix}/${first.backup.artifact}`, `${prefix}/${first.backup.id}.manifest.json`].sort(),
      )
      expect(await uploads(bucket)).toEqual([])
      const listed = await targetBackups(target)
      expect(listed.backups.map((manifest) => manifest.id)).toEqual([first.backup.id])

      const checked = await verifyBackup(target, {})
      expect(checked.verifiedBy).toBe('checksum')
      expect(checked.rows).toBe(501) // 500 items and the ledger row
      const restored = await verifyBackup(target, { restore: true })
      expect(restored.verifiedBy).toBe('restore')
      expect(restored.checks.join('\n')).toMatch(/restored with/)

      // Restore over a changed database (--clean / --force) brings the rows back.
      await project.query('DELETE FROM items WHERE id > 100')
      const back = await restoreBackup(target, first.backup.id, { clean: engine === 'postgres', force: true })
      expect(back.from).toBe(`${target.backup.dir}/${first.backup.artifact}`)
      expect((await project.query('SELECT count(*) AS n FROM items'))[0]!.n).toEqual(
        engine === 'postgres' ? '500' : 500,
      )

      const second = await createBackup(target, { now: () => new Date(Date.now() + 2000) })
      const check = await checkBackups(target, { maxAgeMs: 3_600_000 })
      expect(check.status).toBe('ok')
      expect(check.newest?.id).toBe(second.backup.id)

      const metrics = path.join(project.dir, 'backup.prom')
      await writeBackupMetrics(metrics, [{ name: target.name, engine, backup: target.backup }])
      expect(readFileSync(metrics, 'utf8')).toMatch(/dbops_backup_size_bytes\{engine="\w+",target="default"\} \d+/)

      const pruned = await pruneBackups(target, { policy: { keepLast: 1 } })
      // The verified first backup is kept as the newest verified one; prune removes nothing else here.
      expect(pruned.kept.map((entry) => entry.id).sort()).toEqual([first.backup.id, second.backup.id].sort())
      await verifyBackup(target, { id: second.backup.id })
      const again = await pruneBackups(target, { policy: { keepLast: 1 } })
      expect(again.removed.map((entry) => entry.id)).toEqual([first.backup.id])
      expect((await keys(bucket)).filter((key) => key.includes(first.backup.id))).toEqual([])
    })
  }, 120_000)

  it('a corrupted object fails verify and restore, and the database is left as it was', async () => {
    const bucket = await server.createBucket()
    const project = await makeProject(engine, { '001_items.sql': SCHEMA[engine] }, s3Config(bucket))
    await withTarget(project, async (target) => {
      await migrateUp(target)
      const { backup } = await createBackup(target)
      const key = `${target.backup.dir.slice(`s3://${bucket}/`.length)}/${backup.artifact}`
      const original = (
        await client.send(new (await import('@aws-sdk/client-s3')).GetObjectCommand({ Bucket: bucket, Key: key }))
      ).Body!
      const bytes = Buffer.from(await original.transformToByteArray())
      bytes[Math.floor(bytes.length / 2)]! ^= 0xff
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }))
      const error = await failure(verifyBackup(target, {}))
      expect(error.code).toBe('E_BACKUP_CORRUPT')
      expect((await targetBackups(target)).backups[0]!.verifyFailure?.code).toBe('E_BACKUP_CORRUPT')
      await project.query('DELETE FROM items WHERE id > 10')
      const refused = await failure(restoreBackup(target, backup.id, { clean: true, force: true }))
      expect(['E_BACKUP_CORRUPT', 'E_BACKUP_VERIFY_FAILED']).toContain(refused.code)
      expect(Number((await project.query('SELECT count(*) AS n FROM items'))[0]!.n)).toBe(10)
    })
  }, 120_000)
})

describe('an artifact larger than one upload part', () => {
  it('goes up as a multipart upload, encrypted; verify --restore and restore read it back', async () => {
    const identity = await generateIdentity()
    const recipient = await identityToRecipient(identity)
    const bucket = await server.createBucket()
    // ~20 MiB of md5 output: incompressible for pg_dump, so the custom dump spans three 8 MiB parts.
    const blobs = migration(`CREATE TABLE blobs (id integer PRIMARY KEY, data bytea NOT NULL);
INSERT INTO blobs SELECT i, decode(string_agg(md5(i || '-' || j), '' ORDER BY j), 'hex')
  FROM generate_series(1, 20) AS i, generate_series(1, 65536) AS j GROUP BY i;`)
    const project = await makeProject(
      'postgres',
      { '001_blobs.sql': blobs },
      s3Config(bucket, { encrypt: { recipients: [recipient] } }),
    )
    await withTarget(project, async (target) => {
      await migrateUp(target)
      const digest = async () =>
        (await project.query(`SELECT md5(string_agg(md5(data), '' ORDER BY id)) AS d FROM blobs`))[0]!.d
      const before = await digest()
      const { backup } = await createBackup(target)
      expect(backup.sizeBytes).toBeGreaterThan(16 << 20)
      const prefix = target.backup.dir.slice(`s3://${bucket}/`.length)
      // A completed multipart upload's ETag ends in -<parts>.
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}/${backup.artifact}` }))
      expect(head.ETag).toMatch(/-3"$/)
      expect(head.ContentLength).toBe(backup.sizeBytes)
      expect(await uploads(bucket)).toEqual([])
      expect((await verifyBackup(target, { identities: [] })).verifiedBy).toBe('sha256')
      expect((await verifyBackup(target, { restore: true, identities: [identity] })).verifiedBy).toBe('restore')
      await project.query('DELETE FROM blobs WHERE id > 5')
      await restoreBackup(target, backup.id, { clean: true, force: true, identities: [identity] })
      expect(await digest()).toBe(before)
    })
  }, 180_000)
})

describe('PostgreSQL directory format in a bucket', () => {
  it('is stored file by file; verify (checksum and --restore) and restore read it back', async () => {
    const bucket = await server.createBucket()
    const project = await makeProject('postgres', { '001_items.sql': SCHEMA.postgres }, s3Config(bucket))
    await withTarget(project, async (target) => {
      await migrateUp(target)
      const { backup } = await createBackup(target, { format: 'directory', jobs: 2 })
      const prefix = target.backup.dir.slice(`s3://${bucket}/`.length)
      const files = (await keys(bucket)).filter((key) => key.startsWith(`${prefix}/${backup.artifact}/`))
      expect(files.length).toBeGreaterThan(1) // toc.dat and a data file per table
      // The folder's sha256 (from its files' hashes) recorded at create is the one verify recomputes from the bucket.
      expect((await verifyBackup(target, {})).verifiedBy).toBe('checksum')
      expect((await verifyBackup(target, { restore: true })).verifiedBy).toBe('restore')
      await project.query('DELETE FROM items WHERE id > 100')
      await restoreBackup(target, backup.id, { clean: true, force: true, jobs: 2 })
      expect((await project.query('SELECT count(*) AS n FROM items'))[0]!.n).toBe('500')
    })
  }, 120_000)
})

describe('several destinations', () => {
  it('one create delivers to a folder and a bucket; a failing bucket does not lose the local copy', async () => {
    const bucket = await server.createBucket()
    const s3 = { endpoint: server.endpoint, forcePathStyle: true }
    const project = await makeProject(
      'sqlite',
      { '001_items.sql': SCHEMA.sqlite },
      {
        backup: {
          destinations: [
            { name: 'local', dir: 'backups', keep: { keepLast: 1 } },
            { name: 'offsite', dir: `s3://${bucket}/offsite`, s3, keep: { keepLast: 2 } },
            { name: 'gone', dir: 's3://no-such-bucket-dbops/x', s3 },
          ],
        },
      },
    )
    await withTarget(project, async (target) => {
      await migrateUp(target)
      const first = await createBackup(target)
      expect(first.destinations.map((entry) => [entry.name, entry.ok])).toEqual([
        ['local', true],
        ['offsite', true],
        ['gone', false],
      ])
      expect(first.destinations[2]!.error?.message).toMatch(/no-such-bucket-dbops/)
      for (const name of ['local', 'offsite']) {
        const listed = await targetBackups(target, { destination: name })
        expect(listed.backups.map((manifest) => manifest.id)).toEqual([first.backup.id])
      }
      await createBackup(target, { destination: 'offsite', now: () => new Date(Date.now() + 2000) })
      await createBackup(target, { destination: 'offsite', now: () => new Date(Date.now() + 4000) })
      const pruned = await pruneBackups(target, { destination: 'offsite' })
      expect(pruned.removed.map((entry) => entry.id)).toEqual([first.backup.id])
      expect((await targetBackups(target, { destination: 'local' })).backups).toHaveLength(1)

      const check = await checkBackups(target, { destination: 'offsite', maxAgeMs: 3_600_000 })
      expect(check.findings[0]!.message).toMatch(/^offsite: newest backup/)

      // Restore from a chosen destination.
      await project.query('DELETE FROM items')
      const restored = await restoreBackup(target, first.backup.id, { fromDestination: 'local', force: true })
      expect(restored.destination).toBe('local')
      expect(Number((await project.query('SELECT count(*) AS n FROM items'))[0]!.n)).toBe(500)
    })
  }, 120_000)

  it('leftovers of an interrupted upload (an artifact without manifest, an open multipart upload) go on the next run', async () => {
    const bucket = await server.createBucket()
    const project = await makeProject('sqlite', { '001_items.sql': SCHEMA.sqlite }, s3Config(bucket))
    await withTarget(project, async (target) => {
      await migrateUp(target)
      const prefix = target.backup.dir.slice(`s3://${bucket}/`.length)
      await client.send(
        new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/20260101T000000Z-default.sqlite`, Body: 'partial' }),
      )
      await client.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: `${prefix}/20260101T000001Z-default.sqlite` }),
      )
      expect((await targetBackups(target)).backups).toEqual([])
      const cleaned: string[] = []
      const { backup } = await createBackup(target, {
        onEvent: (event) => event.type === 'cleaned' && cleaned.push(...event.names),
      })
      expect(cleaned.sort()).toEqual([
        '20260101T000000Z-default.sqlite',
        '20260101T000001Z-default.sqlite (unfinished upload)',
      ])
      expect(await uploads(bucket)).toEqual([])
      expect(await keys(bucket)).toEqual(
        [`${prefix}/${backup.artifact}`, `${prefix}/${backup.id}.manifest.json`].sort(),
      )
    })
  }, 120_000)
})
