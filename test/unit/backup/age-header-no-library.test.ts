// Encrypting for X25519 recipients never loads age-encryption (its pure-JavaScript X25519 cost ~60 ms of every
// encrypted backup): here the library cannot load at all, and encryption still works.
import { Readable } from 'node:stream'
import { describe, expect, it, vi } from 'vitest'
import { encryptStream } from '../../../src/backup/encryption.js'
import { collect } from '../../helpers/backup-unit.js'

vi.mock('age-encryption', () => {
  throw new Error('age-encryption was loaded')
})

// A fixed public key (age-keygen output); no private key is needed to encrypt.
const RECIPIENT = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p'

describe('encrypting for X25519 recipients', () => {
  it('does not load age-encryption', async () => {
    const file = await collect(await encryptStream(Readable.from([Buffer.from('payload')]), [RECIPIENT]))
    expect(file.toString('latin1')).toMatch(/^age-encryption\.org\/v1\n-> X25519 /)
  })
})
