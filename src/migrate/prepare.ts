import { DbopsError } from '../errors.js'
import type { Engine } from '../backends/backend.js'
import { leadingWords, splitStatements, type SqlStatement } from '../sql/split-statements.js'
import { fileSettingAdvice, nonTransactionalReason, transactionControl } from '../sql/non-transactional.js'
import { positionAt, transactionFreeHint, type MigrationFile, type Section } from './files.js'

/** A migration section made ready to run: split into statements, its transaction mode decided and checked. */
export interface PreparedSection {
  migration: MigrationFile
  direction: 'up' | 'down'
  section: Section
  /** The text sent to the database: the section with any wrapping BEGIN/COMMIT blanked out. */
  script: string
  /** Split on first use: a plain section is only split to locate a failure. */
  readonly statements: SqlStatement[]
  transactional: boolean
  /**
   * No word in the text that could make a statement need a closer look (transaction control, CONCURRENTLY, VACUUM,
   * ATTACH, PRAGMA...): such a section was not split up front, and a backend may run it whole.
   */
  plain: boolean
}

/**
 * Every keyword that transactionControl or nonTransactionalReason could act on, plus SQLite's ATTACH (which a
 * rollback does not undo). A section without any of them as a word, anywhere, needs neither check. Comments and
 * strings can only cause false alarms, which cost a split and nothing else.
 */
const NEEDS_A_CLOSER_LOOK: Record<Engine, RegExp> = {
  postgres:
    /\b(?:begin|start|commit|end|rollback|abort|prepare|vacuum|concurrently|database|tablespace|system|reindex|cluster|discard|subscription)\b/i,
  sqlite: /\b(?:begin|commit|end|rollback|vacuum|pragma|attach|detach)\b/i,
}

/** A line starting with a backslash (a psql meta-command), or a COPY reading its data from the script. */
const PSQL_SYNTAX = /^[ \t]*\\|\bstdin\b/im

/**
 * psql's `\restrict <key>` / `\unrestrict <key>` guard lines, which pg_dump writes into plain dumps since 15.14, 16.10
 * and 17.6: they only stop a malicious server from injecting meta-commands into psql, and mean nothing as SQL.
 */
const PSQL_GUARD = /^\\(un)?restrict\b/

export function prepareSection(migration: MigrationFile, direction: 'up' | 'down', engine: Engine): PreparedSection {
  const original = direction === 'up' ? migration.up : migration.down!
  const section =
    engine === 'postgres' && PSQL_SYNTAX.test(original.sql)
      ? { ...original, sql: withoutPsqlSyntax(original) }
      : original
  if (!NEEDS_A_CLOSER_LOOK[engine].test(section.sql)) {
    // 1000 small migrations spend more time being split than being sent: split only when a failure needs locating.
    let statements: SqlStatement[] | undefined
    return {
      migration,
      direction,
      section,
      script: section.sql,
      get statements() {
        return (statements ??= splitStatements(section.sql, engine))
      },
      transactional: section.options.transaction !== false,
      plain: true,
    }
  }
  let script = section.sql
  let statements = splitStatements(script, engine)
  const plan = transactionPlan(section, statements, engine)
  if (plan.from > 0) {
    const first = statements[0]!
    const last = statements[statements.length - 1]!
    script = blank(
      blank(script, last.start, endOfStatement(script, last.end)),
      first.start,
      endOfStatement(script, first.end),
    )
    statements = statements.slice(plan.from, plan.to)
  } else if (plan.transactional && plan.control !== undefined) {
    const { index, kind } = plan.control
    throw new DbopsError(
      'E_TRANSACTION_CONTROL',
      `${where(section, statements[index]!)}: ${kind} inside a migration that runs in a transaction`,
      {
        hint: `dbops runs each migration in its own transaction: remove it, or manage transactions yourself (${transactionFreeHint(migration, direction, section.file)})`,
      },
    )
  }
  const transactional = plan.transactional
  if (transactional) {
    const reasons = statements.map((statement) => nonTransactionalReason(statement.text, engine))
    const index = reasons.findIndex((reason) => reason !== undefined)
    if (index !== -1) {
      throw new DbopsError(
        'E_NON_TRANSACTIONAL_STATEMENT',
        `${where(section, statements[index]!)}: ${reasons[index]} must run outside a transaction`,
        {
          hint: [
            transactionFreeHint(migration, direction, section.file),
            fileSettingAdvice(statements[index]!.text, engine),
          ]
            .filter(Boolean)
            .join(', '),
        },
      )
    }
  }
  return { migration, direction, section, script, statements, transactional, plain: false }
}

/** How a section's statements run; `from`/`to` leave out a BEGIN ... COMMIT written around the whole file. */
export interface TransactionPlan {
  transactional: boolean
  from: number
  to: number
  /** The first transaction control statement (BEGIN, COMMIT, ...) that is not such a wrapper. */
  control?: { index: number; kind: string }
}

/**
 * Decides whether a section runs in dbops' transaction (shared by `up` and the lint, which must agree). A hand-written
 * BEGIN ... COMMIT around the whole file (common in golang-migrate sets) means what dbops does anyway. golang-migrate
 * sends each file as one Exec and never wraps it in a transaction, so a golang-migrate file without a directive
 * ('auto') that is one statement needing to run outside a transaction, or that manages its own transactions
 * (several BEGIN ... COMMIT blocks), runs outside one here too.
 */
export function transactionPlan(section: Section, statements: SqlStatement[], engine: Engine): TransactionPlan {
  const all = { from: 0, to: statements.length }
  if (section.options.transaction === false) return { transactional: false, ...all }
  const kinds = statements.map((statement) => transactionControl(statement.text, engine))
  if (
    statements.length >= 2 &&
    /^(BEGIN|START)/.test(kinds[0] ?? '') &&
    /^(COMMIT|END)/.test(kinds[kinds.length - 1] ?? '') &&
    kinds.slice(1, -1).every((kind) => kind === undefined)
  )
    return { transactional: true, from: 1, to: statements.length - 1 }
  const index = kinds.findIndex((kind) => kind !== undefined)
  const control = index === -1 ? undefined : { index, kind: kinds[index]! }
  if (section.options.transaction === 'auto') {
    if (control) return { transactional: false, ...all, control }
    if (statements.length === 1 && nonTransactionalReason(statements[0]!.text, engine) !== undefined)
      return { transactional: false, ...all }
  }
  return { transactional: true, ...all, ...(control && { control }) }
}

/**
 * Migrations are SQL sent to the server, not psql scripts. A schema dump is the usual first migration, so pg_dump's
 * guard lines are blanked (offsets and lines stay as in the file); any other meta-command, and COPY ... FROM stdin
 * (whose data only psql knows to send), is refused with its location before anything runs.
 */
function withoutPsqlSyntax(section: Section): string {
  let sql = section.sql
  for (const statement of splitStatements(sql, 'postgres')) {
    let text = statement.text
    let start = statement.start
    while (text.startsWith('\\')) {
      const lineEnd = text.indexOf('\n') === -1 ? text.length : text.indexOf('\n')
      const line = text.slice(0, lineEnd)
      if (!PSQL_GUARD.test(line)) {
        throw new DbopsError(
          'E_PSQL_SYNTAX',
          `${locate(section, start)}: ${line.split(/\s/)[0]} is a psql meta-command, not SQL`,
          {
            hint: 'dbops sends migrations to the server as SQL: remove the line, or do what it does in SQL',
          },
        )
      }
      sql = blank(sql, start, start + lineEnd)
      const rest = text.slice(lineEnd).trimStart()
      start += text.length - rest.length
      text = rest
    }
    const words = leadingWords(text, 64, 'postgres')
    if (words[0] === 'COPY' && words.includes('FROM') && words.includes('STDIN')) {
      throw new DbopsError(
        'E_PSQL_SYNTAX',
        `${locate(section, start)}: COPY ... FROM stdin reads its data from psql, which dbops is not`,
        {
          hint: 'load the rows with INSERT statements, or as a CSV seed file with "dbops seed"',
        },
      )
    }
  }
  return sql
}

/** file:line:column of an offset in a section. */
export function locate(section: Section, offset: number): string {
  const { line, column } = positionAt(section.sql, offset)
  return `${section.file}:${section.line + line - 1}:${line === 1 ? section.column + column - 1 : column}`
}

function where(section: Section, statement: SqlStatement): string {
  return locate(section, statement.start)
}

function endOfStatement(text: string, end: number): number {
  return text[end] === ';' ? end + 1 : end
}

function blank(text: string, from: number, to: number): string {
  return text.slice(0, from) + text.slice(from, to).replace(/[^\n]/g, ' ') + text.slice(to)
}
