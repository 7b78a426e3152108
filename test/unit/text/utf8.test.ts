import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { decodeUtf8, InvalidUtf8Error, locateInvalidUtf8 } from '../../../src/text/utf8.js'

function bytes(...parts: (string | number[])[]): Buffer {
  return Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : Buffer.from(part))))
}

function failure(input: Buffer): InvalidUtf8Error {
  try {
    decodeUtf8(input)
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidUtf8Error)
    return error as InvalidUtf8Error
  }
  throw new Error('decoded')
}

describe('strict UTF-8', () => {
  it('decodes valid text as it is, BOM kept', () => {
    expect(decodeUtf8(bytes([0xef, 0xbb, 0xbf], 'café 😀\n'))).toBe('\uFEFFcafé 😀\n')
  })

  it('names line, column (in characters) and the byte of the first bad sequence', () => {
    expect(failure(bytes('a,b\n1,caf', [0xe9], ' x\n'))).toMatchObject({ line: 2, column: 6, byte: 0xe9 })
    expect(failure(bytes('é😀', [0xff]))).toMatchObject({ line: 1, column: 3, byte: 0xff })
    expect(failure(bytes('ok\n', [0xc0, 0xaf]))).toMatchObject({ line: 2, column: 1, byte: 0xc0 }) // overlong "/"
    expect(failure(bytes([0xed, 0xa0, 0x80]))).toMatchObject({ line: 1, column: 1, byte: 0xed }) // a UTF-16 surrogate
    expect(failure(bytes('x', [0xf0, 0x9f, 0x98]))).toMatchObject({ line: 1, column: 2, byte: 0xf0 }) // cut at the end
    expect(failure(bytes([0xf4, 0x90, 0x80, 0x80]))).toMatchObject({ byte: 0xf4 }) // beyond U+10FFFF
  })

  it('agrees with TextDecoder on which inputs are UTF-8 (random bytes)', () => {
    let seed = 7
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    const pool = [0x41, 0x0a, 0x80, 0xbf, 0xc2, 0xdf, 0xe0, 0xa0, 0xed, 0x9f, 0xef, 0xf0, 0x90, 0xf4, 0x8f, 0xff, 0xc0]
    for (let round = 0; round < 3000; round++) {
      const input = Buffer.from(
        Array.from({ length: 1 + Math.floor(random() * 8) }, () => pool[Math.floor(random() * pool.length)]!),
      )
      let valid = true
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(input)
      } catch {
        valid = false
      }
      if (valid) expect(() => decodeUtf8(input)).not.toThrow()
      else expect(() => decodeUtf8(input), input.toString('hex')).toThrow(InvalidUtf8Error)
    }
  })

  it('locates the bad byte of a file read in chunks', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dbops-utf8-'))
    try {
      const file = path.join(dir, 'big.csv')
      writeFileSync(file, bytes('é,1\n'.repeat(50_000), [0xe2, 0x82], ',2\n'))
      expect(await locateInvalidUtf8(file)).toMatchObject({ line: 50_001, column: 1, byte: 0xe2 })
      writeFileSync(file, 'fine\n')
      expect(await locateInvalidUtf8(file)).toBeUndefined()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
