const COMMA = 44
const LF = 10
const CR = 13
const QUOTE = 34

/** A CSV record: `null` for an empty unquoted field (SQL NULL), `''` for a quoted empty one (`""`). */
export type CsvFields = (string | null)[]

/** Thrown for malformed CSV; `line` is the physical line (1-based) where the problem is. */
export class CsvSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message)
    this.name = 'CsvSyntaxError'
  }
}

/**
 * A streaming RFC 4180 parser (comma, double quotes, `""` escapes, LF or CRLF, quoted newlines) that keeps what
 * csv-parse loses and seeding needs: whether an empty field was quoted (NULL vs '') and the physical line each
 * record starts on. Hand-written because it is the hot loop of a bulk load: csv-parse alone takes longer on a million
 * rows than `sqlite3 .import` takes to parse and insert them. Blank lines are skipped; a UTF-8 BOM is dropped.
 *
 * `onRecord` returns true to stop parsing (reading a header, finding the line of record N). Its `fields` array is
 * reused for the next record (a million rows are a million fewer allocations): copy what you keep.
 */
export class CsvParser {
  #pending = ''
  #line = 1
  #started = false
  #stopped = false
  #records = 0
  readonly #fields: CsvFields = []

  constructor(private readonly onRecord: (fields: CsvFields, line: number, index: number) => boolean | void) {}

  get stopped(): boolean {
    return this.#stopped
  }

  push(chunk: string): void {
    if (this.#stopped) return
    if (!this.#started) {
      this.#started = true
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1)
    }
    this.#parse(this.#pending.length > 0 ? this.#pending + chunk : chunk, false)
  }

  end(): void {
    if (this.#stopped) return
    this.#parse(this.#pending, true)
    this.#pending = ''
  }

  #parse(text: string, final: boolean): void {
    const n = text.length
    let i = 0
    let line = this.#line
    // The next comma and newline at or after i, found with indexOf (vectorised) rather than a loop per character.
    let comma = -1
    let newline = -1
    while (i < n) {
      const recordStart = i
      const recordLine = line
      const fields = this.#fields
      fields.length = 0
      let complete = false
      for (;;) {
        if (i < n && text.charCodeAt(i) === QUOTE) {
          let j = i + 1
          let value = ''
          let close = -1
          for (;;) {
            const q = text.indexOf('"', j)
            if (q === -1) break
            if (text.charCodeAt(q + 1) === QUOTE) {
              value += text.slice(j, q + 1)
              j = q + 2
              continue
            }
            if (q + 1 === n && !final) break // The next chunk may start with the second quote of "".
            value += text.slice(j, q)
            close = q
            break
          }
          if (close === -1) {
            if (final) throw new CsvSyntaxError('a quoted field is not closed (missing ")', recordLine)
            break
          }
          for (let k = text.indexOf('\n', i); k !== -1 && k < close; k = text.indexOf('\n', k + 1)) line++
          fields.push(value)
          let k = close + 1
          if (k === n) {
            if (!final) break
            i = n
            complete = true
            break
          }
          let c = text.charCodeAt(k)
          if (c === CR) {
            if (k + 1 === n && !final) break
            if (text.charCodeAt(k + 1) === LF) c = text.charCodeAt(++k)
          }
          if (c === COMMA) {
            i = k + 1
            if (i === n && final) {
              fields.push(null)
              complete = true
              break
            }
            continue
          }
          if (c === LF) {
            i = k + 1
            line++
            complete = true
            break
          }
          throw new CsvSyntaxError(
            'unexpected text after a closing quote (quote the whole field, and double quotes inside it: "say ""hi""")',
            line,
          )
        }
        if (comma < i) {
          comma = text.indexOf(',', i)
          if (comma === -1) comma = n
        }
        if (newline < i) {
          newline = text.indexOf('\n', i)
          if (newline === -1) newline = n
        }
        const j = comma < newline ? comma : newline
        const c = j === n ? 0 : j === comma ? COMMA : LF
        if (j === n) {
          if (!final) break
          fields.push(j > i ? stripCr(text.slice(i, j)) : null)
          i = n
          complete = true
          break
        }
        let end = j
        if (c === LF && end > i && text.charCodeAt(end - 1) === CR) end--
        fields.push(end > i ? text.slice(i, end) : null)
        i = j + 1
        if (c === LF) {
          line++
          complete = true
          break
        }
        if (i === n && final) {
          fields.push(null)
          complete = true
          break
        }
      }
      if (!complete) {
        this.#pending = text.slice(recordStart)
        this.#line = recordLine
        return
      }
      if (fields.length === 1 && fields[0] === null) continue // A blank line.
      if (this.onRecord(fields, recordLine, this.#records++) === true) {
        this.#stopped = true
        return
      }
    }
    this.#pending = ''
    this.#line = line
  }
}

function stripCr(text: string): string {
  return text.charCodeAt(text.length - 1) === CR ? text.slice(0, -1) : text
}
