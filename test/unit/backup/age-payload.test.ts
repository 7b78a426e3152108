import { execFileSync } from 'node:child_process'
import { createCipheriv, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { Decrypter, Encrypter, generateHybridIdentity, generateIdentity, identityToRecipient } from 'age-encryption'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { payloadDecryptor, payloadEncryptor } from '../../../src/backup/age-payload.js'
import { decryptStream, encryptStream, recipientFingerprint } from '../../../src/backup/encryption.js'
import { DbopsError } from '../../../src/errors.js'
import { collect, failureOf } from '../../helpers/backup-unit.js'

const CHUNK = 64 * 1024

let identity: string
let recipient: string
beforeAll(async () => {
  identity = await generateIdentity()
  recipient = await identityToRecipient(identity)
})

const dirs: string[] = []
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })))

/** `bytes` as a stream of pieces of `size` bytes (odd sizes cross chunk and header boundaries). */
function pieces(bytes: Uint8Array, size: number): Readable {
  const parts: Buffer[] = []
  for (let offset = 0; offset < bytes.length; offset += size)
    parts.push(Buffer.from(bytes.subarray(offset, offset + size)))
  return Readable.from(parts)
}

const backup = () => ({ id: 'b1', recipients: [recipientFingerprint(recipient)] })

async function ours(plain: Buffer, recipients = [recipient], pieceSize = 10_007): Promise<Buffer> {
  return collect(await encryptStream(pieces(plain, pieceSize), recipients))
}

async function openedByUs(stored: Uint8Array, identities = [identity], pieceSize = 9_973): Promise<Buffer> {
  return collect(await decryptStream(pieces(stored, pieceSize), identities, backup()))
}

/** The header's length: up to and including the MAC line. */
const headerLength = (stored: Buffer) => stored.indexOf('\n', stored.indexOf('\n---') + 1) + 1

// Sizes around the 64 KiB chunk: none, less than one, exactly one or two (the last chunk is then full, not an
// extra empty one), one byte more.
const sizes = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 5]

describe('age payload interoperability', () => {
  for (const size of sizes) {
    it(`what we encrypt (${size} bytes) decrypts with age-encryption, in the chunks age prescribes`, async () => {
      const plain = randomBytes(size)
      const stored = await ours(plain)
      const chunks = Math.max(1, Math.ceil(size / CHUNK))
      expect(stored.length).toBe(headerLength(stored) + 16 + size + 16 * chunks)
      const decrypter = new Decrypter()
      decrypter.addIdentity(identity)
      expect(Buffer.from(await decrypter.decrypt(stored)).equals(plain)).toBe(true)
    })

    it(`what age-encryption encrypts (${size} bytes) decrypts with ours`, async () => {
      const plain = randomBytes(size)
      const encrypter = new Encrypter()
      encrypter.addRecipient(recipient)
      const stored = await encrypter.encrypt(plain)
      expect((await openedByUs(stored)).equals(plain)).toBe(true)
      // Read in one piece and byte by byte around the header too.
      expect((await openedByUs(stored, [identity], stored.length)).equals(plain)).toBe(true)
      if (size <= 1) expect((await openedByUs(stored, [identity], 1)).equals(plain)).toBe(true)
    })
  }

  it('writes one header for several recipients, each of whom can decrypt; a post-quantum recipient works too', async () => {
    const second = await generateIdentity()
    const hybrid = await generateHybridIdentity()
    const recipients = [recipient, await identityToRecipient(second)]
    const plain = randomBytes(CHUNK + 100)
    const stored = await ours(plain, recipients)
    expect(stored.toString('latin1', 0, headerLength(stored)).match(/^-> X25519 /gm)).toHaveLength(2)
    for (const key of [identity, second]) {
      const decrypter = new Decrypter()
      decrypter.addIdentity(key)
      expect(Buffer.from(await decrypter.decrypt(stored)).equals(plain)).toBe(true)
      expect((await openedByUs(stored, [key])).equals(plain)).toBe(true)
    }
    const quantumSafe = await ours(plain, [await identityToRecipient(hybrid)])
    expect((await openedByUs(quantumSafe, [hybrid])).equals(plain)).toBe(true)
  })

  it('uses a fresh file key and payload nonce for every file', async () => {
    const plain = Buffer.alloc(1000)
    const [a, b] = [await ours(plain), await ours(plain)]
    expect(a.subarray(headerLength(a)).equals(b.subarray(headerLength(b)))).toBe(false)
  })

  const age = (() => {
    try {
      execFileSync('age', ['--version'], { stdio: 'ignore' })
      return true
    } catch {
      return false
    }
  })()
  it.skipIf(!age)('interoperates with the age command line tool both ways', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dbops-age-cli-'))
    dirs.push(dir)
    const keyFile = path.join(dir, 'key.txt')
    writeFileSync(keyFile, `${identity}\n`, { mode: 0o600 })
    for (const size of [0, CHUNK, 2 * CHUNK + 7]) {
      const plain = randomBytes(size)
      const stored = await ours(plain)
      expect(execFileSync('age', ['-d', '-i', keyFile], { input: stored }).equals(plain)).toBe(true)
      const byAge = execFileSync('age', ['-r', recipient], { input: plain })
      expect((await openedByUs(byAge)).equals(plain)).toBe(true)
    }
  })
})

describe('age payload: damaged files', () => {
  it('a file cut at a chunk boundary fails: the chunk before is not marked last', async () => {
    const plain = randomBytes(2 * CHUNK + 10)
    const stored = await ours(plain)
    const cut = stored.subarray(0, headerLength(stored) + 16 + 2 * (CHUNK + 16))
    expect((await failureOf(openedByUs(cut))).message).toMatch(/a chunk fails authentication/)
  })

  it('a file cut inside the last tag fails, and so do swapped chunks', async () => {
    const stored = await ours(randomBytes(3 * CHUNK))
    expect((await failureOf(openedByUs(stored.subarray(0, stored.length - 5)))).message).toMatch(
      /a chunk fails authentication/,
    )
    const start = headerLength(stored) + 16
    const sealed = CHUNK + 16
    const swapped = Buffer.concat([
      stored.subarray(0, start),
      stored.subarray(start + sealed, start + 2 * sealed),
      stored.subarray(start, start + sealed),
      stored.subarray(start + 2 * sealed),
    ])
    expect((await failureOf(openedByUs(swapped))).message).toMatch(/a chunk fails authentication/)
  })

  it('a file ending in the header or the payload nonce, or empty, is corrupt; the identity is checked first', async () => {
    const stored = await ours(Buffer.from('rows'))
    const header = headerLength(stored)
    for (const cut of [0, 30, header - 1, header, header + 15]) {
      const error = await failureOf(openedByUs(stored.subarray(0, cut)))
      expect(error.code).toBe('E_BACKUP_CORRUPT')
      expect(error.message).toMatch(/age header cannot be read/)
    }
    // Nothing after the nonce: not even the tag of an empty last chunk.
    expect((await failureOf(openedByUs(stored.subarray(0, header + 16)))).message).toBe('the last chunk is cut short')
    const wrong = await failureOf(openedByUs(stored.subarray(0, header + 3), [await generateIdentity()]))
    expect(wrong.code).toBe('E_BACKUP_IDENTITY')
    const nothing = await failureOf(openedByUs(randomBytes(2 * 1024 * 1024)))
    expect(nothing.code).toBe('E_BACKUP_CORRUPT')
  })

  it("the source's own error while the header is read is the one raised", async () => {
    const stored = await ours(Buffer.from('rows'))
    const source = new Readable({ read() {} })
    source.push(stored.subarray(0, 20))
    const checksum = new DbopsError('E_BACKUP_CORRUPT', 'backup b1 is corrupt: its sha256 differs')
    setImmediate(() => source.destroy(checksum))
    expect(await failureOf(decryptStream(source, [identity], backup()))).toBe(checksum)
  })

  /** A STREAM with a known key, chunk by chunk: [plaintext, last flag]. */
  function stream(key: Buffer, chunks: [Buffer, boolean][]): Buffer {
    return Buffer.concat(
      chunks.flatMap(([plain, last], counter) => {
        const nonce = Buffer.alloc(12)
        nonce.writeUIntBE(counter, 5, 6)
        nonce[11] = last ? 1 : 0
        const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 })
        return [cipher.update(plain), cipher.final(), cipher.getAuthTag()]
      }),
    )
  }

  it('refuses an empty last chunk after full ones (age allows it only for an empty payload)', async () => {
    const key = randomBytes(32)
    const full = randomBytes(CHUNK)
    expect((await collect(pieces(stream(key, [[Buffer.alloc(0), true]]), 7).pipe(payloadDecryptor(key)))).length).toBe(
      0,
    )
    const valid = stream(key, [[full, true]])
    expect((await collect(Readable.from([valid]).pipe(payloadDecryptor(key)))).equals(full)).toBe(true)
    const padded = stream(key, [
      [full, false],
      [Buffer.alloc(0), true],
    ])
    const decryptor = payloadDecryptor(key)
    expect((await failureOf(collect(Readable.from([padded]).pipe(decryptor)))).message).toBe('the last chunk is empty')
  })

  it('passes each sealed chunk on whole (ciphertext, then tag), whatever the input pieces', async () => {
    const key = randomBytes(32)
    const plain = randomBytes(3 * CHUNK + 5)
    const outputs: number[] = []
    const encryptor = payloadEncryptor(async () => ({ prefix: Buffer.from('HDR'), key }))
    encryptor.on('data', (chunk: Buffer) => outputs.push(chunk.length))
    pieces(plain, 4096).pipe(encryptor)
    await new Promise((resolve) => encryptor.once('end', resolve))
    // Read as a pipe reads (flowing): the prefix, then per chunk its ciphertext and its 16-byte tag: never the 4 KiB pieces written.
    expect(outputs).toEqual([3, CHUNK, 16, CHUNK, 16, CHUNK, 16, 5, 16])
  })

  it('encrypts the payload as the key and chunk nonces say (checked against an independent STREAM)', async () => {
    const key = randomBytes(32)
    const plain = randomBytes(2 * CHUNK + 3)
    const encryptor = payloadEncryptor(async () => ({ prefix: Buffer.from('HDR'), key }))
    const sealed = await collect(pieces(plain, 4096).pipe(encryptor))
    const expected = stream(key, [
      [plain.subarray(0, CHUNK), false],
      [plain.subarray(CHUNK, 2 * CHUNK), false],
      [plain.subarray(2 * CHUNK), true],
    ])
    expect(sealed.equals(Buffer.concat([Buffer.from('HDR'), expected]))).toBe(true)
  })
})
