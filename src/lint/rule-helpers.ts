/** What the rules share: statement shapes by leading words, lock effects, and the safe-SQL wrappers. */
import type { Engine } from '../backends/backend.js'
import { displayIdentifier } from '../sql/query.js'
import { leadingWords } from '../sql/split-statements.js'
import { transactionFreeHint } from '../migrate/files.js'
import type { LintStatement, RuleContext } from './types.js'

/** A rule's run-wide state under `key` (RuleContext.state), made by `make` the first time it is asked for. */
export function ruleState<T>(context: Pick<RuleContext, 'state'>, key: string, make: () => T): T {
  let value = context.state.get(key) as T | undefined
  if (value === undefined) context.state.set(key, (value = make()))
  return value
}

/** How many leading words the linter gives each statement (LintStatement.words). */
export const LEADING_WORDS = 16

/** Every word of a statement: its leading words when they are all there are, else the statement lexed in full. */
export function allWords(statement: Pick<LintStatement, 'text' | 'words'>, engine: Engine): readonly string[] {
  return statement.words.length < LEADING_WORDS ? statement.words : leadingWords(statement.text, Infinity, engine)
}

/**
 * Every word of the statement, a quoted identifier as its own text (`"Order"`): for rules that name what they find
 * from the words. Costs a lexing of the whole statement: call it for statements the rule reports on, or rare ones.
 */
export function namedWords(statement: Pick<LintStatement, 'text'>, engine: Engine): readonly string[] {
  return leadingWords(statement.text, Infinity, engine, true)
}

/** A name the rules hold (as PostgreSQL names it: `orders`, `app.Order`) as SQL must write it: `app."Order"`. */
export function sqlName(name: string): string {
  return name.split('.').map(displayIdentifier).join('.')
}

/** A name word as PostgreSQL names it: `"Order"` → `Order` (case kept, `""` → `"`), `Orders` → `orders`. */
export function nameOfWord(word: string | undefined): string {
  if (word === undefined) return '?'
  return word.length > 1 && word.startsWith('"') ? word.slice(1, -1).replace(/""/g, '"') : word.toLowerCase()
}

export const isCreateIndex = (w: readonly string[]): boolean =>
  w[0] === 'CREATE' && (w[1] === 'INDEX' || (w[1] === 'UNIQUE' && w[2] === 'INDEX'))
export const isAlterTable = (w: readonly string[]): boolean => w[0] === 'ALTER' && w[1] === 'TABLE'
export const isCreateTable = (w: readonly string[]): boolean =>
  w[0] === 'CREATE' &&
  (w[1] === 'TABLE' || (w[2] === 'TABLE' && ['TEMP', 'TEMPORARY', 'UNLOGGED', 'GLOBAL', 'LOCAL'].includes(w[1] ?? '')))
const QUOTED_NAME = String.raw`("(?:[^"]|"")*"|\`[^\`]*\`|\[[^\]]*\]|[\w$]+)`
const DROP_TABLE_NAME = new RegExp(
  String.raw`^DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:${QUOTED_NAME}\s*\.\s*)?${QUOTED_NAME}`,
  'i',
)
const RENAME_TABLE_NAMES = new RegExp(
  String.raw`^ALTER\s+TABLE\s+(?:${QUOTED_NAME}\s*\.\s*)?${QUOTED_NAME}\s+RENAME\s+TO\s+${QUOTED_NAME}`,
  'i',
)

/**
 * The table a DROP TABLE names, quoted or not (lower-cased, without its schema), read from its text: the leading words
 * stand a quoted name for '"'. SQLite takes "x", `x` (memos' migrations) and [x].
 */
export function droppedTableName(text: string): string | undefined {
  const name = DROP_TABLE_NAME.exec(text)?.[2]
  return name === undefined ? undefined : unquoteName(name)
}

/** The table an ALTER TABLE ... RENAME TO renames and its new name, quoted or not, as droppedTableName reads them. */
export function renamedTableNames(text: string): { table: string; to: string } | undefined {
  const match = RENAME_TABLE_NAMES.exec(text)
  return match ? { table: unquoteName(match[2]!), to: unquoteName(match[3]!) } : undefined
}

function unquoteName(name: string): string {
  const quote = name[0]
  if (quote === '"') return name.slice(1, -1).replace(/""/g, '"').toLowerCase()
  return (quote === '`' || quote === '[' ? name.slice(1, -1) : name).toLowerCase()
}

/** The table a CREATE TABLE names (lower-cased, without its schema), from its leading words; undefined when quoted. */
export function createdTableWord(w: readonly string[]): string | undefined {
  let k = w[1] === 'TABLE' ? 2 : 3
  if (w[k] === 'IF') k += 3
  const name = w[k + 1] === '.' ? w[k + 2] : w[k]
  return name === undefined || name === '"' ? undefined : name.toLowerCase()
}

/** What each table lock blocks, in the words a reviewer needs. */
export const BLOCKS: Record<string, string> = {
  'ACCESS EXCLUSIVE': 'blocks every read and write of it',
  EXCLUSIVE: 'blocks every write and most reads of it',
  'SHARE ROW EXCLUSIVE': 'blocks INSERT/UPDATE/DELETE',
  SHARE: 'blocks INSERT/UPDATE/DELETE',
  'SHARE UPDATE EXCLUSIVE': 'blocks other schema changes and VACUUM, not reads or writes',
  'ROW EXCLUSIVE': 'blocks schema changes and other writers of the same rows',
}

/** SQL that must run outside a transaction: in a transactional file, says where it belongs. */
export function outsideTransaction(context: RuleContext, statement: string): string {
  const text = `${statement.trim().replace(/;$/, '')};`
  return context.transactional ? `${ownMigration(context)}:\n${text}` : text
}

/** "In a migration of its own" that runs outside a transaction, in the words of the linted file's format. */
export function ownMigration(context: Pick<RuleContext, 'format'>): string {
  return `-- in a migration of its own (${transactionFreeHint(context, 'up')})`
}

/** The statement without a trailing semicolon, squashed to one line when short. */
export function statementText(text: string): string {
  return text.trim().replace(/;$/, '')
}

/** `text` with ` NOT VALID` added before its end (a single-command ALTER TABLE ... ADD CONSTRAINT). */
export function withNotValid(text: string): string {
  return `${statementText(text)} NOT VALID`
}

/**
 * A name in leading words at `k` (`name` or `schema . name`) as PostgreSQL names it (nameOfWord): qualified, bare,
 * and the index after it. Leading words hold a quoted identifier as `"` alone; namedWords keep its name.
 */
export function nameInWords(words: readonly string[], k: number): { name: string; bare: string; next: number } {
  return words[k + 1] === '.'
    ? { name: `${nameOfWord(words[k])}.${nameOfWord(words[k + 2])}`, bare: nameOfWord(words[k + 2]), next: k + 3 }
    : { name: nameOfWord(words[k]), bare: nameOfWord(words[k]), next: k + 1 }
}

/** ALTER TABLE's table (as nameInWords names it) and its actions, split at top-level commas, each as its words. */
export function alterActions(words: readonly string[]): { table: string; actions: string[][] } {
  let k = 2
  if (words[k] === 'IF') k += 2
  if (words[k] === 'ONLY') k++
  const { name: table, next } = nameInWords(words, k)
  const actions: string[][] = [[]]
  let depth = 0
  for (const word of words.slice(next)) {
    if (word === '(') depth++
    else if (word === ')') depth--
    if (depth === 0 && word === ',') actions.push([])
    else actions[actions.length - 1]!.push(word)
  }
  return { table, actions }
}
