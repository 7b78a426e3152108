import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { writeNewFile } from '../output/atomic-write.js'
import { join, relative } from 'node:path'
import { DbopsError, UsageError } from '../errors.js'
import type { Target } from '../targets/target.js'
import {
  canonicalVersion,
  compareVersions,
  migrationText,
  readMigrations,
  versionOfEntry,
  writtenFormat,
} from './files.js'
import { Ledger } from './ledger.js'
import { migrationStates } from './plan.js'
import { prepareSection } from './prepare.js'

export interface ResolveResult {
  target: string
  version: string
  name: string
  resolution: 'applied' | 'rolled-back'
}

/**
 * Clears a failed or interrupted transaction:false migration after the database was put right by hand: --applied
 * records it as applied, --rolled-back removes its row so `up` runs it again.
 */
export async function resolveMigration(
  target: Target,
  version: string,
  resolution: 'applied' | 'rolled-back',
): Promise<ResolveResult> {
  const ledger = new Ledger(target.backend, target.migrations)
  return target.backend.withMigrationLock(
    ledger.qualifiedName,
    { timeoutMs: target.migrations.lockWaitTimeoutMs },
    async () => {
      const row = ((await ledger.read()) ?? []).find(
        (candidate) => canonicalVersion(candidate.version) === canonicalVersion(version),
      )
      if (!row)
        throw new DbopsError('E_NOT_FOUND', `migration ${version} is not in the ledger ${ledger.qualifiedName}`, {
          hint: 'run "dbops migrate status" to see the ledger',
        })
      if (row.status !== 'failed' && row.status !== 'running') {
        throw new DbopsError(
          'E_NOTHING_TO_RESOLVE',
          `migration ${row.version}_${row.name} is ${row.status}, not failed`,
          {
            hint: 'resolve is for migrations that failed part way; use "dbops migrate down" to roll back an applied one',
          },
        )
      }
      if (resolution === 'applied') {
        await ledger.update(row.version, {
          status: 'applied',
          owner: null,
          error: null,
          errorStatement: null,
          errorLocation: null,
          touch: true,
        })
      } else {
        await ledger.delete(row.version)
      }
      return { target: target.name, version: row.version, name: row.name, resolution }
    },
  )
}

export interface BaselineResult {
  target: string
  version: string
  baselined: { version: string; name: string }[]
}

/** Marks an existing database as migrated up to `version` without running anything (adopting dbops on a live DB). */
export async function baselineMigrations(target: Target, version: string): Promise<BaselineResult> {
  const set = readMigrations(target.migrations.dir)
  if (!set.migrations.some((migration) => compareVersions(migration.version, version) === 0)) {
    throw new UsageError(
      `there is no migration with version ${version}`,
      'baseline takes the version of the newest migration the database already reflects',
    )
  }
  const ledger = new Ledger(target.backend, target.migrations)
  return target.backend.withMigrationLock(
    ledger.qualifiedName,
    { timeoutMs: target.migrations.lockWaitTimeoutMs },
    async () => {
      let rows = await ledger.read()
      if (rows === undefined) {
        await ledger.create()
        rows = []
      }
      if (rows.length > 0) {
        throw new DbopsError(
          'E_ALREADY_MIGRATED',
          `the ledger ${ledger.qualifiedName} already records ${rows.length} migration(s)`,
          {
            hint: 'baseline is for a database that dbops has never migrated',
          },
        )
      }
      const chosen = set.migrations.filter((migration) => compareVersions(migration.version, version) <= 0)
      for (const migration of chosen) {
        await ledger.insert({
          version: migration.version,
          name: migration.name,
          checksum: migration.checksum,
          status: 'baselined',
        })
      }
      return { target: target.name, version, baselined: chosen.map(({ version, name }) => ({ version, name })) }
    },
  )
}

export interface RestampResult {
  target: string
  version: string
  oldChecksum: string
  newChecksum: string
}

/** Accepts an intended edit of an applied migration: records the file's current checksum. */
export async function restampMigration(target: Target, version: string): Promise<RestampResult> {
  const set = readMigrations(target.migrations.dir)
  const file = set.migrations.find((migration) => compareVersions(migration.version, version) === 0)
  if (!file) throw new UsageError(`there is no migration file with version ${version}`)
  const ledger = new Ledger(target.backend, target.migrations)
  return target.backend.withMigrationLock(
    ledger.qualifiedName,
    { timeoutMs: target.migrations.lockWaitTimeoutMs },
    async () => {
      const row = ((await ledger.read()) ?? []).find(
        (candidate) => canonicalVersion(candidate.version) === canonicalVersion(version),
      )
      if (!row)
        throw new DbopsError('E_NOT_FOUND', `migration ${file.id} is not applied, so there is nothing to restamp`)
      await ledger.update(row.version, { checksum: file.checksum })
      return { target: target.name, version: row.version, oldChecksum: row.checksum, newChecksum: file.checksum }
    },
  )
}

export interface ValidationProblem {
  check: 'parse' | 'checksum' | 'missing-file' | 'out-of-order' | 'failed' | 'transaction'
  version: string | null
  message: string
}

export interface ValidateResult {
  target: string
  ok: boolean
  migrations: number
  problems: ValidationProblem[]
  /** What works but may not be what was meant (files without a version, name order differing from version order). */
  warnings: string[]
}

/**
 * Checks the files (parse, statements that cannot run in a transaction) and, when the database has a ledger, that
 * applied files are unchanged and present and that nothing pending is out of order. Reads only.
 */
export async function validateMigrations(target: Target): Promise<ValidateResult> {
  const set = readMigrations(target.migrations.dir)
  const problems: ValidationProblem[] = []
  for (const migration of set.migrations) {
    for (const direction of ['up', 'down'] as const) {
      if (direction === 'down' && !migration.down) continue
      try {
        prepareSection(migration, direction, target.backend.engine)
      } catch (error) {
        if (!(error instanceof DbopsError)) throw error
        problems.push({ check: 'transaction', version: migration.version, message: `${error.message} (${error.hint})` })
      }
    }
  }
  const rows = (await new Ledger(target.backend, target.migrations).read()) ?? []
  const allowOutOfOrder = target.migrations.allowOutOfOrder
  for (const entry of migrationStates(set.migrations, rows)) {
    const id = `${entry.version}_${entry.name}`
    if (entry.state === 'drifted')
      problems.push({
        check: 'checksum',
        version: entry.version,
        message: `${entry.file} was changed after being applied (checksum differs)`,
      })
    if (entry.state === 'missing')
      problems.push({
        check: 'missing-file',
        version: entry.version,
        message: `${id} is applied but its file is missing`,
      })
    if (entry.state === 'failed' || entry.state === 'running')
      problems.push({ check: 'failed', version: entry.version, message: `${id} ${entry.error}` })
    if (entry.outOfOrder && !allowOutOfOrder)
      problems.push({
        check: 'out-of-order',
        version: entry.version,
        message: `${entry.file} is pending but older than the newest applied migration`,
      })
  }
  return {
    target: target.name,
    ok: problems.length === 0,
    migrations: set.migrations.length,
    problems,
    warnings: set.warnings,
  }
}

export interface NewMigrationResult {
  /** The file written (for a golang-migrate pair, its .up.sql). */
  file: string
  /** Every file written: one, or a golang-migrate pair. */
  files: string[]
  version: string
}

/**
 * Writes a new migration in the folder's own style: the format of its newest file (dbmate, goose, sql-migrate, a
 * golang-migrate pair, Flyway's V file with a U file when the folder has undo files) and its numbering
 * (`<UTC YYYYMMDDHHMMSS>`, or the next number of a sequence such as 0042).
 * `content` (the audit's fix) is written as given, in a dbmate-format file.
 */
export function newMigration(dir: string, name: string, now: Date = new Date(), content?: string): NewMigrationResult {
  const slug = name
    .trim()
    .replace(/[^A-Za-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '')
  if (!slug)
    throw new UsageError(
      `"${name}" is not usable as a migration name`,
      'use letters, digits and underscores, e.g. add_users',
    )
  mkdirSync(dir, { recursive: true })
  const style = folderStyle(dir)
  if (content !== undefined && style.format === 'plain') {
    // A dbops-format file there would turn every plain file into one missing its markers.
    throw new UsageError(
      `${dir} holds plain SQL migrations (no markers): a migration in dbops' format cannot be added beside them`,
      'write the SQL into a new plain file instead ("dbops migrate new <name>" makes one)',
    )
  }
  // Two `migrate new` in one second (a script, or a quick second thought) take the next free version.
  const versionAfter = (previous: string | undefined): string =>
    style.sequence
      ? (BigInt(previous ?? style.sequence.newest) + 1n).toString().padStart(style.sequence.width, '0')
      : timestampVersion(previous === undefined ? now.getTime() : timeOf(previous.slice(0, 14)) + 1000) +
        (style.dashed === 'subversion' ? '0000' : '')
  let version = versionAfter(undefined)
  for (let attempt = 1; ; attempt++) {
    const taken = takenVersions(dir)
    while (taken.has(canonicalVersion(version))) version = versionAfter(version)
    // The version is claimed by a marker only one run can create; it goes once the file is there for others to see.
    const claim = join(dir, `.${version}.new`)
    try {
      writeNewFile(claim, '')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 20) throw error
      version = versionAfter(version) // Another `migrate new` running now claimed it: take the next one.
      continue
    }
    try {
      // Checked again under the claim: a run that held it before wrote its file first.
      if (takenVersions(dir).has(canonicalVersion(version))) {
        version = versionAfter(version)
        continue
      }
      const written = newFiles(style, version, slug, content)
      if (written[0]![0].includes('/')) mkdirSync(join(dir, written[0]![0].split('/')[0]!))
      for (const [file, text] of written) writeNewFile(join(dir, file), text)
      const files = written.map(([file]) => relative(process.cwd(), join(dir, file)) || join(dir, file))
      return { file: files[0]!, files, version }
    } finally {
      rmSync(claim, { force: true })
    }
  }
}

interface FolderStyle {
  format: ReturnType<typeof writtenFormat> | 'golang-migrate' | 'folder' | 'prisma' | 'flyway'
  /** A Flyway folder with undo files (U<version>__x.sql): a new migration gets one too. */
  undo?: boolean
  sequence?: { newest: string; width: number }
  /** diesel's folder names: `2026-01-02-030405_name`, or diesel 2's `2026-01-02-030405-0000_name`. */
  dashed?: 'timestamp' | 'subversion'
}

/** The files of a new migration in the folder's style, relative to it, with their text. */
function newFiles(style: FolderStyle, version: string, slug: string, content: string | undefined): [string, string][] {
  const dashed = style.dashed && /^(\d{4})(\d\d)(\d\d)(\d{6})(\d{4})?$/.exec(version)
  const base = `${dashed ? dashed.slice(1).filter(Boolean).join('-') : version}_${slug}`
  if (content !== undefined) return [[`${base}.sql`, content]]
  if (style.format === 'flyway')
    return [
      [`V${version}__${slug}.sql`, ''],
      ...(style.undo ? [[`U${version}__${slug}.sql`, ''] as [string, string]] : []),
    ]
  if (style.format === 'golang-migrate')
    return [
      [`${base}.up.sql`, ''],
      [`${base}.down.sql`, ''],
    ]
  if (style.format === 'folder')
    return [
      [`${base}/up.sql`, ''],
      [`${base}/down.sql`, ''],
    ]
  if (style.format === 'prisma') return [[`${base}/migration.sql`, '']]
  return [[`${base}.sql`, migrationText(style.format, '')]]
}

/** The format of the folder's newest migration, and its numbering when that is a sequence rather than timestamps. */
function folderStyle(dir: string): FolderStyle {
  let newest: { version: string; file: string; folder: boolean; flyway?: true } | undefined
  const names = readdirSync(dir)
  for (const file of names) {
    const found = versionOfEntry(file)
    if (found && (!newest || compareVersions(found.version, newest.version) > 0)) newest = { ...found, file }
  }
  if (!newest) return { format: 'dbmate' }
  // Timestamps have 12 digits or more (YYYYMMDDHHMM...); anything shorter counts up.
  const sequence = newest.version.length < 12 ? { newest: newest.version, width: newest.version.length } : undefined
  if (newest.flyway)
    return { format: 'flyway', undo: names.some((name) => /^U\d+__.*\.sql$/.test(name)), ...(sequence && { sequence }) }
  if (/\.(up|down)\.sql$/.test(newest.file)) return { format: 'golang-migrate', ...(sequence && { sequence }) }
  if (newest.folder) {
    let inside: string[] = []
    try {
      inside = readdirSync(join(dir, newest.file))
    } catch {
      // A file named like a folder migration: the default format.
      return { format: 'dbmate', ...(sequence && { sequence }) }
    }
    const format = inside.includes('migration.sql') && !inside.includes('up.sql') ? 'prisma' : 'folder'
    const dashed = /^\d{4}-\d\d-\d\d-\d{6}(-\d{4})?_/.exec(newest.file)
    return {
      format,
      ...(sequence && { sequence }),
      ...(dashed && { dashed: dashed[1] ? 'subversion' : 'timestamp' }),
    }
  }
  let text: string | undefined
  try {
    text = readFileSync(join(dir, newest.file), 'utf8')
  } catch {
    // Unreadable: the default format; reading the set reports the file itself.
  }
  const format = text === undefined ? 'dbmate' : writtenFormat(text)
  // In an Atlas directory files without markers are Atlas's, and dbops' own files may join them (as before).
  return {
    format: format === 'plain' && names.includes('atlas.sum') ? 'dbmate' : format,
    ...(sequence && { sequence }),
  }
}

/** The versions of the migrations in `dir`, by name only: other `migrate new` runs may add files meanwhile. */
function takenVersions(dir: string): Set<string> {
  return new Set(
    readdirSync(dir).flatMap((other) => {
      const found = versionOfEntry(other)
      return found === undefined ? [] : [canonicalVersion(found.version)]
    }),
  )
}

/** The time a `YYYYMMDDHHMMSS` version stands for. */
function timeOf(version: string): number {
  const [, y, mo, d, h, mi, se] = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)$/.exec(version)!
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se))
}

function timestampVersion(time: number): string {
  return new Date(time).toISOString().replace(/[-:T]/g, '').slice(0, 14)
}
