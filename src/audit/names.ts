import { createHash } from 'node:crypto'

/** `"na""me"`: always quoted, quotes doubled (PostgreSQL and SQLite agree). */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

export function quoteQualified(schema: string | undefined, name: string): string {
  return schema === undefined ? quoteIdentifier(name) : `${quoteIdentifier(schema)}.${quoteIdentifier(name)}`
}

/** A name as a person would write it: bare when it is a plain lower-case identifier, quoted otherwise. */
export function displayIdentifier(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : quoteIdentifier(name)
}

/**
 * A new index's name, `<table>_<columns>_idx`, cut to `maxBytes` (UTF-8, never inside a character) with a short hash
 * when cut so that two long names stay distinct, and made unique among `taken`.
 */
export function indexName(table: string, columns: string[], taken: ReadonlySet<string>, maxBytes: number): string {
  const base = `${table}_${columns.join('_')}_idx`
  let candidate = fit(base, maxBytes)
  for (let n = 1; taken.has(candidate); n++) candidate = fit(base, maxBytes, String(n))
  return candidate
}

function fit(name: string, maxBytes: number, suffix = ''): string {
  const full = suffix ? `${name}${suffix}` : name
  if (Buffer.byteLength(full) <= maxBytes) return full
  const tail = `_${createHash('sha1').update(full).digest('hex').slice(0, 8)}${suffix}`
  let head = ''
  for (const character of name) {
    if (Buffer.byteLength(head + character + tail) > maxBytes) break
    head += character
  }
  return head + tail
}
