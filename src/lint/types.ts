import type { Backend, Engine } from '../backends/backend.js'
import type { SqlStatement } from '../sql/split-statements.js'
import type { MigrationFile } from '../migrate/files.js'

/** error stops `migrate up`; warn is printed (and fails `migrate lint --fail-on warn`); info is advice. */
export type LintSeverity = 'error' | 'warn' | 'info'
/** A rule's setting in `lint.rules`: a severity, or off. */
export type LintSetting = LintSeverity | 'off'

/**
 * What a rule is about, which decides how context changes its severity: `lock` and `rewrite` hazards depend on the
 * table's size (a rewrite of a large table rises to error), `breaking` and `correctness` do not, `advice` is the
 * type-choice advice a config can switch off.
 */
export type LintKind = 'lock' | 'rewrite' | 'breaking' | 'correctness' | 'advice'

/** One finding, as `--json` prints it. */
export interface LintFinding {
  rule: string
  severity: LintSeverity
  /** The migration file, as dbops names it in messages (relative to the working directory when inside it). */
  file: string
  line: number
  column: number
  /** `<version>_<name>`. */
  migration: string
  message: string
  /** The lock taken, e.g. `ACCESS EXCLUSIVE` (lock and rewrite hazards). */
  lock?: string
  /** The table the finding is about, as written. */
  table?: string
  /** The live size of `table` when a target was reachable. */
  size?: { bytes: number; rows: number }
  /** The safe way to write it, as SQL. */
  safe?: string
  /** Why the severity differs from the rule's default (small table, large rewrite, config). */
  note?: string
  /** The statement's first line(s), shortened. */
  statement: string
}

export interface LintSuppression {
  rule: string
  file: string
  line: number
  reason: string
}

export interface LintResult {
  /** The target whose context was used, or null when linting without one. */
  target: string | null
  engine: Engine
  /** `pending`: the migrations `up` would run; `all`: every file with a target's context; `offline`: every file statically. */
  mode: 'pending' | 'all' | 'offline'
  /** The PostgreSQL major version the version-dependent rules assumed, and where it came from. */
  pgVersion: { major: number; source: 'server' | 'flag' | 'assumed' } | null
  /** Whether live table sizes were read. */
  sizes: boolean
  files: string[]
  /** Statements examined: a section that no active rule can find anything in is skipped unsplit. */
  statements: number
  /** In file order, then position. */
  findings: LintFinding[]
  /** Findings silenced by a `-- dbops:lint-ignore` comment, with its reason (kept on record). */
  suppressed: LintSuppression[]
  summary: { error: number; warn: number; info: number; suppressed: number }
  /** Why the lint had less context than asked for (e.g. the target could not be read: linted offline). */
  warnings: string[]
}

/** A statement as rules see it. */
export interface LintStatement {
  text: string
  /** Upper-cased leading tokens (see leadingWords): enough for the cheap checks. */
  words: readonly string[]
  /** The parsed statement's node (engine-specific; PostgreSQL: libpg-query's `{ IndexStmt: {...} }`), when parsed. */
  ast: PgNode | undefined
}

/** A node of libpg-query's JSON parse tree. */
export type PgNode = Record<string, any>

export interface RuleContext {
  engine: Engine
  /** The PostgreSQL major version rules assume (the server's, --pg-version, or the newest when unknown). */
  pgMajor: number
  /** Whether the file runs in a transaction (dbops' runner: transaction:false turns it off). */
  transactional: boolean
  /** The lock_timeout dbops sets for this file (0: none). */
  lockTimeoutMs: number
  /** Whether the table was created earlier in this run (same file, or an earlier pending migration). */
  isFresh(table: string): boolean
  /** The file being linted. */
  file: string
  /** Its format, to word advice in its own terms (how it runs outside a transaction). */
  format: MigrationFile['format']
  /** Leading words of the statements after this one in the same file (to recognise a rebuild: drop, then rename). */
  following: readonly (readonly string[])[]
  /**
   * For a statement a DO block runs, the leading words of the statements after the block (the block succeeds or
   * fails as one); for any other statement, `following`.
   */
  followingBlock: readonly (readonly string[])[]
  /** Per-run memory of the rules that need one (keyed by rule id), e.g. constraints validated earlier in the run. */
  state: Map<string, unknown>
}

/** What a rule reports; the linter adds the position, applies context and settles the severity. */
export interface RuleFinding {
  message: string
  table?: string
  lock?: string
  safe?: string
  /** Overrides the rule's default severity (e.g. an error only before PostgreSQL 12). */
  severity?: LintSeverity
  /** Also reported when the table is fresh (created earlier in the run). */
  evenIfFresh?: boolean
  /**
   * An ALTER COLUMN ... TYPE the engine may make in place (a longer varchar, varchar to text): the linter drops the
   * finding when the column's type before it (set earlier in the run, or on the server) allows that.
   */
  retype?: { column: string; to: ColumnType }
}

/** A column's type as written: varchar(80) is { name: 'varchar', modifiers: [80], array: false }. */
export interface ColumnType {
  name: string
  modifiers: number[]
  array: boolean
}

/** What a rule's mayFind knows of a section besides its text. */
export interface SectionScope {
  transactional: boolean
  isFresh(table: string): boolean
  /**
   * Whether the text has `word` (lower-case letters) as a whole word, in any case: what /\bword\b/i tests, with a
   * plain substring search on the lower-cased text first (most sections lack most words: no regex runs for them).
   */
  mentions(word: string): boolean
}

/** One lint rule. Rules read the statement and the context only: no queries, no engine branches. */
export interface LintRule {
  id: string
  engines: readonly Engine[]
  severity: LintSeverity
  kind: LintKind
  description: string
  /**
   * Whether the rule may report on a statement with these leading words. Cheap: statements no active rule wants
   * are never parsed (most of a migration set: INSERTs, CREATE TABLEs without advice).
   */
  wants(words: readonly string[], text: string): boolean
  /**
   * Whether a whole section may hold a finding of this rule, from its raw text (comments and strings included, so a
   * false yes only costs a closer look; a false no would lose a finding). When no active rule may, the section is
   * not even split. Absent: always look.
   */
  mayFind?(sql: string, section: SectionScope): boolean
  /**
   * Words (lower-case) of which mayFind needs the section to mention at least one: when every active rule has
   * them, a section mentioning none of them all is skipped after one regex scan, without calling each mayFind.
   */
  mayFindWords?: readonly string[]
  /**
   * Whether the rule reads the parse tree where the engine has a parser (PostgreSQL); false: `words` and `text` are
   * enough. Without a parser (SQLite) every rule gets `ast: undefined` and reads the words.
   */
  needsAst: boolean
  /** Whether the rule may report on a table created earlier in the run (advice, transaction rules); default false. */
  reportsOnFresh?: boolean
  check(statement: LintStatement, context: RuleContext): RuleFinding[]
  /** Called for every statement of the run the rule wants, before `check`, to remember what later statements rely on. */
  observe?(statement: LintStatement, context: RuleContext): void
}

/** The engine side of lint, in backends/<engine>/<engine>-lint.ts (loaded only by lint). */
export interface LintDialect {
  engine: Engine
  /** Whether the engine has a parser (rules then get `ast`); without one, rules read the words. */
  parses: boolean
  /** Loads the parser; called once, only when some statement needs parsing. */
  load(): Promise<void>
  /**
   * Parses one statement (as split by splitStatements). Returns the statement nodes, or the parser's error with the
   * 0-based offset into `text` where it applies.
   */
  parse(text: string): { nodes: PgNode[] } | { error: string; offset: number }
  /**
   * `parse` of each text, in fewer calls where the parser allows (each call has a fixed cost): the same results, in
   * the same order. Optional; lint falls back to `parse` per text.
   */
  parseMany?(texts: readonly string[]): ({ nodes: PgNode[] } | { error: string; offset: number })[]
  /**
   * Tables (and indexes) a statement creates, from its node when parsed, else from its leading words: undefined when
   * the words cannot tell (the statement is then parsed). Later in the run they carry no lock hazard.
   */
  created(words: readonly string[], node: PgNode | undefined, text?: string): string[] | undefined
  /**
   * The statements a statement runs besides itself, positioned in the file (PostgreSQL: the static SQL of a DO
   * block), linted after it as if written out. Called only once `load` is done, for statements starting with DO.
   */
  inner?(statement: SqlStatement): SqlStatement[]
  /** The table a statement works on, from its leading words alone, when that is cheap to tell (CREATE INDEX ... ON t). */
  quickTable(words: readonly string[]): string | undefined
  /** Live sizes of tables (by name as written, schema-qualified or not); tables that do not exist are left out. */
  sizes(backend: Backend, tables: string[]): Promise<Map<string, { bytes: number; rows: number }>>
  /** The server's major version (PostgreSQL), or undefined. */
  serverMajor(backend: Backend): Promise<number | undefined>
  /**
   * What a statement did to `column` of `table`: the type it gave it (CREATE TABLE, ADD COLUMN, ALTER COLUMN TYPE), or
   * the names both had before it when it renamed the table or the column; undefined when it did neither.
   */
  columnHistory?(
    text: string,
    table: string,
    column: string,
  ): { type: ColumnType } | { before: { table: string; column: string } } | undefined
  /** Whether the engine changes a column from one type to the other without rewriting the table or its indexes. */
  retypesInPlace?(from: ColumnType, to: ColumnType): boolean
  /** The types a column changes to `to` from in place, in words ("varchar or text"), if any (see retypesInPlace). */
  inPlaceFrom?(to: ColumnType): string | undefined
  /** Current types of columns (keyed `table.column`, as asked); columns that do not exist are left out. */
  columnTypes?(backend: Backend, columns: { table: string; column: string }[]): Promise<Map<string, ColumnType>>
}
