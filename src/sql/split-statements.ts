/**
 * Splits SQL scripts into statements the way the database's own tools do (psql's lexer, SQLite's
 * sqlite3_complete()), because pg only runs several statements per query without parameters and SQLite
 * prepares one statement at a time. One linear pass with a small hand-written lexer: migration sets have
 * thousands of files and seed files can be megabytes, so no regexes over the input and no backtracking.
 *
 * Assumes PostgreSQL's default standard_conforming_strings = on (a backslash in '...' is an ordinary char).
 */

export type SqlDialect = 'postgres' | 'sqlite'

export interface SqlStatement {
  /**
   * The statement from its first significant character (leading comments and whitespace dropped) up to, not
   * including, the terminating semicolon. Interior and trailing comments are kept; trailing whitespace is trimmed.
   */
  text: string
  /** UTF-16 offset in the input of the first character of `text`. */
  start: number
  /** Offset just past the last character of `text`. */
  end: number
  /** 1-based line of `start`. `\n`, `\r\n` and a lone `\r` each end a line. */
  line: number
  /** 1-based column of `start`, in UTF-16 code units. */
  column: number
}

/**
 * Statements in `sql`, in order. Statements holding only whitespace and comments are dropped (`;;`, a trailing
 * comment). A last statement without a semicolon is returned, and so is an unterminated string, quoted identifier,
 * comment or dollar-quoted body (it runs to the end of the input): the database reports the error, not us.
 *
 * A semicolon does not end a statement when it is inside a string, identifier, comment or dollar-quoted body;
 * inside parentheses (PostgreSQL `CREATE RULE ... DO (a; b)`; in SQLite a `;` inside parentheses is always a
 * syntax error, so this only changes which error is reported); inside a PostgreSQL `CREATE FUNCTION|PROCEDURE ...
 * BEGIN ATOMIC ... END` body (CASE ... END nesting tracked outside parentheses, as psql does); or inside a SQLite
 * `CREATE [TEMP] TRIGGER` before the `; END ;` that closes its body. For SQLite triggers we use the rule of
 * sqlite3_complete() rather than counting CASE/END: the body's END always directly follows a `;`, while END is
 * also a legal unquoted column name in SQLite (`SET end = 1`), which would break a CASE/END count.
 */
export function splitStatements(sql: string, dialect: SqlDialect): SqlStatement[] {
  const pg = dialect === 'postgres'
  const out: SqlStatement[] = []
  const n = sql.length

  // State of the statement being read.
  let start = -1
  let parens = 0
  let head: string[] = [] // first words, upper-cased, to recognise CREATE FUNCTION / CREATE TRIGGER
  let mode: 'plain' | 'routine' | 'trigger' = 'plain'
  let atomicDepth = 0 // routine: BEGIN ATOMIC and CASE open, END closes
  let afterBegin = false // routine: the previous token was the word BEGIN
  let triggerState: 'body' | 'semicolon' | 'end' = 'body' // trigger: after `;`, after `; END`

  // Line counting advances with the statement starts, so it is one pass over the input in total.
  let line = 1
  let lineStart = 0
  let counted = 0
  const lonelyLineFeeds = !sql.includes('\r')

  const finish = (stop: number): void => {
    if (start >= 0) {
      let end = stop
      while (end > start && isSpace(sql.charCodeAt(end - 1))) end--
      if (lonelyLineFeeds) {
        // Only \n ends lines: found with indexOf (native) instead of a test per char.
        for (let k = sql.indexOf('\n', counted); k >= 0 && k < start; k = sql.indexOf('\n', k + 1)) {
          line++
          lineStart = k + 1
        }
        counted = start
      }
      for (; counted < start; counted++) {
        const c = sql.charCodeAt(counted)
        if (c === LF || (c === CR && sql.charCodeAt(counted + 1) !== LF)) {
          line++
          lineStart = counted + 1
        }
      }
      out.push({ text: sql.slice(start, end), start, end, line, column: start - lineStart + 1 })
    }
    start = -1
    parens = 0
    head = []
    mode = 'plain'
    atomicDepth = 0
    afterBegin = false
    triggerState = 'body'
  }

  let i = 0
  while (i < n) {
    const end = lex(sql, i, pg)
    const c = sql.charCodeAt(i)
    if (kind === SPACE || kind === COMMENT) {
      i = end
      continue
    }
    if (c === SEMICOLON) {
      if (start >= 0 && (parens > 0 || atomicDepth > 0 || (mode === 'trigger' && triggerState !== 'end'))) {
        triggerState = 'semicolon'
        afterBegin = false
      } else {
        finish(i)
      }
      i = end
      continue
    }
    if (start < 0) start = i

    if (kind === WORD) {
      if (head.length < 4 && (head.length === 0 || head[0] === 'CREATE')) {
        head.push(sql.slice(i, end).toUpperCase())
        mode = statementMode(head, pg)
      }
      if (mode === 'routine' && parens === 0) {
        if (afterBegin && isKeyword(sql, i, end, 'atomic')) atomicDepth++
        else if (atomicDepth > 0 && isKeyword(sql, i, end, 'case')) atomicDepth++
        else if (atomicDepth > 0 && isKeyword(sql, i, end, 'end')) atomicDepth--
        afterBegin = isKeyword(sql, i, end, 'begin')
      } else if (mode === 'trigger') {
        triggerState = triggerState === 'semicolon' && isKeyword(sql, i, end, 'end') ? 'end' : 'body'
      }
    } else {
      if (head.length < 4) head.push('')
      if (c === OPEN_PAREN) parens++
      else if (c === CLOSE_PAREN && parens > 0) parens--
      triggerState = 'body'
      afterBegin = false
    }
    i = end
    // Once a PostgreSQL statement's first words say it is plain (not a routine with BEGIN ATOMIC), only semicolons,
    // parentheses and where quotes and comments start matter: the words, spaces and other symbols between them are
    // passed over in one native regex step.
    if (pg && mode === 'plain' && (head.length >= 4 || (head.length > 0 && head[0] !== 'CREATE'))) {
      PLAIN_RUN.lastIndex = i
      PLAIN_RUN.test(sql)
      i = PLAIN_RUN.lastIndex
    }
  }
  finish(n)
  return out
}

/**
 * Whether `sql` holds at least one statement (`splitStatements(sql, dialect).length > 0`), stopping at its first
 * significant character instead of splitting the whole text.
 */
export function hasStatements(sql: string, dialect: SqlDialect): boolean {
  const pg = dialect === 'postgres'
  for (let i = 0; i < sql.length;) {
    const end = lex(sql, i, pg)
    if (kind !== SPACE && kind !== COMMENT && sql.charCodeAt(i) !== SEMICOLON) return true
    i = end
  }
  return false
}

/** Whether sql[start, end) is `keyword` (given in lower case), ignoring case. */
function isKeyword(sql: string, start: number, end: number, keyword: string): boolean {
  if (end - start !== keyword.length) return false
  for (let k = 0; k < keyword.length; k++) {
    if ((sql.charCodeAt(start + k) | 0x20) !== keyword.charCodeAt(k)) return false
  }
  return true
}

function statementMode(head: string[], pg: boolean): 'plain' | 'routine' | 'trigger' {
  const [first, second, third, fourth] = head
  if (first !== 'CREATE') return 'plain'
  if (pg) {
    const routine = (word: string | undefined): boolean => word === 'FUNCTION' || word === 'PROCEDURE'
    return routine(second) || (second === 'OR' && third === 'REPLACE' && routine(fourth)) ? 'routine' : 'plain'
  }
  const temp = second === 'TEMP' || second === 'TEMPORARY'
  return second === 'TRIGGER' || (temp && third === 'TRIGGER') ? 'trigger' : 'plain'
}

/**
 * Upper-cased leading tokens of a statement, at most `max`, skipping whitespace and comments; cheap because it
 * stops after `max` tokens. Words (keywords, unquoted identifiers, numbers, `$1`) are upper-cased. Every string
 * constant (also E'...' and $tag$...$tag$) is the single token `'`, every quoted identifier ("...", and SQLite's
 * `...` and [...]) the single token `"`, so quoted text never matches a keyword. Any other character is a token of
 * its own: `REINDEX (VERBOSE) INDEX x` gives `REINDEX ( VERBOSE ) INDEX X`, `a.b` gives `A . B`, `<=` gives `< =`.
 * `dialect` only matters for quoting rules (E'...', dollar quotes, nested comments, backticks and brackets).
 * `names`: a quoted identifier is its own text instead (`"Order"`, quotes kept, so it never matches a keyword), for
 * the few callers that report a name; the others need not build the strings.
 */
export function leadingWords(
  statementText: string,
  max: number,
  dialect: SqlDialect = 'postgres',
  names = false,
): string[] {
  const pg = dialect === 'postgres'
  const words: string[] = []
  let i = 0
  while (i < statementText.length && words.length < max) {
    const end = lex(statementText, i, pg)
    if (kind === WORD) words.push(statementText.slice(i, end).toUpperCase())
    else if (kind === STRING) words.push("'")
    else if (kind === IDENTIFIER) words.push(names ? statementText.slice(i, end) : '"')
    else if (kind === SYMBOL) words.push(statementText.charAt(i))
    i = end
  }
  return words
}

// The lexer's token kinds. lex() returns where a token ends and leaves its kind in `kind`: a short-lived CLI runs
// this code mostly unoptimised, where a { kind, end } object per token (tens of thousands per migration set) is
// allocated for real and adds to every young-generation GC.
const SPACE = 0
const COMMENT = 1
const WORD = 2
const STRING = 3
const IDENTIFIER = 4
const SYMBOL = 5
type TokenKind = typeof SPACE | typeof COMMENT | typeof WORD | typeof STRING | typeof IDENTIFIER | typeof SYMBOL

// Runs of word characters (isWordChar) and of whitespace (isSpace); sticky, and they always match (maybe empty), so
// lastIndex is where the run ends.
const WORD_RUN = /[A-Za-z0-9_$\u0080-\uffff]*/y
const SPACE_RUN = /[ \t\n\v\f\r]*/y

/**
 * What splitStatements passes over inside a plain PostgreSQL statement: whitespace and symbols other than `; ( ) ' "
 * $ - /`, a lone `-` or `/` (not `--`, `/*`), and whole words (from a word's first char, so `$` inside a word is part
 * of it while a `$` that may open a dollar quote stops the run, as does a word that is the E of an E'...' string).
 */
const PLAIN_RUN =
  /(?:[^;()'"\-/$A-Za-z0-9_\u0080-\uffff]|(?![Ee]')[A-Za-z0-9_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*|-(?!-)|\/(?!\*))*/y

/** The kind of the token the last lex() call read. */
let kind: TokenKind = SPACE

/** Offset just past the token at `i` (the input's length for an unterminated one); its kind is left in `kind`. */
function lex(sql: string, i: number, pg: boolean): number {
  const n = sql.length
  const c = sql.charCodeAt(i)
  const next = sql.charCodeAt(i + 1)
  if (isSpace(c)) {
    kind = SPACE
    if (!isSpace(next)) return i + 1
    SPACE_RUN.lastIndex = i + 2
    SPACE_RUN.test(sql)
    return SPACE_RUN.lastIndex
  }
  if (c === DASH && next === DASH) {
    // PostgreSQL ends a -- comment at \n or \r, SQLite at \n only.
    let j = i + 2
    while (j < n && sql.charCodeAt(j) !== LF && !(pg && sql.charCodeAt(j) === CR)) j++
    kind = COMMENT
    return j
  }
  if (c === SLASH && next === STAR) {
    kind = COMMENT
    return pg ? nestedCommentEnd(sql, i) : after(sql, '*/', i + 2)
  }
  if (c === QUOTE) {
    kind = STRING
    return quotedEnd(sql, i + 1, "'")
  }
  if (c === DOUBLE_QUOTE) {
    kind = IDENTIFIER
    return quotedEnd(sql, i + 1, '"')
  }
  if (pg) {
    if ((c === UPPER_E || c === LOWER_E) && next === QUOTE) {
      kind = STRING
      return escapeStringEnd(sql, i + 2)
    }
    if (c === DOLLAR) {
      const open = dollarTagEnd(sql, i)
      if (open > 0) {
        const close = sql.indexOf(sql.slice(i, open), open)
        kind = STRING
        return close < 0 ? n : close + (open - i)
      }
    }
  } else {
    if (c === BACKTICK) {
      kind = IDENTIFIER
      return quotedEnd(sql, i + 1, '`')
    }
    if (c === OPEN_BRACKET) {
      kind = IDENTIFIER
      return after(sql, ']', i + 1)
    }
  }
  if (isWordChar(c)) {
    kind = WORD
    // The rest of the word in one native regex step: this runs interpreted in a short-lived CLI, a loop per char.
    WORD_RUN.lastIndex = i + 1
    WORD_RUN.test(sql)
    return WORD_RUN.lastIndex
  }
  kind = SYMBOL
  return i + 1
}

/** End of a quoted run whose quote is escaped by doubling ('it''s', "a""b", `a``b`); `i` is past the opening quote. */
function quotedEnd(sql: string, i: number, quote: string): number {
  for (;;) {
    const k = sql.indexOf(quote, i)
    if (k < 0) return sql.length
    if (sql[k + 1] !== quote) return k + 1
    i = k + 2
  }
}

/** End of a PostgreSQL E'...' string, where a backslash escapes the next char; `i` is past the opening quote. */
function escapeStringEnd(sql: string, i: number): number {
  while (i < sql.length) {
    const c = sql.charCodeAt(i)
    if (c === BACKSLASH) i += 2
    else if (c !== QUOTE) i++
    else if (sql.charCodeAt(i + 1) === QUOTE) i += 2
    else return i + 1
  }
  return sql.length
}

/** PostgreSQL block comments nest (SQLite's do not): each inner opener needs its own closer. */
function nestedCommentEnd(sql: string, i: number): number {
  let depth = 1
  i += 2
  while (i < sql.length) {
    const c = sql.charCodeAt(i)
    const next = sql.charCodeAt(i + 1)
    if (c === STAR && next === SLASH) {
      i += 2
      if (--depth === 0) return i
    } else if (c === SLASH && next === STAR) {
      depth++
      i += 2
    } else {
      i++
    }
  }
  return sql.length
}

/**
 * Offset just past the opening delimiter of a dollar quote at `i` ($$ or $tag$), or -1 when the `$` does not open
 * one: the tag follows identifier rules without `$`, so `$1` (a parameter) and `$ 1` are not quotes. A `$` inside a
 * word (`a$b`) never gets here: the lexer reads it as part of the word, as PostgreSQL does.
 */
function dollarTagEnd(sql: string, i: number): number {
  let j = i + 1
  if (sql.charCodeAt(j) !== DOLLAR) {
    if (!isIdentStart(sql.charCodeAt(j))) return -1
    j++
    while (isIdentStart(sql.charCodeAt(j)) || isDigit(sql.charCodeAt(j))) j++
    if (sql.charCodeAt(j) !== DOLLAR) return -1
  }
  return j + 1
}

function after(sql: string, terminator: string, from: number): number {
  const k = sql.indexOf(terminator, from)
  return k < 0 ? sql.length : k + terminator.length
}

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) // space, \t \n \v \f \r
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39
}

/** Letters, `_` and any non-ASCII char, as in both PostgreSQL's and SQLite's lexers. */
function isIdentStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c >= 0x80
}

function isWordChar(c: number): boolean {
  return isIdentStart(c) || isDigit(c) || c === DOLLAR
}

const LF = 0x0a
const CR = 0x0d
const QUOTE = 0x27
const DOUBLE_QUOTE = 0x22
const BACKTICK = 0x60
const OPEN_BRACKET = 0x5b
const BACKSLASH = 0x5c
const DOLLAR = 0x24
const DASH = 0x2d
const SLASH = 0x2f
const STAR = 0x2a
const SEMICOLON = 0x3b
const OPEN_PAREN = 0x28
const CLOSE_PAREN = 0x29
const UPPER_E = 0x45
const LOWER_E = 0x65
