import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { pipeline, type Duplex, type Readable } from 'node:stream'
import { DbopsError } from '../errors.js'
import {
  headerEnd,
  PAYLOAD_NONCE_BYTES,
  payloadDecryptor,
  payloadEncryptor,
  payloadKey,
  readHeader,
  readPayloadNonce,
} from './age-payload.js'
import { x25519Header } from './age-header.js'

/**
 * Client-side encryption of backups with age (age-encryption, the reference TypeScript implementation): the backup
 * host holds only public keys (`age1...`), so a stolen backup host cannot read old backups; `restore` and `verify`
 * need a private identity (`AGE-SECRET-KEY-1...`). Loaded only when a backup is encrypted or decrypted.
 */

/** Environment variable holding identities (the file's text, one per line) when no `--identity` file is given. */
export const IDENTITY_ENV = 'DBOPS_AGE_IDENTITY'

/** A short, stable name for a public key, for manifests and messages: `age1qyqs…x7k2 (sha256:1a2b3c4d)`. */
export function recipientFingerprint(recipient: string): string {
  return `${recipient.slice(0, 8)}…${recipient.slice(-4)} (sha256:${createHash('sha256').update(recipient).digest('hex').slice(0, 8)})`
}

/**
 * A transform that encrypts what is written to it for `recipients`, as an age file. The header is made natively for
 * X25519 recipients (age-header.ts), else by the library, which then loads while the first bytes queue up. The
 * payload is encrypted natively (age-payload.ts).
 */
export function encryptor(recipients: readonly string[]): Duplex {
  return payloadEncryptor(async () => {
    const { header, fileKey } = x25519Header(recipients) ?? (await ageHeader(recipients))
    const nonce = randomBytes(PAYLOAD_NONCE_BYTES)
    return { prefix: Buffer.concat([header, nonce]), key: payloadKey(fileKey, nonce) }
  })
}

/**
 * A fresh file key and the age header wrapping it for `recipients`, made by age-encryption (every recipient type it
 * knows, its MAC): for recipients that are not all X25519 ones. Its Encrypter hands the file key to each recipient; one that adds no stanza keeps a copy. The
 * library encrypts an empty file: the header, its payload nonce and one empty last chunk (a tag). Only the header
 * is kept: the payload gets its own nonce, so no chunk nonce is used twice under one key.
 */
async function ageHeader(recipients: readonly string[]): Promise<{ header: Buffer; fileKey: Uint8Array }> {
  const { Encrypter } = await import('age-encryption')
  const encrypter = new Encrypter()
  for (const recipient of recipients) encrypter.addRecipient(recipient)
  let fileKey: Uint8Array | undefined
  encrypter.addRecipient({
    wrapFileKey(key: Uint8Array) {
      fileKey = Uint8Array.from(key)
      return []
    },
  })
  // A stream, not bytes: for bytes the library collects its output through fetch's Response, whose first use loads
  // undici (~0.2 s of CPU).
  const file = await encrypter.encrypt(new ReadableStream<Uint8Array>({ start: (controller) => controller.close() }))
  const parts: Uint8Array[] = []
  for await (const part of file as unknown as AsyncIterable<Uint8Array>) parts.push(part)
  const empty = Buffer.concat(parts)
  const end = headerEnd(empty)
  // Guards the layout assumed above against a change of the library.
  if (fileKey === undefined || end === -1 || empty.length !== end + PAYLOAD_NONCE_BYTES + 16)
    throw new Error('age-encryption made an unexpected file; cannot take its header')
  return { header: empty.subarray(0, end), fileKey }
}

export async function encryptStream(source: Readable, recipients: readonly string[]): Promise<Readable> {
  return pipeline(source, encryptor(recipients), () => {})
}

/** What a message may say about an encrypted backup: its id and the fingerprints of its recipients. */
export interface EncryptedBackup {
  id: string
  /** recipientFingerprint() of each public key it was encrypted for. */
  recipients: readonly string[]
}

/** The error for an encrypted backup and no identity (raised before anything is read or restored). */
export function missingIdentity(backup: EncryptedBackup): DbopsError {
  return new DbopsError(
    'E_BACKUP_IDENTITY',
    `backup ${backup.id} is encrypted (for ${backup.recipients.join(', ')}) and no identity was given`,
    { hint: `pass --identity <file> or set ${IDENTITY_ENV} to the private key of one of those recipients` },
  )
}

/**
 * Decrypts with the given identities. The header is read and authenticated before this resolves, so a missing or
 * wrong identity fails here, before anything is restored, naming the backup and the recipients it was encrypted
 * for. A damaged header is E_BACKUP_CORRUPT; damaged or cut-short data fails later, as an error on the stream.
 */
export async function decryptStream(
  source: Readable,
  identities: readonly string[],
  backup: EncryptedBackup,
): Promise<Readable> {
  const recipients = backup.recipients.join(', ')
  if (identities.length === 0) {
    source.destroy()
    throw missingIdentity(backup)
  }
  const { Decrypter, identityToRecipient } = await import('age-encryption')
  const decrypter = new Decrypter()
  for (const identity of identities) decrypter.addIdentity(identity)
  // Until the pipeline below listens, an error of the source (a failed download) must not go unhandled.
  const held = () => {}
  source.on('error', held)
  try {
    // The library checks the header (identity, MAC); the payload is decrypted natively (age-payload.ts).
    const fileKey = await decrypter.decryptHeader(await readHeader(source))
    const nonce = await readPayloadNonce(source)
    return pipeline(source, payloadDecryptor(payloadKey(fileKey, nonce)), () => {})
  } catch (error) {
    source.destroy()
    // The stored bytes' own check (their sha256, when the object is short enough to end within the header) wins.
    if (error instanceof DbopsError) throw error
    const reason = (error as Error).message
    if (reason.includes('no identity matched')) {
      // The public side of what was given helps find the right key file, and is no secret.
      const given = await Promise.all(
        identities.map((identity) => identityToRecipient(identity).then(recipientFingerprint, () => '?')),
      )
      throw new DbopsError(
        'E_BACKUP_IDENTITY',
        `backup ${backup.id} cannot be decrypted with the identity given (${given.join(', ')}): it was encrypted for ${recipients}`,
        { hint: 'use the private key matching one of those public keys', cause: error },
      )
    }
    throw new DbopsError(
      'E_BACKUP_CORRUPT',
      `backup ${backup.id} is corrupt: its age header cannot be read (${reason})`,
      {
        hint: 'restore an older backup; keep this one for inspection',
        cause: error,
      },
    )
  } finally {
    source.off('error', held)
  }
}

/**
 * Identities from `--identity <file>` or the environment: lines starting with AGE-SECRET-KEY-, comments ignored.
 * The key material never reaches a message.
 */
export function readIdentities(file: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  let text: string
  if (file !== undefined) {
    try {
      text = readFileSync(file, 'utf8')
    } catch (error) {
      throw new DbopsError(
        'E_USAGE',
        `cannot read the identity file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        {
          hint: 'pass --identity the path of an age identity file (age-keygen -o key.txt)',
        },
      )
    }
  } else {
    text = env[IDENTITY_ENV] ?? ''
  }
  const identities = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.startsWith('AGE-SECRET-KEY-'))
  if (file !== undefined && identities.length === 0) {
    throw new DbopsError(
      'E_USAGE',
      `the identity file ${file} holds no age identity (a line starting AGE-SECRET-KEY-)`,
      { hint: 'make one with age-keygen -o key.txt' },
    )
  }
  return identities
}
