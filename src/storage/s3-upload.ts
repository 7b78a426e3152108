import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Readable } from 'node:stream'
import {
  AbortMultipartUploadCommand,
  ChecksumAlgorithm,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3'
import type { PutResult } from './storage.js'
import { putTally } from './hashing-counter.js'

export interface UploadOptions {
  signal?: AbortSignal
  onProgress?: (bytes: number) => void
  /** Bytes per part (S3: at least 5 MiB except the last, at most 10,000 parts). */
  partSize?: number
  /** Parts in flight at once. */
  queueSize?: number
}

/**
 * A young-generation collection, run each time a part is handed off. The source's chunks (pg_dump's ~4-64 KiB
 * reads) are garbage once copied into a part buffer, but their memory lives outside V8's heap: V8 collects them only
 * when its heap or an external-memory limit (~64 MiB above the last full collection) says so, so up to that much
 * lingered and peak RSS grew with the dump up to that cap. A scavenge per part (~1 ms per 8 MiB) frees them while
 * they are young. `gc` is taken from a fresh context with --expose-gc set only for that lookup; where that fails,
 * nothing is collected early.
 */
let minorGc: (() => void) | undefined | null
function collectYoung(): void {
  if (minorGc === undefined) {
    minorGc = null
    try {
      setFlagsFromString('--expose-gc')
      const gc = runInNewContext('gc') as (options?: { type: string }) => void
      if (typeof gc === 'function') minorGc = () => gc({ type: 'minor' })
    } catch {
      // Not available: V8's own limits still bound what lingers.
    } finally {
      setFlagsFromString('--no-expose-gc')
    }
  }
  minorGc?.()
}

/** Part memory is (DEFAULT_QUEUE_SIZE + 1) x DEFAULT_PART_SIZE per upload (24 MiB), whatever the object's size. */
export const DEFAULT_PART_SIZE = 8 << 20
export const DEFAULT_QUEUE_SIZE = 2
const MAX_PARTS = 10_000

/** The error of an upload stopped by its signal; the store's and the source's errors pass through as they are. */
export class UploadAborted extends Error {
  override name = 'AbortError'
}

/**
 * A streaming upload whose memory is bounded by design, whatever the object's size: `queueSize` parts in flight and
 * one being filled, each in a buffer allocated once and reused only after its UploadPart resolved, and a scavenge per
 * part for the source's copied chunks (collectYoung). lib-storage's Upload built every part with Buffer.concat and
 * left both to V8's heuristics: peak RSS grew with the dump (78 MB at pgbench scale 5, 118 MB at scale 100).
 *
 * An object smaller than one part is one PutObject. Larger ones are a multipart upload, invisible until
 * CompleteMultipartUpload and aborted (AbortMultipartUpload) on any failure: the source's, a part's, the signal.
 * Size and sha256 of the bytes are computed while they pass, so they are known when this resolves.
 */
export async function uploadStream(
  client: S3Client,
  object: { Bucket: string; Key: string },
  body: Readable,
  options: UploadOptions = {},
): Promise<PutResult> {
  const partSize = options.partSize ?? DEFAULT_PART_SIZE
  const queueSize = options.queueSize ?? DEFAULT_QUEUE_SIZE
  const tally = putTally(options.onProgress)
  // In-flight requests are cancelled through this; the caller's signal aborts it too.
  const requests = new AbortController()
  let failure: { error: unknown } | undefined
  // What the upload waits for (the next chunk, a free slot, a request) is cut short by a failure. One waiter at a
  // time, and no long-lived promise raced against: reactions piling up on one would keep every chunk alive.
  let interrupt: ((error: unknown) => void) | undefined
  const settled = <T>(pending: Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (failure) return reject(failure.error)
      interrupt = reject
      pending.then(resolve, reject).finally(() => {
        if (interrupt === reject) interrupt = undefined
      })
    })
  const fail = (error: unknown) => {
    if (failure) return
    failure = { error }
    requests.abort()
    interrupt?.(error)
  }
  const onAbort = () => fail(new UploadAborted('upload aborted'))
  if (options.signal?.aborted) onAbort()
  options.signal?.addEventListener('abort', onAbort, { once: true })
  const send = { abortSignal: requests.signal }

  /** Free part buffers; at most queueSize + 1 are ever allocated (queueSize in flight, one filling). */
  const free: Buffer[] = []
  const inFlight = new Set<Promise<void>>()
  const parts: CompletedPart[] = []
  let creating: Promise<string> | undefined
  let current: Buffer | undefined
  let used = 0

  const takeBuffer = (): Buffer => {
    const reused = free.pop()
    if (reused) return reused
    // Outside Node's small-buffer pool, and never zero-filled: every byte sent is written first.
    return Buffer.allocUnsafeSlow(partSize)
  }

  const startPart = async (buffer: Buffer, length: number): Promise<void> => {
    // Wait for a slot: at most queueSize parts go up at once.
    while (inFlight.size >= queueSize) await settled(Promise.race(inFlight))
    const partNumber = parts.length + 1
    if (partNumber > MAX_PARTS)
      throw new Error(`the object needs more than ${MAX_PARTS} parts of ${partSize >> 20} MiB (the S3 limit)`)
    creating ??= createUpload()
    const part: CompletedPart = { PartNumber: partNumber }
    parts.push(part)
    const sending = creating
      .then((uploadId) =>
        client.send(
          new UploadPartCommand({
            ...object,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: buffer.subarray(0, length),
          }),
          send,
        ),
      )
      .then(
        (response) => {
          if (!response.ETag) throw new Error(`the store returned no ETag for part ${partNumber}`)
          Object.assign(part, {
            ETag: response.ETag,
            ...(response.ChecksumCRC32 && { ChecksumCRC32: response.ChecksumCRC32 }),
            ...(response.ChecksumCRC32C && { ChecksumCRC32C: response.ChecksumCRC32C }),
            ...(response.ChecksumCRC64NVME && { ChecksumCRC64NVME: response.ChecksumCRC64NVME }),
            ...(response.ChecksumSHA1 && { ChecksumSHA1: response.ChecksumSHA1 }),
            ...(response.ChecksumSHA256 && { ChecksumSHA256: response.ChecksumSHA256 }),
          })
          // Only now is the buffer ours again: the request (and any retry of it) is over.
          free.push(buffer)
        },
        (error: unknown) => fail(error),
      )
      .finally(() => inFlight.delete(sending))
    inFlight.add(sending)
  }

  const createUpload = async (): Promise<string> => {
    // As lib-storage does: with the SDK's default checksums, the parts' CRC32s are checked by the store.
    const checksums = await client.config.requestChecksumCalculation()
    const response = await client.send(
      new CreateMultipartUploadCommand({
        ...object,
        ...(checksums === 'WHEN_SUPPORTED' && { ChecksumAlgorithm: ChecksumAlgorithm.CRC32 }),
      }),
      send,
    )
    if (!response.UploadId) throw new Error('the store returned no upload id')
    return response.UploadId
  }

  try {
    const chunks = body[Symbol.asyncIterator]()
    for (;;) {
      const next = await settled(chunks.next())
      if (next.done) break
      const chunk = next.value as Buffer
      tally.add(chunk)
      let offset = 0
      while (offset < chunk.length) {
        current ??= takeBuffer()
        const copied = chunk.copy(current, used, offset)
        used += copied
        offset += copied
        if (used === partSize) {
          collectYoung()
          await startPart(current, used)
          current = undefined
          used = 0
        }
      }
    }
    if (creating === undefined) {
      // Smaller than a part: one PutObject (an empty object included).
      await settled(
        client.send(new PutObjectCommand({ ...object, Body: (current ?? Buffer.alloc(0)).subarray(0, used) }), send),
      )
    } else {
      if (used > 0) await startPart(current!, used)
      while (inFlight.size > 0) await settled(Promise.race(inFlight))
      const uploadId = await creating
      await settled(
        client.send(
          new CompleteMultipartUploadCommand({ ...object, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
          send,
        ),
      )
    }
    return tally.result()
  } catch (error) {
    fail(error)
    if (creating !== undefined) {
      // Parts still in flight were cancelled; once they settled, the upload and what it holds are dropped.
      await Promise.allSettled(inFlight)
      const uploadId = await creating.catch(() => undefined)
      if (uploadId !== undefined)
        await client.send(new AbortMultipartUploadCommand({ ...object, UploadId: uploadId })).catch(() => {
          // Unreachable store: the next run's removeLeftovers aborts it.
        })
    }
    throw failure!.error
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
  }
}
