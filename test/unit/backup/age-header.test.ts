// The age header dbops writes itself for X25519 recipients (age-header.ts): the reference library and the `age`
// command line tool decrypt what dbops encrypted, for one and several recipients; recipients that are not X25519
// ones are left to the library; malformed recipients are refused.
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { Decrypter, generateHybridIdentity, generateIdentity, identityToRecipient } from 'age-encryption'
import { afterAll, describe, expect, it } from 'vitest'
import { x25519Header, x25519RecipientKey } from '../../../src/backup/age-header.js'
import { encryptStream } from '../../../src/backup/encryption.js'
import { collect } from '../../helpers/backup-unit.js'

const dirs: string[] = []
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })))

async function keyPair(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateIdentity()
  return { identity, recipient: await identityToRecipient(identity) }
}

async function encrypted(plain: Buffer, recipients: string[]): Promise<Buffer> {
  return collect(await encryptStream(Readable.from([plain]), recipients))
}

async function libraryDecrypts(file: Buffer, identity: string): Promise<Buffer> {
  const decrypter = new Decrypter()
  decrypter.addIdentity(identity)
  return Buffer.from(await decrypter.decrypt(file))
}

const ageCli = (() => {
  try {
    execFileSync('age', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

describe('native age header', () => {
  it('is made without the library for X25519 recipients, and the library decrypts it', async () => {
    const [a, b] = [await keyPair(), await keyPair()]
    const made = x25519Header([a.recipient, b.recipient])!
    const text = made.header.toString('latin1')
    expect(text).toMatch(
      /^age-encryption\.org\/v1\n(-> X25519 [A-Za-z0-9+/]{43}\n[A-Za-z0-9+/]{43}\n){2}--- [A-Za-z0-9+/]{43}\n$/,
    )
    const plain = randomBytes(200_000)
    const file = await encrypted(plain, [a.recipient, b.recipient])
    expect(file.subarray(0, 64).toString('latin1')).toMatch(/^age-encryption\.org\/v1\n-> X25519 /)
    expect((await libraryDecrypts(file, a.identity)).equals(plain)).toBe(true)
    expect((await libraryDecrypts(file, b.identity)).equals(plain)).toBe(true)
    const stranger = await keyPair()
    await expect(libraryDecrypts(file, stranger.identity)).rejects.toThrow()
  })

  it('a changed header fails its MAC', async () => {
    const { identity, recipient } = await keyPair()
    const file = await encrypted(Buffer.from('hello'), [recipient])
    const end = file.indexOf('\n---')
    // Flip a character of the stanza's first line (the ephemeral share) that keeps it valid base64.
    const damaged = Buffer.from(file)
    const at = file.indexOf('X25519 ') + 10
    damaged[at] = damaged[at] === 0x41 ? 0x42 : 0x41
    expect(at).toBeLessThan(end)
    await expect(libraryDecrypts(damaged, identity)).rejects.toThrow()
  })

  it.skipIf(!ageCli)('the age command line tool decrypts it', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dbops-age-header-'))
    dirs.push(dir)
    const [a, b] = [await keyPair(), await keyPair()]
    const keyFile = path.join(dir, 'key.txt')
    writeFileSync(keyFile, `${b.identity}\n`, { mode: 0o600 })
    for (const size of [0, 5, 64 * 1024, 3 * 64 * 1024 + 11]) {
      const plain = randomBytes(size)
      const file = await encrypted(plain, [a.recipient, b.recipient])
      expect(execFileSync('age', ['-d', '-i', keyFile], { input: file }).equals(plain)).toBe(true)
    }
  })

  it('leaves recipients other than X25519 ones to the library, which still encrypts for them', async () => {
    const hybrid = await generateHybridIdentity()
    const hybridRecipient = await identityToRecipient(hybrid)
    const { identity, recipient } = await keyPair()
    expect(x25519Header([recipient, hybridRecipient])).toBeUndefined()
    const plain = randomBytes(1000)
    const file = await encrypted(plain, [recipient, hybridRecipient])
    expect((await libraryDecrypts(file, hybrid)).equals(plain)).toBe(true)
    expect((await libraryDecrypts(file, identity)).equals(plain)).toBe(true)
  })

  it('decodes age1 recipients with their bech32 checksum, and refuses damaged ones', async () => {
    const { recipient } = await keyPair()
    expect(x25519RecipientKey(recipient)).toHaveLength(32)
    const last = recipient.at(-1) === 'q' ? 'p' : 'q'
    expect(x25519RecipientKey(recipient.slice(0, -1) + last)).toBeUndefined()
    expect(x25519RecipientKey(recipient.toUpperCase())).toBeUndefined()
    expect(x25519RecipientKey(recipient.slice(0, -3))).toBeUndefined()
    expect(x25519RecipientKey('AGE-SECRET-KEY-1QQQQ')).toBeUndefined()
    expect(x25519Header([])).toBeUndefined()
  })
})
