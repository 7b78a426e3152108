/**
 * A JSON number that a JavaScript double would change (beyond 2^53, more than 15 significant digits, out of the
 * double's range): kept as written so the database parses it into the column's type, exactly as psql would.
 */
export class JsonNumber {
  constructor(readonly source: string) {}

  toString(): string {
    return this.source
  }
}

/** A record JSON.parse would read differently from what the file says (a key given twice). */
export class JsonRecordError extends Error {
  override name = 'JsonRecordError'
}

/** Objects and arrays holding a JsonNumber somewhere inside: stringifyJson writes only these by hand. */
const holdsExactNumber = new WeakSet<object>()

/**
 * One record's JSON text as a value. JSON.parse when every number fits a double as written and no key of the record
 * repeats; otherwise a second, careful parse keeps exact numbers as JsonNumber and refuses a repeated key, which
 * JSON.parse would silently resolve to its last value. `keys` is the number of keys of the outer object when the
 * caller's scanner has counted them; else the text is scanned here. Invalid JSON throws JSON.parse's SyntaxError;
 * a repeated key throws JsonRecordError naming it.
 */
export function parseRecord(text: string, keys: number = countOuterKeys(text)): unknown {
  const value: unknown = JSON.parse(text)
  // 16 digits in a row may not fit a double; an exponent may leave its range (a false alarm inside a string only
  // costs the careful parse).
  if (!MAYBE_INEXACT.test(text) && (typeof value !== 'object' || value === null || ownKeys(value) === keys))
    return value
  return new CarefulParser(text).value()
}

function ownKeys(value: object): number {
  let count = 0
  for (const key in value) if (key !== undefined) count++
  return count
}

const MAYBE_INEXACT = /\d{16}|\d[eE]/

/** The colons of the outermost object, outside strings: its number of keys, repeated ones included. */
export function countOuterKeys(text: string): number {
  let depth = 0
  let inString = false
  let escaped = false
  let keys = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (escaped) escaped = false
      else if (c === 92) escaped = true
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 123 || c === 91) depth++
    else if (c === 125 || c === 93) depth--
    else if (c === 58 && depth === 1) keys++
  }
  return keys
}

/** JSON text for a parsed value, with JsonNumbers written as their source digits. */
export function stringifyJson(value: unknown): string {
  if (value instanceof JsonNumber) return value.source
  if (typeof value !== 'object' || value === null || !holdsExactNumber.has(value)) return JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(stringifyJson).join(',')}]`
  const record = value as Record<string, unknown>
  return `{${Object.keys(record)
    .map((key) => `${JSON.stringify(key)}:${stringifyJson(record[key])}`)
    .join(',')}}`
}

const NUMBER = /-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?/y

/** A recursive parse of text JSON.parse has already accepted, so it checks nothing but repeated keys. */
class CarefulParser {
  #at = 0

  constructor(private readonly text: string) {}

  value(): unknown {
    this.#space()
    const c = this.text.charCodeAt(this.#at)
    if (c === 123) return this.#object()
    if (c === 91) return this.#array()
    if (c === 34) return this.#string()
    if (c === 116 || c === 110) {
      this.#at += 4
      return c === 116 ? true : null
    }
    if (c === 102) {
      this.#at += 5
      return false
    }
    return this.#number()
  }

  #object(): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    let exact = false
    this.#at++
    this.#space()
    if (this.text.charCodeAt(this.#at) === 125) {
      this.#at++
      return out
    }
    for (;;) {
      this.#space()
      const key = this.#string()
      if (Object.prototype.hasOwnProperty.call(out, key)) {
        throw new JsonRecordError(
          `key "${key}" is given twice in one object (which value to load is ambiguous): keep one`,
        )
      }
      this.#space()
      this.#at++ // :
      const item = this.value()
      exact ||= this.#holdsExact(item)
      // A plain assignment to "__proto__" would set the prototype; JSON.parse makes it an own property.
      Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true })
      this.#space()
      if (this.text.charCodeAt(this.#at++) !== 44) break
    }
    if (exact) holdsExactNumber.add(out)
    return out
  }

  #array(): unknown[] {
    const out: unknown[] = []
    let exact = false
    this.#at++
    this.#space()
    if (this.text.charCodeAt(this.#at) === 93) {
      this.#at++
      return out
    }
    for (;;) {
      const item = this.value()
      exact ||= this.#holdsExact(item)
      out.push(item)
      this.#space()
      if (this.text.charCodeAt(this.#at++) !== 44) break
    }
    if (exact) holdsExactNumber.add(out)
    return out
  }

  #holdsExact(item: unknown): boolean {
    return item instanceof JsonNumber || (typeof item === 'object' && item !== null && holdsExactNumber.has(item))
  }

  #string(): string {
    const start = this.#at
    let i = start + 1
    for (let c = this.text.charCodeAt(i); c !== 34; c = this.text.charCodeAt(++i)) if (c === 92) i++
    this.#at = i + 1
    return JSON.parse(this.text.slice(start, i + 1)) as string
  }

  #number(): number | JsonNumber {
    NUMBER.lastIndex = this.#at
    const match = NUMBER.exec(this.text)!
    this.#at = NUMBER.lastIndex
    const source = match[0]
    const number = Number(source)
    // Up to 15 significant digits survive a double (DBL_DIG), if the exponent keeps it a normal, non-zero double.
    const significant = `${match[1]}${match[2] ?? ''}`.replace(/^0+/, '').replace(/0+$/, '')
    const exponent = Number(match[3] ?? 0)
    const fits = significant.length <= 15 && Math.abs(exponent) < 300 && (number !== 0 || significant === '')
    return fits ? number : new JsonNumber(source)
  }

  #space(): void {
    for (let c = this.text.charCodeAt(this.#at); c === 32 || c === 10 || c === 13 || c === 9;) {
      c = this.text.charCodeAt(++this.#at)
    }
  }
}
