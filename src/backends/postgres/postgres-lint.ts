/**
 * The PostgreSQL side of `dbops migrate lint`: the real parser (libpg-query, PostgreSQL's own grammar compiled to
 * WebAssembly) and the catalog reads that give hazards their context. Loaded only by lint: the WebAssembly module
 * costs ~20 ms to instantiate, which no other command should pay.
 */
import { quoteIdentifier } from '../../sql/query.js'
import type { Backend } from '../backend.js'
import type { ColumnType, LintDialect, PgNode } from '../../lint/types.js'
import type { SqlStatement } from '../../sql/split-statements.js'
import {
  alterTableCommands,
  bareName,
  body,
  columnDefinitions,
  columnTypeOf,
  relationName,
} from '../../lint/pg-nodes.js'

interface Parser {
  loadModule(): Promise<void>
  parseSync(query: string): { stmts?: { stmt: PgNode; stmt_location?: number }[] }
  parsePlPgSQLSync(query: string): PgNode
}

let parser: Parser | undefined

async function loadParser(): Promise<Parser> {
  if (!parser) {
    // Asked for by the CLI (cli/context.ts baselineWasmOnly), set only now: see there.
    if ((globalThis as Record<symbol, unknown>)[Symbol.for('dbops.baselineWasmOnly')] === true)
      (await import('node:v8')).setFlagsFromString('--liftoff-only')
    const module = (await import('libpg-query')) as unknown as Parser & { default?: Parser }
    const loaded = typeof module.parseSync === 'function' ? module : module.default!
    await loaded.loadModule()
    parser = loaded
  }
  return parser
}

export const postgresLint: LintDialect = {
  engine: 'postgres',
  parses: true,

  async load() {
    await loadParser()
  },

  parse(text) {
    try {
      const tree = parser!.parseSync(text)
      return { nodes: (tree.stmts ?? []).map((entry) => entry.stmt) }
    } catch (error) {
      const details = (error as { sqlDetails?: { cursorPosition?: number } }).sqlDetails
      // The parser counts UTF-8 bytes; the message is what matters, the offset only narrows the position.
      return { error: (error as Error).message, offset: byteToCharOffset(text, details?.cursorPosition ?? 0) }
    }
  },

  parseMany(texts) {
    // One parser call for many statements: the call's fixed cost is most of a short statement's parse. Joined with
    // semicolons, each text must come back as exactly one statement starting inside it; anything else (a syntax
    // error anywhere, a text the splitter and the parser cut differently) is parsed text by text, as parse() does.
    if (texts.length > 1) {
      const starts: number[] = []
      let bytes = 0
      for (const text of texts) {
        starts.push(bytes)
        bytes += Buffer.byteLength(text) + SEPARATOR.length
      }
      starts.push(bytes)
      try {
        const stmts = parser!.parseSync(texts.join(SEPARATOR)).stmts ?? []
        if (
          stmts.length === texts.length &&
          stmts.every(({ stmt_location: at = 0 }, i) => at >= starts[i]! && at < starts[i + 1]!)
        )
          return stmts.map((entry) => ({ nodes: [entry.stmt] }))
      } catch {
        // Parsed one by one below, for each text's own result.
      }
    }
    return texts.map((text) => this.parse(text))
  },

  inner(statement) {
    // PL/pgSQL's own parser gives each static statement's text and its line in the body; EXECUTE of a string is
    // dynamic (nothing to read), and a CREATE FUNCTION body does not run during the migration.
    const opening = DO_BODY.exec(statement.text)
    const language = /\blanguage\s+("?)(\w+)\1\s*$/i.exec(statement.text)?.[2]
    if (!opening || (language && language.toLowerCase() !== 'plpgsql')) return []
    let tree: PgNode
    try {
      tree = parser!.parsePlPgSQLSync(statement.text)
    } catch {
      return [] // PostgreSQL reports it when the block runs
    }
    const found: { query: string; lineno: number }[] = []
    collectStaticSql(tree, found)
    const text = statement.text
    const bodyStart = opening.index + opening[0].length
    const inner: SqlStatement[] = []
    for (const { query, lineno } of found) {
      // Line 1 of the body is the line its opening quote is on.
      let from = bodyStart
      for (let line = 1; line < lineno && from >= 0; line++) from = text.indexOf('\n', from) + 1 || -1
      if (from < 0) continue
      // Not found as written when the body doubles its quotes or INTO was blanked out: its line's first word then.
      let at = text.indexOf(query, from)
      if (at < 0) at = from + /^\s*/.exec(text.slice(from))![0].length
      const before = text.slice(0, at)
      const newlines = before.split('\n').length - 1
      inner.push({
        text: query,
        start: statement.start + at,
        end: statement.start + at + query.length,
        line: statement.line + newlines,
        column: newlines === 0 ? statement.column + at : at - before.lastIndexOf('\n'),
      })
    }
    return inner.sort((a, b) => a.start - b.start)
  },

  created(words, node) {
    if (node) {
      const create = body(node, 'CreateStmt')
      if (create) return [relationName(create.relation)!].filter(Boolean)
      const createAs = body(node, 'CreateTableAsStmt')
      if (createAs) return [relationName(createAs.into?.rel)!].filter(Boolean)
      const select = body(node, 'SelectStmt')
      if (select?.intoClause) return [relationName(select.intoClause.rel)!].filter(Boolean)
      const index = body(node, 'IndexStmt')
      if (index?.idxname)
        return [index.relation?.schemaname ? `${index.relation.schemaname}.${index.idxname}` : String(index.idxname)]
      return []
    }
    if (words[0] !== 'CREATE' && !(words[0] === 'SELECT' && words.includes('INTO'))) return []
    // CREATE [GLOBAL|LOCAL] [TEMP|TEMPORARY|UNLOGGED] TABLE [IF NOT EXISTS] name: cheap; anything else needs the parser.
    let k = 1
    if (words[k] === 'GLOBAL' || words[k] === 'LOCAL') k++
    if (words[k] === 'TEMP' || words[k] === 'TEMPORARY' || words[k] === 'UNLOGGED') k++
    if (words[0] === 'SELECT') return undefined
    if (words[k] === 'UNIQUE') k++
    if (words[k] === 'INDEX') {
      k++
      if (words[k] === 'CONCURRENTLY') k++
      if (words[k] === 'IF' && words[k + 1] === 'NOT' && words[k + 2] === 'EXISTS') k += 3
      return words[k] === 'ON' ? [] : nameAt(words, k)
    }
    if (words[k] === 'MATERIALIZED' && words[k + 1] === 'VIEW') k++
    else if (words[k] !== 'TABLE') return [] // objects that hold no rows: nothing later can be a hazard on them
    k++
    if (words[k] === 'IF' && words[k + 1] === 'NOT' && words[k + 2] === 'EXISTS') k += 3
    return nameAt(words, k)
  },

  quickTable(words) {
    let k: number
    if (words[0] === 'CREATE') {
      k = words.indexOf('ON')
      if (k < 0 || k > 9 || !words.slice(1, k).includes('INDEX')) return undefined
      k++
    } else if (words[0] === 'ALTER' && words[1] === 'TABLE') {
      k = 2
      if (words[k] === 'IF' && words[k + 1] === 'EXISTS') k += 2
    } else if (words[0] === 'UPDATE') {
      k = 1
    } else if (words[0] === 'DELETE' && words[1] === 'FROM') {
      k = 2
    } else {
      return undefined
    }
    if (words[k] === 'ONLY') k++
    return nameAt(words, k)?.[0]
  },

  async sizes(backend: Backend, tables: string[]) {
    const sizes = new Map<string, { bytes: number; rows: number }>()
    if (tables.length === 0) return sizes
    const names = tables.map(regclassText)
    const rows = await backend.query<{ i: number; bytes: string; rows: string }>({
      sql: `SELECT t.i::int AS i,
            CASE WHEN c.relkind = 'p' AND current_setting('server_version_num')::int >= 120000
              THEN (SELECT coalesce(sum(pg_total_relation_size(p.relid)), 0) FROM pg_partition_tree(c.oid) p)
              ELSE pg_total_relation_size(c.oid) END::text AS bytes,
            CASE WHEN c.relkind = 'i' THEN (SELECT reltuples FROM pg_class x JOIN pg_index ix ON ix.indrelid = x.oid WHERE ix.indexrelid = c.oid) ELSE c.reltuples END::bigint::text AS rows
          FROM unnest($1::text[]) WITH ORDINALITY AS t(name, i)
          JOIN pg_class c ON c.oid = to_regclass(t.name)`,
      parameters: [names],
    })
    for (const row of rows) sizes.set(tables[row.i - 1]!, { bytes: Number(row.bytes), rows: Number(row.rows) })
    return sizes
  },

  columnHistory(text, table, column) {
    const parsed = this.parse(text)
    if ('error' in parsed) return undefined
    // The last thing a statement does to the column counts (a statement is one node here: splitStatements' own).
    for (const node of [...parsed.nodes].reverse()) {
      const rename = body(node, 'RenameStmt')
      const renamed = relationName(rename?.relation)
      if (rename && renamed !== undefined) {
        if (rename.renameType === 'OBJECT_TABLE' && sameTable(String(rename.newname), table))
          return { before: { table: renamed, column } }
        if (rename.renameType === 'OBJECT_COLUMN' && sameTable(renamed, table) && rename.newname === column)
          return { before: { table, column: String(rename.subname) } }
      }
      const { table: altered, commands } = alterTableCommands(node)
      if (altered && sameTable(altered, table)) {
        for (const command of [...commands].reverse()) {
          if (command.subtype === 'AT_AlterColumnType' && command.name === column) {
            const type = columnTypeOf(command.def?.ColumnDef?.typeName)
            if (type) return { type }
          }
        }
      }
      for (const { table: owner, column: definition } of columnDefinitions(node).reverse()) {
        if (owner && sameTable(owner, table) && definition.colname === column) {
          const type = columnTypeOf(definition.typeName)
          if (type) return { type }
        }
      }
    }
    return undefined
  },

  retypesInPlace(from, to) {
    // What ALTER COLUMN TYPE does without rewriting the table or rebuilding an index (checked by relfilenode on 15):
    // varchar and text into each other, a longer or no varchar limit, a larger or no numeric precision at the same
    // scale. A shorter limit, a new limit on text, a new scale all rewrite.
    if (from.array !== to.array) return false
    const [limit, newLimit] = [from.modifiers, to.modifiers]
    const text = (type: ColumnType) => type.name === 'text' || type.name === 'varchar'
    if (text(from) && text(to)) {
      if (newLimit.length === 0) return true
      return from.name === 'varchar' && to.name === 'varchar' && limit.length === 1 && newLimit[0]! >= limit[0]!
    }
    if (from.name === 'numeric' && to.name === 'numeric') {
      if (newLimit.length === 0) return true
      if (limit.length === 0) return false
      return (newLimit[1] ?? 0) === (limit[1] ?? 0) && newLimit[0]! >= limit[0]!
    }
    return from.name === to.name && limit.join() === newLimit.join()
  },

  inPlaceFrom(to) {
    if (to.array) return undefined
    const [limit, scale = 0] = to.modifiers
    if (to.name === 'text' || (to.name === 'varchar' && limit === undefined)) return 'varchar or text'
    if (to.name === 'varchar') return `a varchar of at most ${limit}`
    if (to.name === 'numeric')
      return limit === undefined ? 'a numeric' : `a numeric of at most ${limit} digits, ${scale} after the point,`
    return undefined
  },

  async columnTypes(backend, columns) {
    const types = new Map<string, ColumnType>()
    if (columns.length === 0) return types
    const rows = await backend.query<{ i: number; type: string; modifiers: number[] | null; array: boolean }>({
      sql: `SELECT t.i::int AS i, e.typname AS type, y.typcategory = 'A' AS array,
            CASE WHEN e.typname IN ('varchar', 'bpchar') AND a.atttypmod >= 4 THEN ARRAY[a.atttypmod - 4]
              WHEN e.typname = 'numeric' AND a.atttypmod >= 4
                THEN ARRAY[((a.atttypmod - 4) >> 16) & 65535, (a.atttypmod - 4) & 65535] END AS modifiers
          FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(name, col, i)
          JOIN pg_attribute a ON a.attrelid = to_regclass(t.name) AND a.attname = t.col AND NOT a.attisdropped
          JOIN pg_type y ON y.oid = a.atttypid
          JOIN pg_type e ON e.oid = CASE WHEN y.typcategory = 'A' THEN y.typelem ELSE y.oid END`,
      parameters: [columns.map(({ table }) => regclassText(table)), columns.map(({ column }) => column)],
    })
    for (const row of rows) {
      const { table, column } = columns[row.i - 1]!
      types.set(`${table}.${column}`, { name: row.type, modifiers: row.modifiers ?? [], array: row.array })
    }
    return types
  },

  serverMajor(backend) {
    // Once per connection: migrate test lints before each migration's up, and the server stays the same.
    let major = serverMajors.get(backend)
    if (!major) {
      major = readServerMajor(backend)
      serverMajors.set(backend, major)
      major.catch(() => serverMajors.delete(backend))
    }
    return major
  },
}

const serverMajors = new WeakMap<Backend, Promise<number | undefined>>()

async function readServerMajor(backend: Backend): Promise<number | undefined> {
  const [row] = await backend.query<{ server_version_num: string }>({
    sql: `SELECT current_setting('server_version_num') AS server_version_num`,
    parameters: [],
  })
  const number = Number(row?.server_version_num)
  return Number.isFinite(number) && number > 0 ? Math.floor(number / 10000) : undefined
}

/** `DO [LANGUAGE plpgsql]` and the body's opening quote; another language before the body: no match. */
const DO_BODY = /^DO\s+(?:LANGUAGE\s+("?)plpgsql\1\s+)?(\$[A-Za-z_0-9]*\$|')/i

/** The static SQL statements (PLpgSQL_stmt_execsql) anywhere in a PL/pgSQL parse tree, with their body lines. */
function collectStaticSql(node: unknown, found: { query: string; lineno: number }[]): void {
  if (Array.isArray(node)) {
    for (const item of node) collectStaticSql(item, found)
  } else if (node !== null && typeof node === 'object') {
    const execsql = (node as PgNode).PLpgSQL_stmt_execsql as PgNode | undefined
    const query = execsql?.sqlstmt?.PLpgSQL_expr?.query
    if (typeof query === 'string') found.push({ query, lineno: Number(execsql!.lineno ?? 1) })
    else for (const value of Object.values(node)) collectStaticSql(value, found)
  }
}

// A newline first: a statement may end in a -- comment.
const SEPARATOR = '\n;\n'

/** `name` or `schema.name` at words[k], lower-cased as PostgreSQL folds it; undefined for quoted names. */
function nameAt(words: readonly string[], k: number): string[] | undefined {
  const first = words[k]
  if (first === undefined || !/^[A-Z_][A-Z0-9_$]*$/.test(first)) return undefined
  if (words[k + 1] === '.') {
    const second = words[k + 2]
    if (second === undefined || !/^[A-Z_][A-Z0-9_$]*$/.test(second)) return undefined
    return [`${first.toLowerCase()}.${second.toLowerCase()}`]
  }
  return [first.toLowerCase()]
}

/** A table name as written (`orders`, `app.Order` from the parse tree) as text for to_regclass, each part quoted. */
function regclassText(table: string): string {
  return table.split('.').map(quoteIdentifier).join('.')
}

/** Whether two names as written (schema-qualified or not) can be the same table. */
function sameTable(a: string, b: string): boolean {
  return bareName(a).toLowerCase() === bareName(b).toLowerCase()
}

function byteToCharOffset(text: string, bytes: number): number {
  if (!/[^\x00-\x7f]/.test(text)) return bytes
  let count = 0
  let i = 0
  for (const char of text) {
    if (count >= bytes) break
    count += Buffer.byteLength(char)
    i += char.length
  }
  return i
}
