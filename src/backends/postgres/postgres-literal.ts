/**
 * Renders a value as a PostgreSQL literal, for the one place dbops cannot use bind parameters: the ledger write that
 * travels in the same simple-query message as the migration. E'' strings mean the same whatever
 * standard_conforming_strings says, and the whole message is lexed before any SET in it could run.
 */
export function postgresLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'NULL'
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot inline ${value} as a SQL literal`)
    return String(value)
  }
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE'
  const text = value instanceof Date ? value.toISOString() : String(value)
  return `E'${text.replace(/\0/g, '').replace(/\\/g, '\\\\').replace(/'/g, "''")}'`
}

/** Replaces $1..$n placeholders outside double-quoted identifiers with literals. */
export function inlineParameters(sql: string, parameters: readonly unknown[]): string {
  let out = ''
  let inIdentifier = false
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i]!
    if (ch === '"') inIdentifier = !inIdentifier
    if (!inIdentifier && ch === '$' && /[0-9]/.test(sql[i + 1] ?? '')) {
      let j = i + 1
      while (j < sql.length && /[0-9]/.test(sql[j]!)) j++
      const index = Number(sql.slice(i + 1, j)) - 1
      if (index < 0 || index >= parameters.length) throw new Error(`placeholder $${index + 1} has no parameter`)
      out += postgresLiteral(parameters[index])
      i = j - 1
      continue
    }
    out += ch
  }
  return out
}
