import { DbopsError } from '../errors.js'
import type { Engine } from '../backends/backend.js'
import { splitStatements, type SqlStatement } from '../sql/split-statements.js'
import { nonTransactionalReason, transactionControl } from '../sql/non-transactional.js'
import { positionAt, type MigrationFile, type Section } from './files.js'

/** A migration section made ready to run: split into statements, its transaction mode decided and checked. */
export interface PreparedSection {
  migration: MigrationFile
  direction: 'up' | 'down'
  section: Section
  /** The text sent to the database: the section with any wrapping BEGIN/COMMIT blanked out. */
  script: string
  statements: SqlStatement[]
  transactional: boolean
}

export function prepareSection(migration: MigrationFile, direction: 'up' | 'down', engine: Engine): PreparedSection {
  const section = direction === 'up' ? migration.up : migration.down!
  let script = section.sql
  let statements = splitStatements(script, engine)
  const control = statements.map((statement) => transactionControl(statement.text, engine))
  // Hand-written "BEGIN; ...; COMMIT;" around a whole file (common in golang-migrate sets) means what dbops does anyway.
  if (
    statements.length >= 2 &&
    control[0] !== undefined &&
    /^(BEGIN|START)/.test(control[0]) &&
    /^(COMMIT|END)/.test(control[control.length - 1] ?? '') &&
    control.slice(1, -1).every((kind) => kind === undefined) &&
    section.options.transaction !== false
  ) {
    const first = statements[0]!
    const last = statements[statements.length - 1]!
    script = blank(blank(script, last.start, endOfStatement(script, last.end)), first.start, endOfStatement(script, first.end))
    statements = statements.slice(1, -1)
  } else if (section.options.transaction !== false) {
    const index = control.findIndex((kind) => kind !== undefined)
    if (index !== -1) {
      throw new DbopsError('E_TRANSACTION_CONTROL', `${where(section, statements[index]!)}: ${control[index]} inside a migration that runs in a transaction`, {
        hint: `dbops runs each migration in its own transaction: remove it, or manage transactions yourself with "-- migrate:${direction} transaction:false"`,
      })
    }
  }
  const reasons = statements.map((statement) => nonTransactionalReason(statement.text, engine))
  let transactional = section.options.transaction !== false
  if (section.options.transaction === 'auto' && statements.length === 1 && reasons[0] !== undefined) transactional = false
  if (transactional) {
    const index = reasons.findIndex((reason) => reason !== undefined)
    if (index !== -1) {
      throw new DbopsError('E_NON_TRANSACTIONAL_STATEMENT', `${where(section, statements[index]!)}: ${reasons[index]} must run outside a transaction`, {
        hint:
          migration.format === 'golang-migrate'
            ? `make "-- migrate:${direction} transaction:false" the first line of ${section.file}`
            : `add transaction:false to the "-- migrate:${direction}" line`,
      })
    }
  }
  return { migration, direction, section, script, statements, transactional }
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
