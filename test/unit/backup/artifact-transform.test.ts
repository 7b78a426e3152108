import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { generateIdentity, identityToRecipient } from 'age-encryption'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  chooseSealing,
  loadIdentities,
  unsealArtifact,
  sealArtifact,
  sealedSuffix,
  type Sealing,
  type TransformedManifest,
} from '../../../src/backup/artifact-transform.js'
import { hasZstd, type Compression } from '../../../src/backup/compression.js'
import { recipientFingerprint } from '../../../src/backup/encryption.js'
import { scrubSecrets } from '../../../src/output/redact.js'
import { collect, dumpLike, failureOf } from '../../helpers/backup-unit.js'

const dirs: string[] = []
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })))

let identity: string
let recipient: string
beforeAll(async () => {
  identity = await generateIdentity()
  recipient = await identityToRecipient(identity)
})

const sha = (buffer: Buffer) => createHash('sha256').update(buffer).digest('hex')

async function seal(plain: Buffer, sealing: Sealing): Promise<{ stored: Buffer; manifest: TransformedManifest }> {
  const sealed = sealArtifact(Readable.from([plain]), sealing)
  const stored = await collect(sealed.stream)
  return { stored, manifest: { id: '20261204T120000Z-app', ...sealed.records() } }
}

const algorithms: Compression[] = hasZstd() ? ['none', 'gzip', 'zstd'] : ['none', 'gzip']

describe('sealArtifact / unsealArtifact', () => {
  for (const compression of algorithms) {
    for (const encrypted of [false, true]) {
      it(`round-trips with compression ${compression}${encrypted ? ', encrypted' : ''}`, async () => {
        const plain = dumpLike()
        const { stored, manifest } = await seal(plain, { compression, recipients: encrypted ? [recipient] : [] })
        if (compression === 'none') expect(manifest.compression).toBeNull()
        else {
          expect(manifest.compression).toMatchObject({ algorithm: compression, rawBytes: plain.length })
          expect(manifest.compression!.ratio).toBeGreaterThan(3)
          if (!encrypted)
            expect(manifest.compression!.ratio).toBe(Math.round((plain.length / stored.length) * 100) / 100)
        }
        if (encrypted) {
          expect(manifest.encryption).toEqual({ scheme: 'age', recipients: [recipientFingerprint(recipient)] })
          expect(stored.subarray(0, 21).toString()).toBe('age-encryption.org/v1')
          expect(stored.includes(Buffer.from('user1@example.com'))).toBe(false)
        } else expect(manifest.encryption).toBeNull()
        const opened = await collect(await unsealArtifact(Readable.from([stored]), manifest, [identity]))
        expect(sha(opened)).toBe(sha(plain))
      })
    }
  }

  it('ends the sealed stream with the error of its source (a failing dump is never stored as complete)', async () => {
    const source = new Readable({ read() {} })
    const sealed = sealArtifact(source, { compression: 'gzip', recipients: [recipient] })
    source.push(Buffer.from('COPY public.t FROM stdin;\n'))
    setImmediate(() => source.destroy(new Error('pg_dump failed: connection lost')))
    expect((await failureOf(collect(sealed.stream))).message).toContain('connection lost')
  })

  it('a wrong identity fails before any byte is returned, naming the backup and both keys by fingerprint', async () => {
    const { stored, manifest } = await seal(Buffer.from('secret rows'), {
      compression: 'none',
      recipients: [recipient],
    })
    const wrong = await generateIdentity()
    const error = await failureOf(unsealArtifact(Readable.from([stored]), manifest, [wrong]))
    expect(error.code).toBe('E_BACKUP_IDENTITY')
    expect(error.message).toContain('20261204T120000Z-app')
    expect(error.message).toContain(recipientFingerprint(recipient))
    expect(error.message).toContain(recipientFingerprint(await identityToRecipient(wrong)))
    expect(error.message).not.toContain(wrong)
    expect(error.message).not.toContain(identity)
  })

  it('a missing identity says so, with the recipients', async () => {
    const { stored, manifest } = await seal(Buffer.from('rows'), { compression: 'gzip', recipients: [recipient] })
    const error = await failureOf(unsealArtifact(Readable.from([stored]), manifest, []))
    expect(error.code).toBe('E_BACKUP_IDENTITY')
    expect(error.message).toMatch(/is encrypted \(for .*\) and no identity was given/)
    expect(error.message).toContain(recipientFingerprint(recipient))
  })

  it('changed ciphertext fails as corrupt, not as short data', async () => {
    const { stored, manifest } = await seal(dumpLike(), { compression: 'none', recipients: [recipient] })
    stored[Math.floor(stored.length / 2)]! ^= 0x01
    const error = await failureOf(collect(await unsealArtifact(Readable.from([stored]), manifest, [identity])))
    expect(error.code).toBe('E_BACKUP_CORRUPT')
    expect(error.message).toMatch(
      /backup 20261204T120000Z-app is corrupt: it cannot be decrypted: a chunk fails authentication/,
    )
  })

  it('a damaged first chunk surfaces only when the opened stream is read, never as an unhandled error before', async () => {
    const { stored, manifest } = await seal(dumpLike(), { compression: 'gzip', recipients: [recipient] })
    stored[stored.indexOf('\n---') + 200]! ^= 0x01
    const opened = await unsealArtifact(Readable.from([stored]), manifest, [identity])
    // The consumer (pg_restore, spawned after a version check) attaches later: many event-loop turns go by first.
    for (let turn = 0; turn < 50; turn++) await new Promise((resolve) => setImmediate(resolve))
    const error = await failureOf(collect(opened))
    expect(error.code).toBe('E_BACKUP_CORRUPT')
  })

  it('cut-short ciphertext fails as corrupt', async () => {
    const { stored, manifest } = await seal(dumpLike(), { compression: 'none', recipients: [recipient] })
    const cut = stored.subarray(0, 200_000)
    const error = await failureOf(collect(await unsealArtifact(Readable.from([cut]), manifest, [identity])))
    expect(error.code).toBe('E_BACKUP_CORRUPT')
  })

  it('a damaged age header is corrupt, not a wrong identity', async () => {
    const { stored, manifest } = await seal(Buffer.from('rows'), { compression: 'none', recipients: [recipient] })
    const header = stored.indexOf('\n---') // the MAC line
    stored[header + 6]! ^= 0x02
    const error = await failureOf(unsealArtifact(Readable.from([stored]), manifest, [identity]))
    expect(error.code).toBe('E_BACKUP_CORRUPT')
  })

  for (const compression of algorithms.filter((name) => name !== 'none')) {
    it(`a cut-short ${compression} artifact fails as corrupt instead of looking like a short file`, async () => {
      const { stored, manifest } = await seal(dumpLike(), { compression, recipients: [] })
      const cut = stored.subarray(0, Math.floor(stored.length * 0.6))
      const error = await failureOf(collect(await unsealArtifact(Readable.from([cut]), manifest, [])))
      expect(error.code).toBe('E_BACKUP_CORRUPT')
      expect(error.message).toContain('cannot be decompressed')
    })
  }
})

describe('chooseSealing', () => {
  it('compresses only what the engine does not, with auto resolving to zstd or gzip', () => {
    const auto = hasZstd() ? 'zstd' : 'gzip'
    expect(chooseSealing({}, { selfCompressed: false })).toEqual({ compression: auto, recipients: [] })
    expect(chooseSealing({ compress: 'gzip', compressLevel: 9 }, { selfCompressed: true })).toEqual({
      compression: 'none',
      recipients: [],
    })
    expect(chooseSealing({ compress: 'none' }, { selfCompressed: false, compress: 'gzip' }).compression).toBe('gzip')
    expect(
      chooseSealing(
        { compress: 'gzip', compressLevel: 1, encrypt: { recipients: [recipient] } },
        { selfCompressed: false },
      ),
    ).toEqual({ compression: 'gzip', level: 1, recipients: [recipient] })
    expect(() => chooseSealing({ compress: 'gzip', compressLevel: 12 }, { selfCompressed: false })).toThrow(
      /compressLevel 12 does not apply to gzip \(0-9\)/,
    )
  })

  it('names the artifact by what was done to it', () => {
    expect(sealedSuffix({ compression: 'zstd', recipients: [recipient] })).toBe('.zst.age')
    expect(sealedSuffix({ compression: 'gzip', recipients: [] })).toBe('.gz')
    expect(sealedSuffix({ compression: 'none', recipients: [recipient] })).toBe('.age')
  })
})

describe('loadIdentities', () => {
  it('reads the file or the environment and registers the keys as secrets', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dbops-identity-'))
    dirs.push(dir)
    const file = path.join(dir, 'key.txt')
    writeFileSync(file, `# public key: ${recipient}\n${identity}\n`)
    expect(await loadIdentities(file, {})).toEqual([identity])
    expect(scrubSecrets(`oops ${identity} leaked`)).toBe('oops *** leaked')
    const other = await generateIdentity()
    expect(await loadIdentities(undefined, { DBOPS_AGE_IDENTITY: other })).toEqual([other])
    expect(await loadIdentities(undefined, {})).toEqual([])
  })

  it('refuses a malformed key without showing it', async () => {
    const broken = `${identity.slice(0, -6)}QQQQQQ`
    const error = await failureOf(loadIdentities(undefined, { DBOPS_AGE_IDENTITY: broken }))
    expect(error.code).toBe('E_USAGE')
    expect(error.message).toBe('identity 1 in DBOPS_AGE_IDENTITY is not a valid age identity')
  })
})
