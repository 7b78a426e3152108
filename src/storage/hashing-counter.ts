import { createHash } from 'node:crypto'
import { Transform } from 'node:stream'
import type { PutResult } from './storage.js'

/** Counts and hashes what a put stores, reporting progress as it goes: size and sha256 for every kind of storage. */
export function putTally(onProgress?: (bytes: number) => void): { add(chunk: Buffer): void; result(): PutResult } {
  const hash = createHash('sha256')
  let size = 0
  return {
    add(chunk) {
      hash.update(chunk)
      size += chunk.length
      onProgress?.(size)
    },
    result: () => ({ size, sha256: hash.digest('hex') }),
  }
}

/** A pass-through stream that counts and hashes what flows through it, so a put learns size and sha256 for free. */
export function hashingCounter(onProgress?: (bytes: number) => void): { stream: Transform; result: () => PutResult } {
  const tally = putTally(onProgress)
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      tally.add(chunk)
      callback(null, chunk)
    },
  })
  return { stream, result: tally.result }
}
