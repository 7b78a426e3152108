import type BetterSqlite3 from 'better-sqlite3'
import { DbopsError } from '../../errors.js'
import { quoteIdentifier, quoteQualified, type SqlQuery } from '../../sql/query.js'
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
import type { SqliteBackend } from './sqlite-backend.js'

/** Rows per INSERT statement: one prepared multi-row INSERT costs far fewer calls into SQLite than one per row. */
const ROWS_PER_STATEMENT = 64

type Bindable = string | number | bigint | null
type Converter = ((value: unknown) => Bindable) | null

/**
 * Seeding on SQLite: the file streams into one prepared INSERT inside one BEGIN IMMEDIATE transaction. Values are
 * converted by the column's declared type (SQLite's affinity rules): booleans become 1/0, JSON objects and arrays
 * become JSON text, and a value that is not a number for an INTEGER or REAL column is an error even in a table that
 * is not STRICT (where SQLite would silently store the text).
 */
export class SqliteSeeder implements Seeder {
  constructor(private readonly backend: SqliteBackend) {}

  async describe(tables: readonly SeedTableName[]): Promise<Map<string, TableInfo>> {
    const found = new Map<string, TableInfo>()
    if (!this.backend.exists()) return found
    const db = this.backend.database
    for (const table of tables) {
      const query = table.schema
        ? db.prepare(`SELECT name, type, hidden FROM pragma_table_xinfo(?, ?)`).bind(table.name, table.schema)
        : db.prepare(`SELECT name, type, hidden FROM pragma_table_xinfo(?)`).bind(table.name)
      const rows = query.all() as { name: string; type: string; hidden: number }[]
      if (rows.length === 0) continue
      const key = table.schema ? `${table.schema}.${table.name}` : table.name
      found.set(key, {
        display: key,
        sql: quoteQualified(table.schema, table.name),
        name: table.name,
        schema: table.schema ?? null,
        columns: rows
          .filter((row) => row.hidden === 0)
          .map((row) => ({ name: row.name, type: row.type || 'ANY', kind: kindOf(row.type) })),
      })
    }
    return found
  }

  async load(job: DataLoad): Promise<LoadOutcome> {
    const started = performance.now()
    const source = await openRecords(job.path, job.format)
    const columns = matchColumns(job.table, source.columns, source.headerLine)
    const converters = columns.map((column) => converter(column, job.format === 'csv'))
    const width = columns.length
    const perStatement = Math.max(1, Math.min(ROWS_PER_STATEMENT, Math.floor(32766 / width)))
    const db = this.backend.writable()
    const into = `INSERT INTO ${job.table.sql} (${columns.map((column) => quoteIdentifier(column.name)).join(', ')}) VALUES `
    const tuple = `(${new Array(width).fill('?').join(', ')})`
    db.exec('BEGIN IMMEDIATE')
    let rows = 0
    try {
      for (const statement of job.setup) db.exec(statement)
      if (db.prepare(job.guard.sql).get(...job.guard.parameters) !== undefined) {
        db.exec('ROLLBACK')
        source.close()
        return { skipped: true, rows: 0, checksum: '', elapsedMs: performance.now() - started }
      }
      const single = db.prepare(into + tuple)
      const multi = perStatement > 1 ? db.prepare(into + new Array(perStatement).fill(tuple).join(', ')) : single
      const args = new Array<Bindable>(width * perStatement)
      const pendingLines = new Array<number>(perStatement)
      let filled = 0
      let line = 0
      let column = 0
      const flush = (statement: BetterSqlite3.Statement, count: number) => {
        try {
          statement.run(count === perStatement ? args : args.slice(0, count * width))
        } catch (error) {
          throw locateFailure(
            db,
            error,
            single,
            args,
            pendingLines,
            count,
            width,
            job.format === 'json' ? rows : undefined,
          )
        }
        rows += count
      }
      await source.pump((values, at) => {
        line = at
        const offset = filled * width
        try {
          for (column = 0; column < width; column++) {
            const value = values[column]
            const convert = converters[column]!
            args[offset + column] =
              value === null || value === undefined ? null : convert === null ? (value as Bindable) : convert(value)
          }
        } catch (error) {
          throw new LoadFailure((error as Error).message, {
            line,
            column: columns[column]!.name,
            ...(job.format === 'json' && { element: rows + filled }),
          })
        }
        pendingLines[filled++] = line
        if (filled === perStatement) {
          flush(multi, filled)
          filled = 0
        }
      })
      if (filled > 0) flush(filled === 1 ? single : db.prepare(into + new Array(filled).fill(tuple).join(', ')), filled)
      // Explicit ids need no follow-up here: SQLite moves sqlite_sequence past any larger rowid inserted (sqlite.org/autoinc.html).
      const write = job.ledgerWrite({ checksum: source.checksum(), rows, executionMs: performance.now() - started })
      db.prepare(write.sql).run(...write.parameters)
      db.exec('COMMIT')
      return { skipped: false, rows, checksum: source.checksum(), elapsedMs: performance.now() - started }
    } catch (error) {
      source.close()
      if (db.inTransaction) db.exec('ROLLBACK')
      throw error
    }
  }

  async reset(tables: readonly TableInfo[], after: readonly SqlQuery[]): Promise<void> {
    const db = this.backend.writable()
    const inSet = new Set(tables.map((table) => table.name.toLowerCase()))
    const links = db
      .prepare(
        `SELECT m.name AS child, f."table" AS parent FROM sqlite_master m, pragma_foreign_key_list(m.name) f WHERE m.type = 'table'`,
      )
      .all() as { child: string; parent: string }[]
    const outside = links.filter((link) => inSet.has(link.parent.toLowerCase()) && !inSet.has(link.child.toLowerCase()))
    if (outside.length > 0) {
      const pairs = [...new Set(outside.map((link) => `${link.child} references ${link.parent}`))]
      throw new DbopsError(
        'E_RESET_REFERENCED',
        `--reset cannot empty ${tables.map((table) => table.display).join(', ')}: ${pairs.join('; ')}; nothing was emptied`,
        {
          hint: 'another table references one of them: seed that table too (so --reset empties it as well), or empty it yourself first',
        },
      )
    }
    // Children before parents, so no row is deleted while another still points at it.
    const ordered: TableInfo[] = []
    const visiting = new Set<TableInfo>()
    const visit = (table: TableInfo) => {
      if (ordered.includes(table) || visiting.has(table)) return
      visiting.add(table)
      for (const link of links) {
        if (link.parent.toLowerCase() !== table.name.toLowerCase()) continue
        const child = tables.find((candidate) => candidate.name.toLowerCase() === link.child.toLowerCase())
        if (child && child !== table) visit(child)
      }
      ordered.push(table)
    }
    for (const table of tables) visit(table)
    db.exec('BEGIN IMMEDIATE')
    try {
      // Cycles between the tables (or self-references) are checked at COMMIT, when all of them are empty.
      db.pragma('defer_foreign_keys = ON')
      for (const table of ordered) db.exec(`DELETE FROM ${table.sql}`)
      const sequences = db
        .prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'`)
        .get()
      if (sequences) {
        const names = tables.map((table) => table.name)
        db.prepare(`DELETE FROM sqlite_sequence WHERE name IN (${names.map(() => '?').join(', ')})`).run(...names)
      }
      for (const query of after) db.prepare(query.sql).run(...query.parameters)
      db.exec('COMMIT')
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK')
      throw error
    }
  }
}

/**
 * A multi-row INSERT failed: run its rows one at a time (SQLite undid only the failed statement) to find the row,
 * so the error names its line. The transaction is rolled back by the caller either way. Some errors (SQLITE_FULL,
 * SQLITE_IOERR, SQLITE_NOMEM) make SQLite roll the whole transaction back itself: a row run then would commit on
 * its own, so the rows are only re-run while the transaction is still open, and the error names the batch otherwise.
 */
function locateFailure(
  db: BetterSqlite3.Database,
  error: unknown,
  single: BetterSqlite3.Statement,
  args: Bindable[],
  lines: number[],
  count: number,
  width: number,
  elementBase: number | undefined,
): LoadFailure {
  let failed = error
  let index = 0
  if (count > 1 && db.inTransaction) {
    for (; index < count && db.inTransaction; index++) {
      try {
        single.run(args.slice(index * width, (index + 1) * width))
      } catch (rowError) {
        failed = rowError
        break
      }
    }
    if (index === count) index = 0
  }
  const message = (failed as Error).message
  const column = /\.([^.\s]+)$/.exec(message)?.[1]
  return new LoadFailure(
    message,
    {
      line: lines[index]!,
      ...(column && { column }),
      ...(elementBase !== undefined && { element: elementBase + index }),
    },
    (failed as { code?: string }).code,
    { cause: failed },
  )
}

/** SQLite's affinity rules (https://sqlite.org/datatype3.html#determination_of_column_affinity), plus BOOL and JSON. */
function kindOf(declared: string): ColumnKind {
  const type = declared.toUpperCase()
  if (type.includes('INT')) return 'integer'
  if (type.includes('BOOL')) return 'boolean'
  if (type.includes('JSON')) return 'json'
  if (type.includes('CHAR') || type.includes('CLOB') || type.includes('TEXT')) return 'text'
  if (type === '' || type.includes('BLOB') || type === 'ANY') return 'other'
  if (type.includes('REAL') || type.includes('FLOA') || type.includes('DOUB')) return 'real'
  return 'numeric'
}

const TRUE_WORDS = new Set(['true', 't', 'yes', 'y', 'on', '1'])
const FALSE_WORDS = new Set(['false', 'f', 'no', 'n', 'off', '0'])

/** How a non-null value is bound for `column`; null when it is bound as it is. */
function converter(column: ColumnInfo, fromCsv: boolean): Converter {
  const where = `${column.name} (${column.type})`
  const structured = (value: unknown) => {
    if (typeof value === 'object') return JSON.stringify(value)
    if (typeof value === 'boolean') return value ? 1 : 0
    return value as Bindable
  }
  switch (column.kind) {
    case 'integer':
      // As a STRICT table (and PostgreSQL) would have it: exact integers within 64 bits, never a REAL in disguise.
      return (value) => {
        if (typeof value === 'string') {
          // Bound as a number: no UTF-8 copy, no text-to-integer conversion inside SQLite.
          const integer = smallInteger(value) ?? int64(value)
          if (integer !== undefined) return integer
          if (INTEGER.test(value))
            throw new Error(
              `${value.trim()} is out of range for column ${where}: SQLite integers are 64-bit (${INT64_MIN} to ${INT64_MAX})`,
            )
          throw new Error(`${JSON.stringify(value)} is not an integer, and column ${where} takes integers`)
        }
        if (typeof value === 'number') {
          if (Number.isSafeInteger(value)) return value
          if (Number.isInteger(value))
            throw new Error(
              `${value} is beyond the integers a JSON number holds exactly (2^53): write it as a string for column ${where}`,
            )
          throw new Error(`${value} is not an integer, and column ${where} takes integers`)
        }
        if (typeof value === 'boolean') return value ? 1 : 0
        throw new Error(`${Array.isArray(value) ? 'an array' : 'an object'} does not fit column ${where}`)
      }
    case 'real':
      return (value) => {
        if (typeof value === 'string') {
          if (isNumeric(value)) {
            // SQLite would store Inf for 1e999, where PostgreSQL says "out of range for type double precision".
            if ((value.length > 300 || value.includes('e') || value.includes('E')) && !Number.isFinite(Number(value)))
              throw new Error(`${value.trim()} is out of range for column ${where}`)
            return value
          }
          throw new Error(`${JSON.stringify(value)} is not a number, and column ${where} takes numbers`)
        }
        if (typeof value === 'number') return value
        if (typeof value === 'boolean') return value ? 1 : 0
        throw new Error(`${Array.isArray(value) ? 'an array' : 'an object'} does not fit column ${where}`)
      }
    case 'boolean':
      return (value) => {
        if (typeof value === 'string') {
          const word = value === 'true' ? 1 : value === 'false' ? 0 : booleanWord(value)
          if (word !== undefined) return word
          throw new Error(
            `${JSON.stringify(value)} is not a boolean (true/false, yes/no, on/off, t/f, 1/0) for column ${where}`,
          )
        }
        if (typeof value === 'boolean') return value ? 1 : 0
        if (typeof value === 'number') return value
        throw new Error(`${Array.isArray(value) ? 'an array' : 'an object'} does not fit column ${where}`)
      }
    case 'json':
      return (value) => (typeof value === 'string' ? value : JSON.stringify(value))
    default:
      return fromCsv ? null : structured
  }
}

function booleanWord(value: string): 0 | 1 | undefined {
  const word = value.trim().toLowerCase()
  return TRUE_WORDS.has(word) ? 1 : FALSE_WORDS.has(word) ? 0 : undefined
}

/** The value of a plain decimal integer of up to 15 digits (exact as a double), else undefined. */
function smallInteger(value: string): number | undefined {
  const n = value.length
  const negative = value.charCodeAt(0) === 45
  let i = negative ? 1 : 0
  if (i === n || n - i > 15) return undefined
  let result = 0
  for (; i < n; i++) {
    const digit = value.charCodeAt(i) - 48
    if (digit < 0 || digit > 9) return undefined
    result = result * 10 + digit
  }
  return negative ? -result : result
}

const INTEGER = /^\s*[+-]?\d+\s*$/
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

/** A decimal integer beyond smallInteger's reach (sign, spaces, more digits), exact, when it fits 64 bits. */
function int64(value: string): bigint | undefined {
  if (!INTEGER.test(value)) return undefined
  const integer = BigInt(value.trim())
  return integer >= INT64_MIN && integer <= INT64_MAX ? integer : undefined
}

const NUMBER = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/

function isNumeric(value: string): boolean {
  const n = value.length
  let i = value.charCodeAt(0) === 45 || value.charCodeAt(0) === 43 ? 1 : 0
  if (i === n) return false
  for (; i < n; i++) {
    const c = value.charCodeAt(i)
    if (c < 48 || c > 57) return NUMBER.test(value)
  }
  return true
}
