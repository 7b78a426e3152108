import {
  createCipheriv,
  createHmac,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
} from 'node:crypto'

/**
 * The age header (https://age-encryption.org/v1, "Header", "X25519 recipient stanza") for X25519 recipients, made
 * with node:crypto: `backup create` never loads age-encryption, whose X25519 is pure JavaScript (~60 ms to load
 * and run). Recipients of other kinds (post-quantum `age1pq1...`, plugins) return undefined here and go to the
 * library. Decryption keeps using the library; test/unit/backup/age-header.test.ts checks that it and the `age`
 * CLI read what this writes.
 */

const VERSION_LINE = 'age-encryption.org/v1\n'
const X25519_INFO = 'age-encryption.org/v1/X25519'
const FILE_KEY_BYTES = 16

/** The 32-byte public key of an `age1...` X25519 recipient, or undefined when it is not one. */
export function x25519RecipientKey(recipient: string): Buffer | undefined {
  const decoded = bech32Decode(recipient)
  if (!decoded || decoded.prefix !== 'age') return undefined
  const bytes = convertBits(decoded.words, 5, 8)
  return bytes?.length === 32 ? bytes : undefined
}

/**
 * A fresh file key and the header wrapping it for each recipient, or undefined when one of them is not an X25519
 * recipient (the caller then asks the library).
 */
export function x25519Header(recipients: readonly string[]): { header: Buffer; fileKey: Buffer } | undefined {
  const keys = recipients.map(x25519RecipientKey)
  if (keys.length === 0 || keys.some((key) => key === undefined)) return undefined
  const fileKey = randomBytes(FILE_KEY_BYTES)
  let text = VERSION_LINE
  for (const key of keys as Buffer[]) text += x25519Stanza(fileKey, key)
  text += '---'
  const macKey = Buffer.from(hkdfSync('sha256', fileKey, Buffer.alloc(0), 'header', 32))
  const mac = createHmac('sha256', macKey).update(text, 'latin1').digest()
  return { header: Buffer.from(`${text} ${base64NoPad(mac)}\n`, 'latin1'), fileKey }
}

/** `-> X25519 <ephemeral share>` and the file key sealed with HKDF(shared secret, share || recipient). */
function x25519Stanza(fileKey: Buffer, recipient: Buffer): string {
  const ephemeral = generateKeyPairSync('x25519')
  const share = Buffer.from(ephemeral.publicKey.export({ format: 'jwk' }).x!, 'base64url')
  const shared = diffieHellman({
    privateKey: ephemeral.privateKey,
    publicKey: createPublicKey({
      key: { kty: 'OKP', crv: 'X25519', x: recipient.toString('base64url') },
      format: 'jwk',
    }),
  })
  // A low-order recipient key gives an all-zero secret (age refuses it).
  if (shared.every((byte) => byte === 0)) throw new Error('invalid X25519 recipient (low-order point)')
  const wrapKey = Buffer.from(hkdfSync('sha256', shared, Buffer.concat([share, recipient]), X25519_INFO, 32))
  const cipher = createCipheriv('chacha20-poly1305', wrapKey, Buffer.alloc(12), { authTagLength: 16 })
  const body = Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()])
  // A 32-byte body is 43 base64 characters: one line, shorter than the 64-column limit, as age requires.
  return `-> X25519 ${base64NoPad(share)}\n${base64NoPad(body)}\n`
}

function base64NoPad(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '')
}

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l'

function polymod(values: number[]): number {
  const generators = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]
  let checksum = 1
  for (const value of values) {
    const top = checksum >>> 25
    checksum = ((checksum & 0x1ffffff) << 5) ^ value
    for (let bit = 0; bit < 5; bit++) if ((top >>> bit) & 1) checksum ^= generators[bit]!
  }
  return checksum
}

/** BIP 173 bech32 (not bech32m, which age does not use), lower case, checksum verified. */
function bech32Decode(text: string): { prefix: string; words: number[] } | undefined {
  if (text !== text.toLowerCase()) return undefined
  const separator = text.lastIndexOf('1')
  if (separator < 1 || separator + 7 > text.length) return undefined
  const prefix = text.slice(0, separator)
  const words: number[] = []
  for (const char of text.slice(separator + 1)) {
    const value = CHARSET.indexOf(char)
    if (value === -1) return undefined
    words.push(value)
  }
  const expanded = [...prefix].map((char) => char.charCodeAt(0) >> 5)
  expanded.push(0, ...[...prefix].map((char) => char.charCodeAt(0) & 31))
  if (polymod([...expanded, ...words]) !== 1) return undefined
  return { prefix, words: words.slice(0, -6) }
}

function convertBits(words: number[], from: number, to: number): Buffer | undefined {
  let accumulator = 0
  let bits = 0
  const out: number[] = []
  for (const word of words) {
    accumulator = (accumulator << from) | word
    bits += from
    while (bits >= to) {
      bits -= to
      out.push((accumulator >> bits) & ((1 << to) - 1))
    }
    accumulator &= (1 << bits) - 1
  }
  // Leftover bits must be padding: fewer than a byte, all zero.
  if (bits >= from || accumulator !== 0) return undefined
  return Buffer.from(out)
}
