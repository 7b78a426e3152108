import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
  writevSync,
} from 'node:fs'
import { open } from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { dirname, join } from 'node:path'
import { Writable, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { withBackupLock } from '../backup/backup-lock.js'
import { fsyncDirectory, writeFileAtomic } from '../output/atomic-write.js'
import { putTally } from './hashing-counter.js'
import type { PutOptions, PutResult, Storage, StorageLockOptions, StoredObject } from './storage.js'

/** Temporary names of unfinished writes; never listed, removed by `removeLeftovers`. */
const PARTIAL_PREFIX = '.partial-'

/** A local folder (created 0700 on first write; files 0600). */
export class FolderStorage implements Storage {
  readonly kind = 'folder' as const

  constructor(readonly location: string) {}

  async put(name: string, body: Readable, options: PutOptions = {}): Promise<PutResult> {
    const path = this.path(name)
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    const partial = join(dirname(path), `${PARTIAL_PREFIX}${process.pid}-${baseName(name)}`)
    const sink = fileSink(partial, options.onProgress)
    try {
      await pipeline(body, sink.stream, options.signal ? { signal: options.signal } : {})
      const handle = await open(partial, 'r')
      try {
        await handle.sync()
      } finally {
        await handle.close()
      }
      renameSync(partial, path)
    } catch (error) {
      rmSync(partial, { force: true })
      throw error
    }
    fsyncDirectory(dirname(path))
    return sink.result()
  }

  async writeText(name: string, text: string): Promise<void> {
    const path = this.path(name)
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
    writeFileAtomic(path, text, 0o600)
  }

  async readText(name: string): Promise<string | undefined> {
    try {
      return readFileSync(this.path(name), 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw error
    }
  }

  async get(name: string): Promise<Readable> {
    const stream = createReadStream(this.path(name))
    // Surface ENOENT here rather than on the first read.
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve())
      stream.once('error', reject)
    })
    return stream
  }

  async list(): Promise<StoredObject[]> {
    const found: StoredObject[] = []
    const walk = (relative: string) => {
      let names: string[]
      try {
        names = readdirSync(join(this.location, relative))
      } catch (error) {
        if (relative === '' && (error as NodeJS.ErrnoException).code === 'ENOENT') return
        throw error
      }
      for (const entry of names) {
        if (entry.startsWith('.')) continue
        const name = relative ? `${relative}/${entry}` : entry
        const stat = statSync(join(this.location, name))
        if (stat.isDirectory()) walk(name)
        else found.push({ name, size: stat.size, modifiedAt: stat.mtime })
      }
    }
    walk('')
    return found
  }

  async remove(name: string): Promise<void> {
    const path = this.path(name)
    rmSync(path, { force: true })
    fsyncDirectory(dirname(path))
  }

  withLock<T>(options: StorageLockOptions, fn: () => Promise<T>): Promise<T> {
    mkdirSync(this.location, { recursive: true, mode: 0o700 })
    return withBackupLock(this.location, options, fn)
  }

  async removeLeftovers(): Promise<string[]> {
    const removed: string[] = []
    const walk = (relative: string) => {
      let names: string[]
      try {
        names = readdirSync(join(this.location, relative))
      } catch {
        return
      }
      for (const entry of names) {
        const name = relative ? `${relative}/${entry}` : entry
        if (entry.startsWith(PARTIAL_PREFIX)) {
          rmSync(join(this.location, name), { force: true })
          removed.push(name)
        } else if (!entry.startsWith('.') && statSync(join(this.location, name)).isDirectory()) walk(name)
      }
    }
    walk('')
    if (removed.length > 0) fsyncDirectory(this.location)
    return removed
  }

  private path(name: string): string {
    checkName(name)
    return join(this.location, name)
  }
}

/** What is gathered before one write: a sealed backup arrives in 64 KiB pieces. */
const WRITE_BATCH = 1 << 20
/** Well below IOV_MAX (1024) pieces per writev. */
const MAX_PIECES = 256

/**
 * A new private file (0600, never an existing one) written from the main thread, ~1 MiB per writev of the pieces
 * as they came (no copy), hashed and counted on the way. A file stream's thread-pool write per piece cost a
 * wake-up each, more than the write itself; writes to the page cache return at once. Pieces are kept after their
 * write's callback until gathered: the sources here (pg_dump's reads, cipher and zlib output, file reads) never
 * change a chunk once written.
 */
function fileSink(path: string, onProgress?: (bytes: number) => void): { stream: Writable; result: () => PutResult } {
  const tally = putTally(onProgress)
  let fd: number | undefined
  let pieces: Buffer[] = []
  let gathered = 0
  const flush = () => {
    if (pieces.length === 0) return
    let written = writevSync(fd!, pieces)
    // A short write (rare for a file): the rest piece by piece.
    if (written < gathered) {
      for (const piece of pieces) {
        if (written >= piece.length) {
          written -= piece.length
          continue
        }
        for (let at = written; at < piece.length;) at += writeSync(fd!, piece, at)
        written = 0
      }
    }
    pieces = []
    gathered = 0
  }
  const stream = new Writable({
    construct(callback) {
      try {
        fd = openSync(path, 'wx', 0o600)
        callback()
      } catch (error) {
        callback(error as Error)
      }
    },
    write(chunk: Buffer, _encoding, callback) {
      tally.add(chunk)
      pieces.push(chunk)
      gathered += chunk.length
      try {
        if (gathered >= WRITE_BATCH || pieces.length >= MAX_PIECES) flush()
        callback()
      } catch (error) {
        callback(error as Error)
      }
    },
    final(callback) {
      try {
        flush()
        callback()
      } catch (error) {
        callback(error as Error)
      }
    },
    destroy(error, callback) {
      if (fd !== undefined) closeSync(fd)
      fd = undefined
      callback(error)
    },
  })
  return { stream, result: tally.result }
}

/** Object names are relative, slash-separated, and never climb out of the root or hide as dot-files. */
export function checkName(name: string): void {
  const parts = name.split('/')
  if (name === '' || parts.some((part) => part === '' || part === '.' || part === '..' || part.startsWith('.'))) {
    throw new Error(`not a storage object name: ${JSON.stringify(name)}`)
  }
}

function baseName(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1)
}
