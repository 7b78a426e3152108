import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto'
import { Transform, type Readable } from 'node:stream'

/**
 * age's payload (https://age-encryption.org/v1, "Payload"), encrypted with node:crypto's native ChaCha20-Poly1305:
 * the pure-JavaScript cipher of age-encryption cost most of what encrypting a backup costs. The header (recipient
 * stanzas, MAC) stays the library's; this is what follows it: a 16-byte nonce, then STREAM, 64 KiB chunks each
 * sealed with the key HKDF-SHA256(file key, salt nonce, "payload") and the 12-byte nonce `11-byte big-endian chunk
 * counter || 1 for the last chunk, else 0`. The last chunk is empty only when the whole payload is.
 */

const CHUNK = 64 * 1024
const TAG = 16
/** Bytes of the random nonce between the header and the first chunk. */
export const PAYLOAD_NONCE_BYTES = 16

export function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32))
}

function chunkNonce(counter: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12)
  // 6 of the 11 counter bytes reach 2^48 chunks (16 EiB); the 5 above stay zero.
  nonce.writeUIntBE(counter, 5, 6)
  nonce[11] = last ? 1 : 0
  return nonce
}

/**
 * STREAM over what is written to it. A full chunk is sealed only once more input arrives, so the last chunk is never
 * empty unless nothing was written. `ready` (the payload key, once the header is known) runs before the first chunk;
 * what it returns is pushed first. Input of any size (pg_dump writes ~4 KiB at a time) is gathered into 64 KiB
 * chunks; each sealed chunk leaves as the cipher's own two buffers (ciphertext, tag), never copied into batches:
 * on this kind of host every MiB of freshly allocated memory costs more CPU (page faults) than sealing it.
 * Consumers that want fewer, larger writes gather the pieces themselves (FolderStorage writes ~1 MiB at a time).
 */
export function payloadEncryptor(ready: () => Promise<{ prefix: Buffer; key: Buffer }>): Transform {
  let key: Buffer
  let counter = 0
  const plain = Buffer.allocUnsafe(CHUNK)
  let used = 0
  const seal = (stream: Transform, last: boolean): void => {
    const cipher = createCipheriv('chacha20-poly1305', key, chunkNonce(counter++, last), { authTagLength: TAG })
    const sealed = cipher.update(plain.subarray(0, used))
    // ChaCha20-Poly1305 keeps nothing back: final() only computes the tag (an empty buffer).
    cipher.final()
    if (sealed.length > 0) stream.push(sealed)
    stream.push(cipher.getAuthTag())
    used = 0
  }
  return new Transform({
    construct(callback) {
      ready().then(({ prefix, key: payload }) => {
        key = payload
        this.push(prefix)
        callback()
      }, callback)
    },
    transform(chunk: Buffer, _encoding, callback) {
      let offset = 0
      while (offset < chunk.length) {
        if (used === CHUNK) seal(this, false)
        const copied = chunk.copy(plain, used, offset)
        used += copied
        offset += copied
      }
      callback()
    },
    flush(callback) {
      seal(this, true)
      callback()
    },
  })
}

/**
 * The plaintext of a STREAM payload keyed with `key`. A chunk's plaintext is passed on only once its tag checks;
 * a changed, reordered, dropped or cut-short chunk fails the stream.
 */
export function payloadDecryptor(key: Buffer): Transform {
  let counter = 0
  const sealed = Buffer.allocUnsafe(CHUNK + TAG)
  let used = 0
  const open = (last: boolean): Buffer => {
    if (used < TAG) throw new Error('the last chunk is cut short')
    const decipher = createDecipheriv('chacha20-poly1305', key, chunkNonce(counter, last), { authTagLength: TAG })
    decipher.setAuthTag(sealed.subarray(used - TAG, used))
    const plain = decipher.update(sealed.subarray(0, used - TAG))
    try {
      decipher.final()
    } catch {
      throw new Error('a chunk fails authentication (changed or cut short)')
    }
    if (last && plain.length === 0 && counter > 0) throw new Error('the last chunk is empty')
    counter++
    used = 0
    return plain
  }
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      try {
        let offset = 0
        while (offset < chunk.length) {
          if (used === sealed.length) this.push(open(false))
          const copied = chunk.copy(sealed, used, offset)
          used += copied
          offset += copied
        }
        callback()
      } catch (error) {
        callback(error as Error)
      }
    },
    flush(callback) {
      try {
        callback(null, open(true))
      } catch (error) {
        callback(error as Error)
      }
    },
  })
}

/** Where an age header ends (after its MAC line), or -1 when `bytes` do not hold all of it yet. */
export function headerEnd(bytes: Buffer): number {
  // Stanza lines start "-> " and their bodies are base64, so the first line starting "---" is the MAC line.
  const mac = bytes.indexOf('\n---')
  if (mac === -1) return -1
  const end = bytes.indexOf('\n', mac + 1)
  return end === -1 ? -1 : end + 1
}

/** The longest age header read before giving up: a few recipients need a few KiB. */
const MAX_HEADER = 1024 * 1024

/** The age header at the start of `source`, whose next read is the payload nonce. */
export function readHeader(source: Readable): Promise<Buffer> {
  return readPrefix(source, 'it ends within its age header', (seen) => {
    const end = headerEnd(seen)
    if (end === -1 && seen.length > MAX_HEADER) throw new Error('no end of an age header in its first MiB')
    return end
  })
}

/** The payload nonce, read right after the header. */
export function readPayloadNonce(source: Readable): Promise<Buffer> {
  return readPrefix(source, 'it ends before its payload', () => PAYLOAD_NONCE_BYTES)
}

/**
 * Reads the first `length(seen)` bytes of `source` (-1: not known yet) and puts back what was read beyond them, so
 * `source` can be piped on from there. Rejects with the source's own error, or when it ends too soon.
 */
function readPrefix(source: Readable, cutShort: string, length: (seen: Buffer) => number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let seen: Buffer = Buffer.alloc(0)
    const settle = (error: Error | undefined, prefix?: Buffer) => {
      source.off('readable', onReadable)
      source.off('end', onEnd)
      source.off('error', onError)
      if (error) reject(error)
      else resolve(prefix!)
    }
    const onReadable = () => {
      try {
        let chunk: Uint8Array | null
        while ((chunk = source.read() as Uint8Array | null) !== null) {
          // Object-mode sources (Readable.from, fromWeb) may give plain Uint8Arrays.
          const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
          seen = seen.length === 0 ? bytes : Buffer.concat([seen, bytes])
          const wanted = length(seen)
          if (wanted !== -1 && seen.length >= wanted) {
            if (seen.length > wanted) source.unshift(seen.subarray(wanted))
            settle(undefined, seen.subarray(0, wanted))
            return
          }
        }
      } catch (error) {
        settle(error as Error)
      }
    }
    const onEnd = () => settle(new Error(cutShort))
    const onError = (error: Error) => settle(error)
    // The source may have ended or failed after the previous read, with no one listening.
    if (source.errored) return reject(source.errored)
    if (source.readableEnded) return reject(new Error(cutShort))
    source.on('readable', onReadable)
    source.on('end', onEnd)
    source.on('error', onError)
  })
}
