/**
 * The SQLite side of `dbops migrate lint`. SQLite's rules read the statement's leading words (the tokenizer dbops
 * splits statements with), so there is no parser to load. No live sizes: SQLite keeps no row estimates, and counting
 * rows or pages of a large table costs as much as the hazard the count would grade.
 */
import type { LintDialect } from '../../lint/types.js'

const CREATED =
  /^CREATE\s+(?:TEMP(?:ORARY)?\s+)?(?:TABLE|(?:UNIQUE\s+)?INDEX)\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:(?:"[^"]*"|`[^`]*`|\[[^\]]*\]|[\w$]+)\s*\.\s*)?("(?:[^"]|"")*"|`[^`]*`|\[[^\]]*\]|[\w$]+)/i

export const sqliteLint: LintDialect = {
  engine: 'sqlite',
  parses: false,
  async load() {
    // Nothing to load: no SQLite rule needs a parse tree.
  },
  parse() {
    return { nodes: [] }
  },
  created(words, _node, text?: string) {
    // A name the run gives a table by RENAME TO is as new to running code as a created one (the older rebuild order
    // renames the table away, then drops that copy).
    if (words[0] === 'ALTER' && words[1] === 'TABLE') {
      const k = words[3] === '.' ? 5 : 3
      const to = words[k] === 'RENAME' && words[k + 1] === 'TO' ? words[k + 2] : undefined
      return to === undefined || to === '"' ? [] : [to.toLowerCase()]
    }
    if (words[0] !== 'CREATE') return []
    const match = text === undefined ? undefined : CREATED.exec(text)
    return match ? [unquote(match[1]!)] : []
  },
  quickTable(words) {
    let k: number
    if (words[0] === 'ALTER' && words[1] === 'TABLE') k = 2
    else if (words[0] === 'UPDATE') k = words[1] === 'OR' ? 3 : 1
    else if (words[0] === 'DELETE' && words[1] === 'FROM') k = 2
    else if (words[0] === 'DROP' && words[1] === 'TABLE') k = words[2] === 'IF' ? 4 : 2
    else return undefined
    const first = words[k]
    if (first === undefined || !/^[A-Z_][A-Z0-9_$]*$/.test(first)) return undefined
    return (words[k + 1] === '.' ? (words[k + 2] ?? first) : first).toLowerCase()
  },
  async sizes() {
    return new Map()
  },
  async serverMajor() {
    return undefined
  },
}

function unquote(name: string): string {
  const quote = name[0]
  if (quote === '"') return name.slice(1, -1).replace(/""/g, '"').toLowerCase()
  if (quote === '`' || quote === '[') return name.slice(1, -1).toLowerCase()
  return name.toLowerCase()
}
