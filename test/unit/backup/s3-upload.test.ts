// The bucket uploader's bounded memory and its failure handling, against a stand-in S3 client that records each
// request (the real store is exercised in test/integration/storage.test.ts and backup-s3.test.ts).
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import type { S3Client } from '@aws-sdk/client-s3'
import { describe, expect, it } from 'vitest'
import { uploadStream } from '../../../src/storage/s3-upload.js'

interface Call {
  command: string
  input: Record<string, unknown>
  /** For bodies: a copy of the bytes when sent, and the memory they lived in. */
  bytes?: Buffer
  memory?: ArrayBufferLike
}

/** A client whose UploadPart takes `delayMs`; `failPart` rejects that part number. */
function fakeClient(options: { failPart?: number; delayMs?: number } = {}) {
  const calls: Call[] = []
  let inFlight = 0
  let mostInFlight = 0
  const client = {
    config: { requestChecksumCalculation: async () => 'WHEN_SUPPORTED' },
    async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      const name = command.constructor.name.replace(/Command$/, '')
      const body = command.input.Body as Buffer | undefined
      const call: Call = {
        command: name,
        input: command.input,
        ...(body && { bytes: Buffer.from(body), memory: body.buffer }),
      }
      calls.push(call)
      if (name === 'CreateMultipartUpload') return { UploadId: 'upload-1' }
      if (name === 'UploadPart') {
        inFlight++
        mostInFlight = Math.max(mostInFlight, inFlight)
        await new Promise((resolve) => setTimeout(resolve, options.delayMs ?? 1))
        inFlight--
        // The buffer must not have been refilled while its request was under way.
        if (!Buffer.from(body!).equals(call.bytes!)) throw new Error('a part buffer was reused while in flight')
        if (command.input.PartNumber === options.failPart) throw new Error('the store failed a part')
        return { ETag: `"etag-${String(command.input.PartNumber)}"`, ChecksumCRC32: 'crc' }
      }
      return {}
    },
  }
  return { client: client as unknown as S3Client, calls, mostInFlight: () => mostInFlight }
}

function source(total: number, chunk: number, failAfter?: number): Readable {
  let sent = 0
  return new Readable({
    read() {
      if (failAfter !== undefined && sent >= failAfter) return void this.destroy(new Error('pg_dump failed'))
      if (sent >= total) return void this.push(null)
      const size = Math.min(chunk, total - sent)
      const bytes = Buffer.alloc(size)
      for (let i = 0; i < size; i++) bytes[i] = (sent + i) % 251
      sent += size
      this.push(bytes)
    },
  })
}

function expected(total: number): Buffer {
  const bytes = Buffer.alloc(total)
  for (let i = 0; i < total; i++) bytes[i] = i % 251
  return bytes
}

const object = { Bucket: 'b', Key: 'p/a.dump' }

describe('uploadStream', () => {
  it('sends an object smaller than a part as one PutObject', async () => {
    const { client, calls } = fakeClient()
    const result = await uploadStream(client, object, source(3000, 700), { partSize: 4096 })
    expect(calls.map((call) => call.command)).toEqual(['PutObject'])
    expect(calls[0]!.bytes!.equals(expected(3000))).toBe(true)
    expect(result).toEqual({ size: 3000, sha256: createHash('sha256').update(expected(3000)).digest('hex') })
  })

  it('an empty source is an empty object', async () => {
    const { client, calls } = fakeClient()
    expect((await uploadStream(client, object, source(0, 1))).size).toBe(0)
    expect(calls.map((call) => [call.command, call.bytes?.length])).toEqual([['PutObject', 0]])
  })

  it('goes multipart through a fixed pool of part buffers, whatever the length', async () => {
    const { client, calls, mostInFlight } = fakeClient({ delayMs: 2 })
    const total = 40 * 1024 + 100
    const result = await uploadStream(client, object, source(total, 1000), { partSize: 1024, queueSize: 2 })
    expect(calls[0]).toMatchObject({ command: 'CreateMultipartUpload', input: { ChecksumAlgorithm: 'CRC32' } })
    const parts = calls.filter((call) => call.command === 'UploadPart')
    expect(parts).toHaveLength(41)
    expect(Buffer.concat(parts.map((call) => call.bytes!)).equals(expected(total))).toBe(true)
    // 41 parts through three buffers: two in flight, one filling. Memory does not grow with the object.
    expect(new Set(parts.map((call) => call.memory)).size).toBeLessThanOrEqual(3)
    expect(mostInFlight()).toBeLessThanOrEqual(2)
    const complete = calls.at(-1)!
    expect(complete.command).toBe('CompleteMultipartUpload')
    const listed = (complete.input.MultipartUpload as { Parts: Array<{ PartNumber: number; ETag: string }> }).Parts
    expect(listed.map((part) => part.PartNumber)).toEqual(Array.from({ length: 41 }, (_, i) => i + 1))
    expect(listed[40]).toEqual({ PartNumber: 41, ETag: '"etag-41"', ChecksumCRC32: 'crc' })
    expect(result.size).toBe(total)
  })

  it("the source's chunks do not pile up: memory stays near the part pool over 160 MiB", async () => {
    // A client that keeps nothing of what it is sent.
    const client = {
      config: { requestChecksumCalculation: async () => 'WHEN_SUPPORTED' },
      send: async () => ({ UploadId: 'u', ETag: '"e"' }),
    } as unknown as S3Client
    const start = process.memoryUsage().arrayBuffers
    let most = 0
    let sent = 0
    const total = 160 << 20
    const body = new Readable({
      read() {
        most = Math.max(most, process.memoryUsage().arrayBuffers - start)
        if (sent >= total) return void this.push(null)
        sent += 64 << 10
        // A fresh 64 KiB chunk each time, as a child's pipe gives them.
        this.push(Buffer.allocUnsafe(64 << 10).fill(sent & 0xff))
      },
    })
    expect((await uploadStream(client, object, body)).size).toBe(total)
    // Three 8 MiB part buffers and what the next scavenge frees; V8 alone let ~64 MiB of chunks linger.
    expect(most).toBeLessThan(40 << 20)
  })

  it('a failing part aborts the multipart upload and is the error', async () => {
    const { client, calls } = fakeClient({ failPart: 3 })
    await expect(uploadStream(client, object, source(20_000, 500), { partSize: 1024 })).rejects.toThrow(
      /the store failed a part/,
    )
    const names = calls.map((call) => call.command)
    expect(names).not.toContain('CompleteMultipartUpload')
    expect(calls.at(-1)).toMatchObject({ command: 'AbortMultipartUpload', input: { UploadId: 'upload-1' } })
  })

  it('a failing source aborts the multipart upload and is the error', async () => {
    const { client, calls } = fakeClient()
    await expect(uploadStream(client, object, source(20_000, 500, 5000), { partSize: 1024 })).rejects.toThrow(
      /pg_dump failed/,
    )
    expect(calls.map((call) => call.command)).not.toContain('CompleteMultipartUpload')
    expect(calls.at(-1)!.command).toBe('AbortMultipartUpload')
  })

  it('the signal stops the upload and aborts it', async () => {
    const { client, calls } = fakeClient({ delayMs: 5 })
    const controller = new AbortController()
    let pushed = 0
    const endless = new Readable({
      read() {
        if (++pushed === 10) controller.abort()
        this.push(Buffer.alloc(1000, pushed))
      },
    })
    await expect(
      uploadStream(client, object, endless, { partSize: 1024, signal: controller.signal }),
    ).rejects.toMatchObject({ name: 'AbortError' })
    expect(calls.at(-1)!.command).toBe('AbortMultipartUpload')
  })
})
