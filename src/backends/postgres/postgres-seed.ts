import { createReadStream } from 'node:fs'
import { once } from 'node:events'
import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { DbopsError } from '../../errors.js'
import { formatDuration } from '../../output/format.js'
import { quoteIdentifier, quoteQualified, type SqlQuery } from '../../sql/query.js'
import { CsvParser } from '../../seed/csv-parser.js'
import { openRecords } from '../../seed/records.js'
import {
  LoadFailure,
  matchColumns,
  type ColumnInfo,
  type ColumnKind,
  type DataLoad,
  type LoadOutcome,
  type Seeder,
  type SeedTableName,
  type TableInfo,
} from '../../seed/seeder.js'
import { isConnectionLoss, sqlstateOf } from './postgres-errors.js'
import type { PostgresBackend } from './postgres-backend.js'

/**
 * Read size of a CSV file streamed to COPY: large writes keep the server's COPY fed with fewer round trips through the
 * event loop (1 MiB measured faster than 64 KiB); nothing is parsed here, so the page-fault cost records.ts avoids
 * with small chunks does not dominate.
 */
const CHUNK = 1 << 20

/**
 * Seeding on PostgreSQL: COPY ... FROM STDIN on the backend's connection. A CSV file goes to the server byte for
 * byte (COPY's CSV format already reads an empty unquoted field as NULL and "" as an empty string, and parses
 * numbers, booleans, timestamps and json with the column's own input function, as psql's \copy does); JSON records
 * are converted to COPY's text format by per-column converters chosen from the catalog.
 */
export class PostgresSeeder implements Seeder {
  constructor(
    private readonly backend: PostgresBackend,
    private readonly client: pg.Client,
  ) {}

  async describe(tables: readonly SeedTableName[]): Promise<Map<string, TableInfo>> {
    await this.backend.connect()
    const keys = tables.map(tableKey)
    const names = tables.map((table) => quoteQualified(table.schema, table.name))
    const { rows } = await this.client.query<{
      ord: string
      schema: string
      table: string
      column: string
      type: string
      category: string
      typname: string
      elemname: string | null
    }>(
      `SELECT x.ord, n.nspname AS schema, c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
              t.typcategory AS category, t.typname, e.typname AS elemname
         FROM unnest($1::text[]) WITH ORDINALITY AS x(name, ord)
         JOIN pg_class c ON c.oid = to_regclass(x.name)
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
         JOIN pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
        WHERE c.relkind IN ('r', 'p')
        ORDER BY x.ord, a.attnum`,
      [names],
    )
    const found = new Map<string, TableInfo>()
    for (const row of rows) {
      const key = keys[Number(row.ord) - 1]!
      let table = found.get(key)
      if (!table) {
        table = {
          display: key,
          sql: quoteQualified(row.schema, row.table),
          name: row.table,
          schema: row.schema,
          columns: [],
        }
        found.set(key, table)
      }
      table.columns.push({ name: row.column, type: row.type, kind: kindOf(row.category, row.typname) })
    }
    return found
  }

  async load(job: DataLoad): Promise<LoadOutcome> {
    const started = performance.now()
    await this.backend.connect()
    await this.client.query(['BEGIN', lockTimeout(job.lockTimeoutMs), ...job.setup].join(';'))
    try {
      const { rows, checksum } = job.format === 'csv' ? await this.#copyCsv(job) : await this.#copyRecords(job)
      await this.#advanceSequences(job.table)
      const write = job.ledgerWrite({ checksum, rows, executionMs: performance.now() - started })
      await this.client.query(write.sql, [...write.parameters])
      await this.client.query('COMMIT')
      return { skipped: false, rows, checksum, elapsedMs: performance.now() - started }
    } catch (error) {
      await this.client.query('ROLLBACK').catch(() => {})
      if (sqlstateOf(error) === '55P03') {
        throw new DbopsError(
          'E_LOCK_TIMEOUT',
          `${job.display} waited longer than lock_timeout (${formatDuration(job.lockTimeoutMs)}) for a lock on ${job.table.display}; nothing of it was loaded`,
          {
            hint: 'another session holds a conflicting lock on the table (see pg_stat_activity): run again when it is done, or raise migrations.lockTimeout',
            cause: error,
          },
        )
      }
      if (isConnectionLoss(error)) {
        throw new DbopsError(
          'E_CONNECTION_LOST',
          `lost the connection to ${this.backend.redactedUrl} while loading ${job.display}: ${(error as Error).message}`,
          {
            hint: 'the seed was rolled back; run the command again',
            cause: error,
          },
        )
      }
      throw error
    }
  }

  async reset(tables: readonly TableInfo[], after: readonly SqlQuery[], lockTimeoutMs: number): Promise<void> {
    await this.backend.connect()
    await this.client.query(['BEGIN', lockTimeout(lockTimeoutMs)].join(';'))
    try {
      // No CASCADE: it would silently empty tables no seed loads. PostgreSQL refuses instead, and so do we.
      await this.client.query(`TRUNCATE ${tables.map((table) => table.sql).join(', ')} RESTART IDENTITY`)
      for (const query of after) await this.client.query(query.sql, [...query.parameters])
      await this.client.query('COMMIT')
    } catch (error) {
      await this.client.query('ROLLBACK').catch(() => {})
      if (sqlstateOf(error) === '0A000') {
        const detail = (error as { detail?: string }).detail ?? ''
        throw new DbopsError(
          'E_RESET_REFERENCED',
          `--reset cannot empty ${tables.map((table) => table.display).join(', ')}: ${(error as Error).message}${detail ? ` (${detail})` : ''}; nothing was emptied`,
          {
            hint: 'another table references one of them: seed that table too (so --reset empties it as well), or empty it yourself first',
            cause: error,
          },
        )
      }
      throw error
    }
  }

  /**
   * Explicit ids leave the sequences feeding the table behind (the next insert collides with a loaded row): move each
   * one, identity, OWNED BY or a plain DEFAULT nextval(), past the column's highest value, never back (as Django's
   * loaddata does). Sequences this role may not update are left alone.
   */
  async #advanceSequences(table: TableInfo): Promise<void> {
    const { rows } = await this.client.query<{ sequence: string; column: string }>(
      `SELECT DISTINCT s.seqrelid::regclass::text AS sequence, a.attname AS column
         FROM pg_attribute a
         JOIN pg_depend d ON (a.attidentity <> '' AND d.classid = 'pg_class'::regclass AND d.refobjid = a.attrelid AND d.refobjsubid = a.attnum AND d.deptype = 'i')
           OR (d.classid = 'pg_attrdef'::regclass AND d.objid = (SELECT ad.oid FROM pg_attrdef ad WHERE ad.adrelid = a.attrelid AND ad.adnum = a.attnum AND pg_get_expr(ad.adbin, ad.adrelid) ~ '^nextval[(]'))
         JOIN pg_sequence s ON s.seqrelid = CASE WHEN d.classid = 'pg_class'::regclass THEN d.objid ELSE d.refobjid END
        WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
          AND s.seqincrement > 0 AND has_sequence_privilege(s.seqrelid, 'UPDATE')`,
      [table.sql],
    )
    for (const row of rows) {
      await this.client.query(
        `SELECT setval($1::regclass, x.top) FROM (SELECT max(${quoteIdentifier(row.column)})::bigint AS top FROM ${table.sql}) x
          WHERE x.top >= coalesce(pg_sequence_last_value($1::regclass), (SELECT seqstart FROM pg_sequence WHERE seqrelid = $1::regclass))`,
        [row.sequence],
      )
    }
  }

  /** CSV: the header is checked against the table, then the file streams to COPY ... (FORMAT csv, HEADER true). */
  async #copyCsv(job: DataLoad): Promise<{ rows: number; checksum: string }> {
    const header = await readCsvHeader(job.path)
    const columns = matchColumns(job.table, header.names, header.line)
    const { createHash } = await import('node:crypto')
    const hash = createHash('sha256')
    const copy = this.client.query(
      copyFrom(
        `COPY ${job.table.sql} (${columns.map((column) => quoteIdentifier(column.name)).join(', ')}) FROM STDIN WITH (FORMAT csv, HEADER true)`,
      ),
    )
    const finished = waitForCopy(copy)
    try {
      for await (const chunk of createReadStream(job.path, { highWaterMark: CHUNK })) {
        if (finished.failure()) throw finished.failure()
        hash.update(chunk as Buffer)
        if (!copy.write(chunk)) await once(copy, 'drain')
      }
      copy.end()
      await finished
    } catch (error) {
      copy.destroy()
      await finished.catch(() => {})
      throw await this.#copyFailure(error, (line) => csvRecordLine(job.path, line))
    }
    return { rows: copy.rowCount, checksum: `sha256:${hash.digest('hex')}` }
  }

  /** JSON / NDJSON: records converted to COPY's text format, written in large chunks with backpressure. */
  async #copyRecords(job: DataLoad): Promise<{ rows: number; checksum: string }> {
    const source = await openRecords(job.path, job.format)
    const columns = matchColumns(job.table, source.columns, source.headerLine)
    const converters = columns.map((column) => copyConverter(column))
    const copy = this.client.query(
      copyFrom(
        `COPY ${job.table.sql} (${columns.map((column) => quoteIdentifier(column.name)).join(', ')}) FROM STDIN`,
      ),
    )
    const finished = waitForCopy(copy)
    // Where each row came from, to turn COPY's "line N" back into the file's line (4 bytes a row).
    let lines = new Int32Array(1024)
    let count = 0
    const json = job.format === 'json'
    const width = columns.length
    try {
      let buffer = ''
      await source.pump(
        (values, line) => {
          if (count === lines.length) {
            const grown = new Int32Array(lines.length * 2)
            grown.set(lines)
            lines = grown
          }
          lines[count] = line
          for (let c = 0; c < width; c++) {
            if (c > 0) buffer += '\t'
            const value = values[c]
            if (value === null || value === undefined) {
              buffer += '\\N'
              continue
            }
            try {
              buffer += converters[c]!(value)
            } catch (error) {
              throw new LoadFailure((error as Error).message, {
                line,
                column: columns[c]!.name,
                ...(json && { element: count }),
              })
            }
          }
          buffer += '\n'
          count++
        },
        async () => {
          if (finished.failure()) throw finished.failure()
          if (buffer.length === 0) return
          const ok = copy.write(buffer)
          buffer = ''
          if (!ok) await once(copy, 'drain')
        },
      )
      if (buffer.length > 0) copy.write(buffer)
      copy.end()
      await finished
    } catch (error) {
      source.close()
      copy.destroy()
      await finished.catch(() => {})
      throw await this.#copyFailure(error, async (copyLine) => ({
        line: lines[copyLine - 1],
        ...(json && copyLine - 1 < count && { element: copyLine - 1 }),
      }))
    }
    return { rows: copy.rowCount, checksum: source.checksum() }
  }

  /** Maps "COPY users, line 3, column age: ..." to the file's line; other errors pass through. */
  async #copyFailure(
    error: unknown,
    locate: (copyLine: number) => Promise<{ line?: number; element?: number }>,
  ): Promise<unknown> {
    if (error instanceof LoadFailure || error instanceof DbopsError) return error
    if (isConnectionLoss(error)) return error
    const where = (error as { where?: string }).where ?? ''
    const match = /COPY [^,]+, line (\d+)(?:, column ([^:]+))?/.exec(where)
    if (!match || !sqlstateOf(error)) return error
    const location = await locate(Number(match[1]))
    const detail = (error as { detail?: string }).detail
    const column = match[2] ?? (error as { column?: string }).column
    return new LoadFailure(
      `${(error as Error).message}${detail ? ` (${detail})` : ''}`,
      { ...location, ...(column && { column }) },
      sqlstateOf(error),
      { cause: error },
    )
  }
}

/** Settles when COPY is done; `failure()` is the server's error as soon as it arrives, to stop reading the file. */
function waitForCopy(copy: NodeJS.WritableStream): Promise<void> & { failure(): unknown } {
  let failed: unknown
  const done = new Promise<void>((resolve, reject) => {
    copy.on('finish', () => resolve())
    copy.on('error', (error) => {
      failed = error
      reject(error)
    })
  })
  done.catch(() => {})
  return Object.assign(done, { failure: () => failed })
}

function lockTimeout(ms: number): string {
  return `SET LOCAL lock_timeout = '${Math.max(0, Math.round(ms))}ms'`
}

function tableKey(table: SeedTableName): string {
  return table.schema ? `${table.schema}.${table.name}` : table.name
}

function kindOf(category: string, typname: string): ColumnKind {
  if (typname === 'json' || typname === 'jsonb') return 'json'
  if (category === 'A') return 'array'
  if (category === 'B') return 'boolean'
  if (category === 'N') return typname.startsWith('int') ? 'integer' : 'numeric'
  if (category === 'S') return 'text'
  return 'other'
}

/** Streams a CSV file into `parser` until the parser stops or the file ends; returns what was thrown, if anything. */
async function feedCsv(path: string, parser: CsvParser, chunkBytes: number): Promise<unknown> {
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: chunkBytes })
  try {
    for await (const text of stream) {
      parser.push(text as string)
      if (parser.stopped) break
    }
    if (!parser.stopped) parser.end()
    return undefined
  } catch (error) {
    return error
  } finally {
    stream.destroy()
  }
}

/** The first record of a CSV file (its header) and its line. */
async function readCsvHeader(path: string): Promise<{ names: string[]; line: number }> {
  let header: { names: string[]; line: number } | undefined
  const parser = new CsvParser((fields, line) => {
    header = { names: fields.map((field) => (field ?? '').trim()), line }
    return true
  })
  const error = await feedCsv(path, parser, 1 << 16)
  if (error !== undefined)
    throw new LoadFailure((error as Error).message, { line: (error as { line?: number }).line ?? 1 })
  if (!header) throw new LoadFailure('the file is empty: the first line must name the columns', { line: 1 })
  const empty = header.names.findIndex((name) => name === '')
  if (empty !== -1) throw new LoadFailure(`column ${empty + 1} of the header has no name`, { line: header.line })
  return header
}

/**
 * COPY counts physical lines, and a record with quoted newlines is reported at the line its error was read on: the
 * file's line is the start of the record that spans `copyLine`, found by reading the file again.
 */
async function csvRecordLine(path: string, copyLine: number): Promise<{ line?: number }> {
  let found: number | undefined
  const parser = new CsvParser((_fields, line) => {
    if (line > copyLine) return true
    found = line
    return false
  })
  // Malformed: the record that does not parse is the one COPY stopped at, if it starts before that line.
  const line = ((await feedCsv(path, parser, CHUNK)) as { line?: number } | undefined)?.line
  if (line !== undefined && line <= copyLine) found = line
  return { line: found ?? copyLine }
}

/** A function from a JSON value (not null) to COPY text format for `column`. */
function copyConverter(column: ColumnInfo): (value: unknown) => string {
  const text = (value: string) => (/[\\\n\r\t]/.test(value) ? value.replace(/[\\\n\r\t]/g, escapeChar) : value)
  const scalar = (value: unknown): string => {
    switch (typeof value) {
      case 'string':
        return text(value)
      case 'number':
      case 'bigint':
        return String(value)
      case 'boolean':
        return column.kind === 'boolean' ? (value ? 't' : 'f') : String(value)
      default:
        throw new Error(
          `${Array.isArray(value) ? 'an array' : 'an object'} does not fit column ${column.name} (${column.type}); only json, jsonb${column.kind === 'array' ? '' : ' and array'} columns take one`,
        )
    }
  }
  if (column.kind === 'json') return (value) => text(JSON.stringify(value))
  if (column.kind === 'array') return (value) => (Array.isArray(value) ? text(arrayLiteral(value)) : scalar(value))
  return scalar
}

function escapeChar(char: string): string {
  return char === '\\' ? '\\\\' : char === '\n' ? '\\n' : char === '\r' ? '\\r' : '\\t'
}

/** A JSON array as a PostgreSQL array literal: {1,2}, {"a b","c\"d"}, {{1,2},{3,4}}, NULL for null. */
function arrayLiteral(values: unknown[]): string {
  return `{${values
    .map((value) => {
      if (value === null || value === undefined) return 'NULL'
      if (Array.isArray(value)) return arrayLiteral(value)
      const item = typeof value === 'object' ? JSON.stringify(value) : String(value)
      return `"${item.replace(/["\\]/g, '\\$&')}"`
    })
    .join(',')}}`
}
