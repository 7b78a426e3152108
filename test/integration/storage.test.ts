// The storage contract, run against a local folder and a real S3-protocol server (moto) alike.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { createHash } from 'node:crypto'
import { S3Client, ListMultipartUploadsCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FolderStorage } from '../../src/storage/folder-storage.js'
import { S3Storage } from '../../src/storage/s3-storage.js'
import { openStorage } from '../../src/storage/open-storage.js'
import type { Storage } from '../../src/storage/storage.js'
import { startS3Server, TEST_AWS_ENV, type S3Server } from '../helpers/s3-server.js'

let server: S3Server
const folders: string[] = []

beforeAll(async () => {
  server = await startS3Server()
}, 60_000)

afterAll(async () => {
  await server?.stop()
  for (const dir of folders) rmSync(dir, { recursive: true, force: true })
})

async function newS3(prefix = 'backups/app'): Promise<{ storage: S3Storage; bucket: string }> {
  const bucket = await server.createBucket()
  return {
    storage: S3Storage.open(`s3://${bucket}/${prefix}`, { endpoint: server.endpoint, forcePathStyle: true }),
    bucket,
  }
}

function newFolder(): FolderStorage {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dbops-storage-'))
  folders.push(dir)
  return new FolderStorage(path.join(dir, 'backups'))
}

const kinds: Array<[string, () => Promise<Storage>]> = [
  ['folder', async () => newFolder()],
  ['s3', async () => (await newS3()).storage],
]

/** 20 MiB in 1 MiB chunks: more than two multipart parts, so the S3 path really goes multipart. */
function payload(): Buffer {
  const buffer = Buffer.alloc(20 << 20)
  for (let i = 0; i < buffer.length; i += 4096) buffer.writeUInt32LE(i, i)
  return buffer
}

function chunks(buffer: Buffer, failAfter?: number): Readable {
  let sent = 0
  return new Readable({
    read() {
      if (failAfter !== undefined && sent >= failAfter) {
        this.destroy(new Error('the dump failed part way'))
        return
      }
      if (sent >= buffer.length) return void this.push(null)
      this.push(buffer.subarray(sent, sent + (1 << 20)))
      sent += 1 << 20
    },
  })
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const part of stream) parts.push(part as Buffer)
  return Buffer.concat(parts)
}

for (const [kind, make] of kinds) {
  describe(`${kind} storage`, () => {
    it('stores a stream with its size and sha256, reads it back, lists and removes it', async () => {
      const storage = await make()
      const data = payload()
      const result = await storage.put('20261204T000000Z-app.dump', chunks(data))
      expect(result).toEqual({ size: data.length, sha256: createHash('sha256').update(data).digest('hex') })
      await storage.writeText('20261204T000000Z-app.manifest.json', '{"id":1}\n')
      expect(await storage.readText('20261204T000000Z-app.manifest.json')).toBe('{"id":1}\n')
      expect(await storage.readText('missing.json')).toBeUndefined()
      expect((await readAll(await storage.get('20261204T000000Z-app.dump'))).equals(data)).toBe(true)
      const listed = (await storage.list()).map((object) => [object.name, object.size]).sort()
      expect(listed).toEqual([
        ['20261204T000000Z-app.dump', data.length],
        ['20261204T000000Z-app.manifest.json', 9],
      ])
      await storage.remove('20261204T000000Z-app.dump')
      await storage.remove('20261204T000000Z-app.dump')
      expect((await storage.list()).map((object) => object.name)).toEqual(['20261204T000000Z-app.manifest.json'])
    })

    it('a source that fails part way leaves nothing under the name', async () => {
      const storage = await make()
      await expect(storage.put('broken.dump', chunks(payload(), 12 << 20))).rejects.toThrow(/failed part way/)
      expect(await storage.list()).toEqual([])
      expect(await storage.removeLeftovers()).toEqual([])
    })

    it('one holder of the lock at a time: a second run fails at once or waits, and none overlap', async () => {
      const storage = await make()
      let release!: () => void
      const held = new Promise<void>((resolve) => (release = resolve))
      let entered!: () => void
      const inside = new Promise<void>((resolve) => (entered = resolve))
      const first = storage.withLock({ command: 'first', wait: false }, async () => {
        entered()
        await held
        return 'first done'
      })
      await inside
      await expect(storage.withLock({ command: 'second', wait: false }, async () => 'second')).rejects.toMatchObject({
        code: 'E_BACKUP_LOCKED',
      })
      let waited = false
      const second = storage.withLock(
        { command: 'second', wait: true, pollMs: 50, onWait: () => (waited = true) },
        async () => 'second done',
      )
      // The waiter must have seen the holder before the holder lets go.
      while (!waited) await new Promise((resolve) => setImmediate(resolve))
      release()
      expect(await first).toBe('first done')
      expect(await second).toBe('second done')
    })

    it('objects are not listed while a put is under way', async () => {
      const storage = await make()
      let pushMore!: () => void
      let firstRead!: () => void
      const reading = new Promise<void>((resolve) => (firstRead = resolve))
      let sent = 0
      const slow = new Readable({
        read() {
          if (sent === 1) {
            firstRead()
            pushMore = () => {
              this.push(Buffer.alloc(1 << 20, 2))
              this.push(null)
            }
            return
          }
          sent++
          this.push(Buffer.alloc(1 << 20, 1))
        },
      })
      const putting = storage.put('slow.dump', slow)
      await reading
      expect((await storage.list()).map((object) => object.name)).not.toContain('slow.dump')
      pushMore()
      expect((await putting).size).toBe(2 << 20)
      expect((await storage.list()).map((object) => object.name)).toContain('slow.dump')
    })
  })
}

describe('s3 storage specifics', () => {
  it('an aborted put leaves no unfinished multipart upload in the bucket', async () => {
    const { storage, bucket } = await newS3()
    const controller = new AbortController()
    let parts = 0
    const endless = new Readable({
      read() {
        // Abort once several parts' worth went out, so the multipart upload surely exists.
        if (++parts === 40) controller.abort()
        this.push(Buffer.alloc(1 << 20, parts))
      },
    })
    await expect(storage.put('aborted.dump', endless, { signal: controller.signal })).rejects.toThrow()
    const client = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true })
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))
    client.destroy()
    expect(uploads.Uploads ?? []).toEqual([])
    expect(await storage.list()).toEqual([])
  })

  it('a part the store refuses fails the put, and the multipart upload is aborted in the store', async () => {
    const { bucket } = await newS3()
    const client = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true })
    // The second part goes to a missing upload id: the store itself refuses it (moto's NoSuchUpload).
    const original = client.send.bind(client)
    let parts = 0
    client.send = ((command: { input: { UploadId?: string; PartNumber?: number } }, ...rest: unknown[]) => {
      if (command.constructor.name === 'UploadPartCommand' && ++parts === 2)
        command.input = { ...command.input, UploadId: 'no-such-upload' }
      return (original as (...args: unknown[]) => unknown)(command, ...rest)
    }) as typeof client.send
    const { uploadStream } = await import('../../src/storage/s3-upload.js')
    await expect(
      uploadStream(client, { Bucket: bucket, Key: 'backups/app/refused.dump' }, chunks(payload()), {
        partSize: 5 << 20,
      }),
    ).rejects.toThrow()
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))
    expect(uploads.Uploads ?? []).toEqual([])
    expect(parts).toBeGreaterThanOrEqual(2)
    client.destroy()
  })

  it('removeLeftovers aborts multipart uploads a killed run left behind', async () => {
    const { storage, bucket } = await newS3('p')
    const { CreateMultipartUploadCommand } = await import('@aws-sdk/client-s3')
    const client = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true })
    await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'p/20261204T000000Z-app.dump' }))
    expect(await storage.removeLeftovers()).toEqual(['20261204T000000Z-app.dump (unfinished upload)'])
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))
    client.destroy()
    expect(uploads.Uploads ?? []).toEqual([])
  })

  it('many racers on one bucket lock never overlap, and every one gets it', async () => {
    const { bucket } = await newS3()
    // Separate clients stand for separate hosts' dbops processes.
    const racers = Array.from({ length: 6 }, () =>
      S3Storage.open(`s3://${bucket}/backups/app`, { endpoint: server.endpoint, forcePathStyle: true }),
    )
    let inside = 0
    let most = 0
    let runs = 0
    await Promise.all(
      racers.map((storage, index) =>
        storage.withLock({ command: `racer ${index}`, wait: true, pollMs: 20 }, async () => {
          inside++
          most = Math.max(most, inside)
          await new Promise((resolve) => setImmediate(resolve))
          runs++
          inside--
        }),
      ),
    )
    expect(runs).toBe(6)
    expect(most).toBe(1)
  })

  it('a lock whose holder stopped refreshing it is taken over, once', async () => {
    const { storage, bucket } = await newS3('p')
    const client = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true })
    const old = {
      pid: 1,
      host: 'another-host',
      processStart: null,
      startedAt: '2026-01-01T00:00:00.000Z',
      command: 'dbops backup create',
      refreshedAt: '2026-01-01T00:00:00.000Z',
    }
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'p/.lock', Body: JSON.stringify(old) }))
    client.destroy()
    expect(await storage.withLock({ command: 'taker', wait: false }, async () => 'taken')).toBe('taken')
    // A fresh lock from another host is respected.
    const other = S3Storage.open(`s3://${bucket}/p`, { endpoint: server.endpoint, forcePathStyle: true })
    const fresh = { ...old, refreshedAt: new Date().toISOString() }
    const writer = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true })
    await writer.send(new PutObjectCommand({ Bucket: bucket, Key: 'p/.lock', Body: JSON.stringify(fresh) }))
    writer.destroy()
    await expect(other.withLock({ command: 'second', wait: false }, async () => 'no')).rejects.toThrow(
      /another dbops \(pid 1 on another-host/,
    )
  })

  it('an unreachable store is a one-line E_STORAGE_UNREACHABLE that names the bucket, never the secret', async () => {
    const storage = S3Storage.open('s3://some-bucket/x', { endpoint: 'http://127.0.0.1:9', forcePathStyle: true })
    const error = (await storage.put('a.dump', Readable.from([Buffer.from('x')])).then(
      () => undefined,
      (caught: unknown) => caught,
    )) as Error & { code: string; hint: string }
    expect(error.code).toBe('E_STORAGE_UNREACHABLE')
    expect(error.message).toContain('s3://some-bucket/x')
    expect(error.message).not.toContain('\n')
    expect(JSON.stringify({ message: error.message, hint: error.hint })).not.toContain(
      TEST_AWS_ENV.AWS_SECRET_ACCESS_KEY,
    )
  })

  it('a missing bucket says so; a credential in the location is refused', async () => {
    const storage = S3Storage.open('s3://no-such-bucket-here/x', { endpoint: server.endpoint, forcePathStyle: true })
    await expect(storage.list()).rejects.toMatchObject({
      code: 'E_STORAGE',
      message: expect.stringContaining('does not exist'),
    })
    await expect(openStorage('s3://key:secret@bucket/x')).rejects.toMatchObject({ code: 'E_CONFIG' })
    expect((await openStorage('s3://my-bucket/a/b/', {})).location).toBe('s3://my-bucket/a/b')
    expect((await openStorage('/tmp/x')).kind).toBe('folder')
  })
})

describe('folder storage specifics', () => {
  it('a failed put removes its partial file; removeLeftovers clears ones a killed run left', async () => {
    const storage = newFolder()
    await expect(storage.put('x.dump', chunks(payload(), 3 << 20))).rejects.toThrow()
    expect(readdirSync(storage.location).filter((name) => name.startsWith('.partial-'))).toEqual([])
  })

  it('stores pieces of any size (gathered into larger writes) byte for byte, with their size and sha256', async () => {
    const storage = newFolder()
    const data = payload().subarray(0, (5 << 20) + 123)
    // Tags and sealed chunks as an encrypted backup arrives: 16 bytes, 64 KiB, odd sizes; many per write.
    const sizes = [3, 16, 65_536, 16, 1, 4096, 700_001]
    const pieces: Buffer[] = []
    for (let at = 0, i = 0; at < data.length; i++) {
      const size = sizes[i % sizes.length]!
      pieces.push(data.subarray(at, at + size))
      at += size
    }
    const result = await storage.put('pieces.dump', Readable.from(pieces))
    expect(result).toEqual({ size: data.length, sha256: createHash('sha256').update(data).digest('hex') })
    expect((await readAll(await storage.get('pieces.dump'))).equals(data)).toBe(true)
    await expect(storage.put('pieces.dump', Readable.from([Buffer.from('again')]))).resolves.toBeDefined()
    expect(readdirSync(storage.location).filter((name) => name.startsWith('.partial-'))).toEqual([])
  })
})
