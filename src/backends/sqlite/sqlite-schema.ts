import { rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Backend } from '../backend.js'
import type { Target } from '../../targets/target.js'
import type { CatalogObject, SchemaCatalog } from '../../schema/catalog.js'
import type { SchemaEngine, ScratchTarget } from '../../schema/schema-engine.js'
import { scratchDir } from '../../schema/scratch.js'
import { temporaryDir } from '../../temporary-dirs.js'

/**
 * Internal tables (sqlite_sequence, sqlite_stat1...) are SQLite's own; so are the shadow tables of virtual tables
 * (FTS), filtered out in code from one pragma_table_list call (as a join it would list every table once per row).
 */
const USER_OBJECT = `m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'`

const OBJECTS = `SELECT m.type, m.name, m.tbl_name, m.sql FROM sqlite_schema m WHERE ${USER_OBJECT}`

const TABLE_LIST = `SELECT name, type, wr, strict FROM pragma_table_list WHERE schema = 'main'`

const COLUMNS = `SELECT m.name AS tbl, c.name, c.type, c."notnull", c.dflt_value, c.pk, c.hidden
  FROM sqlite_schema m JOIN pragma_table_xinfo(m.name) c
  WHERE m.type = 'table' AND m.sql NOT LIKE 'CREATE VIRTUAL%' AND ${USER_OBJECT} ORDER BY m.name, c.cid`

const FOREIGN_KEYS = `SELECT m.name AS tbl, f.id, f.seq, f."table" AS parent, f."from" AS col, f."to" AS ref, f.on_update, f.on_delete, f."match"
  FROM sqlite_schema m JOIN pragma_foreign_key_list(m.name) f
  WHERE m.type = 'table' AND ${USER_OBJECT} ORDER BY m.name, f.id, f.seq`

/** Indexes SQLite makes for UNIQUE and PRIMARY KEY clauses have no SQL of their own: named by their columns. */
const CONSTRAINT_INDEXES = `SELECT m.name AS tbl, il.name AS idx, il.origin, ii.seqno, ii.name AS col
  FROM sqlite_schema m JOIN pragma_index_list(m.name) il JOIN pragma_index_info(il.name) ii
  WHERE m.type = 'table' AND il.origin = 'u' AND ${USER_OBJECT} ORDER BY m.name, il.name, ii.seqno`

type Row = Record<string, any>

export async function readSqliteCatalog(backend: Backend): Promise<SchemaCatalog> {
  const run = (text: string) => backend.query<Row>({ sql: text, parameters: [] })
  const objects: CatalogObject[] = []
  const tables = new Map((await run(TABLE_LIST)).map((row) => [row.name as string, row]))
  const shadow = (name: string) => tables.get(name)?.type === 'shadow'
  for (const row of await run(OBJECTS)) {
    if (shadow(row.name) || shadow(row.tbl_name)) continue
    const definition = normaliseSql(row.sql)
    if (row.type === 'table') {
      objects.push({
        kind: 'table',
        name: row.name,
        attributes: {
          'without rowid': Number(tables.get(row.name)?.wr) === 1,
          strict: Number(tables.get(row.name)?.strict) === 1,
          checks: checkClauses(row.sql ?? '').join(', ') || null,
          // What the columns, keys and checks above do not say (generated expressions, collations, conflict clauses).
          definition,
        },
      })
    } else if (row.type === 'index') {
      // Constraint indexes (no SQL) are read below by their columns.
      if (row.sql) objects.push({ kind: 'index', name: row.name, table: row.tbl_name, attributes: { definition } })
    } else if (row.type === 'view' || row.type === 'trigger') {
      objects.push({
        kind: row.type,
        name: row.type === 'trigger' ? `${row.tbl_name}.${row.name}` : row.name,
        ...(row.type === 'trigger' && { table: row.tbl_name }),
        attributes: { definition },
      })
    }
  }
  for (const row of await run(COLUMNS)) {
    if (shadow(row.tbl)) continue
    const hidden = Number(row.hidden)
    objects.push({
      kind: 'column',
      name: `${row.tbl}.${row.name}`,
      table: row.tbl,
      attributes: {
        type: String(row.type ?? ''),
        'not null': Number(row.notnull) === 1,
        default: row.dflt_value ?? null,
        'primary key': Number(row.pk) > 0 ? `column ${row.pk} of the key` : null,
        generated: hidden === 2 ? 'virtual' : hidden === 3 ? 'stored' : null,
      },
    })
  }
  const keys = new Map<
    string,
    { tbl: string; parent: string; from: string[]; to: string[]; onUpdate: string; onDelete: string; match: string }
  >()
  for (const row of await run(FOREIGN_KEYS)) {
    if (shadow(row.tbl)) continue
    const id = `${row.tbl}\u0000${row.id}`
    let key = keys.get(id)
    if (!key)
      keys.set(
        id,
        (key = {
          tbl: row.tbl,
          parent: row.parent,
          from: [],
          to: [],
          onUpdate: row.on_update,
          onDelete: row.on_delete,
          match: row.match,
        }),
      )
    key.from.push(row.col)
    if (row.ref !== null) key.to.push(row.ref)
  }
  for (const key of keys.values()) {
    objects.push({
      kind: 'constraint',
      name: `${key.tbl}.foreign key (${key.from.join(', ')})`,
      table: key.tbl,
      attributes: {
        definition: `REFERENCES ${key.parent}${key.to.length > 0 ? `(${key.to.join(', ')})` : ''} ON UPDATE ${key.onUpdate} ON DELETE ${key.onDelete}`,
      },
    })
  }
  const uniques = new Map<string, { tbl: string; columns: string[] }>()
  for (const row of await run(CONSTRAINT_INDEXES)) {
    if (shadow(row.tbl)) continue
    const id = `${row.tbl}\u0000${row.idx}`
    if (!uniques.has(id)) uniques.set(id, { tbl: row.tbl, columns: [] })
    uniques.get(id)!.columns.push(row.col)
  }
  for (const unique of uniques.values()) {
    objects.push({
      kind: 'constraint',
      name: `${unique.tbl}.unique (${unique.columns.join(', ')})`,
      table: unique.tbl,
      attributes: { definition: `UNIQUE (${unique.columns.join(', ')})` },
    })
  }
  return { engine: 'sqlite', objects, queries: 5 }
}

/** SQLite keeps each CREATE statement as written: whitespace is not a difference. */
function normaliseSql(text: string | null): string {
  return (text ?? '')
    .replace(/\s+/g, ' ')
    .replace(/\s*([(),])\s*/g, '$1')
    .trim()
}

/** The CHECK clauses of a CREATE TABLE (SQLite has no catalog of them), outside quotes, parentheses balanced. */
export function checkClauses(text: string): string[] {
  const checks: string[] = []
  const pattern = /\bCHECK\s*\(/gi
  const masked = text.replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\]/g, (quoted) =>
    ' '.repeat(quoted.length),
  )
  for (let match = pattern.exec(masked); match; match = pattern.exec(masked)) {
    let depth = 0
    const start = match.index + match[0].length - 1
    for (let i = start; i < masked.length; i++) {
      if (masked[i] === '(') depth++
      else if (masked[i] === ')' && --depth === 0) {
        checks.push(normaliseSql(`CHECK ${text.slice(start, i + 1)}`))
        pattern.lastIndex = i + 1
        break
      }
    }
  }
  return checks
}

const DUMP_ORDER = ['table', 'index', 'view', 'trigger']

export class SqliteSchemaEngine implements SchemaEngine {
  readonly nowExpression = `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`

  constructor(private readonly backend: Backend) {}

  readCatalog(): Promise<SchemaCatalog> {
    return readSqliteCatalog(this.backend)
  }

  /** Tables, then indexes, views and triggers, each by name: an order that reloads (views resolve their tables when used). */
  async dump(): Promise<string> {
    const shadow = new Set(
      (await this.backend.query<Row>({ sql: TABLE_LIST, parameters: [] }))
        .filter((row) => row.type === 'shadow')
        .map((row) => row.name),
    )
    const rows = (
      await this.backend.query<Row>({
        sql: `SELECT m.type, m.name, m.tbl_name, m.sql FROM sqlite_schema m WHERE m.sql IS NOT NULL AND ${USER_OBJECT}`,
        parameters: [],
      })
    ).filter((row) => !shadow.has(row.name) && !shadow.has(row.tbl_name))
    rows.sort(
      (a, b) =>
        DUMP_ORDER.indexOf(a.type) - DUMP_ORDER.indexOf(b.type) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    )
    const [version] = await this.backend.query<{ user_version: number }>({ sql: 'PRAGMA user_version', parameters: [] })
    const lines = rows.map((row) => `${String(row.sql).trim()};\n`)
    if (Number(version?.user_version ?? 0) !== 0)
      lines.push(`PRAGMA user_version = ${Number(version!.user_version)};\n`)
    return lines.join('\n')
  }

  async scratch(target: Target, prefix: string): Promise<ScratchTarget> {
    const dir = temporaryDir(prefix.replace(/^dbops_/, '').replace(/_/g, '-'), scratchDir())
    const path = join(dir, 'scratch.db')
    const { connectTarget } = await import('../../targets/target.js')
    const url = `sqlite:${path}`
    const scratch = await connectTarget(
      { ...target.resolved, url, redactedUrl: url, location: { engine: 'sqlite', path }, protected: false },
      { command: prefix },
    )
    return {
      description: `scratch file ${path}`,
      target: scratch,
      drop: async () => {
        await scratch.close().catch(() => {})
        rmSync(dir, { recursive: true, force: true })
      },
    }
  }
}
