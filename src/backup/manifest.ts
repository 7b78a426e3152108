import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Engine } from '../backends/backend.js'
import type { BackupFormat, DatabaseIdentity } from './backup-engine.js'
import { writeFileAtomic } from '../output/atomic-write.js'
import type { CompressionRecord, EncryptionRecord } from './artifact-transform.js'
import type { Storage, StoredObject } from '../storage/storage.js'
import { processExists } from '../processes.js'

/**
 * One complete backup: `<backup.dir>/<id>.manifest.json`, written last and atomically, next to its artifact. A file
 * or folder without a manifest is not a backup (an interrupted run): listing ignores it, the next `create` removes it.
 * Health checks read these files too, so the fields below are a contract.
 */
export interface BackupManifest {
  manifestVersion: 1
  /** `20261123T014500Z-app` (UTC start time and target; `-2`, `-3` when the same second repeats). Sorts by time. */
  id: string
  /** The target's name in the config. */
  target: string
  /** The database URL, password redacted. */
  url: string
  /**
   * The database the backup came from (see DatabaseIdentity). Absent in backups made before dbops recorded it: those
   * are taken to belong to the target whose folder they are in.
   */
  database?: DatabaseIdentity
  engine: Engine
  format: BackupFormat
  label: string | null
  startedAt: string
  finishedAt: string
  durationMs: number
  /** Bytes of the artifact (all files of a directory-format dump). */
  sizeBytes: number
  /** Hex sha256 of the artifact file; for a directory, of the sorted `<sha256>  <name>` lines of its files. */
  sha256: string
  /** File or folder name, relative to the backup folder. */
  artifact: string
  serverVersion: string
  /** Versions of the programs involved: pg_dump, sqlite, dbops. */
  tools: Record<string, string>
  migrationVersion: string | null
  /**
   * Exact rows per table. PostgreSQL backups leave them null at create (counting beside pg_dump would slow it down):
   * `backup verify` counts them from the archive and records them.
   */
  rowCounts: Record<string, number> | null
  /** When `backup verify` last proved this backup (null: never). */
  verifiedAt: string | null
  /**
   * How it was proved: `sha256` (the stored bytes of an encrypted backup, verified without its identity: not
   * decrypted), `checksum` (sha256 and a full read) or `restore` (restored and compared).
   */
  verifiedBy: 'sha256' | 'checksum' | 'restore' | null
  /**
   * Set when the last `backup verify` failed (cleared by a later success): such a backup does not count as fresh or
   * verified, and restore refuses it without --force.
   */
  verifyFailure?: VerifyFailure | null
  /** Engine facts a restore needs. */
  extra?: Record<string, unknown>
  /** Set when dbops compressed the artifact (plain dumps, SQLite copies): algorithm, level, raw bytes and ratio. */
  compression?: CompressionRecord | null
  /** Set when the stored artifact is age-encrypted: the fingerprints of its recipients' public keys. */
  encryption?: EncryptionRecord | null
}

export interface VerifyFailure {
  at: string
  by: 'checksum' | 'restore'
  /** The error code (E_BACKUP_CORRUPT, E_VERIFY_MISMATCH, ...) and its message. */
  code: string
  message: string
}

/** Whether the last verification of the backup failed. */
export function verifyFailed(manifest: BackupManifest): boolean {
  return manifest.verifyFailure !== undefined && manifest.verifyFailure !== null
}

/** Proven by its last verification. */
export function isVerified(manifest: BackupManifest): boolean {
  return manifest.verifiedAt !== null && !verifyFailed(manifest)
}

export const MANIFEST_SUFFIX = '.manifest.json'
/** Temporary artifacts and manifests carry this prefix until they are complete. */
export const TEMP_PREFIX = '.tmp-'
const ID = /^\d{8}T\d{6}Z-[A-Za-z0-9_.-]+$/

export function manifestPath(dir: string, id: string): string {
  return join(dir, `${id}${MANIFEST_SUFFIX}`)
}

/** A new backup id for `target` started at `started`; `taken` says whether an id is in use already. */
export function newBackupId(target: string, started: Date, taken: (id: string) => boolean): string {
  const stamp = started
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '')
  const base = `${stamp}-${target}`
  for (let n = 1; ; n++) {
    const id = n === 1 ? base : `${base}-${n}`
    if (!taken(id)) return id
  }
}

export function writeManifest(dir: string, manifest: BackupManifest): void {
  writeFileAtomic(manifestPath(dir, manifest.id), JSON.stringify(manifest, null, 2) + '\n', 0o600)
}

/** Reads one manifest; undefined when it is missing or not a dbops manifest (never throws on a bad file). */
export function readManifest(dir: string, id: string): BackupManifest | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(manifestPath(dir, id), 'utf8'))
  } catch {
    return undefined
  }
  return isManifest(parsed) ? parsed : undefined
}

function isManifest(value: unknown): value is BackupManifest {
  const m = value as Partial<BackupManifest> | null
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof m.id === 'string' &&
    typeof m.target === 'string' &&
    typeof m.engine === 'string' &&
    typeof m.format === 'string' &&
    typeof m.startedAt === 'string' &&
    typeof m.finishedAt === 'string' &&
    typeof m.sizeBytes === 'number' &&
    typeof m.sha256 === 'string' &&
    typeof m.artifact === 'string' &&
    !m.artifact.includes('/') &&
    !m.artifact.startsWith('.')
  )
}

/**
 * The complete backups in a target's backup folder (or the folder itself), oldest first. A backup counts when its
 * manifest parses and its artifact exists; a missing folder is an empty list. A folder that cannot be read (a file
 * in its place, no permission) is an error, not "no backups".
 */
export function listBackups(targetOrDir: string | { backup: { dir: string } }): BackupManifest[] {
  const dir = typeof targetOrDir === 'string' ? targetOrDir : targetOrDir.backup.dir
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
  const manifests: BackupManifest[] = []
  for (const name of names) {
    if (!name.endsWith(MANIFEST_SUFFIX) || name.startsWith('.')) continue
    const id = name.slice(0, -MANIFEST_SUFFIX.length)
    const manifest = readManifest(dir, id)
    if (manifest && manifest.id === id && existsSync(join(dir, manifest.artifact))) manifests.push(manifest)
  }
  return manifests.sort(byStart)
}

export function byStart(a: BackupManifest, b: BackupManifest): number {
  return a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

/**
 * Names in the folder left by runs that never finished: temporary artifacts and manifests, and artifacts whose
 * manifest was never written. Only names dbops itself would create are considered.
 */
export function incompleteEntries(dir: string): string[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const complete = new Set(listBackups(dir).map((manifest) => manifest.artifact))
  const manifests = new Set(names.filter((name) => name.endsWith(MANIFEST_SUFFIX)))
  return names.filter((name) => {
    if (name.startsWith(TEMP_PREFIX)) return true
    // A lock being taken (.lock.<pid>.tmp) or a manifest being rewritten by a verify running now
    // (.<id>.manifest.json.<pid>.<time>.tmp) belongs to a live process: only those of dead ones are leftovers.
    if (name.startsWith('.lock.') && name.endsWith('.tmp')) return !processExists(Number(name.split('.')[2]))
    if (name.startsWith('.') && name.includes(MANIFEST_SUFFIX + '.') && name.endsWith('.tmp'))
      return !processExists(Number(name.split('.').at(-3)))
    const id = /^(\d{8}T\d{6}Z-[A-Za-z0-9_.-]+?)\.(dump|dir|sql|sqlite)(\.(zst|gz|age))*$/.exec(name)?.[1]
    return id !== undefined && ID.test(id) && !complete.has(name) && !manifests.has(`${id}${MANIFEST_SUFFIX}`)
  })
}

/** Size of a file, or of every file under a folder. */
export function sizeOf(path: string): number {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.size
  let total = 0
  for (const name of readdirSync(path)) total += sizeOf(join(path, name))
  return total
}

/** `<id>.manifest.json` in a storage (folder or bucket). */
export function manifestName(id: string): string {
  return `${id}${MANIFEST_SUFFIX}`
}

export async function writeStoredManifest(storage: Storage, manifest: BackupManifest): Promise<void> {
  await storage.writeText(manifestName(manifest.id), JSON.stringify(manifest, null, 2) + '\n')
}

/** One manifest in a storage; undefined when it is missing or not a dbops manifest. */
export async function readStoredManifest(storage: Storage, id: string): Promise<BackupManifest | undefined> {
  const text = await storage.readText(manifestName(id))
  if (text === undefined) return undefined
  try {
    const parsed: unknown = JSON.parse(text)
    return isManifest(parsed) && parsed.id === id ? parsed : undefined
  } catch {
    return undefined
  }
}

/** Whether `artifact` is among the stored objects: a file, or (directory format) a prefix with files under it. */
export function hasArtifact(objects: readonly StoredObject[] | ReadonlySet<string>, artifact: string): boolean {
  const names = objects instanceof Set ? objects : new Set((objects as StoredObject[]).map((object) => object.name))
  if (names.has(artifact)) return true
  for (const name of names) if (name.startsWith(`${artifact}/`)) return true
  return false
}

/**
 * The complete backups in a storage, oldest first: a manifest that parses and its artifact beside it. An artifact
 * without a manifest (an interrupted upload) is not a backup and is never listed.
 */
export async function listStoredBackups(storage: Storage, objects?: StoredObject[]): Promise<BackupManifest[]> {
  const listed = objects ?? (await storage.list())
  const names = new Set(listed.map((object) => object.name))
  const ids = listed
    .map((object) => object.name)
    .filter((name) => !name.includes('/') && name.endsWith(MANIFEST_SUFFIX))
    .map((name) => name.slice(0, -MANIFEST_SUFFIX.length))
  const manifests = await Promise.all(ids.map((id) => readStoredManifest(storage, id)))
  return manifests
    .filter((manifest): manifest is BackupManifest => manifest !== undefined && hasArtifact(names, manifest.artifact))
    .sort(byStart)
}

/** Stored objects of artifacts whose manifest was never written (runs that died before publishing). */
export function orphanObjects(objects: readonly StoredObject[]): string[] {
  const names = new Set(objects.map((object) => object.name))
  return objects
    .map((object) => object.name)
    .filter((name) => {
      const top = name.split('/')[0]!
      const id = /^(\d{8}T\d{6}Z-[A-Za-z0-9_.-]+?)\.(dump|dir|sql|sqlite)(\.[a-z0-9]+)*$/.exec(top)?.[1]
      return id !== undefined && ID.test(id) && !names.has(manifestName(id))
    })
}
