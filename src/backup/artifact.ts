import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream, mkdirSync, readdirSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { PassThrough, Transform, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Target } from '../targets/target.js'
import { DbopsError } from '../errors.js'
import type { PutResult } from '../storage/storage.js'
import { hashingCounter } from '../storage/hashing-counter.js'
import type { BackupDestination } from './destinations.js'
import type { BackupManifest } from './manifest.js'
import { sealArtifact, unsealArtifact, type Sealing } from './artifact-transform.js'

/** How the stored bytes relate to what the engine wrote, as recorded in the manifest (`compression`, `encryption`). */
export type ArtifactEncoding = Partial<BackupManifest>

/** What `encodeArtifact` needs to know: the sealing chosen once per backup (chooseSealing). */
export interface EncodeContext {
  target: Target
  file: string
  sealing: Sealing
}

/**
 * SEAM (a), create: the engine's artifact bytes (`plain`, one file of it) → the bytes every destination stores:
 * compressed, then encrypted, as `context.sealing` says (artifact-transform.ts). Called once per file, before the
 * bytes are fanned out to the destinations, so each receives the same bytes (and the same sha256). `manifestFields`
 * is read after the stream ended and merged into the manifest.
 */
export function encodeArtifact(
  plain: Readable,
  context: EncodeContext,
): { stored: Readable; manifestFields: () => ArtifactEncoding } {
  const sealed = sealArtifact(plain, context.sealing)
  return {
    stored: sealed.stream,
    manifestFields: () => {
      const { compression, encryption } = sealed.records()
      return { ...(compression && { compression }), ...(encryption && { encryption }) }
    },
  }
}

/**
 * Whether `encodeArtifact` stores the engine's bytes unchanged (no compression, no encryption). When it does, a file
 * written in the one folder destination is renamed into place instead of copied.
 */
export function encodesAsIs(sealing: Sealing): boolean {
  return sealing.compression === 'none' && sealing.recipients.length === 0
}

/**
 * SEAM (b), restore and verify: the stored object's bytes → what the engine restores or reads back (decrypted, then
 * decompressed). Resolves only once an encrypted object's header has been read with `identities`: a missing or wrong
 * identity fails here, before anything is restored. `storedAsIs` says when there is nothing to undo (a folder's
 * file can then go to the engine as it is, without a copy).
 */
export async function decodeArtifact(
  stored: Readable,
  manifest: BackupManifest,
  identities: readonly string[],
): Promise<Readable> {
  return unsealArtifact(stored, manifest, identities)
}

export function storedAsIs(manifest: BackupManifest): boolean {
  return !manifest.compression && !manifest.encryption
}

/** How one destination fared with one file (or a whole backup). */
export type Delivery = { ok: true; result: PutResult } | { ok: false; error: unknown }

/**
 * Streams `source` into `name` in every destination at once (the slowest sets the pace; nothing is buffered beyond
 * a part per destination). A destination that fails drops out and the others go on; when all have failed the source
 * is stopped. A source error (pg_dump failing) fails every destination.
 */
export async function deliverStream(
  destinations: readonly BackupDestination[],
  name: string,
  source: Readable,
  options: { signal?: AbortSignal } = {},
): Promise<Delivery[]> {
  if (destinations.length === 1) {
    // One destination reads the source itself: no branch, one stream hop less for every chunk.
    return [
      await destinations[0]!.storage.put(name, source, options.signal ? { signal: options.signal } : {}).then(
        (result): Delivery => ({ ok: true, result }),
        (error: unknown): Delivery => {
          source.destroy()
          return { ok: false, error }
        },
      ),
    ]
  }
  let failed = 0
  const branches = destinations.map(() => new PassThrough({ highWaterMark: 1 << 20 }))
  source.on('error', (error) => {
    for (const branch of branches) branch.destroy(error)
  })
  const deliveries = destinations.map((destination, index) =>
    destination.storage.put(name, branches[index]!, options.signal ? { signal: options.signal } : {}).then(
      (result): Delivery => ({ ok: true, result }),
      (error: unknown): Delivery => {
        const branch = branches[index]!
        source.unpipe(branch)
        branch.resume()
        if (++failed === destinations.length) source.destroy()
        return { ok: false, error }
      },
    ),
  )
  for (const branch of branches) source.pipe(branch)
  return Promise.all(deliveries)
}

/**
 * Delivers a local artifact (a file, or a pg_dump directory file by file) through `encodeArtifact` to every
 * destination. For a directory the sha256 is that of its sorted `<sha256>  <name>` lines, as on disk.
 */
export async function deliverLocal(
  destinations: readonly BackupDestination[],
  target: Target,
  path: string,
  artifact: string,
  sealing: Sealing,
  options: { signal?: AbortSignal } = {},
): Promise<{ deliveries: Delivery[]; manifestFields: ArtifactEncoding }> {
  if (!statSync(path).isDirectory()) {
    const encoded = encodeArtifact(createReadStream(path, { highWaterMark: 1 << 20 }), {
      target,
      file: artifact,
      sealing,
    })
    const deliveries = await deliverStream(destinations, artifact, encoded.stored, options)
    return { deliveries, manifestFields: encoded.manifestFields() }
  }
  const files = listFiles(path)
  const perDestination = destinations.map(() => ({ lines: [] as string[], size: 0, error: undefined as unknown }))
  let manifestFields: ArtifactEncoding = {}
  for (const file of files) {
    const live = destinations.filter((_, index) => perDestination[index]!.error === undefined)
    if (live.length === 0) break
    const encoded = encodeArtifact(createReadStream(join(path, file), { highWaterMark: 1 << 20 }), {
      target,
      file: `${artifact}/${file}`,
      sealing,
    })
    const results = await deliverStream(live, `${artifact}/${file}`, encoded.stored, options)
    manifestFields = encoded.manifestFields()
    live.forEach((destination, index) => {
      const state = perDestination[destinations.indexOf(destination)]!
      const delivery = results[index]!
      if (!delivery.ok) state.error = delivery.error
      else {
        state.lines.push(`${delivery.result.sha256}  ${file}`)
        state.size += delivery.result.size
      }
    })
  }
  const deliveries = perDestination.map((state): Delivery =>
    state.error !== undefined
      ? { ok: false, error: state.error }
      : {
          ok: true,
          result: {
            size: state.size,
            sha256: folderSha256(state.lines),
          },
        },
  )
  return { deliveries, manifestFields }
}

/** The sha256 of a folder artifact, from its files' `<sha256>  <relative name>` lines (in any order). */
export function folderSha256(lines: string[]): string {
  return createHash('sha256')
    .update(lines.sort().join('\n') + '\n')
    .digest('hex')
}

/** The files under `root` (not folders), as `/`-separated relative names in sorted order. */
export function listFiles(root: string, relative = ''): string[] {
  const files: string[] = []
  for (const name of readdirSync(join(root, relative)).sort()) {
    const child = relative ? `${relative}/${name}` : name
    if (statSync(join(root, child)).isDirectory()) files.push(...listFiles(root, child))
    else files.push(child)
  }
  return files
}

/** The stored artifact as the engine takes it: a local path (file or folder) or a stream of one file. */
export type ArtifactInput = { path: string } | { stream: Readable }

/**
 * Opens a stored artifact for the engine (through SEAM (b)). A stream when the engine reads one and the artifact is a
 * single object; else a local path: the folder's own file when it is stored as is, or a download into `scratchDir`.
 * `sha256()` resolves to the stored bytes' hash once they have all been read (at once for a folder's own file).
 */
export async function openArtifact(
  destination: BackupDestination,
  manifest: BackupManifest,
  options: { needsFile: boolean; scratchDir: () => string; identities: readonly string[] },
): Promise<{ input: ArtifactInput; sha256: () => Promise<string> }> {
  const { storage } = destination
  if (storage.kind === 'folder' && storedAsIs(manifest)) {
    const path = join(storage.location, manifest.artifact)
    const { hashArtifact } = await import('./create-backup.js')
    return { input: { path }, sha256: () => hashArtifact(path) }
  }
  const objects = (await storage.list()).filter(
    (object) => object.name === manifest.artifact || object.name.startsWith(`${manifest.artifact}/`),
  )
  const isFolder = !objects.some((object) => object.name === manifest.artifact)
  if (objects.length === 0) {
    throw new DbopsError('E_BACKUP_NOT_FOUND', `backup ${manifest.id} was removed from ${destination.location}`, {
      hint: 'restore another backup (see "dbops backup list")',
    })
  }
  if (!isFolder && !options.needsFile) {
    const check = verifyingStream(manifest)
    const stored = await storage.get(manifest.artifact)
    stored.on('error', (error) => check.stream.destroy(error))
    const stream = await decodeArtifact(stored.pipe(check.stream), manifest, options.identities)
    // A decoded stream carries check.stream's error (a sha256 mismatch at its end) to its reader by itself. A small
    // object may be read (and its sha256 checked) before the engine starts reading: its error is kept on the stream
    // (`errored`) for the engine, never thrown as an unhandled 'error' event.
    stream.on('error', () => {})
    return { input: { stream }, sha256: check.sha256 }
  }
  const scratch = options.scratchDir()
  const local = join(scratch, manifest.artifact)
  const lines: string[] = []
  let single = ''
  for (const object of objects) {
    const relative = isFolder ? object.name.slice(manifest.artifact.length + 1) : ''
    const path = isFolder ? join(local, relative) : local
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    const counter = hashingCounter()
    const stored = await storage.get(object.name)
    stored.on('error', (error) => counter.stream.destroy(error))
    await pipeline(
      await decodeArtifact(stored.pipe(counter.stream), manifest, options.identities),
      createWriteStream(path, { mode: 0o600 }),
    )
    const { sha256 } = counter.result()
    if (isFolder) lines.push(`${sha256}  ${relative}`)
    else single = sha256
  }
  const sha256 = isFolder ? folderSha256(lines) : single
  return { input: { path: local }, sha256: async () => sha256 }
}

/**
 * Hashes the stored bytes as they stream and, at their end, errors (E_BACKUP_CORRUPT) instead of ending when the
 * sha256 differs from the manifest's: a program fed from it never sees a clean end of a corrupt artifact.
 */
function verifyingStream(manifest: BackupManifest): { stream: Transform; sha256: () => Promise<string> } {
  const hash = createHash('sha256')
  let digest: string | undefined
  const stream = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk)
      callback(null, chunk)
    },
    flush(callback) {
      digest = hash.digest('hex')
      if (digest === manifest.sha256) callback()
      else callback(corrupt(manifest, digest))
    },
  })
  return {
    stream,
    sha256: async () => {
      if (digest === undefined) throw new Error(`${manifest.artifact} was not read to its end`)
      return digest
    },
  }
}

export function corrupt(manifest: BackupManifest, actual: string): DbopsError {
  return new DbopsError(
    'E_BACKUP_CORRUPT',
    `backup ${manifest.id} is corrupt: the sha256 of ${manifest.artifact} is ${actual.slice(0, 12)}…, the manifest says ${manifest.sha256.slice(0, 12)}…`,
    {
      hint: 'the stored bytes changed after they were written (disk, copy, edit or the store); take a new backup and keep this one for inspection',
      details: { expected: manifest.sha256, actual },
    },
  )
}
