import { createHash } from 'node:crypto'
import { Transform } from 'node:stream'
import type { PutResult } from './storage.js'

/** A pass-through stream that counts and hashes what flows through it, so a put learns size and sha256 for free. */
export function hashingCounter(onProgress?: (bytes: number) => void): { stream: Transform; result: () => PutResult } {
  const hash = createHash('sha256')
  let size = 0
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk)
      size += chunk.length
      onProgress?.(size)
      callback(null, chunk)
    },
  })
  return { stream, result: () => ({ size, sha256: hash.digest('hex') }) }
}
