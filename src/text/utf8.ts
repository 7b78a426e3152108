import { isUtf8 } from 'node:buffer'
import { createReadStream } from 'node:fs'
import { TextDecoder } from 'node:util'

/**
 * Strict UTF-8 for files dbops reads (migrations, seeds): a byte that is not UTF-8 is an error naming its line and
 * column, never a silent U+FFFD as Buffer#toString and StringDecoder make it. Decoding is TextDecoder's (native,
 * and faster than StringDecoder); only a failure is scanned again here, to say where it is.
 */
export class InvalidUtf8Error extends Error {
  constructor(
    /** 1-based line and column (in characters) of the character the bad byte spoils. */
    readonly line: number,
    readonly column: number,
    readonly byte: number,
  ) {
    super(`not valid UTF-8 (byte 0x${byte.toString(16).toUpperCase().padStart(2, '0')})`)
    this.name = 'InvalidUtf8Error'
  }
}

export const UTF8_HINT = 'save the file as UTF-8 (for example with iconv -f latin1 -t utf-8)'

/** The text of a whole file's bytes; a BOM is kept (callers drop it where it is not content). */
export function decodeUtf8(bytes: Uint8Array): string {
  // isUtf8 (simdutf) and Buffer's decoder: about half the cost of a fatal TextDecoder per file, which adds up over
  // thousands of migrations. Both keep a BOM.
  if (isUtf8(bytes)) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
  try {
    return utf8StreamDecoder().decode(bytes)
  } catch {
    const scanner = new Utf8Scanner()
    scanner.scan(bytes)
    scanner.end()
    throw new Error('TextDecoder rejected bytes that are valid UTF-8') // Unreachable: the scanner throws first.
  }
}

/**
 * A streaming decoder (`decode(chunk, { stream: true })`, then `decode()`): it throws a TypeError without a position
 * on bad bytes; the caller then asks `locateInvalidUtf8` where, off the hot path.
 */
export function utf8StreamDecoder(): TextDecoder {
  return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
}

/** Where a file stops being UTF-8 (the error to throw), or undefined when it is valid UTF-8 throughout. */
export async function locateInvalidUtf8(path: string): Promise<InvalidUtf8Error | undefined> {
  const scanner = new Utf8Scanner()
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 16 })) scanner.scan(chunk as Buffer)
    scanner.end()
  } catch (error) {
    if (error instanceof InvalidUtf8Error) return error
    throw error
  }
  return undefined
}

/** A byte-by-byte validator (Unicode Table 3-7, as TextDecoder checks) that counts lines and characters. */
class Utf8Scanner {
  #line = 1
  #column = 0
  #need = 0
  #lead = 0
  #lower = 0x80
  #upper = 0xbf

  scan(bytes: Uint8Array): void {
    for (const byte of bytes) {
      if (this.#need > 0) {
        // The sequence's first byte is the one to name: a Latin-1 "é" (0xE9) before a space is an 0xE9 problem.
        if (byte < this.#lower || byte > this.#upper) throw new InvalidUtf8Error(this.#line, this.#column, this.#lead)
        this.#need--
        this.#lower = 0x80
        this.#upper = 0xbf
        continue
      }
      this.#column++
      if (byte < 0x80) {
        if (byte === 0x0a) {
          this.#line++
          this.#column = 0
        }
        continue
      }
      this.#lead = byte
      if (byte >= 0xc2 && byte <= 0xdf) this.#need = 1
      else if (byte >= 0xe0 && byte <= 0xef) {
        this.#need = 2
        if (byte === 0xe0) this.#lower = 0xa0
        if (byte === 0xed) this.#upper = 0x9f
      } else if (byte >= 0xf0 && byte <= 0xf4) {
        this.#need = 3
        if (byte === 0xf0) this.#lower = 0x90
        if (byte === 0xf4) this.#upper = 0x8f
      } else throw new InvalidUtf8Error(this.#line, this.#column, byte)
    }
  }

  end(): void {
    if (this.#need > 0) throw new InvalidUtf8Error(this.#line, this.#column, this.#lead)
  }
}
