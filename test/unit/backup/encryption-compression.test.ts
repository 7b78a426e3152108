import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { generateIdentity, identityToRecipient } from 'age-encryption'
import { afterAll, describe, expect, it } from 'vitest'
import {
  compressStream,
  decompressStream,
  hasZstd,
  resolveCompression,
  type Compression,
} from '../../../src/backup/compression.js'
import { decryptStream, encryptStream, readIdentities, recipientFingerprint } from '../../../src/backup/encryption.js'
import { recipientProblems } from '../../../src/backup/recipients.js'
import { collect, dumpLike } from '../../helpers/backup-unit.js'

const dirs: string[] = []
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })))

describe('encryption', () => {
  it('round-trips through encrypt and decrypt, and the stored bytes differ from the plaintext', async () => {
    const identity = await generateIdentity()
    const recipient = await identityToRecipient(identity)
    const plain = dumpLike()
    const encrypted = await collect(await encryptStream(Readable.from([plain]), [recipient]))
    expect(encrypted.includes(Buffer.from('user1@example.com'))).toBe(false)
    expect(encrypted.subarray(0, 21).toString()).toBe('age-encryption.org/v1')
    const decrypted = await collect(
      await decryptStream(Readable.from([encrypted]), [identity], {
        id: 'b1',
        recipients: [recipientFingerprint(recipient)],
      }),
    )
    expect(createHash('sha256').update(decrypted).digest('hex')).toBe(createHash('sha256').update(plain).digest('hex'))
  })

  it('a wrong or missing identity fails before any plaintext, naming the backup and the recipients, never the key', async () => {
    const identity = await generateIdentity()
    const recipient = await identityToRecipient(identity)
    const encrypted = await collect(await encryptStream(Readable.from([Buffer.from('secret rows')]), [recipient]))
    const wrong = await generateIdentity()
    const error = (await decryptStream(Readable.from([encrypted]), [wrong], {
      id: '20261204T000000Z-app',
      recipients: [recipientFingerprint(recipient)],
    }).then(
      () => undefined,
      (caught: unknown) => caught,
    )) as Error & { code: string }
    expect(error.code).toBe('E_BACKUP_IDENTITY')
    expect(error.message).toContain('20261204T000000Z-app')
    expect(error.message).toContain(recipientFingerprint(recipient))
    expect(error.message).not.toContain(wrong)
    await expect(
      decryptStream(Readable.from([encrypted]), [], { id: 'b', recipients: [recipientFingerprint(recipient)] }),
    ).rejects.toMatchObject({ code: 'E_BACKUP_IDENTITY', message: expect.stringContaining('no identity was given') })
  })

  it('reads identities from a file or the environment and checks recipients', async () => {
    const identity = await generateIdentity()
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dbops-age-'))
    dirs.push(dir)
    const file = path.join(dir, 'key.txt')
    writeFileSync(file, `# created: 2026-12-04\n# public key: age1...\n${identity}\n`)
    expect(readIdentities(file)).toEqual([identity])
    expect(readIdentities(undefined, { DBOPS_AGE_IDENTITY: identity })).toEqual([identity])
    writeFileSync(file, 'nothing here\n')
    expect(() => readIdentities(file)).toThrow(/holds no age identity/)
    expect(() => readIdentities(path.join(dir, 'missing.txt'))).toThrow(
      /cannot read the identity file .*missing\.txt: ENOENT/,
    )
    expect(recipientProblems([await identityToRecipient(identity)])).toEqual([])
    expect(recipientProblems([identity])[0]).toMatch(/private identity, not a public key/)
    expect(recipientProblems([identity])[0]).not.toContain(identity)
    expect(recipientProblems(['ssh-rsa AAAA'])[0]).toMatch(/not an age public key/)
  })
})

describe('compression', () => {
  const kinds: Compression[] = hasZstd() ? ['gzip', 'zstd'] : ['gzip']
  for (const kind of kinds) {
    it(`${kind} round-trips and shrinks a dump`, async () => {
      const plain = dumpLike()
      const packed = await collect(await compressStream(Readable.from([plain]), kind))
      expect(packed.length).toBeLessThan(plain.length / 3)
      expect((await collect(await decompressStream(Readable.from([packed]), kind))).equals(plain)).toBe(true)
    })

    it(`${kind}: corrupt input fails instead of returning short data`, async () => {
      const packed = await collect(await compressStream(Readable.from([dumpLike()]), kind))
      packed.fill(0, 100, 400)
      await expect(collect(await decompressStream(Readable.from([packed]), kind))).rejects.toThrow()
    })
  }

  it('auto picks zstd when the program exists, else gzip', () => {
    expect(resolveCompression('auto')).toBe(hasZstd() ? 'zstd' : 'gzip')
    expect(resolveCompression('none')).toBe('none')
  })
})
