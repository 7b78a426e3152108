import type pg from 'pg'
import type { Backend } from '../backend.js'
import type { Target } from '../../targets/target.js'
import type { CatalogKind, CatalogObject, SchemaCatalog } from '../../schema/catalog.js'
import type { SchemaEngine, ScratchTarget } from '../../schema/schema-engine.js'
import { DbopsError } from '../../errors.js'
import { redactUrl } from '../../config/database-url.js'
import { findPgTool, libpqEnvironment, majorOf } from './postgres-dump-tools.js'
import { createScratchDatabase, urlWithDatabase } from './postgres-scratch.js'

/** User namespaces: no system schemas, no temporary or toast schemas. */
const USER_NAMESPACE = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'`
/**
 * Not part of an extension (pg_depend deptype 'e', whose referenced object is always the extension): objects an
 * extension creates are the extension's business. Read from the `ext` CTE, which finds them through pg_depend's
 * index on the referenced object rather than by scanning pg_depend.
 */
const notExtension = (catalog: string, oid: string) =>
  `${oid} NOT IN (SELECT e.objid FROM ext e WHERE e.classid = '${catalog}'::regclass)`
/**
 * Created after initdb: every object a user (or a restore, or pg_upgrade, which keeps the OIDs) creates has an OID
 * of at least FirstNormalObjectId, 16384; initdb's own objects are below it. Not a filter of its own (the
 * namespace decides) but a range on the catalog's OID index, so that pg_proc's and pg_type's thousands of
 * built-in rows are not read at all.
 */
const userCreated = (oid: string) => `${oid} >= '16384'::oid`

/**
 * One SELECT per object kind, sent as one UNION ALL statement: one round trip and one MVCC snapshot for the whole
 * catalog. Sorted (byte order), so that two reads of the same schema list the same objects in the same order, which
 * compareCatalogs checks first. Each row is (kind, name, owning table, attributes as jsonb); the attributes are what the server prints
 * (format_type, pg_get_*def), so two databases built by the same DDL agree to the byte.
 *
 * The fixed part of a read is kept small, as migrate test reads the catalog three times per migration: the user
 * namespaces (`ns`), the extensions' members (`ext`) and the user relations with what the kinds print of them
 * (`rel`) are read once per read, and every kind starts from them, so that no kind scans a system catalog whole or
 * looks at the system schemas' objects.
 */
const KINDS: Record<string, string> = {
  extensions: `SELECT 'extension', x.extname::text, NULL, jsonb_build_object('schema', n.nspname)
    FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace`,
  schemas: `SELECT 'schema', n.nspname::text, NULL, '{}'::jsonb FROM ns n WHERE ${notExtension('pg_namespace', 'n.oid')}`,
  types: `SELECT CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain' WHEN 'c' THEN 'composite type' ELSE 'range type' END,
      n.nspname || '.' || t.typname, NULL, jsonb_build_object(
      'values', CASE WHEN t.typtype = 'e' THEN (SELECT string_agg(quote_literal(v.enumlabel), ', ' ORDER BY v.enumsortorder) FROM pg_enum v WHERE v.enumtypid = t.oid) END,
      'base type', CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END,
      'not null', CASE WHEN t.typtype = 'd' THEN t.typnotnull END,
      'default', t.typdefault,
      'collation', (SELECT co.collname FROM pg_collation co WHERE co.oid = t.typcollation AND t.typtype = 'd' AND t.typcollation <> (SELECT b.typcollation FROM pg_type b WHERE b.oid = t.typbasetype)),
      'constraints', CASE WHEN t.typtype = 'd' THEN (SELECT string_agg(k.conname || ' ' || pg_get_constraintdef(k.oid, true), ', ' ORDER BY k.conname) FROM pg_constraint k WHERE k.contypid = t.oid) END,
      'attributes', CASE WHEN t.typtype = 'c' THEN (SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
        FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) END,
      'subtype', CASE WHEN t.typtype = 'r' THEN (SELECT format_type(r.rngsubtype, NULL) FROM pg_range r WHERE r.rngtypid = t.oid) END)
    FROM pg_type t JOIN ns n ON n.oid = t.typnamespace LEFT JOIN pg_class tc ON tc.oid = t.typrelid
    WHERE ${userCreated('t.oid')} AND t.typtype IN ('e', 'd', 'c', 'r') AND (t.typtype <> 'c' OR tc.relkind = 'c') AND ${notExtension('pg_type', 't.oid')}`,
  sequences: `SELECT 'sequence', c.name, NULL, jsonb_build_object(
      'type', format_type(s.seqtypid, NULL), 'start', s.seqstart::text, 'increment', s.seqincrement::text,
      'minimum', s.seqmin::text, 'maximum', s.seqmax::text, 'cache', s.seqcache::text, 'cycle', s.seqcycle,
      'owned by', (SELECT tn.nspname || '.' || t.relname || '.' || a.attname FROM pg_depend d
        JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
        JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') LIMIT 1))
    FROM rel c JOIN pg_sequence s ON s.seqrelid = c.oid WHERE c.relkind = 'S'`,
  tables: `SELECT 'table', c.name, NULL, jsonb_build_object(
      'kind', CASE c.relkind WHEN 'p' THEN 'partitioned table' WHEN 'f' THEN 'foreign table' ELSE 'table' END,
      'unlogged', c.relpersistence = 'u',
      'partition of', CASE WHEN c.relispartition THEN (SELECT pn.nspname || '.' || p.relname FROM pg_inherits i
        JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = c.oid) END,
      'partition bound', CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END,
      'partition key', CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
      'inherits', CASE WHEN NOT c.relispartition THEN (SELECT string_agg(pn.nspname || '.' || p.relname, ', ' ORDER BY i.inhseqno) FROM pg_inherits i
        JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = c.oid) END,
      'row level security', c.relrowsecurity,
      'options', array_to_string(c.reloptions, ', '))
    FROM rel c WHERE c.relkind IN ('r', 'p', 'f')`,
  columns: `SELECT 'column', c.name || '.' || a.attname, c.name, jsonb_build_object(
      'type', format_type(a.atttypid, a.atttypmod),
      'not null', a.attnotnull,
      'default', CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END,
      'generated', CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END,
      'identity', CASE a.attidentity WHEN 'a' THEN 'generated always' WHEN 'd' THEN 'generated by default' END,
      'collation', CASE WHEN a.attcollation <> t.typcollation THEN (SELECT co.collname FROM pg_collation co WHERE co.oid = a.attcollation) END)
    FROM rel c JOIN pg_attribute a ON a.attrelid = c.oid JOIN pg_type t ON t.oid = a.atttypid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f')`,
  constraints: `SELECT 'constraint', c.name || '.' || k.conname, c.name,
      jsonb_build_object('definition', pg_get_constraintdef(k.oid, true))
    FROM rel c JOIN pg_constraint k ON k.conrelid = c.oid`,
  // Indexes that back a primary key, unique or exclusion constraint are reported as that constraint (whose
  // conrelid is the index's table).
  indexes: `SELECT 'index', c.nspname || '.' || i.relname, c.name,
      jsonb_build_object('definition', pg_get_indexdef(i.oid), 'valid', x.indisvalid)
    FROM rel c JOIN pg_index x ON x.indrelid = c.oid JOIN pg_class i ON i.oid = x.indexrelid
    WHERE NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = x.indrelid AND k.conindid = x.indexrelid AND k.contype IN ('p', 'u', 'x'))`,
  views: `SELECT CASE c.relkind WHEN 'v' THEN 'view' ELSE 'materialized view' END, c.name, NULL,
      jsonb_build_object('definition', pg_get_viewdef(c.oid, true), 'options', array_to_string(c.reloptions, ', '))
    FROM rel c WHERE c.relkind IN ('v', 'm')`,
  functions: `SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,
      n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', NULL,
      jsonb_build_object('definition', CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END,
        'returns', CASE WHEN p.prokind = 'a' THEN pg_get_function_result(p.oid) END)
    FROM pg_proc p JOIN ns n ON n.oid = p.pronamespace
    WHERE ${userCreated('p.oid')} AND ${notExtension('pg_proc', 'p.oid')}`,
  triggers: `SELECT 'trigger', c.name || '.' || g.tgname, c.name,
      jsonb_build_object('definition', pg_get_triggerdef(g.oid, true),
        'enabled', CASE g.tgenabled WHEN 'O' THEN 'yes' WHEN 'D' THEN 'no' WHEN 'R' THEN 'on replica only' ELSE 'always' END)
    FROM rel c JOIN pg_trigger g ON g.tgrelid = c.oid
    WHERE NOT g.tgisinternal`,
  policies: `SELECT 'policy', c.name || '.' || p.polname, c.name, jsonb_build_object(
      'command', CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
      'permissive', p.polpermissive,
      'roles', (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE r::regrole::text END, ', ' ORDER BY 1) FROM unnest(p.polroles) r),
      'using', pg_get_expr(p.polqual, p.polrelid), 'with check', pg_get_expr(p.polwithcheck, p.polrelid))
    FROM rel c JOIN pg_policy p ON p.polrelid = c.oid`,
}

/**
 * The catalog comes back as one text value, a JSON array of [kind, name, table, attributes] in order: one string to
 * receive rather than a row and a JSON document per object, and two reads of the same schema give the same string,
 * which compareCatalogs compares before anything else, so that migrate test, whose reads nearly always equal the
 * one they are compared with, never parses them.
 */
const CATALOG_COLUMN = 'dbops_schema_catalog'

const CATALOG = `WITH ns AS MATERIALIZED (SELECT n.oid, n.nspname FROM pg_namespace n WHERE ${USER_NAMESPACE}),
ext AS MATERIALIZED (SELECT e.classid, e.objid FROM pg_depend e WHERE e.refclassid = 'pg_extension'::regclass AND e.deptype = 'e'),
rel AS MATERIALIZED (SELECT c.oid, n.nspname, n.nspname || '.' || c.relname AS name, c.relkind, c.relpersistence,
    c.relispartition, c.relpartbound, c.relrowsecurity, c.reloptions
  FROM pg_class c JOIN ns n ON n.oid = c.relnamespace
  WHERE ${userCreated('c.oid')} AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S') AND ${notExtension('pg_class', 'c.oid')})
SELECT coalesce(json_agg(json_build_array(kind, name, tbl, jsonb_strip_nulls(attributes))
  ORDER BY kind COLLATE "C", name COLLATE "C"), '[]')::text AS ${CATALOG_COLUMN} FROM (
${Object.values(KINDS)
  .map((text) => `(${text})`)
  .join('\nUNION ALL\n')}
) AS objects(kind, name, tbl, attributes)`

const prepared = new WeakSet<pg.Client>()

/** The read once the session holds the prepared query (see readPostgresCatalog). */
const EXECUTE_CATALOG = `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL search_path = public; SET LOCAL jit = off; EXECUTE dbops_schema_catalog; COMMIT`

/**
 * One round trip: the transaction, the search_path and the prepared catalog query travel as one simple-query
 * message. The server deparses definitions relative to the session's search_path (a migration may have changed it:
 * pg_dump output sets it to ''), so both sides of a comparison are read with the same one, public. Planning the
 * query costs more than running it on a small schema: it is prepared once per session (migrate test reads the
 * catalog three times per migration).
 */
export async function readPostgresCatalog(client: pg.Client): Promise<SchemaCatalog> {
  const read = async (prepare: boolean): Promise<pg.QueryResult[]> => {
    try {
      return (await client.query(
        prepare
          ? EXECUTE_CATALOG.replace(' EXECUTE', () => ` PREPARE dbops_schema_catalog AS ${CATALOG}; EXECUTE`)
          : EXECUTE_CATALOG,
      )) as unknown as pg.QueryResult[]
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {})
      throw error
    }
  }
  let results: pg.QueryResult[]
  try {
    results = await read(!prepared.has(client))
  } catch (error) {
    // A session that lost the statement (DISCARD ALL, a pooler handing out another server session), or one that
    // holds a statement of that name already: prepared afresh.
    const code = (error as { code?: string }).code
    if (code !== '26000' && code !== '42P05') throw error
    if (code === '42P05') await client.query('DEALLOCATE dbops_schema_catalog')
    results = await read(true)
  }
  prepared.add(client)
  let catalog = catalogOf(results)
  if (!catalog) {
    // The session's statement of that name is someone else's (replaced after ours): ours replaces it.
    await client.query('DEALLOCATE dbops_schema_catalog')
    catalog = catalogOf(await read(true))!
  }
  return catalog
}

/** The catalog from the result sets of EXECUTE_CATALOG (the EXECUTE's, before the COMMIT); undefined if not ours. */
function catalogOf(results: pg.QueryResult[]): SchemaCatalog | undefined {
  const result = results.at(-2)
  if (result?.fields.length !== 1 || result.fields[0]!.name !== CATALOG_COLUMN) return undefined
  return catalogFromText(String((result.rows[0] as Record<string, unknown>)[CATALOG_COLUMN]))
}

/** `objects` is parsed from the text when first asked for (compareCatalogs needs it only when the texts differ). */
export function catalogFromText(text: string): SchemaCatalog {
  let objects: CatalogObject[] | undefined
  const catalog: SchemaCatalog = {
    engine: 'postgres',
    get objects() {
      objects ??= (JSON.parse(text) as [CatalogKind, string, string | null, CatalogObject['attributes']][]).map(
        ([kind, name, table, attributes]) => ({ kind, name, ...(table !== null && { table }), attributes }),
      )
      return objects
    },
    queries: 1,
  }
  // Not enumerable: a catalog printed as JSON shows its objects once.
  return Object.defineProperty(catalog, 'text', { value: text, enumerable: false })
}

/**
 * pg_dump lines that differ between two dumps of the same schema: the versions of server and pg_dump, and the
 * random key of `\restrict` (PostgreSQL 17.6, 16.10, 15.14 and later), which psql older than those cannot read.
 */
const UNSTABLE_LINE = /^(\\restrict |\\unrestrict |-- Dumped from database version |-- Dumped by pg_dump version )/

const PUBLIC_NOT_CREATED =
  /--\n-- Name: public; Type: SCHEMA; Schema: -; Owner: -\n--\n\n-- \*not\* creating schema, since initdb creates it\n\n/

/** Normalises pg_dump's plain output: no version banners or `\restrict` lines, one blank line between entries. */
export function normalisePgDump(text: string): string {
  const lines = text.split('\n').filter((line) => !UNSTABLE_LINE.test(line))
  return (
    lines
      .join('\n')
      // Printed when public's owner or comment differs from initdb's, which --no-owner cannot carry into a reload.
      .replace(PUBLIC_NOT_CREATED, '')
      .replace(/\n{3,}/g, '\n\n')
      .replace(/^\n+/, '')
      .replace(/\n*$/, '\n')
  )
}

export class PostgresSchemaEngine implements SchemaEngine {
  readonly nowExpression = 'now()'

  constructor(
    private readonly backend: Backend,
    private readonly client: pg.Client,
  ) {}

  readCatalog(): Promise<SchemaCatalog> {
    return readPostgresCatalog(this.client)
  }

  /** Only once a read prepared the query on this session: a follow-up cannot recover from a missing statement. */
  catalogFollowUp(): string | undefined {
    return prepared.has(this.client) ? EXECUTE_CATALOG : undefined
  }

  catalogFromFollowUp(results: unknown[]): SchemaCatalog | undefined {
    return catalogOf(results as pg.QueryResult[])
  }

  async dump(target: Target, options: { signal?: AbortSignal }): Promise<string> {
    const [row] = await this.backend.query<{ num: number }>({
      sql: `SELECT current_setting('server_version_num')::int AS num`,
      parameters: [],
    })
    const pgDump = await findPgTool('pg_dump', majorOf(Number(row!.num)), 'the server')
    const { execa } = await import('execa')
    const env = libpqEnvironment(target.resolved.url, { applicationName: 'dbops schema dump' })
    // Owners and grants name roles of this server: a schema file is for other servers too (dbmate does the same).
    const result = await execa(
      pgDump.path,
      ['--schema-only', '--no-owner', '--no-privileges', '--no-password', '--encoding=UTF8'],
      {
        env,
        extendEnv: false,
        stdin: 'ignore',
        reject: false,
        maxBuffer: 1024 * 1024 * 1024,
        ...(options.signal && { cancelSignal: options.signal }),
      },
    )
    if (result.isCanceled) throw new DbopsError('E_INTERRUPTED', 'pg_dump was stopped (interrupted)')
    if (result.exitCode !== 0) {
      const lines = String(result.stderr)
        .split('\n')
        .filter((line) => line.trim() !== '')
      const error =
        lines.find((line) => /error:|FATAL:|ERROR:/.test(line)) ?? lines.at(-1) ?? `exit code ${result.exitCode}`
      throw new DbopsError('E_PG_TOOL_FAILED', `pg_dump failed: ${error.replace(/^\S+: (error: )?/, '')}`, {
        hint: 'the full output of pg_dump is in --json (details.stderr)',
        details: { tool: 'pg_dump', exitCode: result.exitCode ?? null, stderr: String(result.stderr).slice(-4000) },
      })
    }
    return normalisePgDump(String(result.stdout))
  }

  async scratch(target: Target, prefix: string): Promise<ScratchTarget> {
    const query = (text: string, parameters: unknown[] = []) => this.backend.query({ sql: text, parameters })
    const why = prefix.includes('drift') ? 'schema drift' : 'migrate test'
    const database = await createScratchDatabase(query, prefix, {
      code: 'E_SCRATCH',
      hint: `${why} needs the CREATEDB privilege on the server (the scratch database is dropped afterwards)`,
    })
    const url = urlWithDatabase(target.resolved.url, database.name)
    const { connectTarget } = await import('../../targets/target.js')
    let scratch: Target
    try {
      scratch = await connectTarget(
        {
          ...target.resolved,
          url,
          redactedUrl: redactUrl(url),
          location: { engine: 'postgres', url },
          protected: false,
        },
        { command: prefix.includes('drift') ? 'schema drift' : 'migrate test' },
      )
    } catch (error) {
      await database.drop().catch(() => {})
      throw error
    }
    return {
      description: `scratch database ${database.name}`,
      target: scratch,
      drop: async () => {
        await scratch.close().catch(() => {})
        await database.drop().catch(() => {})
      },
    }
  }
}
