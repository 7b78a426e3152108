import type { LintRule } from '../types.js'

const MAX_BYTES = 63
/** Strings, dollar-quoted bodies and comments: their text is not a name. */
const NOT_NAMES = /'(?:[^']|'')*'|\$([A-Za-z_]*)\$[\s\S]*?\$\1\$|--[^\n]*|\/\*[\s\S]*?\*\//g
const NAMES = /"((?:[^"]|"")+)"|([A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*)/g

/**
 * Names over 63 bytes in the statement's text. The parse tree cannot tell: PostgreSQL's scanner truncates them
 * before the parser sees them (with only a NOTICE).
 */
function longNames(text: string): string[] {
  const found = new Set<string>()
  for (const match of text.replace(NOT_NAMES, ' ').matchAll(NAMES)) {
    const name = match[1] !== undefined ? match[1].replace(/""/g, '"') : match[2]!
    if (Buffer.byteLength(name) > MAX_BYTES) found.add(name)
  }
  return [...found]
}

export const identifierTooLong: LintRule = {
  id: 'identifier-too-long',
  engines: ['postgres'],
  severity: 'warn',
  kind: 'correctness',
  description: 'PostgreSQL silently truncates identifiers longer than 63 bytes',
  // Only a word or quoted name long enough could be over the limit: most statements never get a closer look.
  mayFind: (sql) => mayHaveLongIdentifier(sql),
  wants: (_words, text) => mayHaveLongIdentifier(text),
  needsAst: false,
  reportsOnFresh: true,
  check({ text }) {
    return longNames(text).map((name) => ({
      message: `"${name}" is ${Buffer.byteLength(name)} bytes: PostgreSQL truncates it to 63 ("${truncate(name)}"), so two long names can collide and the name in the catalog differs from the one written`,
      safe: '-- use a name of at most 63 bytes',
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

/**
 * Whether the text has a run of name characters (or a quoted name) that could exceed 63 bytes: the cheap pre-check,
 * run on every migration. A run must start the text or follow a character that ends one, so each position costs one
 * character test (a plain /[^...]{22,}/ tries every start position again; a JavaScript loop runs interpreted in a
 * short-lived CLI, several times slower than the regex's native code).
 */
export function mayHaveLongIdentifier(text: string): boolean {
  return LONG_RUN.test(text)
}

/** 22+ characters without whitespace or `"'(),.;:=<>+*\/-` (a name over 63 bytes has 22 UTF-16 units at least), or a quoted name as long. */
const LONG_RUN = /(?:^|[\s"'(),.;:=<>+*\/-])[^\s"'(),.;:=<>+*\/-]{22}|"[^"]{22,}"/
