/**
 * `dbops migrate lint --fix <file>`: the rewrites that are mechanical, written for review (git diff shows them):
 * - a plain CREATE INDEX on an existing table becomes CREATE INDEX CONCURRENTLY in a transaction:false migration (the
 *   file itself when it holds nothing else, else a new migration right after it);
 * - a named ADD FOREIGN KEY gets NOT VALID, and its VALIDATE CONSTRAINT goes into the migration after it.
 * Anything else is left as written: the lint output says how to change it.
 */
import { existsSync, readFileSync } from 'node:fs'
import { writeFileAtomic, writeNewFile } from '../output/atomic-write.js'
import { basename, dirname, join, resolve } from 'node:path'
import type { Engine } from '../backends/backend.js'
import { UsageError } from '../errors.js'
import { migrationText, migrationsFolderOf, readMigrations, transactionFreeHint } from '../migrate/files.js'
import { splitStatements } from '../sql/split-statements.js'
import { displayIdentifier } from '../sql/query.js'
import { alterTableCommands, body, relationName, relationSql } from './pg-nodes.js'

export interface FixResult {
  file: string
  /** Files written (the migration, and a new one after it when needed). */
  written: string[]
  /** One line per rewrite. */
  changes: string[]
}

export async function fixMigration(dir: string, file: string, engine: Engine, cwd = process.cwd()): Promise<FixResult> {
  if (engine !== 'postgres')
    throw new UsageError('--fix rewrites PostgreSQL migrations only (SQLite has no CONCURRENTLY or NOT VALID)')
  const path = resolve(cwd, file)
  const set = readMigrations(migrationsFolderOf(path), cwd)
  const migration = set.migrations.find((candidate) => resolve(cwd, candidate.file) === path)
  if (!migration) throw new UsageError(`${file} is not a migration file`)
  const format = migration.format
  if (format !== 'dbmate' && format !== 'goose' && format !== 'sql-migrate') {
    throw new UsageError(
      `${file}: --fix rewrites files with up and down sections in one file (dbmate, goose, sql-migrate) only`,
      `make the change by hand: CREATE INDEX CONCURRENTLY in a file of its own (${transactionFreeHint(migration, 'up')}), ADD FOREIGN KEY ... NOT VALID and VALIDATE CONSTRAINT in the next one`,
    )
  }
  const { lintDialect } = await import('../backends/index.js')
  const dialect = await lintDialect('postgres')
  await dialect.load()
  const text = readFileSync(path, 'utf8')
  const section = migration.up
  const sectionStart = offsetOf(text, section.line, section.column)
  const statements = splitStatements(section.sql, 'postgres')
  const changes: string[] = []
  const moved: string[] = []
  const validations: string[] = []
  const edits: { start: number; end: number; replacement: string }[] = []
  let others = 0
  for (const statement of statements) {
    const parsed = dialect.parse(statement.text)
    const node = 'nodes' in parsed ? parsed.nodes[0] : undefined
    const index = body(node, 'IndexStmt')
    if (index && !index.concurrent && index.relation?.inh === true) {
      const concurrent = statement.text.replace(/^(CREATE\s+(?:UNIQUE\s+)?INDEX)\b/i, '$1 CONCURRENTLY')
      moved.push(concurrent)
      edits.push({ start: statement.start, end: endOf(section.sql, statement.end), replacement: '' })
      changes.push(
        `CREATE INDEX ${index.idxname ?? ''} on ${relationName(index.relation)}: CONCURRENTLY, outside a transaction`,
      )
      continue
    }
    const { table, commands } = alterTableCommands(node)
    const constraint =
      commands.length === 1 && commands[0]!.subtype === 'AT_AddConstraint' ? commands[0]!.def?.Constraint : undefined
    if (table && constraint?.contype === 'CONSTR_FOREIGN' && !constraint.skip_validation && constraint.conname) {
      edits.push({ start: statement.start, end: statement.end, replacement: `${statement.text} NOT VALID` })
      // Names as the parser gives them ("Step" is Step): quoted again where needed, or the SQL names another table.
      const relation = relationSql(body(node, 'AlterTableStmt')?.relation)
      validations.push(`ALTER TABLE ${relation} VALIDATE CONSTRAINT ${displayIdentifier(String(constraint.conname))};`)
      changes.push(
        `ADD FOREIGN KEY ${constraint.conname} on ${table}: NOT VALID here, VALIDATE CONSTRAINT in the next migration`,
      )
      others++
      continue
    }
    others++
  }
  if (changes.length === 0) return { file: migration.file, written: [], changes }
  const written: string[] = []
  const onlyIndexes = others === 0 && validations.length === 0
  let sql = section.sql
  if (onlyIndexes) {
    // The file holds nothing but index builds: it becomes the transaction:false migration itself.
    for (const edit of [...edits].reverse()) sql = sql.slice(0, edit.start) + sql.slice(edit.end)
    sql = `\n${moved.map((statement) => `${statement};`).join('\n')}\n${sql.trim() ? `${sql.trim()}\n` : ''}\n`
  } else {
    for (const edit of [...edits].reverse()) sql = sql.slice(0, edit.start) + edit.replacement + sql.slice(edit.end)
  }
  const directiveLine = text.lastIndexOf('\n', sectionStart - 1) + 1
  const head = text.slice(0, directiveLine)
  const directive = text.slice(directiveLine, sectionStart)
  const rewritten =
    (onlyIndexes ? TRANSACTION_FREE[format](head, directive) : head + directive) +
    sql +
    text.slice(sectionStart + section.sql.length)
  writeFileAtomic(path, rewritten)
  written.push(migration.file)
  if (!onlyIndexes || validations.length > 0) {
    const next = nextVersion(
      migration.version,
      set.migrations.map((candidate) => candidate.version),
    )
    const nextFile = join(dirname(path), `${next}_${migration.name}_follow_up.sql`)
    if (existsSync(nextFile)) throw new UsageError(`${nextFile} exists already`)
    const transactionFree = moved.length > 0 && !onlyIndexes
    const body = [...(transactionFree ? moved.map((statement) => `${statement};`) : []), ...validations].join('\n')
    writeNewFile(
      nextFile,
      migrationText(
        format,
        `-- written by "dbops migrate lint --fix ${basename(path)}": review before applying\n${body}`,
        transactionFree,
      ),
    )
    written.push(join(dirname(migration.file), basename(nextFile)))
  }
  return { file: migration.file, written, changes }
}

/**
 * Per file format: the text before the up section's body (`head`, then its directive line) rewritten so the file
 * runs outside a transaction.
 */
const TRANSACTION_FREE = {
  dbmate: (head: string, directive: string) =>
    head +
    directive.replace(/^(--\s*migrate:up)\b.*$/, (line, up: string) =>
      /transaction:false/.test(line) ? line : `${up} transaction:false${line.slice(up.length)}`,
    ),
  goose: (head: string, directive: string) =>
    /^--\s*\+goose\s+no\s+transaction\s*$/im.test(head)
      ? head + directive
      : `-- +goose NO TRANSACTION\n${head}${directive}`,
  'sql-migrate': (head: string, directive: string) =>
    head + directive.replace(/^(--\s*\+migrate\s+up)\s*$/im, '$1 notransaction'),
}

/** The version right after `version` (same width), refusing when a migration already has it. */
function nextVersion(version: string, taken: string[]): string {
  const next = (BigInt(version) + 1n).toString().padStart(version.length, '0')
  if (taken.includes(next))
    throw new UsageError(
      `--fix needs version ${next} for the follow-up migration, and it is taken`,
      'rename one of the files, or make the change by hand',
    )
  return next
}

function endOf(text: string, end: number): number {
  return text[end] === ';' ? end + 1 : end
}

function offsetOf(text: string, line: number, column: number): number {
  let offset = 0
  for (let current = 1; current < line; current++) offset = text.indexOf('\n', offset) + 1
  return offset + column - 1
}
