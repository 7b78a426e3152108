import type { Readable } from 'node:stream'
import type { BackupLockOptions as StorageLockOptions } from '../backup/backup-lock.js'

/** One stored object (a file in a folder, a key under a bucket prefix), named relative to the storage's root. */
export interface StoredObject {
  name: string
  size: number
  modifiedAt: Date
}

export interface PutResult {
  size: number
  /** Hex sha256 of the bytes stored, computed while they streamed. */
  sha256: string
}

export interface PutOptions {
  signal?: AbortSignal
  onProgress?: (bytes: number) => void
}

export type { LockHolder, BackupLockOptions as StorageLockOptions } from '../backup/backup-lock.js'

/**
 * Where backups live: a local folder or an S3-compatible bucket prefix. Backup code talks only to this, so a folder
 * and a bucket behave the same: an object becomes visible under its name only once it is complete (a rename after
 * fsync; a completed multipart upload), and one dbops at a time writes or prunes (a lock file; a lock object with a
 * lease taken with a conditional write).
 */
export interface Storage {
  readonly kind: 'folder' | 's3'
  /** Shown to people: a folder path or `s3://bucket/prefix`, never a credential. */
  readonly location: string
  /** Streams `body` into `name`; nothing is visible under `name` unless this resolves. */
  put(name: string, body: Readable, options?: PutOptions): Promise<PutResult>
  /** A small document (a manifest), replaced atomically. */
  writeText(name: string, text: string): Promise<void>
  /** A small document; undefined when it does not exist. */
  readText(name: string): Promise<string | undefined>
  get(name: string): Promise<Readable>
  /** Every complete object under the root (names relative to it), in no particular order. */
  list(): Promise<StoredObject[]>
  /** Removes an object; removing one that does not exist is not an error. */
  remove(name: string): Promise<void>
  /** Runs `fn` while holding the storage's lock; a lock whose holder is gone is taken over. */
  withLock<T>(options: StorageLockOptions, fn: () => Promise<T>): Promise<T>
  /** Removes what interrupted writes left behind (temporary files, unfinished multipart uploads); call under the lock. */
  removeLeftovers(): Promise<string[]>
}
