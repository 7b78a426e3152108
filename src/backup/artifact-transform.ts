import { pipeline, Readable, Transform, type Duplex } from 'node:stream'
import { DbopsError, UsageError } from '../errors.js'
import { registerSecret } from '../output/redact.js'
import type { CompressSetting } from '../config/resolve-config.js'
import {
  COMPRESSION_EXTENSION,
  COMPRESSION_LEVELS,
  compressor,
  decompressor,
  resolveCompression,
  type Compression,
} from './compression.js'
import {
  decryptStream,
  encryptor,
  IDENTITY_ENV,
  missingIdentity,
  readIdentities,
  recipientFingerprint,
} from './encryption.js'

/**
 * What happens to an artifact between the engine and the storage, the same for every engine and storage: `create`
 * seals it (compress, then encrypt), `restore` and `verify` open it (decrypt, then decompress). The manifest records
 * what was done, and its sha256 and size stay those of the bytes stored, so the stored object can be checked without
 * the private key.
 */

/** `manifest.compression`: set when dbops compressed the artifact (not pg_dump's own compression). */
export interface CompressionRecord {
  algorithm: Exclude<Compression, 'none'>
  level?: number
  /** Bytes the engine produced, before compression. */
  rawBytes: number
  /** rawBytes divided by the compressed size, two decimals. */
  ratio: number
}

/** `manifest.encryption`: whom the stored bytes are encrypted for (fingerprints of the public keys). */
export interface EncryptionRecord {
  scheme: 'age'
  recipients: string[]
}

/** The fields of a manifest this module reads and writes. */
export interface TransformedManifest {
  id: string
  compression?: CompressionRecord | null
  encryption?: EncryptionRecord | null
}

export interface Sealing {
  compression: Compression
  level?: number
  /** age public keys; empty: not encrypted. */
  recipients: readonly string[]
}

/**
 * How `create` seals an artifact. The engine's own compression (pg_dump's custom and directory formats) is never
 * doubled: `selfCompressed` artifacts get none from dbops, and the level goes to the engine instead.
 */
export function chooseSealing(
  settings: { compress?: CompressSetting; compressLevel?: number; encrypt?: { recipients: string[] } },
  options: { selfCompressed: boolean; compress?: CompressSetting },
): Sealing {
  const setting = options.compress ?? settings.compress ?? 'auto'
  const compression = options.selfCompressed ? 'none' : resolveCompression(setting)
  const level = settings.compressLevel
  if (compression !== 'none' && level !== undefined) {
    const { min, max } = COMPRESSION_LEVELS[compression]
    if (level < min || level > max)
      throw new UsageError(
        `backup.compressLevel ${level} does not apply to ${compression} (${min}-${max})`,
        `set backup.compressLevel between ${min} and ${max}, or leave it out`,
      )
  }
  return {
    compression,
    ...(compression !== 'none' && level !== undefined && { level }),
    recipients: settings.encrypt?.recipients ?? [],
  }
}

/** What the sealing adds to the artifact's name: `.zst`, `.gz`, then `.age`. */
export function sealedSuffix(sealing: Sealing): string {
  return COMPRESSION_EXTENSION[sealing.compression] + (sealing.recipients.length > 0 ? '.age' : '')
}

export interface SealedArtifact {
  /** The bytes to store. */
  stream: Readable
  /** The manifest fields, once `stream` has ended. */
  records(): { compression: CompressionRecord | null; encryption: EncryptionRecord | null }
}

/** Compresses, then encrypts `source` as `sealing` says; an error anywhere (the engine's included) ends `stream`. */
export function sealArtifact(source: Readable, sealing: Sealing): SealedArtifact {
  const raw = byteCounter()
  const packed = byteCounter()
  const stages: Duplex[] = []
  if (sealing.compression !== 'none')
    stages.push(raw.stream, compressor(sealing.compression, sealing.level), packed.stream)
  if (sealing.recipients.length > 0) stages.push(encryptor(sealing.recipients))
  const stream = stages.length === 0 ? source : (pipeline([source, ...stages], () => {}) as unknown as Readable)
  return {
    stream,
    records: () => ({
      compression:
        sealing.compression === 'none'
          ? null
          : {
              algorithm: sealing.compression,
              ...(sealing.level !== undefined && { level: sealing.level }),
              rawBytes: raw.bytes(),
              ratio: compressionRatio(raw.bytes(), packed.bytes()),
            },
      encryption:
        sealing.recipients.length > 0
          ? { scheme: 'age', recipients: sealing.recipients.map(recipientFingerprint) }
          : null,
    }),
  }
}

export function compressionRatio(rawBytes: number, compressedBytes: number): number {
  return compressedBytes === 0 ? 1 : Math.round((rawBytes / compressedBytes) * 100) / 100
}

/** Whether opening this backup needs a private identity. */
export function isEncrypted(manifest: TransformedManifest): boolean {
  return (manifest.encryption ?? null) !== null
}

/**
 * The identities to open `manifest` with: those given, else (for an encrypted backup) the DBOPS_AGE_IDENTITY
 * variable's. With `required`, an encrypted backup without any is refused here, before anything is read.
 */
export async function identitiesFor(
  manifest: TransformedManifest,
  given: readonly string[] | undefined,
  required: boolean,
): Promise<readonly string[]> {
  if (!isEncrypted(manifest)) return given ?? []
  const identities = given ?? (await loadIdentities(undefined))
  if (required && identities.length === 0)
    throw missingIdentity({ id: manifest.id, recipients: manifest.encryption!.recipients })
  return identities
}

/**
 * The artifact as the engine wrote it, from the stored bytes: decrypted (the header, and so the identity, checked
 * before this resolves: nothing has been restored yet when it fails), then decompressed. Damaged or cut-short data
 * surfaces later as E_BACKUP_CORRUPT on the returned stream, never as a short artifact.
 */
export async function unsealArtifact(
  stored: Readable,
  manifest: TransformedManifest,
  identities: readonly string[],
): Promise<Readable> {
  const encryption = manifest.encryption ?? null
  const compression = manifest.compression ?? null
  if (!encryption && !compression) return stored
  let stream = stored
  if (encryption)
    stream = await decryptStream(stored, identities, { id: manifest.id, recipients: encryption.recipients })
  if (compression) stream = pipeline(stream, decompressor(compression.algorithm), () => {})
  return asCorruption(stream, manifest.id, encryption ? 'decrypted' : 'decompressed')
}

/**
 * Errors of the opened stream become one line saying the backup is damaged (the cause stays for --verbose). The
 * result reads lazily: nothing is decrypted, and no error raised, before its consumer (pg_restore's stdin, a file)
 * reads it, so a damaged first chunk cannot surface before anyone listens.
 */
function asCorruption(stream: Readable, id: string, what: string): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of stream) yield chunk as Buffer
    } catch (error) {
      throw error instanceof DbopsError
        ? error
        : new DbopsError(
            'E_BACKUP_CORRUPT',
            `backup ${id} is corrupt: it cannot be ${what}: ${(error as Error).message || String(error)}`,
            {
              hint: 'the stored object is damaged or cut short; restore an older backup and keep this one for inspection',
              cause: error,
            },
          )
    }
  }
  const out = Readable.from(chunks(), { objectMode: false })
  out.once('close', () => stream.destroy())
  return out
}

/**
 * The private identities for `restore` and `verify`: `--identity <file>`, else the DBOPS_AGE_IDENTITY environment
 * variable (the file's text). Each is checked and registered as a secret, so no output can show it.
 */
export async function loadIdentities(
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string[]> {
  const identities = readIdentities(file, env)
  identities.forEach(registerSecret)
  if (identities.length === 0) return identities
  const { identityToRecipient } = await import('age-encryption')
  for (const [index, identity] of identities.entries()) {
    // Deriving the public key decodes the whole key. The library's own message may quote it: never shown.
    await identityToRecipient(identity).catch(() => {
      throw new DbopsError('E_USAGE', `identity ${index + 1} in ${file ?? IDENTITY_ENV} is not a valid age identity`, {
        hint: 'give the file age-keygen wrote (a line AGE-SECRET-KEY-1...)',
      })
    })
  }
  return identities
}

function byteCounter(): { stream: Transform; bytes: () => number } {
  let count = 0
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      count += chunk.length
      callback(null, chunk)
    },
  })
  return { stream, bytes: () => count }
}
