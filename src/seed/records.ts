import { createHash, type Hash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { CsvParser, CsvSyntaxError } from './csv-parser.js'
import { LoadFailure, type DataFormat } from './seeder.js'
import { JsonRecordError, parseRecord } from './json-record.js'
import { locateInvalidUtf8, utf8StreamDecoder } from '../text/utf8.js'

/**
 * The records of a data file, streamed: `columns` come from the CSV header or the keys of the JSON records (all of
 * them, read in a first pass), values are aligned with them. CSV values are strings, or null for an empty unquoted
 * field; JSON values are as parsed (a missing key is null). The file's sha256 is computed on the same pass and is
 * ready once `pump` is done.
 */
export interface RecordSource {
  columns: string[]
  /** The line the column names are on (CSV: the header's, JSON: the first record's). */
  headerLine: number
  /**
   * Reads the rest of the file, calling `row` for every record with the line it starts on. `values` is reused for
   * the next record (no allocation per row: a bulk load is dominated by the garbage collector otherwise): copy what
   * you keep. `between` runs after each chunk of the file, for backpressure.
   */
  pump(row: (values: readonly unknown[], line: number) => void, between?: () => Promise<void> | void): Promise<void>
  checksum(): string
  close(): void
}

// 64 KiB: larger buffers and strings are each mapped and unmapped by malloc and V8 (a page fault per 4 KiB, every chunk).
const CHUNK = 1 << 16

export async function openRecords(path: string, format: DataFormat): Promise<RecordSource> {
  // JSON records may differ in their keys: the columns are the union, in order of first appearance, read first.
  const keys = format === 'csv' ? undefined : await jsonKeys(path, format)
  const hash = createHash('sha256')
  const stream = createReadStream(path, { highWaterMark: CHUNK })
  const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  const decoder = utf8StreamDecoder()
  let columns: string[] | undefined
  let headerLine = 1
  let done = false
  let digest: string | undefined
  let onRow: ((values: readonly unknown[], line: number) => void) | undefined
  // Records read along with the header, before anyone asked for them.
  const early: [unknown[], number][] = []

  const parser = makeParser(format, {
    header(names, line) {
      columns = names
      headerLine = line
    },
    row(values, line) {
      if (onRow) onRow(values, line)
      else early.push([[...values], line])
    },
    keys,
  })

  const pull = async (): Promise<boolean> => {
    const next = await chunks.next()
    let text: string
    try {
      text = next.done ? decoder.decode() : decoder.decode(next.value, { stream: true })
    } catch (error) {
      throw await notUtf8(path, error)
    }
    if (next.done) {
      done = true
      parser.push(text)
      parser.end()
      return false
    }
    hash.update(next.value)
    parser.push(text)
    return true
  }

  try {
    while (columns === undefined && (await pull()));
  } catch (error) {
    stream.destroy()
    throw error
  }
  if (columns === undefined) {
    stream.destroy()
    throw new LoadFailure(
      format === 'csv' ? 'the file is empty: the first line must name the columns' : 'the file holds no records',
      { line: 1 },
    )
  }
  return {
    columns,
    headerLine,
    async pump(row, between) {
      try {
        for (const [values, line] of early) row(values, line)
        early.length = 0
        onRow = row
        while (!done && (await pull())) if (between) await between()
        if (between) await between()
      } finally {
        stream.destroy()
      }
    },
    checksum: () => (digest ??= checksumOfHash(hash)),
    close: () => stream.destroy(),
  }
}

export function checksumOfHash(hash: Hash): string {
  return `sha256:${hash.digest('hex')}`
}

/** sha256 of a file, streamed (for seeds already applied: to know whether they changed before running anything). */
export async function fileChecksum(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK })) hash.update(chunk as Buffer)
  return checksumOfHash(hash)
}

interface Sink {
  header(names: string[], line: number): void
  row(values: readonly unknown[], line: number): void
  /** JSON: every key of every record, known before the records are read. */
  keys?: string[] | undefined
  /** The row array handed to `row` each time. */
  reuse?: unknown[]
}

/** The keys of all records of a JSON or NDJSON file, in order of first appearance (one streamed pass). */
async function jsonKeys(path: string, format: DataFormat): Promise<string[]> {
  const keys = new Set<string>()
  const parser = makeParser(format, { header() {}, row() {}, keys: undefined }, keys)
  const decoder = utf8StreamDecoder()
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: CHUNK }))
      parser.push(decoder.decode(chunk as Buffer, { stream: true }))
    parser.push(decoder.decode())
  } catch (error) {
    throw await notUtf8(path, error)
  }
  parser.end()
  return [...keys]
}

/** TextDecoder's error for bytes that are not UTF-8 names no position: find it (the file is read again, once). */
async function notUtf8(path: string, error: unknown): Promise<unknown> {
  if ((error as { code?: string })?.code !== 'ERR_ENCODING_INVALID_ENCODED_DATA') return error
  const found = await locateInvalidUtf8(path)
  return found
    ? new LoadFailure(found.message, { line: found.line, character: found.column }, undefined, { cause: error })
    : error
}

interface TextParser {
  push(text: string): void
  end(): void
}

function makeParser(format: DataFormat, sink: Sink, collect?: Set<string>): TextParser {
  if (format === 'csv') return csvRecords(sink)
  if (format === 'ndjson') return ndjsonRecords(sink, collect)
  return jsonArrayRecords(sink, collect)
}

function csvRecords(sink: Sink): TextParser {
  let width = -1
  const parser = new CsvParser((fields, line) => {
    if (width === -1) {
      const names = fields.map((field) => (field ?? '').trim())
      const empty = names.findIndex((name) => name === '')
      if (empty !== -1) throw new LoadFailure(`column ${empty + 1} of the header has no name`, { line })
      width = names.length
      sink.header(names, line)
      return
    }
    if (fields.length !== width) {
      throw new LoadFailure(`${fields.length} field(s), but the header names ${width} column(s)`, { line })
    }
    sink.row(fields, line)
  })
  const guarded = (fn: () => void) => {
    try {
      fn()
    } catch (error) {
      if (error instanceof CsvSyntaxError) throw new LoadFailure(error.message, { line: error.line })
      throw error
    }
  }
  return { push: (text) => guarded(() => parser.push(text)), end: () => guarded(() => parser.end()) }
}

/** One JSON object per line; blank lines are skipped. */
function ndjsonRecords(sink: Sink, collect?: Set<string>): TextParser {
  let pending = ''
  let line = 1
  let columns: string[] | undefined
  const take = (text: string, at: number) => {
    if (text.trim() === '') return
    let value: unknown
    try {
      value = collect ? JSON.parse(text) : parseRecord(text)
    } catch (error) {
      throw new LoadFailure(jsonProblem(error), { line: at })
    }
    columns = objectRow(value, at, undefined, columns, sink, collect)
  }
  return {
    push(text) {
      let start = 0
      let data = pending + text
      for (let end = data.indexOf('\n'); end !== -1; end = data.indexOf('\n', start)) {
        take(data.slice(start, end), line++)
        start = end + 1
      }
      pending = data.slice(start)
      data = ''
    },
    end() {
      take(pending, line)
      pending = ''
    },
  }
}

/**
 * A JSON array of objects, split into elements by a small scanner (strings, escapes, nesting) and each element
 * parsed with JSON.parse: the file is never held whole, and each element's line is known for messages.
 */
function jsonArrayRecords(sink: Sink, collect?: Set<string>): TextParser {
  let state: 'before' | 'between' | 'element' | 'after' = 'before'
  let depth = 0
  let inString = false
  let escaped = false
  // Colons at depth 1: the element's keys, counted while scanning (JSON.parse hides a repeated one).
  let keys = 0
  let element = ''
  let elementLine = 0
  let index = 0
  let line = 1
  let columns: string[] | undefined
  let expectValue = true
  // Where the current line starts, relative to the chunk being scanned (negative: in an earlier chunk).
  let lineStart = 0
  let comma: { line: number; character: number } | undefined

  const finish = () => {
    let value: unknown
    try {
      value = collect ? JSON.parse(element) : parseRecord(element, keys)
    } catch (error) {
      throw new LoadFailure(jsonProblem(error, index), {
        line: elementLine,
        element: index,
      })
    }
    columns = objectRow(value, elementLine, index, columns, sink, collect)
    element = ''
    index++
    state = 'between'
    expectValue = false
  }

  return {
    push(text) {
      let from = 0
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i)
        if (c === 10) {
          line++
          lineStart = i + 1
        }
        if (state === 'element') {
          if (inString) {
            if (escaped) escaped = false
            else if (c === 92) escaped = true
            else if (c === 34) inString = false
          } else if (c === 34) inString = true
          else if (c === 58 && depth === 1) keys++
          else if (c === 123 || c === 91) depth++
          else if (c === 125 || c === 93) {
            if (--depth === 0) {
              element += text.slice(from, i + 1)
              finish()
            }
          }
          continue
        }
        if (c === 32 || c === 10 || c === 13 || c === 9) continue
        if (state === 'before') {
          if (c === 0xfeff && line === 1) continue
          if (c !== 91)
            throw new LoadFailure(
              'a .json seed holds an array of objects ([{...}, ...]); use .ndjson for one object per line',
              { line },
            )
          state = 'between'
          continue
        }
        if (c === 47)
          throw new LoadFailure('JSON has no comments (// or /* */): remove them from the file', {
            line,
            character: i - lineStart + 1,
          })
        if (state === 'after') throw new LoadFailure('unexpected text after the closing ]', { line })
        if (c === 93) {
          // JSON allows no trailing comma (JSON.parse and PostgreSQL refuse "[{...},]"): the file may have lost a record.
          if (expectValue && comma)
            throw new LoadFailure(
              `a comma after element ${index - 1} but no element follows it (JSON allows no trailing comma)`,
              comma,
            )
          state = 'after'
          continue
        }
        if (c === 44 && !expectValue) {
          expectValue = true
          comma = { line, character: i - lineStart + 1 }
          continue
        }
        if (c !== 123 || !expectValue) {
          throw new LoadFailure(`element ${index} is not an object (each element is one row: {"column": value, ...})`, {
            line,
            element: index,
          })
        }
        state = 'element'
        depth = 1
        keys = 0
        inString = false
        escaped = false
        elementLine = line
        from = i
      }
      if (state === 'element') element += text.slice(from)
      lineStart -= text.length
    },
    end() {
      if (state === 'before') throw new LoadFailure('the file holds no JSON array', { line })
      if (state !== 'after') throw new LoadFailure('the JSON array is not closed (missing ])', { line })
    },
  }
}

/** Why a record's JSON text was refused; `element` is its index in a .json array. */
function jsonProblem(error: unknown, element?: number): string {
  if (error instanceof JsonRecordError) return error.message
  return `${element === undefined ? '' : `element ${element} is `}not valid JSON: ${(error as Error).message}`
}

/** Aligns an object with the columns (all keys of the file; a missing key is null). Returns the columns. */
function objectRow(
  value: unknown,
  line: number,
  element: number | undefined,
  columns: string[] | undefined,
  sink: Sink,
  collect?: Set<string>,
): string[] | undefined {
  const where = element === undefined ? { line } : { line, element }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new LoadFailure('each record must be a JSON object ({"column": value, ...})', where)
  }
  const record = value as Record<string, unknown>
  if (collect) {
    for (const key in record) collect.add(key)
    return undefined
  }
  if (columns === undefined) {
    columns = sink.keys ?? []
    if (columns.length === 0) throw new LoadFailure('the records have no keys: keys name the columns', where)
    sink.header(columns, line)
  }
  const row = (sink.reuse ??= new Array<unknown>(columns.length))
  for (let i = 0; i < columns.length; i++) row[i] = record[columns[i]!] ?? null
  sink.row(row, line)
  return columns
}
