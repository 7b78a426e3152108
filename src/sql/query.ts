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
