import { createRequire } from 'node:module'
import { readdirSync, readFileSync, type Dirent } from 'node:fs'
import { basename, dirname, relative, sep } from 'node:path'
import { DbopsError } from '../errors.js'
import { hasStatements, splitStatements } from '../sql/split-statements.js'
import { parseDuration } from '../config/duration.js'
import { decodeUtf8, InvalidUtf8Error, UTF8_HINT } from '../text/utf8.js'

export interface SectionOptions {
  /**
   * 'auto' (golang-migrate and Flyway files): run outside a transaction when the file is one non-transactional
   * statement, or manages its own transactions.
   */
  transaction: boolean | 'auto'
  lockTimeoutMs?: number
  statementTimeoutMs?: number
}

export interface Section {
  /** The section body, as written. */
  sql: string
  file: string
  /** Where the body starts in the file (1-based), to report database errors as file:line:column. */
  line: number
  column: number
  options: SectionOptions
}

export interface MigrationFile {
  /** The leading digits of the file name, as written (a folder's `2019-02-26-002946` without its dashes, as diesel). */
  version: string
  name: string
  /** `<version>_<name>`, how dbops refers to a migration in messages (a folder migration: the folder's name). */
  id: string
  /**
   * `plain`: a `.sql` file without markers in a folder where no file has any (sqlx, renamed Flyway or refinery sets),
   * up only. `folder`: a folder with `up.sql` and optional `down.sql` (diesel, Hasura, Sourcegraph). `prisma`: a
   * folder with `migration.sql`, up only. `flyway`: `V<version>__<description>.sql`, its rollback in an optional
   * `U<version>__<description>.sql`.
   */
  format: 'dbmate' | 'golang-migrate' | 'goose' | 'sql-migrate' | 'atlas' | 'plain' | 'folder' | 'prisma' | 'flyway'
  /** The file holding the up section (`migrations/<folder>/up.sql` for a folder migration). */
  file: string
  up: Section
  /** undefined when the file has no down section: such a migration cannot be rolled back. */
  down: Section | undefined
  /** sha256 of the normalised up section (computed on first use: lint and plans that never compare it skip hashing). */
  readonly checksum: string
  /**
   * The comment lines above the first section mark (dbmate, goose, sql-migrate), when there are any: lint reads
   * file-wide directives there (squawk-ignore-file). Never run.
   */
  preamble?: string
}

export interface MigrationSet {
  dir: string
  migrations: MigrationFile[]
  /** Files (and folders, shown with a trailing separator) in the directory that are not migrations, reported as warnings. */
  ignored: string[]
  /** false when the directory does not exist (a typo in the config, or no migration written yet). */
  exists: boolean
  /** Things that will work but may not do what the author meant (shown by up, status and validate). */
  warnings: string[]
}

const KNOWN_OPTIONS = ['transaction', 'lock_timeout', 'statement_timeout']
const DIRECTIVE = /^([ \t]*)--\s*migrate:(up|down)(?:[ \t]+(.*))?$/gm

interface Directive {
  index: number
  /** Where the section's text starts: the end of the directive line. */
  end: number
  direction: 'up' | 'down'
  options: string
}

/**
 * The `-- migrate:up|down` lines of a file. An indented one is refused: dbmate reads a directive only at the start of
 * a line, so there it is a comment inside the section above it, which is never what its author meant.
 */
function directivesOf(text: string, file: string): Directive[] {
  const directives: Directive[] = []
  for (const match of text.matchAll(DIRECTIVE)) {
    if (match[1] !== '') {
      throw new DbopsError(
        'E_MIGRATION_PARSE',
        `${file}:${lineAt(text, match.index!)}: "-- migrate:${match[2]}" is indented, so it would be a comment, not a directive`,
        { hint: 'start the line with "--" (no spaces or tabs before it)' },
      )
    }
    directives.push({
      index: match.index!,
      end: match.index! + match[0].length,
      direction: match[2] as 'up' | 'down',
      options: match[3] ?? '',
    })
  }
  return directives
}
const DBMATE_NAME = /^(\d+)[_.-]?(.*)\.sql$/
const GOLANG_NAME = /^(\d+)[_.-]?(.*)\.(up|down)\.sql$/
/**
 * Flyway's names: a prefix (V versioned, U undo, R repeatable), a version whose parts Flyway separates with `.` or `_`,
 * `__`, a description. Flyway's default prefixes are upper case.
 */
const FLYWAY_NAME = /^([VUR])(\d+(?:[._]\d+)*)?__(.*)\.sql$/
/** A migration folder: `<version>_<name>`, diesel's version with dashes (`2019-02-26-002946_create_user`). */
const FOLDER_NAME = /^(\d+(?:-\d+)*)_(.+)$/

/** Reads every migration in `dir`, sorted by version. Parse problems throw with the file and line. */
export function readMigrations(dir: string, cwd: string = process.cwd()): MigrationSet {
  let entries: Dirent[]
  try {
    // With the entries' types (from the same getdents call: ~0.1 ms per 1000 entries), so folders need no stat.
    entries = readdirSync(dir, { withFileTypes: true })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      return { dir, migrations: [], ignored: [], exists: false, warnings: [] }
    throw new DbopsError('E_MIGRATIONS_DIR', `cannot read the migrations directory ${dir}: ${(error as Error).message}`)
  }
  // Paths in messages: relative to the working directory when inside it, else from the migrations folder's parent.
  const inside = !relative(cwd, dir).startsWith('..')
  // One path computation for the folder, not one per file (sets have thousands).
  const prefix = inside ? relative(cwd, dir) : basename(dir)
  const display = (name: string) => (prefix === '' ? name : prefix + sep + name)
  // The path each file is read from: the folder as given and the name (path.join would normalise it once per file).
  const folder = dir.endsWith(sep) ? dir : dir + sep
  const migrations: MigrationFile[] = []
  const ignored: string[] = []
  // golang-migrate pairs files by version alone: `30_add_x.up.sql` goes with `30_drop_x.down.sql`.
  const pairs = new Map<string, { version: string; name: string; up?: string; down?: string }>()
  // An Atlas migration directory (its atlas.sum beside the files): files without directives are Atlas's own.
  const atlasDir = entries.some((entry) => entry.name === 'atlas.sum')
  // Files without any format's markers are plain SQL (sqlx's layout) only when no file in the folder has markers;
  // beside marked files they are a forgotten "-- migrate:up". `marked` is the first file with markers.
  let marked: string | undefined
  const unmarked: { version: string; name: string; file: string; text: string }[] = []
  // Flyway's V files, and its U (undo) files by version, paired once all are read (U sorts before V).
  const flyway = new FlywayFiles(entries, folder, display)
  for (const dirent of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const entry = dirent.name
    if (!entry.endsWith('.sql')) {
      if (dirent.isDirectory() || dirent.isSymbolicLink()) {
        const found = readFolderMigration(folder, entry, display)
        if (found === 'ignored') ignored.push(display(entry) + sep)
        else if (found) migrations.push(found)
      }
      continue
    }
    const flywayName = FLYWAY_NAME.exec(entry)
    if (flywayName && flyway.add(entry, flywayName)) continue
    const pair = GOLANG_NAME.exec(entry)
    if (pair) {
      const [, version, name, direction] = pair as unknown as [string, string, string, 'up' | 'down']
      const key = canonicalVersion(version)
      const slot = pairs.get(key) ?? { version, name }
      const other = slot[direction]
      if (other !== undefined) {
        throw new DbopsError(
          'E_DUPLICATE_VERSION',
          `${display(other)} and ${display(entry)} are both the ${direction} migration of version ${version}`,
          { hint: 'give one of them a new version (dbops migrate new writes a fresh timestamp)' },
        )
      }
      slot[direction] = entry
      if (direction === 'up') Object.assign(slot, { version, name })
      pairs.set(key, slot)
      marked ??= display(entry)
      continue
    }
    const single = DBMATE_NAME.exec(entry)
    if (!single) {
      ignored.push(display(entry))
      continue
    }
    const file = display(entry)
    const text = readText(folder + entry, file)
    const migration = parseSingleFile(single[1]!, single[2]!, file, text, atlasDir)
    if (migration) {
      migrations.push(migration)
      if (migration.format !== 'atlas') marked ??= file
    } else if (marked !== undefined) throw unmarkedError(file, marked)
    else unmarked.push({ version: single[1]!, name: single[2]!, file, text })
  }
  if (unmarked.length > 0 && marked !== undefined) throw unmarkedError(unmarked[0]!.file, marked)
  for (const { version, name, file, text } of unmarked) migrations.push(parsePlainFile(version, name, file, text))
  for (const { version, name, up, down } of pairs.values()) {
    if (!up) {
      throw new DbopsError('E_MIGRATION_PARSE', `${display(down!)} has no up migration: no ${version}_*.up.sql`, {
        hint: `add the up file (${version}_${name}.up.sql), or remove the stray down file`,
      })
    }
    migrations.push(
      parseGolangPair(
        version,
        name,
        display(up),
        readText(folder + up, display(up)),
        down && display(down),
        down && readText(folder + down, display(down)),
      ),
    )
  }
  migrations.push(...flyway.migrations())
  sortByVersion(migrations)
  for (let i = 1; i < migrations.length; i++) {
    const previous = migrations[i - 1]!
    const current = migrations[i]!
    if (compareVersions(previous.version, current.version) === 0) {
      throw new DbopsError(
        'E_DUPLICATE_VERSION',
        `${previous.file} and ${current.file} have the same version ${current.version}`,
        {
          hint: 'give one of them a new version (dbops migrate new writes a fresh timestamp)',
        },
      )
    }
  }
  const warnings = ignored.map((file) => {
    if (file.endsWith(sep))
      return `ignoring ${file}: a folder whose name does not start with a version, or an empty one (for a folder of migration folders, such as Hasura's migrations/<database>/, set migrations.dir to it)`
    return /^[vur]\d*__/.test(fileName(file))
      ? `ignoring ${file}: a Flyway name with a lower-case prefix (dbops reads V, U and R: rename it)`
      : `ignoring ${file}: its name does not start with a version`
  })
  warnings.push(...flyway.warnings)
  for (const migration of migrations) {
    // A comment in it ("-- no-op on PostgreSQL", common in sets written for several engines) says it is meant, as
    // does a goose or sql-migrate file (no dbops template).
    const sql = migration.up.sql
    if (
      TEMPLATED_FORMATS.has(migration.format) &&
      !hasStatements(sql, 'postgres') &&
      !sql.includes('--') &&
      !sql.includes('/*')
    ) {
      warnings.push(
        `${migration.file} has no SQL in its up section (an untouched "dbops migrate new" template?): applying it changes nothing but records it as applied`,
      )
    }
  }
  const misordered = orderByNameDiffers(migrations)
  if (misordered) {
    const [earlier, later] = misordered
    warnings.push(
      `${later.file} runs before ${earlier.file}: versions compare as numbers (as golang-migrate does), while dbmate runs files in name order; give the versions the same number of digits if the name order is the one meant`,
    )
  }
  const dieselMisordered = dieselOrderDiffers(migrations)
  if (dieselMisordered) {
    const [earlier, later] = dieselMisordered
    warnings.push(
      `${later.file} runs before ${earlier.file}: versions compare as numbers, while diesel compares them as text (${later.version} after ${earlier.version}); give ${later.id} a version of as many digits as the others (YYYY-MM-DD-HHMMSS) if diesel's order is the one meant`,
    )
  }
  return { dir, migrations, ignored, exists: true, warnings }
}

/**
 * The version a name in a migrations folder claims, by name only (no read, no stat): a migration file's, a Flyway V or
 * U file's, or a migration folder's (diesel's dashes dropped). For writing the next migration beside them.
 */
export function versionOfEntry(name: string): { version: string; folder: boolean; flyway?: true } | undefined {
  const flyway = FLYWAY_NAME.exec(name)
  if (flyway)
    return flyway[1] !== 'R' && /^\d+$/.test(flyway[2] ?? '')
      ? { version: flyway[2]!, folder: false, flyway: true }
      : undefined
  const file = DBMATE_NAME.exec(name)?.[1]
  if (file !== undefined) return { version: file, folder: false }
  const folder = name.endsWith('.sql') ? undefined : FOLDER_NAME.exec(name)?.[1]
  return folder === undefined ? undefined : { version: folder.replaceAll('-', ''), folder: true }
}

/**
 * The migrations folder a migration file named on the command line belongs to: its own folder, or for a folder
 * migration's `up.sql`, `down.sql` or `migration.sql` (or the folder itself) the folder above.
 */
export function migrationsFolderOf(path: string): string {
  const parent = dirname(path)
  if (FOLDER_NAME.test(basename(path)) && !path.endsWith('.sql')) return parent
  return FOLDER_NAME.test(basename(parent)) && /^(up|down|migration)\.sql$/.test(basename(path))
    ? dirname(parent)
    : parent
}

/**
 * How to run a section of `migration` outside a transaction, in its own format's words. Without `file`, the advice is
 * for a new migration of that format (the lint's "in a migration of its own").
 */
export function transactionFreeHint(
  migration: Pick<MigrationFile, 'format'>,
  direction: 'up' | 'down',
  file?: string,
): string {
  const it = file ?? 'the new file'
  switch (migration.format) {
    case 'plain':
      return `make "-- no-transaction" the first line of ${it}, as sqlx reads it`
    case 'atlas':
      return `add "-- atlas:txmode none" to ${it}`
    case 'goose':
      return `add "-- +goose NO TRANSACTION" above "-- +goose Up" in ${it}`
    case 'sql-migrate':
      return `add notransaction to the "-- +migrate ${direction === 'up' ? 'Up' : 'Down'}" line of ${it}`
    case 'folder':
      return `add a metadata.toml holding "run_in_transaction = false" beside ${it}, as diesel reads it, or make "-- migrate:${direction} transaction:false" its first line`
    case 'flyway':
      return `add ${file === undefined ? 'a <new file>.conf' : `${file}.conf`} holding "executeInTransaction=false", as Flyway reads it`
    case 'golang-migrate':
    case 'prisma':
      return `make "-- migrate:${direction} transaction:false" the first line of ${it}`
    default:
      return `add transaction:false to the "-- migrate:${direction}" line${file === undefined ? ' of the new file' : ''}`
  }
}

/** Formats whose migrations have no rollback by design, by their tool's name. */
const UP_ONLY_TOOLS: Partial<Record<MigrationFile['format'], string>> = {
  atlas: 'Atlas',
  plain: 'plain SQL',
  prisma: 'Prisma',
}

/**
 * The tool whose way it is to have no rollback for this migration: Atlas, plain SQL (sqlx) and Prisma never do, and a
 * Flyway migration without its U file is the common case (undo files are a paid Flyway feature). undefined where a
 * missing rollback is a gap to fill (dbmate, golang-migrate, folders).
 */
export function upOnlyTool(migration: Pick<MigrationFile, 'format' | 'down'>): string | undefined {
  if (migration.down !== undefined) return undefined
  return migration.format === 'flyway' ? 'Flyway' : UP_ONLY_TOOLS[migration.format]
}

/** The rollback refused for a migration without a down section, in its own format's words. */
export function noDownError(migration: MigrationFile): DbopsError {
  const { format, version, name } = migration
  const noOp = '(an empty one marks a no-op rollback)'
  const [message, hint] =
    format === 'flyway'
      ? [
          `there is no U${version}__*.sql (Flyway's undo file)`,
          `add U${version}__${name}.sql holding the rollback ${noOp}`,
        ]
      : format === 'golang-migrate'
        ? [`there is no ${version}_${name}.down.sql`, `add the .down.sql file ${noOp}`]
        : format === 'folder'
          ? ['there is no down.sql beside it', `add down.sql ${noOp}`]
          : UP_ONLY_TOOLS[format]
            ? [
                `${UP_ONLY_TOOLS[format]} migrations are up only (no rollback)`,
                `undo it with a new migration ("dbops migrate new revert_${name}", then "dbops migrate up")`,
              ]
            : ['it has no "-- migrate:down" section', `add a down section ${noOp}`]
  return new DbopsError('E_NO_DOWN', `cannot roll back ${migration.file}: ${message}`, { hint })
}

/** The formats `dbops migrate new` writes empty templates in (goose and sql-migrate files hold their markers). */
const TEMPLATED_FORMATS = new Set<MigrationFile['format']>([
  'dbmate',
  'golang-migrate',
  'plain',
  'folder',
  'prisma',
  'flyway',
])

/**
 * Flyway's files, read as Flyway reads them: `V<version>__<description>.sql` is a migration, plain SQL;
 * `U<version>__<description>.sql` (Flyway Teams' undo) its rollback, paired by version. Flyway detects statements that
 * cannot run in a transaction on PostgreSQL, so a file runs as golang-migrate's do ('auto'); its script config
 * `<file>.sql.conf` with `executeInTransaction=false|true` decides (only a file that has one costs a read). Dotted
 * versions (`V1.1__x.sql`, `V1_1__x.sql`) and repeatable migrations (`R__x.sql`) are refused with the fix: dbops
 * versions are whole numbers, and it runs each migration once.
 */
class FlywayFiles {
  private readonly ups: { version: string; name: string; entry: string }[] = []
  private readonly undos = new Map<string, { version: string; name: string; entry: string }>()
  /** The folder's names, to find `.conf` files without a stat: made once, when the first Flyway file is seen. */
  private names: Set<string> | undefined
  /** Things that will run but not as Flyway ran them (placeholders), for the set's warnings. */
  readonly warnings: string[] = []

  constructor(
    private readonly entries: readonly Dirent[],
    private readonly folder: string,
    private readonly display: (name: string) => string,
  ) {}

  /** false for a name that is no Flyway migration's either (`V__x.sql`): the caller reports it as ignored. */
  add(entry: string, [, prefix, version, name]: RegExpExecArray): boolean {
    const file = this.display(entry)
    if (prefix === 'R') {
      throw new DbopsError(
        'E_MIGRATION_PARSE',
        `${file}: a Flyway repeatable migration (R__), which dbops has no equivalent of: it runs each migration once`,
        {
          hint: `move its SQL into a versioned migration ("dbops migrate new ${name}" writes the next V file; CREATE OR REPLACE keeps it rerunnable) and write a new one for each change, or move ${entry} out of the migrations folder`,
        },
      )
    }
    if (version === undefined) return false
    if (!/^\d+$/.test(version)) {
      throw new DbopsError(
        'E_MIGRATION_PARSE',
        `${file}: Flyway version ${version.replaceAll('_', '.')} has several parts, and dbops versions are whole numbers`,
        {
          hint: 'renumber the Flyway files with whole numbers in the same order (e.g. V1__, V2__, V3__ for 1, 1.1, 2), then "dbops migrate baseline" at the newest one already applied',
        },
      )
    }
    const slot = { version, name: name!, entry }
    if (prefix === 'V') {
      this.ups.push(slot)
      return true
    }
    const key = canonicalVersion(version)
    const other = this.undos.get(key)
    if (other) {
      throw new DbopsError(
        'E_DUPLICATE_VERSION',
        `${this.display(other.entry)} and ${file} are both the undo migration of version ${version}`,
        { hint: 'keep one undo file per version' },
      )
    }
    this.undos.set(key, slot)
    return true
  }

  migrations(): MigrationFile[] {
    const found = this.ups.map(({ version, name, entry }) => {
      const key = canonicalVersion(version)
      const undo = this.undos.get(key)
      this.undos.delete(key)
      return withLazyChecksum({
        version,
        name,
        id: entry.slice(0, -'.sql'.length),
        format: 'flyway',
        file: this.display(entry),
        up: this.section(entry),
        down: undo && this.section(undo.entry),
      })
    })
    for (const { version, entry } of this.undos.values()) {
      throw new DbopsError(
        'E_MIGRATION_PARSE',
        `${this.display(entry)} undoes version ${version}, which has no V file`,
        {
          hint: `add the migration (V${version}__<description>.sql), or remove the stray undo file`,
        },
      )
    }
    return found
  }

  /** A whole file, in a transaction as its `.conf` says ('auto' without one). */
  private section(entry: string): Section {
    const file = this.display(entry)
    this.names ??= new Set(this.entries.map((dirent) => dirent.name))
    const conf = `${entry}.conf`
    const shown = this.display(conf)
    const transaction = this.names.has(conf) ? flywayTransaction(readText(this.folder + conf, shown), shown) : 'auto'
    const sql = readText(this.folder + entry, file)
    // Flyway replaces ${name} (and ${flyway:...}) before running a file; dbops sends the text as written.
    const placeholder = sql.indexOf('${')
    if (placeholder !== -1) {
      const name = /^\$\{[^}\s]*\}?/.exec(sql.slice(placeholder))![0]
      this.warnings.push(
        `${file}:${lineAt(sql, placeholder)}: "${name}" is a Flyway placeholder, which dbops does not replace: write its value out`,
      )
    }
    return { sql, file, line: 1, column: 1, options: { transaction } }
  }
}

/** The transaction mode a Flyway script config file sets (`executeInTransaction`); other settings are refused. */
function flywayTransaction(text: string, file: string): boolean | 'auto' {
  let transaction: boolean | 'auto' = 'auto'
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith('!')) return
    const [, key = line, value = ''] = /^([^=:\s]+)\s*[=:]\s*(.*)$/.exec(line) ?? []
    if (key === 'executeInTransaction' && (value === 'true' || value === 'false')) transaction = value === 'true'
    else if (!(key === 'encoding' && /^utf-?8$/i.test(value))) {
      throw new DbopsError('E_MIGRATION_PARSE', `${file}:${i + 1}: "${line}" is not supported by dbops`, {
        hint: 'dbops reads executeInTransaction=true|false (and encoding=UTF-8) from a Flyway script config file',
      })
    }
  })
  return transaction
}

/**
 * A folder migration: `<version>_<name>/` with `up.sql` and optional `down.sql` (diesel, Hasura, Sourcegraph), or
 * `migration.sql` (Prisma, up only). 'ignored' for a folder without a version in its name, or an empty one (diesel
 * skips those); undefined for a link that is no folder. A versioned folder without its SQL, or a migration's SQL in a
 * folder without a version, is an error: dropping it silently would leave a migration out.
 */
function readFolderMigration(
  folder: string,
  entry: string,
  display: (name: string) => string,
): MigrationFile | 'ignored' | undefined {
  if (entry.startsWith('.')) return undefined
  const match = FOLDER_NAME.exec(entry)
  let names: string[]
  try {
    names = readdirSync(folder + entry)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOTDIR' || code === 'ENOENT') return undefined
    throw error
  }
  if (!match && (names.includes('up.sql') || names.includes('migration.sql'))) {
    // diesel 2 counts migrations made in one second in hex (`2024-01-01-000000-000a_x`): not a number to compare.
    throw new DbopsError(
      'E_MIGRATION_PARSE',
      `${display(entry)}${sep} holds a migration, but its name is not <version>_<name> with a version of digits (and diesel's dashes)`,
      { hint: 'rename it (e.g. 20240101120000_add_users), or move it out of the migrations folder' },
    )
  }
  if (!match || names.length === 0) return 'ignored'
  // diesel's version is the name's first part without its dashes (migrations_internals' version_from_string).
  const version = match[1]!.replaceAll('-', '')
  const name = match[2]!
  const path = (file: string) => folder + entry + sep + file
  const shown = (file: string) => display(entry + sep + file)
  const has = new Set(names)
  const base = { version, name, id: entry }
  if (has.has('up.sql')) {
    const transaction = folderTransaction(has, path, shown)
    return withLazyChecksum({
      ...base,
      format: 'folder',
      file: shown('up.sql'),
      up: oneDirectionSection(shown('up.sql'), readText(path('up.sql'), shown('up.sql')), 'up', transaction),
      down: has.has('down.sql')
        ? oneDirectionSection(shown('down.sql'), readText(path('down.sql'), shown('down.sql')), 'down', transaction)
        : undefined,
    })
  }
  if (has.has('migration.sql')) {
    const file = shown('migration.sql')
    return withLazyChecksum({
      ...base,
      format: 'prisma',
      file,
      up: oneDirectionSection(file, readText(path('migration.sql'), file), 'up', true),
      down: undefined,
    })
  }
  throw new DbopsError('E_MIGRATION_PARSE', `${display(entry)}${sep} has no up.sql (nor a Prisma migration.sql)`, {
    hint: `put the migration's SQL in ${shown('up.sql')} (its rollback in down.sql), or move the folder out of the migrations folder`,
  })
}

/**
 * Whether a folder migration runs in a transaction: diesel's `metadata.toml` `run_in_transaction` (diesel reads a
 * metadata.toml without the key as false), Sourcegraph's `metadata.yaml` `createIndexConcurrently: true`. Only a
 * folder holding one of them costs a read.
 */
function folderTransaction(
  names: Set<string>,
  path: (file: string) => string,
  shown: (file: string) => string,
): boolean {
  if (names.has('metadata.toml')) {
    const toml = readText(path('metadata.toml'), shown('metadata.toml'))
    return /^\s*run_in_transaction\s*=\s*true\s*(#.*)?$/m.test(toml)
  }
  if (names.has('metadata.yaml')) {
    const yaml = readText(path('metadata.yaml'), shown('metadata.yaml'))
    return !/^createIndexConcurrently:\s*true\s*$/m.test(yaml)
  }
  return true
}

/**
 * The first two dbmate-format migrations whose file names sort the other way round from their versions
 * (`20240101_b.sql` runs before `20231231120000_a.sql`: fewer digits, smaller number), or undefined when both orders
 * agree. golang-migrate pairs are left out: golang-migrate itself orders by number (`2_x` before `10_y`).
 */
function orderByNameDiffers(migrations: MigrationFile[]): [MigrationFile, MigrationFile] | undefined {
  const dbmate = migrations.filter((migration) => migration.format === 'dbmate')
  for (let i = 1; i < dbmate.length; i++) {
    const previous = dbmate[i - 1]!
    const current = dbmate[i]!
    if (fileName(previous.file) > fileName(current.file)) return [current, previous]
  }
  return undefined
}

/**
 * The first two diesel folders (a dashed version) that diesel runs the other way round: diesel sorts versions as text,
 * so vaultwarden's `2024-03-13_170000_x` (version `20240313`) runs after `2024-03-06-170000_y` there, and first here.
 */
function dieselOrderDiffers(migrations: MigrationFile[]): [MigrationFile, MigrationFile] | undefined {
  const diesel = migrations.filter((migration) => migration.format === 'folder' && /^\d+-/.test(migration.id))
  for (let i = 1; i < diesel.length; i++) {
    const previous = diesel[i - 1]!
    const current = diesel[i]!
    if (previous.version > current.version) return [current, previous]
  }
  return undefined
}

function readText(path: string, file: string): string {
  let text: string
  try {
    // Decoded by node in the same call that reads the file (one native call: no Buffer, no second pass over it).
    text = readFileSync(path, 'utf8')
    // Bytes that are not UTF-8 decode to U+FFFD: only then (or for a U+FFFD written in the file) read them again to
    // tell which, and where.
    if (text.includes('\uFFFD')) text = strictText(readFileSync(path), file)
  } catch (error) {
    // read() on a directory (EISDIR) names no path; the CLI's error handler turns the errno into a plain message.
    if (error instanceof Error && !(error instanceof DbopsError) && !('path' in error)) Object.assign(error, { path })
    throw error
  }
  // Editors on Windows add a BOM; it is not part of the SQL.
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
}

/** Bytes that are not UTF-8 are refused where they are: decoding them would change the SQL silently (U+FFFD). */
function strictText(bytes: Buffer, file: string): string {
  try {
    return decodeUtf8(bytes)
  } catch (error) {
    if (!(error instanceof InvalidUtf8Error)) throw error
    throw new DbopsError('E_MIGRATION_PARSE', `${file}:${error.line}:${error.column}: ${error.message}`, {
      hint: UTF8_HINT,
    })
  }
}

/**
 * A migration written in one file, in whichever format it is: dbmate's directives, goose's or sql-migrate's
 * annotations, or (in an Atlas directory) plain SQL. undefined for a file without markers outside an Atlas directory.
 */
function parseSingleFile(
  version: string,
  name: string,
  file: string,
  text: string,
  atlasDir: boolean,
): MigrationFile | undefined {
  const directives = directivesOf(text, file)
  if (directives.length > 0) return parseDbmateFile(version, name, file, text, directives)
  const annotated = annotatedTool(text)
  if (annotated) return parseAnnotatedFile(annotated, version, name, file, text)
  if (atlasDir) return parseAtlasFile(version, name, file, text)
  return undefined
}

/**
 * A .sql file named on its own that is no migration of its folder (`dbops migrate lint change.sql`, as squawk is run
 * on any file): one migration, in its markers' format, or plain SQL (in a transaction unless "-- no-transaction").
 */
export function readLooseFile(path: string, display: string): MigrationFile {
  const text = readText(path, display)
  const name = fileName(display).slice(0, -'.sql'.length)
  return parseSingleFile('0', name, display, text, false) ?? parsePlainFile('0', name, display, text)
}

/** A file without markers in a folder where `marked` has them: its author forgot them. */
function unmarkedError(file: string, marked: string): DbopsError {
  return new DbopsError('E_MIGRATION_PARSE', `${file}: no "-- migrate:up" line`, {
    hint: `start the file with "-- migrate:up", put the rollback after "-- migrate:down" (files without markers are read as plain up-only SQL only when no file in the folder has any; ${marked} has)`,
  })
}

/**
 * A plain SQL file in a folder without markers (sqlx's default, a renamed Flyway or refinery set): the whole file is
 * the up section, no rollback. sqlx's `-- no-transaction` at the very start runs it outside a transaction.
 */
const SQLX_NO_TRANSACTION = '-- no-transaction'

function parsePlainFile(version: string, name: string, file: string, text: string): MigrationFile {
  return upOnlyFile('plain', version, name, file, text, !text.startsWith(SQLX_NO_TRANSACTION))
}

/** A file that is one whole up section, without a rollback (Atlas's, plain SQL). */
function upOnlyFile(
  format: 'atlas' | 'plain',
  version: string,
  name: string,
  file: string,
  text: string,
  transaction: boolean,
): MigrationFile {
  const up = { sql: text, file, line: 1, column: 1, options: { transaction } }
  return singleFileMigration(format, version, name, file, up, undefined)
}

/** dbmate's format: `-- migrate:up [options]` and `-- migrate:down [options]` sections in one file. */
function parseDbmateFile(
  version: string,
  name: string,
  file: string,
  text: string,
  directives: Directive[],
): MigrationFile {
  const before = text.slice(0, directives[0]!.index)
  const stray = firstSqlLine(before)
  if (stray !== undefined) {
    throw new DbopsError('E_MIGRATION_PARSE', `${file}:${stray}: SQL before the first "-- migrate:up" line`, {
      hint: 'move it below "-- migrate:up"',
    })
  }
  const parts: Record<'up' | 'down', { start: number; end: number; options: SectionOptions; line: number }[]> = {
    up: [],
    down: [],
  }
  directives.forEach((directive, i) => {
    const line = lineAt(text, directive.index)
    parts[directive.direction].push({
      start: directive.end,
      end: directives[i + 1]?.index ?? text.length,
      options: parseOptions(directive.options, `${file}:${line}`, true),
      line,
    })
  })
  if (parts.up.length === 0) {
    throw new DbopsError('E_MIGRATION_PARSE', `${file}: no "-- migrate:up" section (only "-- migrate:down")`)
  }
  for (const direction of ['up', 'down'] as const) {
    const [first, second] = parts[direction]
    if (second) {
      throw new DbopsError(
        'E_MIGRATION_PARSE',
        `${file}:${second.line}: a second "-- migrate:${direction}" line (the first is on line ${first!.line})`,
        {
          hint: `keep one "-- migrate:${direction}" section per file: merge the two, or move one into a migration of its own`,
        },
      )
    }
  }
  return withPreamble(
    singleFileMigration(
      'dbmate',
      version,
      name,
      file,
      sectionOf(parts.up[0]!, text, file),
      parts.down[0] && sectionOf(parts.down[0], text, file),
    ),
    before,
  )
}

/** Keeps the comments above a file's first section mark on the migration (see MigrationFile.preamble). */
function withPreamble(migration: MigrationFile, before: string): MigrationFile {
  if (before.trim() !== '') migration.preamble = before
  return migration
}

/** The tools whose files mark sections with `-- +<word> Up` / `-- +<word> Down`, and their words. */
const ANNOTATED_TOOLS = { goose: 'goose', 'sql-migrate': 'migrate' } as const
type AnnotatedTool = keyof typeof ANNOTATED_TOOLS

/** Whether a file is goose's or sql-migrate's (its `-- +goose Up` / `-- +migrate Up` line). */
function annotatedTool(text: string): AnnotatedTool | undefined {
  const word = /^--\s*\+(goose|migrate)\s+up\b/im.exec(text)?.[1]
  return word === undefined ? undefined : word.toLowerCase() === 'goose' ? 'goose' : 'sql-migrate'
}

/** The format of a one-file migration's text, for writing the next one alike: plain SQL when it has no markers. */
export function writtenFormat(text: string): 'dbmate' | AnnotatedTool | 'plain' {
  return text.search(DIRECTIVE) >= 0 ? 'dbmate' : (annotatedTool(text) ?? 'plain')
}

/**
 * A new migration file in `format`'s own markers: `up` as its up section (outside a transaction when
 * `transactionFree`), and an empty down section (plain SQL has neither markers nor a down section).
 */
export function migrationText(format: 'dbmate' | AnnotatedTool | 'plain', up: string, transactionFree = false): string {
  if (format === 'plain') return `${transactionFree ? '-- no-transaction\n' : ''}${up}`
  if (format === 'dbmate')
    return `-- migrate:up${transactionFree ? ' transaction:false' : ''}\n${up}\n\n-- migrate:down\n\n`
  if (format === 'goose')
    return `${transactionFree ? '-- +goose NO TRANSACTION\n' : ''}-- +goose Up\n${up}\n\n-- +goose Down\n\n`
  return `-- +migrate Up${transactionFree ? ' notransaction' : ''}\n${up}\n\n-- +migrate Down\n\n`
}

/**
 * goose's and sql-migrate's format: `-- +goose Up` / `-- +migrate Up` and `... Down` sections. goose's
 * `-- +goose NO TRANSACTION` runs both outside a transaction, sql-migrate's `-- +migrate Up notransaction` its own
 * section. `StatementBegin`/`StatementEnd` need nothing here (dbops splits statements by the SQL's own quoting). A
 * missing Down is a rollback that runs nothing, as in both tools.
 */
function parseAnnotatedFile(
  tool: AnnotatedTool,
  version: string,
  name: string,
  file: string,
  text: string,
): MigrationFile {
  const word = ANNOTATED_TOOLS[tool]
  const marks: { kind: 'up' | 'down'; index: number; end: number; line: number; transaction: boolean }[] = []
  let fileTransaction = true
  for (const match of text.matchAll(new RegExp(`^--\\s*\\+${word}\\s+(.*?)\\s*$`, 'gim'))) {
    const [kind, ...rest] = match[1]!.toLowerCase().split(/\s+/)
    const line = lineAt(text, match.index!)
    const sectionOptions = tool === 'sql-migrate' && rest.length === 1 && rest[0] === 'notransaction'
    if ((kind === 'up' || kind === 'down') && (rest.length === 0 || sectionOptions)) {
      const previous = marks.find((mark) => mark.kind === kind)
      // sql-migrate adds each further Up (or Down) section to the ones before it; goose refuses a second one.
      if (previous && tool !== 'sql-migrate') {
        throw new DbopsError(
          'E_MIGRATION_PARSE',
          `${file}:${line}: a second "-- +${word} ${match[1]}" line (the first is on line ${previous.line})`,
          { hint: 'keep one Up and one Down section per file' },
        )
      }
      const end = match.index! + match[0].length
      marks.push({ kind, index: match.index!, end, line, transaction: !sectionOptions })
    } else if (tool === 'goose' && kind === 'no' && rest.join(' ') === 'transaction') fileTransaction = false
    else if ((kind !== 'statementbegin' && kind !== 'statementend') || rest.length > 0) {
      throw new DbopsError(
        'E_MIGRATION_PARSE',
        `${file}:${line}: "-- +${word} ${match[1]}" is not supported by dbops`,
        {
          hint: `dbops reads ${tool}'s Up, Down, StatementBegin, StatementEnd and ${tool === 'goose' ? 'NO TRANSACTION annotations; write the SQL out in full (ENVSUB: without ${VAR})' : 'notransaction annotations'}`,
        },
      )
    }
  }
  const [first] = marks as [(typeof marks)[number]]
  const stray = firstSqlLine(text.slice(0, first.index))
  if (first.kind !== 'up' || stray !== undefined) {
    throw new DbopsError(
      'E_MIGRATION_PARSE',
      `${file}:${stray ?? first.line}: ${stray !== undefined ? `SQL before the "-- +${word} Up" line` : `"-- +${word} Down" before "-- +${word} Up"`}`,
      { hint: 'put the Up section first, the Down section after it' },
    )
  }
  const noDown = {
    sql: '',
    file,
    line: lineAt(text, text.length),
    column: 1,
    options: { transaction: fileTransaction },
  }
  const down = marks.some((mark) => mark.kind === 'down')
  return withPreamble(
    singleFileMigration(
      tool,
      version,
      name,
      file,
      annotatedSection('up', marks, text, file, fileTransaction),
      down ? annotatedSection('down', marks, text, file, fileTransaction) : noDown,
    ),
    text.slice(0, first.index),
  )
}

/**
 * The `kind` sections of an annotated file as one section: from its first mark to the end of its last part, with the
 * other direction's parts in between blanked (newlines kept, so every statement keeps its line and column). Outside a
 * transaction when any of its marks says so (sql-migrate's notransaction).
 */
function annotatedSection(
  kind: 'up' | 'down',
  marks: readonly { kind: 'up' | 'down'; index: number; end: number; transaction: boolean }[],
  text: string,
  file: string,
  fileTransaction: boolean,
): Section {
  const parts = marks.flatMap((mark, i) =>
    mark.kind === kind ? [{ start: mark.end, end: marks[i + 1]?.index ?? text.length }] : [],
  )
  const start = parts[0]!.start
  let sql = ''
  let at = start
  for (const part of parts) {
    sql += text.slice(at, part.start).replace(/[^\n]/g, ' ') + text.slice(part.start, part.end)
    at = part.end
  }
  const transaction = fileTransaction && marks.every((mark) => mark.kind !== kind || mark.transaction)
  return { sql, file, ...positionAt(text, start), options: { transaction } }
}

/**
 * An Atlas migration file: the whole file is the up section (Atlas has no down files). `-- atlas:txmode none` runs it
 * outside a transaction; `nolint` needs nothing here; `delimiter` and checkpoint files are refused, naming the line.
 */
function parseAtlasFile(version: string, name: string, file: string, text: string): MigrationFile {
  let transaction = true
  for (const match of text.matchAll(/^--\s*atlas:(\w+)(?:[ \t]+(.*?))?\s*$/gm)) {
    const [, directive, argument = ''] = match as unknown as [string, string, string | undefined]
    if (directive === 'txmode') transaction = argument.trim() !== 'none'
    else if (directive === 'delimiter' || directive === 'checkpoint') {
      throw new DbopsError(
        'E_MIGRATION_PARSE',
        `${file}:${lineAt(text, match.index!)}: "-- atlas:${directive}" is not supported by dbops`,
        {
          hint:
            directive === 'delimiter'
              ? "remove it: dbops splits statements by the SQL's own quoting (dollar quotes, BEGIN ... END)"
              : 'a checkpoint file repeats the files before it: move it out of the folder, or baseline at its version',
        },
      )
    }
  }
  return upOnlyFile('atlas', version, name, file, text, transaction)
}

/** A migration written in one file (every format but golang-migrate's pairs). */
function singleFileMigration(
  format: MigrationFile['format'],
  version: string,
  name: string,
  file: string,
  up: Section,
  down: Section | undefined,
): MigrationFile {
  return withLazyChecksum({ version, name, id: fileName(file).slice(0, -'.sql'.length), format, file, up, down })
}

/** Gives a migration its `checksum`: a getter that hashes the up section on first read and keeps the result. */
function withLazyChecksum(migration: Omit<MigrationFile, 'checksum'>): MigrationFile {
  let checksum: string | undefined
  return Object.defineProperty(migration, 'checksum', {
    enumerable: true,
    get: () => (checksum ??= checksumOf(migration.up.sql)),
  }) as MigrationFile
}

function sectionOf(part: { start: number; end: number; options: SectionOptions }, text: string, file: string): Section {
  return { sql: text.slice(part.start, part.end), file, ...positionAt(text, part.start), options: part.options }
}

/** golang-migrate's `<version>_<name>.up.sql` / `.down.sql` pairs, read in place. */
export function parseGolangPair(
  version: string,
  name: string,
  upFile: string,
  upText: string,
  downFile: string | undefined,
  downText: string | undefined,
): MigrationFile {
  const up = oneDirectionSection(upFile, upText, 'up', 'auto')
  return withLazyChecksum({
    version,
    name,
    id: fileName(upFile).slice(0, -'.up.sql'.length),
    format: 'golang-migrate',
    file: upFile,
    up,
    down:
      downFile !== undefined && downText !== undefined
        ? oneDirectionSection(downFile, downText, 'down', 'auto')
        : undefined,
  })
}

/**
 * A file that holds one direction only (golang-migrate's `.up.sql`, a folder migration's `up.sql`): the whole file,
 * in a transaction as `transaction` says. A dbops directive line for the same direction may set options explicitly.
 * golang-migrate sends a file as one Exec, so a file holding just `CREATE INDEX CONCURRENTLY ...` works there; 'auto'
 * keeps that working. sqlx's `-- no-transaction` at the very start runs it outside a transaction.
 */
function oneDirectionSection(
  file: string,
  text: string,
  direction: 'up' | 'down',
  transaction: boolean | 'auto',
): Section {
  const directives = directivesOf(text, file)
  const own = directives[0]
  if (directives.length > 1 || (own && own.direction !== direction)) {
    const bad = directives.find((directive, i) => i > 0 || directive.direction !== direction)!
    throw new DbopsError(
      'E_MIGRATION_PARSE',
      `${file}:${lineAt(text, bad.index)}: unexpected "-- migrate:${bad.direction}" in ${direction === 'up' ? 'an up' : 'a down'} file`,
      {
        hint: `${direction === 'up' ? 'an up' : 'a down'} file may only carry one "-- migrate:${direction} <options>" line`,
      },
    )
  }
  if (!own) {
    const free = text.startsWith(SQLX_NO_TRANSACTION) // sqlx's reversible files are such pairs
    return { sql: text, file, line: 1, column: 1, options: { transaction: free ? false : transaction } }
  }
  const offset = own.end
  const options = parseOptions(own.options, `${file}:${lineAt(text, own.index)}`, transaction !== false)
  return { sql: text.slice(offset), file, ...positionAt(text, offset), options }
}

function parseOptions(text: string, where: string, defaultTransaction: boolean): SectionOptions {
  const options: SectionOptions = { transaction: defaultTransaction }
  if (text === '') return options
  for (const word of text.trim().split(/\s+/).filter(Boolean)) {
    const [key, value, ...rest] = word.split(':')
    if (value === undefined || rest.length > 0 || !KNOWN_OPTIONS.includes(key!)) {
      throw new DbopsError('E_MIGRATION_PARSE', `${where}: unknown option "${word}"`, {
        hint: `options are written key:value; known: ${KNOWN_OPTIONS.join(', ')} (e.g. transaction:false)`,
      })
    }
    try {
      if (key === 'transaction') {
        if (value !== 'true' && value !== 'false') throw new Error(`must be true or false, not "${value}"`)
        options.transaction = value === 'true'
      } else if (key === 'lock_timeout') {
        options.lockTimeoutMs = parseDuration(value!, key!)
      } else {
        options.statementTimeoutMs = parseDuration(value!, key!)
      }
    } catch (error) {
      throw new DbopsError('E_MIGRATION_PARSE', `${where}: ${(error as Error).message}`)
    }
  }
  return options
}

/** sha256 over the text with line endings normalised and trailing whitespace trimmed, prefixed with the algorithm. */
export function checksumOf(text: string): string {
  const normalised = text.replace(/\r\n?/g, '\n').replace(/\s+$/, '')
  // One-shot hash (Node >= 20.12): no Hash object and its stream machinery per file, ~1% of `migrate status`.
  return `sha256:${crypto().hash('sha256', normalised, 'hex')}`
}

// node:crypto initialises OpenSSL when loaded (several ms): only commands that read migrations pay for it.
let cryptoModule: typeof import('node:crypto') | undefined
function crypto(): typeof import('node:crypto') {
  cryptoModule ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto')
  return cryptoModule
}

/**
 * The file name of a path made by readMigrations (`display`: the folder, the separator, the name), without
 * path.basename's work for all the forms a path can take: it runs for every file of sets of thousands.
 */
function fileName(file: string): string {
  return file.slice(file.lastIndexOf(sep) + 1)
}

/** Versions compare as numbers of any length: `20240101120000` and `001` both work, leading zeros don't matter. */
export function compareVersions(a: string, b: string): number {
  const x = canonicalVersion(a)
  const y = canonicalVersion(b)
  return x.length - y.length || (x < y ? -1 : x > y ? 1 : 0)
}

/** Sorts in place by version, each version made canonical once (not twice per comparison). */
function sortByVersion(migrations: MigrationFile[]): void {
  const keyed = migrations.map((migration) => ({ migration, key: canonicalVersion(migration.version) }))
  keyed.sort((a, b) => a.key.length - b.key.length || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  keyed.forEach((entry, i) => (migrations[i] = entry.migration))
}

export function canonicalVersion(version: string): string {
  return version.replace(/^0+(?=\d)/, '')
}

export function lineAt(text: string, offset: number): number {
  let line = 1
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++
  return line
}

/** 1-based line/column of `offset` in `text`. */
export function positionAt(text: string, offset: number): { line: number; column: number } {
  const line = lineAt(text, offset)
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1
  return { line, column: offset - lineStart + 1 }
}

function firstSqlLine(text: string): number | undefined {
  // The lexer, not a line test: `/* header */ CREATE TABLE x (...)` on one line is SQL after a comment.
  const [first] = splitStatements(text, 'postgres')
  return first === undefined ? undefined : lineAt(text, first.start)
}
