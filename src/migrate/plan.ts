import { DbopsError, UsageError } from '../errors.js'
import { canonicalVersion, compareVersions, noDownError, type MigrationFile } from './files.js'
import { ownerState, type LedgerRow } from './ledger.js'
import { formatTimestamp } from '../output/format.js'

export type MigrationState = 'pending' | 'applied' | 'baselined' | 'running' | 'failed' | 'drifted' | 'missing'

/** One line of `dbops migrate status`: a migration file, a ledger row, or both. */
export interface MigrationStatusEntry {
  version: string
  name: string
  state: MigrationState
  file: string | null
  /** The checksum of the file now; null when the file is missing. */
  checksum: string | null
  appliedChecksum: string | null
  appliedAt: string | null
  executionMs: number | null
  appliedBy: string | null
  /** A pending migration older than the newest applied one. */
  outOfOrder: boolean
  /** Why a failed or running migration stopped: "statement 3 of 5 (file:line:col): message". */
  error: string | null
  /** The statement that failed (transaction:false migrations), as recorded in the ledger. */
  failedStatement: string | null
  hasDown: boolean
}

export function migrationStates(files: readonly MigrationFile[], rows: readonly LedgerRow[]): MigrationStatusEntry[] {
  const byVersion = new Map(rows.map((row) => [canonicalVersion(row.version), row]))
  const newestApplied = rows.reduce<string | undefined>(
    (newest, row) => (newest === undefined || compareVersions(row.version, newest) > 0 ? row.version : newest),
    undefined,
  )
  const entries: MigrationStatusEntry[] = files.map((file) => {
    const row = byVersion.get(canonicalVersion(file.version))
    byVersion.delete(canonicalVersion(file.version))
    const state: MigrationState = !row
      ? 'pending'
      : row.status === 'applied' && row.checksum !== file.checksum
        ? 'drifted'
        : row.status
    return {
      version: file.version,
      name: file.name,
      state,
      file: file.file,
      checksum: file.checksum,
      appliedChecksum: row?.checksum ?? null,
      appliedAt: row?.appliedAt ?? null,
      executionMs: row?.executionMs ?? null,
      appliedBy: row?.appliedBy ?? null,
      outOfOrder: !row && newestApplied !== undefined && compareVersions(file.version, newestApplied) < 0,
      error: row ? describeFailure(row) : null,
      failedStatement: row?.errorStatement ?? null,
      hasDown: file.down !== undefined,
    }
  })
  for (const row of byVersion.values()) {
    entries.push({
      version: row.version,
      name: row.name,
      state: 'missing',
      file: null,
      checksum: null,
      appliedChecksum: row.checksum,
      appliedAt: row.appliedAt,
      executionMs: row.executionMs,
      appliedBy: row.appliedBy,
      outOfOrder: false,
      error: describeFailure(row),
      failedStatement: row.errorStatement,
      hasDown: false,
    })
  }
  return entries.sort((a, b) => compareVersions(a.version, b.version))
}

function describeFailure(row: LedgerRow): string | null {
  if (row.status !== 'failed' && row.status !== 'running') return null
  const progress =
    row.statementsTotal !== null ? `after ${row.statementsDone ?? 0} of ${row.statementsTotal} statements` : 'part way'
  if (row.status === 'running') {
    const owner = ownerState(row)
    if (owner === 'gone') return `was interrupted ${progress} (its process ${row.owner} is gone)`
    if (owner === 'alive') return `is being applied by ${row.owner} since ${formatTimestamp(row.appliedAt)}`
    return `started by ${row.owner ?? 'unknown'} at ${formatTimestamp(row.appliedAt)}, stopped ${progress} or still running`
  }
  return `failed ${progress}${row.errorLocation ? ` at ${row.errorLocation}` : ''}: ${row.error ?? 'unknown error'}`
}

/** `steps` (--steps, or the library's option) is a whole number of at least 1 when given: 0, -1, 1.5 and NaN are refused. */
export function checkSteps(steps: number | undefined): void {
  if (steps !== undefined && !(Number.isInteger(steps) && steps >= 1)) {
    // JSON.stringify(NaN) is "null": String() names it.
    throw new UsageError(
      `--steps takes a whole number of at least 1, not ${typeof steps === 'number' ? String(steps) : JSON.stringify(steps)}`,
    )
  }
}

export interface UpSelection {
  to?: string
  steps?: number
  allowOutOfOrder: boolean
}

/**
 * The migrations `up` will apply, in order. Everything that would make the run unsafe is refused here, before
 * anything runs: failed or interrupted migrations, files edited after they were applied, out-of-order versions.
 */
export function planUp(
  files: readonly MigrationFile[],
  entries: readonly MigrationStatusEntry[],
  selection: UpSelection,
): MigrationFile[] {
  refuseBrokenState(entries)
  const drifted = entries.filter((entry) => entry.state === 'drifted')
  if (drifted.length > 0) {
    const first = drifted[0]!
    throw new DbopsError(
      'E_CHECKSUM_MISMATCH',
      `${drifted.map((entry) => entry.file).join(', ')} ${drifted.length === 1 ? 'was' : 'were'} changed after being applied (checksum differs)`,
      {
        hint: `restore the file, or run "dbops migrate restamp ${first.version}" if the change is intended and already reflected in the database`,
        details: { versions: drifted.map((entry) => entry.version) },
      },
    )
  }
  if (selection.to !== undefined) requireKnownVersion(files, selection.to)
  const pendingVersions = new Set(entries.filter((entry) => entry.state === 'pending').map((entry) => entry.version))
  let plan = files.filter((file) => pendingVersions.has(file.version))
  if (selection.to !== undefined) plan = plan.filter((file) => compareVersions(file.version, selection.to!) <= 0)
  if (selection.steps !== undefined) plan = plan.slice(0, selection.steps)
  const outOfOrder = entries.filter((entry) => entry.outOfOrder && plan.some((file) => file.version === entry.version))
  if (outOfOrder.length > 0 && !selection.allowOutOfOrder) {
    throw new DbopsError(
      'E_OUT_OF_ORDER',
      `${outOfOrder.map((entry) => entry.file).join(', ')} ${outOfOrder.length === 1 ? 'is' : 'are'} older than the newest applied migration`,
      {
        hint: 'usually a branch merged late: apply anyway with --allow-out-of-order (or migrations.allowOutOfOrder in the config), or give the file a newer version',
        details: { versions: outOfOrder.map((entry) => entry.version) },
      },
    )
  }
  return plan
}

export interface DownSelection {
  to?: string
  steps?: number
}

/** `steps` and `to` both say how far to roll back: given both, neither may silently win. */
export function checkDownSelection(selection: DownSelection): void {
  if (selection.steps !== undefined && selection.to !== undefined) {
    throw new UsageError('--steps and --to cannot be used together', 'pick one (library: steps or to)')
  }
  checkSteps(selection.steps)
}

/** The migrations `down` will roll back: most recently applied first. Each must have its file and a down section. */
export function planDown(
  files: readonly MigrationFile[],
  rows: readonly LedgerRow[],
  entries: readonly MigrationStatusEntry[],
  selection: DownSelection,
): MigrationFile[] {
  checkDownSelection(selection)
  refuseBrokenState(entries)
  const applied = rows
    .filter((row) => row.status === 'applied' || row.status === 'baselined')
    .sort((a, b) => b.appliedSeq - a.appliedSeq)
  let chosen: LedgerRow[]
  const to = selection.to
  if (to !== undefined && canonicalVersion(to) === '0' && !files.some((file) => file.version === to)) {
    // "--to 0" is "all of them", version 0 included (sets numbered from 0000_init). Spelling a version-0 file's
    // version exactly ("--to 00000000000000") keeps that migration and rolls back what came after it.
    chosen = applied
  } else if (selection.to !== undefined) {
    requireKnownVersion(files, selection.to, rows)
    chosen = applied.filter((row) => compareVersions(row.version, selection.to!) > 0)
  } else {
    chosen = applied.slice(0, selection.steps ?? 1)
  }
  const byVersion = new Map(files.map((file) => [canonicalVersion(file.version), file]))
  return chosen.map((row) => {
    const file = byVersion.get(canonicalVersion(row.version))
    if (!file) {
      throw new DbopsError(
        'E_MISSING_FILE',
        `cannot roll back ${row.version}_${row.name}: its migration file is missing`,
        {
          hint: 'restore the file from version control',
        },
      )
    }
    if (!file.down) throw noDownError(file)
    return file
  })
}

function refuseBrokenState(entries: readonly MigrationStatusEntry[]): void {
  const broken = entries.find((entry) => entry.state === 'failed' || entry.state === 'running')
  if (!broken) return
  const id = `${broken.version}_${broken.name}`
  throw new DbopsError('E_MIGRATION_FAILED', `migration ${id} ${broken.error}`, {
    hint: `it ran without a transaction, so part of it may be applied: check the database, finish or undo it by hand, then run "dbops migrate resolve ${broken.version} --applied" or "--rolled-back"`,
    details: { version: broken.version },
  })
}

function requireKnownVersion(files: readonly MigrationFile[], version: string, rows: readonly LedgerRow[] = []): void {
  if (!/^\d+$/.test(version))
    throw new UsageError(`--to takes a migration version (the leading digits of a file name), not "${version}"`)
  const known =
    files.some((file) => compareVersions(file.version, version) === 0) ||
    rows.some((row) => compareVersions(row.version, version) === 0)
  if (!known)
    throw new UsageError(`there is no migration with version ${version}`, 'run "dbops migrate status" to list versions')
}
