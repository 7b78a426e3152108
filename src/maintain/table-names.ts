import { UsageError } from '../errors.js'

/**
 * Splits `schema.table`, `table` or `"My Schema"."Odd.Name"` into its parts: dots inside double quotes belong to the
 * name, `""` is a quote. Unquoted parts are kept as written (callers match them exactly, then case-insensitively).
 */
export function parseQualifiedName(text: string): { schema?: string; name: string; quoted: boolean[] } {
  const parts: string[] = []
  const quoted: boolean[] = []
  let current = ''
  let inQuotes = false
  let wasQuoted = false
  for (let i = 0; i < text.length; i++) {
    const character = text[i]!
    if (inQuotes) {
      if (character === '"' && text[i + 1] === '"') {
        current += '"'
        i++
      } else if (character === '"') inQuotes = false
      else current += character
    } else if (character === '"') {
      inQuotes = true
      wasQuoted = true
    } else if (character === '.') {
      parts.push(current)
      quoted.push(wasQuoted)
      current = ''
      wasQuoted = false
    } else current += character
  }
  parts.push(current)
  quoted.push(wasQuoted)
  if (inQuotes || parts.length > 2 || parts.some((part) => part === '')) {
    throw new UsageError(
      `"${text}" is not a table or index name`,
      'write name, schema.name, or "Quoted Name" for names with capitals, spaces or dots',
    )
  }
  return parts.length === 2 ? { schema: parts[0]!, name: parts[1]!, quoted } : { name: parts[0]!, quoted }
}

/** Finds each requested name among `known` objects; unknown or ambiguous names are a usage error naming them all. */
export function resolveNames<T extends { schema: string; name: string }>(
  requested: readonly string[],
  known: readonly T[],
  what: string,
): T[] {
  const problems: string[] = []
  const found: T[] = []
  for (const text of requested) {
    const { schema, name, quoted } = parseQualifiedName(text.trim())
    const nameQuoted = quoted[quoted.length - 1]!
    const exact = known.filter((item) => item.name === name && (schema === undefined || item.schema === schema))
    const loose =
      exact.length > 0 || nameQuoted
        ? exact
        : known.filter(
            (item) =>
              item.name.toLowerCase() === name.toLowerCase() &&
              (schema === undefined || item.schema.toLowerCase() === schema.toLowerCase()),
          )
    if (loose.length === 1) found.push(loose[0]!)
    else if (loose.length === 0) problems.push(`no ${what} matches ${text}`)
    else
      problems.push(
        `${text} matches ${loose.length} ${what}s (${loose.map((item) => `${item.schema}.${item.name}`).join(', ')}): add the schema`,
      )
  }
  if (problems.length > 0)
    throw new UsageError(problems.join('; '), `list them with "dbops audit" or your database's catalog`)
  return [...new Set(found)]
}
