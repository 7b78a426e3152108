import type { Backend } from '../backend.js'
import type { ForeignKeyInfo, IndexInfo, IndexKey, SchemaSnapshot, TableInfo } from '../../audit/snapshot.js'
import { quoteIdentifier } from '../../sql/query.js'

const USER_TABLES = `FROM pragma_table_list t WHERE t.schema = 'main' AND t.type = 'table' AND t.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'`

const TABLES = `SELECT t.name, t.wr AS without_rowid,
  (SELECT count(*) FROM pragma_table_info(t.name) c WHERE c.pk > 0) AS pk_columns,
  (SELECT c.cid FROM pragma_table_info(t.name) c WHERE c.pk = 1 AND upper(c.type) = 'INTEGER') AS integer_pk_cid,
  (SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_stat1') AS has_stat1
${USER_TABLES}`

const INDEXES = `SELECT t.name AS tbl, il.name AS idx, il."unique" AS is_unique, il.origin, il.partial, s.sql, s.rowid AS created_order,
  x.seqno, x.cid, x.name AS col, x."desc" AS descending, x.coll, x.key
FROM pragma_table_list t
JOIN pragma_index_list(t.name) il
JOIN pragma_index_xinfo(il.name) x
LEFT JOIN sqlite_schema s ON s.type = 'index' AND s.name = il.name
WHERE t.schema = 'main' AND t.type = 'table' AND t.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
ORDER BY t.name, il.name, x.seqno`

const FOREIGN_KEYS = `SELECT t.name AS tbl, f.id, f.seq, f."table" AS parent, f."from" AS col, f."to" AS ref, f.on_update, f.on_delete, f."match",
  (SELECT c.cid FROM pragma_table_info(t.name) c WHERE c.name = f."from" COLLATE NOCASE) AS cid
FROM pragma_table_list t JOIN pragma_foreign_key_list(t.name) f
WHERE t.schema = 'main' AND t.type = 'table' AND t.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
ORDER BY t.name, f.id, f.seq`

/** SQLite limits a compound SELECT to 500 terms. */
const PROBES_PER_QUERY = 400

type Row = Record<string, any>

/**
 * Reads tables, indexes (with each key's collation and direction from pragma_index_xinfo) and foreign keys in one
 * query each, joining the pragma table-valued functions against the table list. Row counts are probed with bounded
 * counts (`LIMIT`), in batches: enough to tell whether a table has rows, or moved far from what sqlite_stat1 says,
 * without reading big tables to the end.
 */
export async function introspectSqlite(backend: Backend): Promise<SchemaSnapshot & { indexSql: Map<string, string> }> {
  let queries = 0
  const run = async (text: string, parameters: unknown[] = []): Promise<Row[]> => {
    queries++
    return backend.query<Row>({ sql: text, parameters })
  }
  const tableRows = await run(TABLES)
  const indexRows = await run(INDEXES)
  const foreignKeyRows = await run(FOREIGN_KEYS)
  const statisticsTable =
    tableRows.length > 0
      ? Number(tableRows[0]!.has_stat1) > 0
      : (await run(`SELECT count(*) AS n FROM sqlite_schema WHERE name = 'sqlite_stat1'`))[0]!.n > 0
  const recorded = new Map<string, number>()
  if (statisticsTable) {
    for (const row of await run('SELECT tbl, stat FROM sqlite_stat1')) {
      const rows = Number(String(row.stat).split(' ')[0])
      if (Number.isFinite(rows))
        recorded.set(String(row.tbl).toLowerCase(), Math.max(rows, recorded.get(String(row.tbl).toLowerCase()) ?? 0))
    }
  }

  const liveRows = new Map<string, number>()
  for (let start = 0; start < tableRows.length; start += PROBES_PER_QUERY) {
    const batch = tableRows.slice(start, start + PROBES_PER_QUERY)
    const text = batch
      .map((row) => {
        const known = recorded.get(String(row.name).toLowerCase())
        // Enough to tell "has 1,000 rows" or "moved by a factor of 2 and 1,000 rows" without reading further.
        const cap = known === undefined ? 1001 : 2 * known + 1001
        return `SELECT ? AS name, (SELECT count(*) FROM (SELECT 1 FROM main.${quoteIdentifier(row.name)} LIMIT ${cap})) AS n`
      })
      .join(' UNION ALL ')
    for (const row of await run(
      text,
      batch.map((table) => table.name),
    ))
      liveRows.set(row.name, Number(row.n))
  }

  const tables: TableInfo[] = tableRows.map((row) => ({
    schema: 'main',
    name: row.name,
    kind: 'table',
    hasPrimaryKey: Number(row.pk_columns) > 0 || Number(row.without_rowid) === 1,
    withoutRowid: Number(row.without_rowid) === 1,
    // An INTEGER PRIMARY KEY of a rowid table is the rowid (https://sqlite.org/lang_createtable.html#rowid).
    ...(Number(row.pk_columns) === 1 &&
      row.integer_pk_cid !== null &&
      Number(row.without_rowid) !== 1 && { rowidColumn: Number(row.integer_pk_cid) }),
    liveRows: liveRows.get(row.name) ?? null,
    seqScans: null,
    seqRowsRead: null,
    indexScans: null,
    analyzedRows: recorded.get(String(row.name).toLowerCase()) ?? null,
  }))

  const indexSql = new Map<string, string>()
  const indexes: IndexInfo[] = []
  let current: IndexInfo | undefined
  let terms: string[] = []
  for (const row of indexRows) {
    if (!current || current.name !== row.idx || current.table !== row.tbl) {
      const parsed = parseIndexSql(row.sql)
      terms = parsed.terms
      if (row.sql) indexSql.set(row.idx, row.sql)
      const origin = String(row.origin)
      current = {
        schema: 'main',
        table: row.tbl,
        name: row.idx,
        method: 'btree',
        unique: Number(row.is_unique) === 1,
        primary: origin === 'pk',
        keys: [],
        include: [],
        predicate: Number(row.partial) === 1 ? parsed.predicate : null,
        valid: true,
        building: false,
        // Indexes SQLite made for a UNIQUE or PRIMARY KEY clause cannot be dropped on their own.
        backs:
          origin === 'c'
            ? []
            : [
                {
                  name: origin === 'pk' ? 'PRIMARY KEY' : 'UNIQUE',
                  type: origin === 'pk' ? 'primary key' : 'unique',
                  table: row.tbl,
                },
              ],
        scans: null,
        bytes: null,
        definition: row.sql ?? `(${origin === 'pk' ? 'PRIMARY KEY' : 'UNIQUE'} constraint of ${row.tbl})`,
        partitioned: false,
        attached: false,
        replicaIdentity: false,
        exclusion: false,
        ...(row.created_order !== null && { createdOrder: Number(row.created_order) }),
      }
      indexes.push(current)
    }
    if (Number(row.key) !== 1) continue
    const cid = Number(row.cid)
    const expression = cid === -2
    const key: IndexKey = {
      text: expression ? normalise(terms[Number(row.seqno)] ?? `expression ${row.seqno}`) : String(row.col),
      expression,
      descending: Number(row.descending) === 1,
      // NULL sorts lowest in SQLite: first in ascending keys, last in descending ones.
      nullsFirst: Number(row.descending) !== 1,
      collation: String(row.coll ?? 'BINARY').toUpperCase(),
      opclass: '',
      ...(!expression && { column: cid }),
    }
    current.keys.push(key)
  }

  const foreignKeys: ForeignKeyInfo[] = []
  for (const row of foreignKeyRows) {
    let fk = foreignKeys[foreignKeys.length - 1]
    const id = `${row.tbl}\u0000${row.id}`
    if (!fk || (fk as ForeignKeyInfo & { id?: string }).id !== id) {
      fk = {
        schema: 'main',
        table: row.tbl,
        name: '',
        columns: [],
        columnNumbers: [],
        refSchema: 'main',
        refTable: row.parent,
        refColumns: [],
        definition: `ON UPDATE ${row.on_update} ON DELETE ${row.on_delete} MATCH ${row.match}`,
      }
      Object.defineProperty(fk, 'id', { value: id, enumerable: false })
      foreignKeys.push(fk)
    }
    fk.columns.push(row.col)
    fk.columnNumbers.push(row.cid === null ? -1 : Number(row.cid))
    if (row.ref !== null) fk.refColumns.push(row.ref)
    // SQLite foreign keys have no names: call them what PostgreSQL would.
    fk.name = `${row.tbl}_${fk.columns.join('_')}_fkey`
  }

  return {
    engine: 'sqlite',
    tables,
    indexes,
    foreignKeys,
    unvalidated: [],
    statisticsSince: null,
    statisticsSource: 'SQLite keeps no usage statistics',
    statisticsAgeSeconds: null,
    bloat: { estimates: [], skipped: [] },
    statisticsTable,
    queries,
    indexSql,
  }
}

function normalise(text: string): string {
  return text.replace(/\s+/g, ' ').trim().toLowerCase()
}

/**
 * The key terms and WHERE clause of `CREATE INDEX ... ON t (terms) WHERE predicate`: the first parenthesis outside
 * quotes opens the term list (names may hold parentheses only inside quotes).
 */
export function parseIndexSql(text: string | null): { terms: string[]; predicate: string | null } {
  if (!text) return { terms: [], predicate: null }
  const terms: string[] = []
  let depth = 0
  let start = -1
  let end = -1
  for (let i = 0; i < text.length; i++) {
    const character = text[i]!
    const closing =
      character === '"' ? '"' : character === "'" ? "'" : character === '`' ? '`' : character === '[' ? ']' : undefined
    if (closing) {
      i = text.indexOf(closing, i + 1)
      while (i !== -1 && closing !== ']' && text[i + 1] === closing) i = text.indexOf(closing, i + 2)
      if (i === -1) break
      continue
    }
    if (character === '(') {
      if (depth === 0 && start === -1) start = i + 1
      depth++
    } else if (character === ')') {
      depth--
      if (depth === 0 && start !== -1) {
        terms.push(text.slice(start, i))
        end = i + 1
        break
      }
    } else if (character === ',' && depth === 1 && start !== -1) {
      terms.push(text.slice(start, i))
      start = i + 1
    }
  }
  const where = end === -1 ? null : /^\s*WHERE\s+([\s\S]*?);?\s*$/i.exec(text.slice(end))
  return { terms, predicate: where ? normalise(where[1]!) : null }
}
