import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Duplex, PassThrough, pipeline, Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { DbopsError } from '../errors.js'

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
 * A transform that encrypts what is written to it for `recipients` (age's STREAM: authenticated 64 KiB chunks).
 * Returned at once; the library loads and the file key is wrapped while the first bytes queue up.
 */
export function encryptor(recipients: readonly string[]): Duplex {
  const input = new PassThrough()
  const output = new PassThrough()
  import('age-encryption')
    .then(async ({ Encrypter }) => {
      const encrypter = new Encrypter()
      for (const recipient of recipients) encrypter.addRecipient(recipient)
      const encrypted = await encrypter.encrypt(Readable.toWeb(input) as unknown as ReadableStream<Uint8Array>)
      pipeline(Readable.fromWeb(encrypted as unknown as WebReadableStream<Uint8Array>), output, () => {})
    })
    .catch((error: unknown) => output.destroy(error as Error))
  return Duplex.from({ writable: input, readable: output })
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
  try {
    const decrypted = await decrypter.decrypt(Readable.toWeb(source) as unknown as ReadableStream<Uint8Array>)
    return Readable.fromWeb(decrypted as unknown as WebReadableStream<Uint8Array>)
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
