import { rmSync } from 'node:fs'
import type { Target } from '../targets/target.js'
import { DbopsError, UsageError } from '../errors.js'
import {
  hasArtifact,
  listStoredBackups,
  manifestName,
  readStoredManifest,
  writeStoredManifest,
  type BackupManifest,
  type VerifyFailure,
} from './manifest.js'
import { corrupt, openArtifact } from './artifact.js'
import { identitiesFor, isEncrypted } from './artifact-transform.js'
import { IDENTITY_ENV } from './encryption.js'
import type { BackupDestination } from './destinations.js'
import { targetBackups } from './ownership.js'
import { temporaryDir } from '../temporary-dirs.js'

export interface VerifyBackupOptions {
  /** A backup id; default (or `latest: true`) the newest backup. */
  id?: string
  latest?: boolean
  /** Restore into a scratch database and compare row counts and the ledger version with the manifest. */
  restore?: boolean
  jobs?: number
  /**
   * age identities (`AGE-SECRET-KEY-1...`) for an encrypted backup; default: the DBOPS_AGE_IDENTITY variable. Without
   * one, an encrypted backup is checked against its sha256 only.
   */
  identities?: readonly string[]
  /** Wait for a prune or create holding the backup folder instead of failing with E_BACKUP_LOCKED. */
  wait?: boolean
  /** The destination to verify in (a name from backup.destinations); default the first. */
  destination?: string
  signal?: AbortSignal
  onEvent?: (event: { type: 'step'; target: string; message: string }) => void
}

export interface VerifyBackupResult {
  target: string
  /** The database the backup belongs to (redacted). */
  database: string
  id: string
  verifiedBy: 'sha256' | 'checksum' | 'restore'
  verifiedAt: string
  /** What was checked, one line each. */
  checks: string[]
  tables: number
  rows: number
  /** Whether the verdict was written into the manifest (false on read-only storage: see `warnings`). */
  recorded: boolean
  warnings: string[]
}

/** Errors that say the backup itself is bad (as opposed to the verification not getting to run): recorded. */
const BACKUP_FAULTS = new Set(['E_BACKUP_CORRUPT', 'E_VERIFY_MISMATCH', 'E_PG_TOOL_FAILED'])

/** The backup `id` of the target's database, or its newest one; a clear error when there is none. */
export async function findBackup(target: Target, id: string | undefined): Promise<BackupManifest> {
  return (await locate(target, id)).manifest
}

async function locate(
  target: Target,
  id: string | undefined,
  only?: string,
): Promise<{ manifest: BackupManifest; destination: BackupDestination }> {
  const { backups, identity, destinationOf, dir, destination } = await targetBackups(target, {
    ...(only !== undefined && { destination: only }),
  })
  if (id === undefined || id === 'latest') {
    const newest = backups.at(-1)
    if (!newest)
      throw new DbopsError('E_BACKUP_NOT_FOUND', `${target.name} (${identity.display}) has no backups in ${dir}`, {
        hint: 'create one with "dbops backup create"',
      })
    return { manifest: newest, destination: destinationOf(newest) }
  }
  const found = backups.find((manifest) => manifest.id === id)
  if (!found) {
    const other = (await listStoredBackups(destination.storage)).find((manifest) => manifest.id === id)
    throw new DbopsError(
      'E_BACKUP_NOT_FOUND',
      `there is no backup "${id}" of ${identity.display} in ${dir}${other?.database ? ` (that one was taken from ${other.database.display})` : ''}`,
      {
        hint: 'list them with "dbops backup list"',
      },
    )
  }
  return { manifest: found, destination: destinationOf(found) }
}

/**
 * Proves a backup: its sha256 matches the manifest and the engine reads all of it (pg_restore over every entry,
 * counting the rows of each table; SQLite's integrity_check); with `restore`, a real restore into a scratch database
 * (dropped afterwards, whatever happens) whose per-table row counts and ledger version must equal the manifest's.
 * Runs under the folder's shared lock, so a prune cannot delete the backup while it is read. The verdict is recorded
 * in the manifest either way (verifiedAt, or verifyFailure with what failed); on storage that cannot be written the
 * verdict stands and `warnings` says it was not recorded.
 */
export async function verifyBackup(target: Target, options: VerifyBackupOptions = {}): Promise<VerifyBackupResult> {
  if (options.id !== undefined && options.latest) throw new UsageError('give a backup id or --latest, not both')
  const { manifest: chosen, destination } = await locate(target, options.id, options.destination)
  const dir = destination.location
  const step = (message: string) => options.onEvent?.({ type: 'step', target: target.name, message })
  const engine = await target.backend.backupEngine()
  if (chosen.engine !== target.backend.engine) {
    throw new UsageError(
      `backup ${chosen.id} is a ${chosen.engine} backup, but ${target.name} is ${target.backend.engine}`,
    )
  }
  // --restore needs the identity: refused before anything is read. Without --restore, none means a sha256 check.
  const identities = await identitiesFor(chosen, options.identities, options.restore === true)
  const warnings: string[] = []
  const lock = {
    command: 'dbops backup verify',
    shared: true,
    wait: options.wait === true,
    ...(options.signal && { signal: options.signal }),
    onUnlocked: (reason: string) => warnings.push(reason),
  }
  return destination.storage.withLock(lock, async () => {
    // Read again under the lock: a prune may have removed it before the lock was taken.
    const manifest = await readStoredManifest(destination.storage, chosen.id)
    if (!manifest || !hasArtifact(await destination.storage.list(), manifest.artifact)) {
      throw new DbopsError(
        'E_BACKUP_NOT_FOUND',
        `backup ${chosen.id} was removed from ${dir} before it could be verified`,
        { hint: 'verify another backup (see "dbops backup list")' },
      )
    }
    const record = async (changes: Partial<BackupManifest>): Promise<boolean> => {
      try {
        const current = await readStoredManifest(destination.storage, manifest.id)
        if (current) await writeStoredManifest(destination.storage, { ...current, ...changes })
        return true
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message
        warnings.push(
          `the result could not be recorded in ${dir}/${manifestName(manifest.id)} (${code}); the verdict above stands`,
        )
        return false
      }
    }
    const by = options.restore ? 'restore' : 'checksum'
    try {
      const outcome =
        isEncrypted(manifest) && identities.length === 0
          ? await verifyStoredOnly(manifest, destination, step, warnings)
          : await verify(target, engine, manifest, destination, { ...options, identities }, step)
      const verifiedAt = new Date().toISOString()
      const recorded = await record({
        verifiedAt,
        verifiedBy: outcome.verifiedBy,
        verifyFailure: null,
        ...(manifest.rowCounts === null && outcome.rowCounts && { rowCounts: outcome.rowCounts }),
      })
      const counts = Object.values(outcome.rowCounts ?? {})
      return {
        target: target.name,
        database: manifest.database?.display ?? manifest.url,
        id: manifest.id,
        verifiedBy: outcome.verifiedBy,
        verifiedAt,
        checks: outcome.checks,
        tables: counts.length,
        rows: counts.reduce((sum, n) => sum + n, 0),
        recorded,
        warnings,
      }
    } catch (error) {
      if (error instanceof DbopsError && BACKUP_FAULTS.has(error.code)) {
        const failure: VerifyFailure = { at: new Date().toISOString(), by, code: error.code, message: error.message }
        await record({ verifyFailure: failure })
      }
      throw error
    }
  })
}

type VerifyOutcome = {
  verifiedBy: 'sha256' | 'checksum' | 'restore'
  checks: string[]
  rowCounts: Record<string, number> | null
}

/**
 * An encrypted backup without the identity (the backup host holds only public keys): the stored bytes are read and
 * hashed against the manifest, which proves them intact; what they decrypt to is not checked, and `warnings` says so.
 */
async function verifyStoredOnly(
  manifest: BackupManifest,
  destination: BackupDestination,
  step: (message: string) => void,
  warnings: string[],
): Promise<VerifyOutcome> {
  step(`checking the sha256 of ${manifest.artifact} (encrypted; no identity given)`)
  let scratchDir: string | undefined
  try {
    // Opened as stored bytes: nothing to decode, so no key is needed.
    const opened = await openArtifact(
      destination,
      { ...manifest, compression: null, encryption: null },
      {
        needsFile: false,
        scratchDir: () => (scratchDir ??= temporaryDir('verify-artifact')),
        identities: [],
      },
    )
    // A stream errors (E_BACKUP_CORRUPT) at its end when its sha256 differs; a file is hashed here.
    if ('stream' in opened.input) for await (const _chunk of opened.input.stream);
    const sha256 = await opened.sha256()
    if (sha256 !== manifest.sha256) throw corrupt(manifest, sha256)
    warnings.push(
      `backup ${manifest.id} is encrypted and no identity was given, so it was not decrypted: decryption and restore were not checked (pass --identity <file> or set ${IDENTITY_ENV})`,
    )
    return {
      verifiedBy: 'sha256',
      checks: [`sha256 ${sha256.slice(0, 12)}… of the stored (encrypted) bytes matches`],
      rowCounts: manifest.rowCounts,
    }
  } finally {
    if (scratchDir) rmSync(scratchDir, { recursive: true, force: true })
  }
}

async function verify(
  target: Target,
  engine: Awaited<ReturnType<Target['backend']['backupEngine']>>,
  manifest: BackupManifest,
  destination: BackupDestination,
  options: VerifyBackupOptions,
  step: (message: string) => void,
): Promise<VerifyOutcome> {
  const checks: string[] = []
  const jobs = options.jobs ?? target.backup.jobs ?? 1
  // A bucket's artifact streams to the engine where it reads a stream; else (SQLite, a directory dump, pg_restore -j)
  // it is downloaded once into a private temporary folder, used for the read-back and the restore alike.
  const needsFile =
    engine.needsFile(manifest.format, 'check', jobs) ||
    (options.restore === true && engine.needsFile(manifest.format, 'restore', jobs))
  let scratchDir: string | undefined
  const scratch = () => (scratchDir ??= temporaryDir('verify-artifact'))
  try {
    const open = async () => {
      if (destination.storage.kind !== 'folder') step(`reading ${manifest.artifact} from ${destination.location}`)
      return openArtifact(destination, manifest, {
        needsFile,
        scratchDir: scratch,
        identities: options.identities ?? [],
      })
    }
    let opened = await open()
    if (needsFile && destination.storage.kind !== 'folder')
      checks.push(`downloaded to a temporary file first (${manifest.format} needs a seekable file here)`)
    step(`checking the sha256 of ${manifest.artifact}`)
    // A folder's file or a download is hashed before it is read; a stream is hashed while it is read (below).
    const streamed = 'stream' in opened.input
    if (!streamed) {
      const sha256 = await opened.sha256()
      if (sha256 !== manifest.sha256) throw corrupt(manifest, sha256)
    }
    step('reading the whole backup')
    let readable: { summary: string; rowCounts?: Record<string, number> }
    try {
      readable = await engine.checkReadable(opened.input, manifest.format, manifest.tools)
    } catch (error) {
      if (error instanceof DbopsError && error.code === 'E_BACKUP_CORRUPT') throw error
      throw new DbopsError(
        'E_BACKUP_CORRUPT',
        `backup ${manifest.id} cannot be read back: ${(error as Error).message}`,
        {
          hint: 'take a new backup',
          cause: error,
        },
      )
    }
    const sha256 = await opened.sha256()
    checks.push(`sha256 ${sha256.slice(0, 12)}… matches`)
    checks.push(readable.summary)
    const archiveProblems =
      manifest.rowCounts && readable.rowCounts
        ? compareCounts(manifest.rowCounts, readable.rowCounts, 'in the archive')
        : []
    const rowCounts = manifest.rowCounts ?? readable.rowCounts ?? null
    if (!options.restore) {
      if (archiveProblems.length > 0)
        throw mismatch(manifest, 'its archive differs from what was backed up', archiveProblems)
      return { verifiedBy: 'checksum', checks, rowCounts }
    }
    // A stream is read once: the restore reads the object again.
    if (streamed) opened = await open()
    const database = await engine.scratch(target)
    try {
      step(`restoring into ${database.description}`)
      const outcome = await database.restore({
        artifact: opened.input,
        format: manifest.format,
        tools: manifest.tools,
        ...(manifest.extra && { extra: manifest.extra }),
        jobs,
        noOwner: true,
        ...(options.signal && { signal: options.signal }),
      })
      const facts = await database.facts()
      const problems = [
        ...((manifest.migrationVersion ?? null) !== facts.migrationVersion
          ? [
              `migration version ${facts.migrationVersion ?? 'none'} restored, ${manifest.migrationVersion ?? 'none'} backed up`,
            ]
          : []),
        ...compareCounts(rowCounts ?? {}, facts.rowCounts, 'restored'),
        ...archiveProblems,
      ]
      if (problems.length > 0) throw mismatch(manifest, 'it restores, but differs from what was backed up', problems)
      checks.push(
        `restored with ${outcome.method}: ${Object.keys(facts.rowCounts).length} table(s), row counts and migration version ${facts.migrationVersion ?? '(no ledger)'} match`,
      )
      return { verifiedBy: 'restore', checks, rowCounts }
    } finally {
      await database.drop().catch(() => {})
    }
  } finally {
    if (scratchDir) rmSync(scratchDir, { recursive: true, force: true })
  }
}

function mismatch(manifest: BackupManifest, what: string, problems: string[]): DbopsError {
  return new DbopsError(
    'E_VERIFY_MISMATCH',
    `backup ${manifest.id}: ${what}: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`,
    {
      hint: 'do not rely on this backup; take a new one and report the difference',
      details: { problems },
    },
  )
}

function compareCounts(expected: Record<string, number>, found: Record<string, number>, where: string): string[] {
  const problems: string[] = []
  for (const [table, count] of Object.entries(expected)) {
    const actual = found[table]
    if (actual === undefined) problems.push(`table ${table} is missing ${where}`)
    else if (actual !== count) problems.push(`${table} has ${actual} rows ${where}, ${count} backed up`)
  }
  for (const table of Object.keys(found))
    if (!(table in expected)) problems.push(`table ${table} ${where} was not in the backup`)
  return problems
}
