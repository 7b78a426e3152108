import type { Backend } from '../backend.js'
import type {
  BloatEstimate,
  ConstraintInfo,
  ForeignKeyInfo,
  IndexInfo,
  SchemaSnapshot,
  TableBloatEstimate,
  TableInfo,
} from '../../audit/snapshot.js'
import type { IntrospectOptions } from '../../audit/auditor.js'

/** User relations only: no system schemas, no temporary schemas, nothing an extension owns. `c` is the table. */
const USER_TABLE = `c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
  AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')`

/**
 * Since when usage counters accumulate: the last reset, else the database's creation (the mtime of its PG_VERSION
 * file, readable by superusers and pg_read_server_files members: a separate query, because PostgreSQL checks
 * EXECUTE on every function of a statement when it starts, even in a CASE branch never taken). Counters survive clean restarts (PostgreSQL 15
 * writes them at shutdown; older versions kept a stats file), so the server's start time says nothing.
 */
const CONTEXT = `SELECT set_config('statement_timeout', $1, true) AS statement_timeout, set_config('lock_timeout', '5s', true) AS lock_timeout,
  set_config('jit', 'off', true) AS jit,
  now() AS now, s.stats_reset, d.oid::text AS database_oid,
  has_function_privilege('pg_stat_file(text, boolean)', 'EXECUTE') AS can_stat_file,
  current_setting('block_size')::int AS block_size
FROM pg_database d LEFT JOIN pg_stat_database s ON s.datid = d.oid
WHERE d.datname = current_database()`

const TABLES = `SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind, c.relispartition AS is_partition,
  EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid) AS is_child,
  (SELECT json_build_object('schema', pn.nspname, 'name', p.relname) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
     JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE c.relispartition AND i.inhrelid = c.oid) AS parent,
  EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p') AS has_pk,
  s.n_live_tup, s.seq_scan, s.seq_tup_read, s.idx_scan
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE ${USER_TABLE}`

/**
 * Column names come from pg_attribute (pg_get_indexdef only for expressions): deparsing 15,000 whole definitions
 * costs more than the rest of the audit, so definitions are read afterwards for the indexes findings name
 * (DEFINITIONS). Sizes come from relpages (as of the last VACUUM, ANALYZE or CREATE INDEX): pg_relation_size would lock every
 * index until the transaction ends, and 15,000 locks exhaust the shared lock table. An index counts as being built
 * when pg_stat_progress_create_index names it, or (for a role that may not see other sessions' progress) when a
 * hidden index build holds a lock on its table.
 */
const INDEXES = `WITH progress AS MATERIALIZED (SELECT pid, relid, index_relid FROM pg_stat_progress_create_index),
hidden_builds AS MATERIALIZED (
  SELECT l.relation FROM progress p JOIN pg_locks l ON l.pid = p.pid AND l.locktype = 'relation' WHERE p.relid IS NULL),
-- pg_constraint has no index on conindid: one pass, not one scan per index.
backing AS MATERIALIZED (
  SELECT k.conindid, json_agg(json_build_object('name', k.conname, 'type', k.contype, 'table', k.conrelid::regclass::text)) AS backs
  FROM pg_constraint k WHERE k.conindid <> 0 GROUP BY k.conindid)
SELECT n.nspname AS schema, c.relname AS table, i.relname AS name, am.amname AS method,
  x.indisunique AS unique, x.indisprimary AS primary, x.indisexclusion AS exclusion, x.indisreplident AS replica_identity,
  x.indisvalid AS valid, x.indisready AS ready,
  -- PostgreSQL 15+; read through to_jsonb so that older servers answer false.
  coalesce((to_jsonb(x) ->> 'indnullsnotdistinct')::boolean, false) AS nulls_not_distinct, i.relkind = 'I' AS partitioned, i.relispartition AS attached, x.indnkeyatts AS key_count,
  ARRAY(SELECT CASE WHEN k.attnum = 0 THEN pg_get_indexdef(x.indexrelid, k.ord::int, true) ELSE a.attname::text END
        FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
        LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
  x.indkey::int2[] AS attnums, x.indclass::oid[]::text[] AS opclasses, x.indcollation::oid[]::text[] AS collations,
  x.indoption::int2[] AS options,
  pg_get_expr(x.indpred, x.indrelid, true) AS predicate,
  i.relpages::bigint * current_setting('block_size')::bigint AS bytes,
  t.scans AS tree_scans, t.pages * current_setting('block_size')::bigint AS tree_bytes,
  pg_stat_get_numscans(x.indexrelid) AS own_scans,
  x.indexrelid::oid::bigint AS oid, pi.relname AS parent_index, pn.nspname AS parent_schema,
  b.backs,
  (EXISTS (SELECT 1 FROM progress p WHERE p.index_relid = x.indexrelid)
    OR (NOT x.indisvalid AND EXISTS (SELECT 1 FROM hidden_builds b WHERE b.relation = x.indrelid))) AS building
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class c ON c.oid = x.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_am am ON am.oid = i.relam
LEFT JOIN backing b ON b.conindid = x.indexrelid
-- A partitioned index is used through its partitions' indexes, and takes their space (an empty tree for the others).
LEFT JOIN LATERAL (
  WITH RECURSIVE tree(oid) AS (SELECT x.indexrelid WHERE i.relkind = 'I' UNION ALL SELECT h.inhrelid FROM pg_inherits h JOIN tree ON h.inhparent = tree.oid)
  SELECT coalesce(sum(pg_stat_get_numscans(tree.oid)), 0) AS scans, coalesce(sum(p.relpages), 0)::bigint AS pages
  FROM tree JOIN pg_class p ON p.oid = tree.oid) t ON true
LEFT JOIN pg_inherits ih ON i.relispartition AND ih.inhrelid = x.indexrelid
LEFT JOIN pg_class pi ON pi.oid = ih.inhparent
LEFT JOIN pg_namespace pn ON pn.oid = pi.relnamespace
WHERE ${USER_TABLE}`

/** Definitions of the given indexes, and the part after `CREATE [UNIQUE] INDEX name ON [ONLY] table` (USING ...). */
const DEFINITIONS = `SELECT w.schema, w.name, pg_get_indexdef(i.oid) AS definition,
  'CREATE ' || CASE WHEN x.indisunique THEN 'UNIQUE ' ELSE '' END || 'INDEX ' || quote_ident(i.relname) || ' ON '
    || CASE WHEN i.relkind = 'I' THEN 'ONLY ' ELSE '' END || quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS head
FROM unnest($1::text[], $2::text[]) AS w(schema, name)
JOIN pg_namespace n ON n.nspname = w.schema
JOIN pg_class i ON i.relnamespace = n.oid AND i.relname = w.name
JOIN pg_index x ON x.indexrelid = i.oid
JOIN pg_class c ON c.oid = x.indrelid`

/** Fills in the definitions of `indexes` (one query), returning the definition tails the fixes are built from. */
export async function describePostgresIndexes(backend: Backend, indexes: IndexInfo[]): Promise<Map<string, string>> {
  const tails = new Map<string, string>()
  if (indexes.length === 0) return tails
  const rows = await backend.query<Row>({
    sql: DEFINITIONS,
    parameters: [indexes.map((index) => index.schema), indexes.map((index) => index.name)],
  })
  const byName = new Map(rows.map((row) => [`${row.schema}\u0000${row.name}`, row]))
  for (const index of indexes) {
    const row = byName.get(`${index.schema}\u0000${index.name}`)
    if (!row) continue
    index.definition = row.definition
    if (row.definition.startsWith(row.head))
      tails.set(`${index.schema}\u0000${index.name}`, row.definition.slice(row.head.length))
  }
  return tails
}

/** Foreign keys (not the copies PostgreSQL makes on partitions) and every constraint not yet validated. */
const CONSTRAINTS = `SELECT n.nspname AS schema, c.relname AS table, k.conname AS name, k.contype::text AS type, k.convalidated AS validated,
  ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum ORDER BY u.ord) AS columns,
  k.conkey::int2[] AS attnums,
  ARRAY(SELECT a.attcollation::text FROM unnest(k.conkey) WITH ORDINALITY u(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum ORDER BY u.ord) AS collations,
  rn.nspname AS ref_schema, r.relname AS ref_table,
  ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum ORDER BY u.ord) AS ref_columns,
  pg_get_constraintdef(k.oid, true) AS definition
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class r ON r.oid = k.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
WHERE (k.contype = 'f' OR NOT k.convalidated) AND k.conparentid = 0 AND k.conislocal AND ${USER_TABLE}`

/**
 * Inputs of the b-tree bloat estimate, for indexes of at least $1 bytes: the index's pages and tuples, the average
 * width of its key columns from pg_stats (rows only visible with SELECT on the column), and how fresh the table's
 * statistics are.
 */
const BLOAT = `SELECT n.nspname AS schema, c.relname AS table, i.relname AS index,
  i.relpages::bigint AS pages, i.reltuples::float8 AS tuples, x.indnatts AS columns,
  (SELECT count(*) FROM pg_attribute a JOIN pg_stats st ON st.schemaname = n.nspname AND st.tablename = c.relname
     AND st.attname = a.attname AND NOT st.inherited WHERE a.attrelid = c.oid AND a.attnum = ANY (x.indkey::int2[])) AS columns_with_stats,
  (SELECT sum(st.avg_width) FROM pg_attribute a JOIN pg_stats st ON st.schemaname = n.nspname AND st.tablename = c.relname
     AND st.attname = a.attname AND NOT st.inherited WHERE a.attrelid = c.oid AND a.attnum = ANY (x.indkey::int2[])) AS data_width,
  has_table_privilege(c.oid, 'SELECT') AS readable,
  coalesce(s.last_analyze, s.last_autoanalyze) AS analyzed_at, s.n_mod_since_analyze, c.reltuples::float8 AS table_tuples,
  coalesce((SELECT option_value::float8 FROM pg_options_to_table(i.reloptions) WHERE option_name = 'fillfactor'), 90) AS fillfactor
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class c ON c.oid = x.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_am am ON am.oid = i.relam AND am.amname = 'btree'
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE x.indexprs IS NULL AND x.indisvalid AND i.relkind = 'i'
  AND i.relpages::bigint * current_setting('block_size')::bigint >= $1 AND ${USER_TABLE}`

/**
 * Inputs of the heap bloat estimate, for plain tables of at least $1 bytes: pages and tuples, the average width and
 * null fraction of every column from pg_stats (rows only visible with SELECT on the table), and how fresh they are.
 */
const TABLE_BLOAT = `SELECT n.nspname AS schema, c.relname AS table, c.relpages::bigint AS pages, c.reltuples::float8 AS tuples,
  (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
  st.columns_with_stats, st.layout, st.has_nulls,
  has_table_privilege(c.oid, 'SELECT') AS readable,
  coalesce(s.last_analyze, s.last_autoanalyze) AS analyzed_at, s.n_mod_since_analyze,
  coalesce((SELECT option_value::float8 FROM pg_options_to_table(c.reloptions) WHERE option_name = 'fillfactor'), 100) AS fillfactor
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
LEFT JOIN LATERAL (SELECT count(p.attname) AS columns_with_stats, coalesce(max(p.null_frac), 0) > 0 AS has_nulls,
    json_agg(json_build_object('length', a.attlen, 'align', a.attalign, 'width', p.avg_width, 'null_frac', p.null_frac) ORDER BY a.attnum) AS layout
  FROM pg_attribute a
  LEFT JOIN pg_stats p ON p.schemaname = n.nspname AND p.tablename = c.relname AND p.attname = a.attname AND NOT p.inherited
  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) st ON true
WHERE c.relkind = 'r' AND c.relpages::bigint * current_setting('block_size')::bigint >= $1 AND ${USER_TABLE}`

type Row = Record<string, any>

const number = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value))

/**
 * Reads everything the audit rules need in seven or eight round trips (BEGIN, five or six catalog queries, COMMIT) on one
 * REPEATABLE READ snapshot, whatever the number of tables. (JIT is off: compiling these plans costs more than it saves.)
 */
export async function introspectPostgres(backend: Backend, options: IntrospectOptions): Promise<SchemaSnapshot> {
  let queries = 0
  const run = async (text: string, parameters: unknown[] = []): Promise<Row[]> => {
    queries++
    return backend.query<Row>({ sql: text, parameters })
  }
  await run('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
  try {
    const [context] = await run(CONTEXT, ['120s'])
    if (!context!.stats_reset && context!.can_stat_file) {
      const [file] = await run(`SELECT (pg_stat_file('base/' || $1 || '/PG_VERSION', true)).modification AS created`, [
        context!.database_oid,
      ])
      context!.created = file?.created ?? null
    }
    const tableRows = await run(TABLES)
    const indexRows = await run(INDEXES)
    const constraintRows = await run(CONSTRAINTS)
    const bloatRows = await run(BLOAT, [options.bloatMinBytes])
    const tableBloatRows = await run(TABLE_BLOAT, [options.bloatMinBytes])
    await run('COMMIT')

    const now = new Date(context!.now)
    const since: Date | null = context!.stats_reset
      ? new Date(context!.stats_reset)
      : context!.created
        ? new Date(context!.created)
        : null
    const source = context!.stats_reset
      ? 'last statistics reset'
      : context!.created
        ? 'database creation, never reset'
        : 'never reset, and the database creation time is not readable by this role (superuser or pg_read_server_files)'
    const blockSize = Number(context!.block_size)

    const tables: TableInfo[] = tableRows.map((row) => ({
      schema: row.schema,
      name: row.name,
      kind: row.relkind === 'p' ? 'partitioned' : row.is_partition ? 'partition' : row.is_child ? 'child' : 'table',
      ...(row.parent && { parent: row.parent }),
      hasPrimaryKey: row.has_pk,
      withoutRowid: false,
      liveRows: number(row.n_live_tup),
      seqScans: number(row.seq_scan),
      seqRowsRead: number(row.seq_tup_read),
      indexScans: number(row.idx_scan),
    }))

    const indexes: IndexInfo[] = indexRows.map((row) => {
      const keyCount = Number(row.key_count)
      const columns: string[] = row.columns
      const attnums: number[] = row.attnums.map(Number)
      return {
        schema: row.schema,
        table: row.table,
        name: row.name,
        method: row.method,
        unique: row.unique,
        nullsNotDistinct: row.nulls_not_distinct,
        primary: row.primary,
        keys: columns.slice(0, keyCount).map((text, i) => {
          const option = Number(row.options[i] ?? 0)
          return {
            text,
            expression: attnums[i] === 0,
            descending: (option & 1) !== 0,
            nullsFirst: (option & 2) !== 0,
            collation: String(row.collations[i] ?? '0'),
            opclass: String(row.opclasses[i] ?? '0'),
            ...(attnums[i] !== 0 && { column: attnums[i] }),
          }
        }),
        include: columns.slice(keyCount),
        predicate: row.predicate,
        valid: row.valid,
        ready: row.ready,
        building: row.building,
        backs: (row.backs ?? []).map((backing: Row) => ({
          name: backing.name,
          type: constraintType(backing.type),
          table: backing.table,
        })),
        scans: number(row.partitioned ? row.tree_scans : row.own_scans),
        bytes: number(row.partitioned ? row.tree_bytes : row.bytes),
        createdOrder: Number(row.oid),
        ...(row.parent_index && { parentIndex: { schema: row.parent_schema, name: row.parent_index } }),
        definition: '',
        partitioned: row.partitioned,
        attached: row.attached,
        replicaIdentity: row.replica_identity,
        exclusion: row.exclusion,
      }
    })

    const foreignKeys: ForeignKeyInfo[] = []
    const unvalidated: ConstraintInfo[] = []
    for (const row of constraintRows) {
      if (row.type === 'f') {
        foreignKeys.push({
          schema: row.schema,
          table: row.table,
          name: row.name,
          columns: row.columns,
          columnNumbers: row.attnums.map(Number),
          collations: row.collations,
          validated: row.validated,
          refSchema: row.ref_schema,
          refTable: row.ref_table,
          refColumns: row.ref_columns,
          definition: row.definition,
        })
      }
      if (!row.validated) {
        unvalidated.push({
          schema: row.schema,
          table: row.table,
          name: row.name,
          type: constraintType(row.type),
          validated: false,
          definition: row.definition,
        })
      }
    }

    const estimates: BloatEstimate[] = []
    const skipped: { index: string; reason: string }[] = []
    for (const row of bloatRows) {
      const name = `${row.schema}.${row.index}`
      const tableTuples = Math.max(Number(row.table_tuples), 0)
      if (!row.readable || Number(row.columns_with_stats) < Number(row.columns)) {
        skipped.push({
          index: name,
          reason: !row.analyzed_at
            ? 'its table was never analyzed: no bloat estimate'
            : !row.readable
              ? 'pg_stats is not readable for its table by this role (needs SELECT): no bloat estimate'
              : 'pg_stats lacks some of its columns: no bloat estimate',
        })
        continue
      }
      if (number(row.n_mod_since_analyze)! > 0.1 * tableTuples + 1000) {
        skipped.push({
          index: name,
          reason: `${row.n_mod_since_analyze} rows changed since its table was last analyzed: statistics too stale for a bloat estimate`,
        })
        continue
      }
      estimates.push({
        schema: row.schema,
        table: row.table,
        index: row.index,
        bytes: Number(row.pages) * blockSize,
        expectedBytes: expectedBtreeBytes(
          Number(row.tuples),
          Number(row.data_width),
          blockSize,
          Number(row.fillfactor),
        ),
      })
    }

    const tableEstimates: TableBloatEstimate[] = []
    const tableSkipped: { table: string; reason: string }[] = []
    for (const row of tableBloatRows) {
      const name = `${row.schema}.${row.table}`
      const tuples = Math.max(Number(row.tuples), 0)
      if (!row.readable || !row.analyzed_at || Number(row.columns_with_stats) < Number(row.columns)) {
        tableSkipped.push({
          table: name,
          reason: !row.analyzed_at
            ? 'never analyzed: no bloat estimate'
            : !row.readable
              ? 'pg_stats is not readable by this role (needs SELECT): no bloat estimate'
              : 'pg_stats lacks some of its columns: no bloat estimate',
        })
        continue
      }
      if (number(row.n_mod_since_analyze)! > 0.1 * tuples + 1000) {
        tableSkipped.push({
          table: name,
          reason: `${row.n_mod_since_analyze} rows changed since it was last analyzed: statistics too stale for a bloat estimate`,
        })
        continue
      }
      tableEstimates.push({
        schema: row.schema,
        table: row.table,
        bytes: Number(row.pages) * blockSize,
        expectedBytes: expectedHeapBytes(
          tuples,
          heapDataWidth(row.layout ?? []),
          Number(row.columns),
          row.has_nulls,
          blockSize,
          Number(row.fillfactor),
        ),
      })
    }

    return {
      engine: 'postgres',
      tables,
      indexes,
      foreignKeys,
      unvalidated,
      statisticsSince: since ? since.toISOString() : null,
      statisticsSource: source,
      statisticsAgeSeconds: since ? Math.max(0, (now.getTime() - since.getTime()) / 1000) : null,
      bloat: { estimates, skipped },
      tableBloat: { estimates: tableEstimates, skipped: tableSkipped },
      queries,
    }
  } catch (error) {
    await backend.query({ sql: 'ROLLBACK', parameters: [] }).catch(() => {})
    throw error
  }
}

/**
 * The size a freshly built b-tree would have: each leaf tuple is an 8-byte header plus its key data, 8-byte
 * aligned, plus a 4-byte line pointer; leaves are filled to the fillfactor; a page keeps 24 bytes of header and 16 of
 * b-tree special space; inner pages and the meta page add about 1% + 1 page. (The estimate pghero, pg-index-health
 * and check_postgres derive from the same layout; it ignores deduplication, so it errs towards less bloat.)
 */
export function expectedBtreeBytes(tuples: number, dataWidth: number, blockSize: number, fillfactor: number): number {
  const tupleBytes = Math.ceil((8 + dataWidth) / 8) * 8 + 4
  const usable = (blockSize - 24 - 16) * (fillfactor / 100)
  const leaves = Math.max(1, Math.ceil((Math.max(tuples, 0) * tupleBytes) / usable))
  return Math.ceil(leaves * 1.01 + 1) * blockSize
}

/**
 * The average bytes of a row's data, column by column in table order as the heap lays them out: a fixed-length
 * column starts at its alignment (int8 after a boolean pads 7 bytes); a short varlena (under 127 bytes, 1-byte
 * header) is not aligned; a NULL takes no space. Without the padding a table of boolean/bigint pairs looked 40%
 * bloated right after loading.
 */
export function heapDataWidth(
  layout: readonly { length: number; align: string; width: number | null; null_frac: number | null }[],
): number {
  const alignments: Record<string, number> = { c: 1, s: 2, i: 4, d: 8 }
  let offset = 0
  for (const column of layout) {
    const present = 1 - Number(column.null_frac ?? 0)
    const width = column.length > 0 ? column.length : Number(column.width ?? 0)
    const alignment = column.length > 0 || width >= 127 ? (alignments[column.align] ?? 1) : 1
    const start = Math.ceil(offset / alignment) * alignment
    offset += present * (start - offset + width)
  }
  return offset
}

/**
 * The size the table's rows need: each heap tuple is a 23-byte header (plus a null bitmap when a column has nulls)
 * aligned to 8, its data (average widths from pg_stats, nulls excluded) aligned to 8, and a 4-byte line pointer;
 * pages keep 24 bytes of header and are filled to the fillfactor. `dataWidth` includes the padding between columns
 * (heapDataWidth), which check_postgres' and pgsql-bloat-estimation's estimates leave out.
 */
export function expectedHeapBytes(
  tuples: number,
  dataWidth: number,
  columns: number,
  hasNulls: boolean,
  blockSize: number,
  fillfactor: number,
): number {
  const align = (bytes: number) => Math.ceil(bytes / 8) * 8
  const tupleBytes = align(23 + (hasNulls ? Math.ceil(columns / 8) : 0)) + align(dataWidth) + 4
  const usable = (blockSize - 24) * (fillfactor / 100)
  const perPage = Math.max(1, Math.floor(usable / tupleBytes))
  return Math.max(1, Math.ceil(Math.max(tuples, 0) / perPage)) * blockSize
}

function constraintType(code: string): string {
  return (
    (
      {
        p: 'primary key',
        u: 'unique',
        x: 'exclusion',
        f: 'foreign key',
        c: 'check',
        t: 'trigger',
        n: 'not null',
      } as Record<string, string>
    )[code] ?? code
  )
}
