/**
 * A tiny tagged-template SQL builder for dbops' own fixed queries (the ledger). Values become bind parameters,
 * fragments nest, identifiers are quoted. Each backend renders placeholders in its own style. dbops does not use
 * kysely here because these few queries run on every command: loading kysely's ~400 kB costs more start-up time than
 * `dbops migrate status` is allowed in total (see bench/startup.mjs).
 */
export class SqlFragment {
  constructor(readonly parts: readonly (string | { value: unknown })[]) {}
}

export interface SqlQuery {
  sql: string
  parameters: readonly unknown[]
}

export function sql(strings: TemplateStringsArray, ...values: unknown[]): SqlFragment {
  const parts: (string | { value: unknown })[] = []
  strings.forEach((text, i) => {
    parts.push(text)
    if (i >= values.length) return
    const value = values[i]
    if (value instanceof SqlFragment) parts.push(...value.parts)
    else parts.push({ value })
  })
  return new SqlFragment(parts)
}

/** Text spliced in as is: only for SQL written by dbops itself. */
export function raw(text: string): SqlFragment {
  return new SqlFragment([text])
}

/** A double-quoted identifier (PostgreSQL and SQLite agree); `schema.table` when given two names. */
export function identifier(...names: string[]): SqlFragment {
  return raw(names.map(quoteIdentifier).join('.'))
}

/** `"na""me"`: always quoted, quotes doubled (PostgreSQL and SQLite agree). The one quoter for SQL text dbops writes. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/** `"schema"."name"`, or `"name"` when there is no schema (SQLite, or an unqualified name). */
export function quoteQualified(schema: string | undefined | null, name: string): string {
  return !schema ? quoteIdentifier(name) : `${quoteIdentifier(schema)}.${quoteIdentifier(name)}`
}

/** `'it''s'`: a string literal for SQL that cannot take bind parameters (DDL, fixes shown to people). */
export function quoteLiteral(value: unknown): string {
  return `'${String(value).replace(/'/g, "''")}'`
}

/**
 * PostgreSQL's keywords that cannot be a bare table or column name (kwlist.h: RESERVED_KEYWORD and
 * TYPE_FUNC_NAME_KEYWORD, as of PostgreSQL 16): `SET order = 1` is a syntax error, `SET "order" = 1` is not.
 */
const RESERVED = new Set(
  (
    'all analyse analyze and any array as asc asymmetric authorization binary both case cast check collate collation ' +
    'column concurrently constraint create cross current_catalog current_date current_role current_schema ' +
    'current_time current_timestamp current_user default deferrable desc distinct do else end except false fetch ' +
    'for foreign freeze from full grant group having ilike in initially inner intersect into is isnull join lateral ' +
    'leading left like limit localtime localtimestamp natural not notnull null offset on only or order outer ' +
    'overlaps placing primary references returning right select session_user similar some symmetric system_user ' +
    'table tablesample then to trailing true union unique user using variadic verbose when where window with'
  ).split(' '),
)

/**
 * A name as a person would write it, for messages and suggested fixes: bare when it is a plain lower-case identifier
 * and no reserved word, quoted otherwise. Control characters are escaped where text meets a terminal (the reporter
 * and tables), not here, so `--json` keeps the real name.
 */
export function displayIdentifier(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) && !RESERVED.has(name) ? name : quoteIdentifier(name)
}

/** `public.orders`, `public."Order Items"`: displayIdentifier for each part. */
export function displayQualified(schema: string | undefined | null, name: string): string {
  return !schema ? displayIdentifier(name) : `${displayIdentifier(schema)}.${displayIdentifier(name)}`
}

export function join(fragments: readonly SqlFragment[], separator = ', '): SqlFragment {
  const parts: (string | { value: unknown })[] = []
  fragments.forEach((fragment, i) => {
    if (i > 0) parts.push(separator)
    parts.push(...fragment.parts)
  })
  return new SqlFragment(parts)
}

export function render(fragment: SqlFragment, placeholder: (index: number) => string): SqlQuery {
  let text = ''
  const parameters: unknown[] = []
  for (const part of fragment.parts) {
    if (typeof part === 'string') {
      text += part
    } else {
      parameters.push(part.value)
      text += placeholder(parameters.length)
    }
  }
  return { sql: text, parameters }
}
