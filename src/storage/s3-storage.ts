import { hostname } from 'node:os'
import { Readable } from 'node:stream'
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import { DbopsError } from '../errors.js'
import { checkName } from './folder-storage.js'
import { uploadStream } from './s3-upload.js'
import { formatTimestamp, oneLine } from '../output/format.js'
import { formatS3Url, parseS3Url, type S3Location, type S3Options } from './s3-location.js'
import type { LockHolder, PutOptions, PutResult, Storage, StorageLockOptions, StoredObject } from './storage.js'
import { processExists } from '../processes.js'

const LOCK_NAME = '.lock'

/**
 * A bucket prefix on S3 or a compatible store. Objects appear only when an upload completes (multipart uploads are
 * invisible until then, and aborted on failure); the lock is an object written with `If-None-Match: *` and
 * refreshed with `If-Match`, so two hosts cannot both hold it.
 */
export class S3Storage implements Storage {
  readonly kind = 's3' as const
  readonly location: string
  /** A lock not refreshed for this long belongs to nobody (the holder's host or container went away). */
  leaseMs = 5 * 60_000

  private constructor(
    private readonly client: S3Client,
    private readonly where: S3Location,
  ) {
    this.location = formatS3Url(where)
  }

  static open(url: string, options: S3Options = {}): S3Storage {
    let where: S3Location
    try {
      where = parseS3Url(url)
    } catch (error) {
      throw new DbopsError('E_CONFIG', (error as Error).message, {
        hint: 'set backup.dir (or the destination) to s3://bucket/prefix',
      })
    }
    // The SDK warns on stderr that its future versions will need Node 22: noise in every cron mail, and nothing a
    // dbops user can act on (dbops pins the SDK it ships with).
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
    const client = new S3Client({
      ...(options.region !== undefined
        ? { region: options.region }
        : process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION
          ? {}
          : { region: 'us-east-1' }),
      ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
      ...(options.forcePathStyle !== undefined && { forcePathStyle: options.forcePathStyle }),
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
      maxAttempts: 3,
    })
    return new S3Storage(client, where)
  }

  async put(name: string, body: Readable, options: PutOptions = {}): Promise<PutResult> {
    const key = this.key(name)
    // Only the source's own error is the source's (pg_dump exiting non-zero): it is passed on as it is. The listener
    // stays: a source failing after the upload gave up must not be an unhandled 'error' event.
    let sourceError: unknown
    body.on('error', (error) => (sourceError ??= error))
    try {
      return await uploadStream(this.client, { Bucket: this.where.bucket, Key: key }, body, {
        ...(options.signal && { signal: options.signal }),
        ...(options.onProgress && { onProgress: options.onProgress }),
      })
    } catch (error) {
      throw sourceError ?? this.failure(`upload ${name}`, error)
    }
  }

  async writeText(name: string, text: string): Promise<void> {
    // A single PUT replaces an object atomically.
    await this.attempt(`write ${name}`, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.where.bucket,
          Key: this.key(name),
          Body: text,
          ContentType: 'application/json',
        }),
      ),
    )
  }

  async readText(name: string): Promise<string | undefined> {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.where.bucket, Key: this.key(name) }))
      return await response.Body!.transformToString('utf8')
    } catch (error) {
      if (isNotFound(error)) return undefined
      throw this.failure(`read ${name}`, error)
    }
  }

  async get(name: string): Promise<Readable> {
    const response = await this.attempt(`read ${name}`, () =>
      this.client.send(new GetObjectCommand({ Bucket: this.where.bucket, Key: this.key(name) })),
    )
    return response.Body as Readable
  }

  async list(): Promise<StoredObject[]> {
    const found: StoredObject[] = []
    const root = this.where.prefix ? `${this.where.prefix}/` : ''
    let token: string | undefined
    do {
      const page = await this.attempt('list', () =>
        this.client.send(
          new ListObjectsV2Command({ Bucket: this.where.bucket, Prefix: root, ContinuationToken: token }),
        ),
      )
      for (const object of page.Contents ?? []) {
        const name = object.Key!.slice(root.length)
        if (name.split('/').some((part) => part.startsWith('.'))) continue
        found.push({ name, size: object.Size ?? 0, modifiedAt: object.LastModified ?? new Date(0) })
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token)
    return found
  }

  async remove(name: string): Promise<void> {
    await this.attempt(`remove ${name}`, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.where.bucket, Key: this.key(name) })),
    )
  }

  async removeLeftovers(): Promise<string[]> {
    const root = this.where.prefix ? `${this.where.prefix}/` : ''
    const removed: string[] = []
    const page = await this.attempt('list unfinished uploads', () =>
      this.client.send(new ListMultipartUploadsCommand({ Bucket: this.where.bucket, Prefix: root })),
    )
    for (const upload of page.Uploads ?? []) {
      await this.attempt('abort an unfinished upload', () =>
        this.client.send(
          new AbortMultipartUploadCommand({ Bucket: this.where.bucket, Key: upload.Key!, UploadId: upload.UploadId! }),
        ),
      )
      removed.push(`${upload.Key!.slice(root.length)} (unfinished upload)`)
    }
    return removed
  }

  async withLock<T>(options: StorageLockOptions, fn: () => Promise<T>): Promise<T> {
    const key = this.key(LOCK_NAME, true)
    const mine: LockHolder = {
      pid: process.pid,
      host: hostname(),
      processStart: null,
      startedAt: new Date().toISOString(),
      command: options.command,
    }
    const body = () => JSON.stringify({ ...mine, refreshedAt: new Date().toISOString() })
    let etag: string | undefined
    let announced = false
    for (;;) {
      etag = await this.conditionalPut(key, body(), { IfNoneMatch: '*' })
      if (etag !== undefined) break
      const current = await this.readLock(key)
      if (current === undefined) continue
      if (this.isAbandoned(current.holder, current.refreshedMs)) {
        // Only one taker's If-Match can succeed against the holder's ETag.
        etag = await this.conditionalPut(key, body(), { IfMatch: current.etag })
        if (etag !== undefined) break
        continue
      }
      if (!options.wait) {
        const holder = current.holder
        throw new DbopsError(
          'E_BACKUP_LOCKED',
          `another dbops (pid ${holder.pid} on ${holder.host}, "${holder.command}" since ${formatTimestamp(holder.startedAt)}) is working on ${this.location}`,
          {
            hint: 'wait for it to finish, or pass --wait to wait for it',
            details: { holder },
          },
        )
      }
      if (!announced) options.onWait?.(current.holder)
      announced = true
      if (options.signal?.aborted)
        throw new DbopsError('E_INTERRUPTED', 'interrupted while waiting for the backup lock')
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 1000))
    }
    let lost: unknown
    const heartbeat = setInterval(
      () => {
        void this.conditionalPut(key, body(), { IfMatch: etag! }).then(
          (next) => {
            if (next === undefined)
              lost = new DbopsError('E_BACKUP_LOCKED', `the lock on ${this.location} was taken over by another dbops`)
            else etag = next
          },
          () => {},
        )
      },
      Math.max(250, this.leaseMs / 5),
    )
    heartbeat.unref()
    try {
      const result = await fn()
      if (lost) throw lost
      return result
    } finally {
      clearInterval(heartbeat)
      const current = await this.readLock(key).catch(() => undefined)
      if (current?.etag === etag)
        await this.client.send(new DeleteObjectCommand({ Bucket: this.where.bucket, Key: key })).catch(() => {})
    }
  }

  private isAbandoned(holder: LockHolder, refreshedMs: number): boolean {
    if (Date.now() - refreshedMs > this.leaseMs) return true
    return holder.host === hostname() && !processExists(holder.pid)
  }

  /** The new ETag, or undefined when the precondition did not hold (someone else wrote first). */
  private async conditionalPut(
    key: string,
    text: string,
    condition: { IfNoneMatch?: string; IfMatch?: string },
  ): Promise<string | undefined> {
    try {
      const response = await this.client.send(
        new PutObjectCommand({ Bucket: this.where.bucket, Key: key, Body: text, ...condition }),
      )
      return response.ETag
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
      if (status === 412 || status === 409) return undefined
      throw this.failure('take the backup lock', error)
    }
  }

  private async readLock(key: string): Promise<{ holder: LockHolder; etag: string; refreshedMs: number } | undefined> {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.where.bucket, Key: key }))
      const parsed = JSON.parse(await response.Body!.transformToString('utf8')) as LockHolder & { refreshedAt?: string }
      const refreshedMs = Date.parse(parsed.refreshedAt ?? '') || response.LastModified?.getTime() || 0
      return { holder: parsed, etag: response.ETag!, refreshedMs }
    } catch (error) {
      if (isNotFound(error)) return undefined
      if (error instanceof SyntaxError)
        return {
          holder: { pid: 0, host: '?', processStart: null, startedAt: '?', command: '?' },
          etag: '',
          refreshedMs: 0,
        }
      throw this.failure('read the backup lock', error)
    }
  }

  private key(name: string, internal = false): string {
    if (!internal) checkName(name)
    return this.where.prefix ? `${this.where.prefix}/${name}` : name
  }

  private async attempt<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run()
    } catch (error) {
      throw this.failure(what, error)
    }
  }

  /** One line naming the bucket and the cause; never the credentials (the SDK's messages carry none). */
  private failure(what: string, error: unknown): DbopsError {
    if (error instanceof DbopsError) return error
    const name = (error as Error)?.name ?? 'Error'
    const code = (error as { code?: string }).code
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
    if (
      [
        'InvalidAccessKeyId',
        'SignatureDoesNotMatch',
        'AccessDenied',
        'CredentialsProviderError',
        'ExpiredToken',
        'InvalidToken',
      ].includes(name) ||
      status === 403
    ) {
      return new DbopsError(
        'E_STORAGE_AUTH',
        `${this.location}: could not ${what}: the store refused the credentials (${name})`,
        {
          hint: 'check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the role this host runs with, and the bucket policy',
          cause: error,
        },
      )
    }
    if (name === 'NoSuchBucket') {
      return new DbopsError('E_STORAGE', `${this.location}: the bucket ${this.where.bucket} does not exist`, {
        hint: 'create the bucket, or fix backup.dir',
        cause: error,
      })
    }
    const unreachable =
      ['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN', 'EPIPE'].includes(code ?? '') ||
      name === 'TimeoutError'
    return new DbopsError(
      unreachable ? 'E_STORAGE_UNREACHABLE' : 'E_STORAGE',
      `${this.location}: could not ${what}: ${oneLine((error as Error)?.message ?? String(error))}`,
      {
        hint: unreachable
          ? 'check the endpoint and that the store is reachable from this host'
          : 'check the bucket, the endpoint and the region in the config',
        cause: error,
      },
    )
  }
}

function isNotFound(error: unknown): boolean {
  const name = (error as Error)?.name
  return (
    name === 'NoSuchKey' ||
    name === 'NotFound' ||
    (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404
  )
}
