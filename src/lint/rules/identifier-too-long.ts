import type { LintRule, PgNode } from '../types.js'

/** Keys of the parse tree that name something a statement creates or renames. */
const NAME_KEYS = new Set(['relname', 'colname', 'conname', 'idxname', 'newname', 'trigname', 'schemaname', 'indexname'])
const MAX_BYTES = 63

function longNames(node: unknown, found: Set<string>): Set<string> {
  if (Array.isArray(node)) for (const item of node) longNames(item, found)
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node as PgNode)) {
      if (typeof value === 'string' && NAME_KEYS.has(key) && Buffer.byteLength(value) > MAX_BYTES) found.add(value)
      else if (value && typeof value === 'object') longNames(value, found)
    }
  }
  return found
}

export const identifierTooLong: LintRule = {
  id: 'identifier-too-long',
  engines: ['postgres'],
  severity: 'warn',
  kind: 'correctness',
  description: 'PostgreSQL silently truncates identifiers longer than 63 bytes',
  // Only a word or quoted name long enough could be over the limit: most statements are never parsed for this.
  wants: (_words, text) => mayHaveLongIdentifier(text),
  needsAst: true,
  reportsOnFresh: true,
  check({ ast }) {
    return [...longNames(ast, new Set())].map((name) => ({
      message: `"${name}" is ${Buffer.byteLength(name)} bytes: PostgreSQL truncates it to 63 ("${truncate(name)}"), so two long names can collide and the name in the catalog differs from the one written`,
      safe: `-- use a name of at most 63 bytes`,
      evenIfFresh: true,
    }))
  },
}

function truncate(name: string): string {
  let bytes = 0
  let out = ''
  for (const char of name) {
    bytes += Buffer.byteLength(char)
    if (bytes > MAX_BYTES) break
    out += char
  }
  return out
}

/** Whether the text has a run of name characters (or a quoted name) that could exceed 63 bytes: the cheap pre-check. */
export function mayHaveLongIdentifier(text: string): boolean {
  return /[^\s"'(),.;:=<>+*/-]{22,}|"[^"]{22,}"/.test(text)
}
