import { closeSync, existsSync, fsync, fsyncSync, linkSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { dirname, basename, join } from 'node:path'

/**
 * Writes `path` so that readers see the old file or the new one, never a part: a temporary file in the same folder,
 * fsynced, renamed over the target, and the folder fsynced so the rename survives a crash. Used for metrics files
 * (a Prometheus textfile collector reads them at any moment) and manifests.
 */
export function writeFileAtomic(path: string, content: string | Uint8Array, mode = 0o644): void {
  writeThroughTemporary(path, content, mode, (temporary) => renameSync(temporary, path))
}

/**
 * Creates `path`, which must not exist (EEXIST otherwise), whole or not at all: a full disk or a killed process
 * leaves no empty or cut-off file behind (a half-written migration or seed would be picked up by the next command).
 * The content goes to a temporary file first, then is hard-linked to its name, which fails if the name is taken.
 */
export function writeNewFile(path: string, content: string | Uint8Array, mode = 0o644): void {
  writeThroughTemporary(path, content, mode, (temporary) => {
    try {
      linkSync(temporary, path)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      // File systems without hard links (some FUSE and network mounts): a rename, after a check, is the best left.
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error
      if (existsSync(path))
        throw Object.assign(new Error(`EEXIST: file already exists, link '${path}'`), {
          code: 'EEXIST',
          syscall: 'link',
        })
      renameSync(temporary, path)
      return
    }
    rmSync(temporary, { force: true })
  })
}

function writeThroughTemporary(
  path: string,
  content: string | Uint8Array,
  mode: number,
  publish: (temporary: string) => void,
): void {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`)
  try {
    const fd = openSync(temporary, 'wx', mode)
    try {
      const bytes = typeof content === 'string' ? Buffer.from(content) : content
      for (let written = 0; written < bytes.length;) written += writeSync(fd, bytes, written)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    publish(temporary)
  } catch (error) {
    rmSync(temporary, { force: true })
    // Errors name the file being written, not the temporary one beside it (and write(fd) errors name none).
    if (error instanceof Error && 'code' in error) Object.assign(error, { path, dest: undefined })
    throw error
  }
  fsyncDirectory(dirname(path))
}

/** fsyncs a file's data. */
export function fsyncFile(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/**
 * fsyncs a file on the thread pool. The fsync is issued before this returns, so a main thread kept busy meanwhile
 * (hashing the same file) does not hold it back.
 */
export function fsyncFileInBackground(path: string): Promise<void> {
  const fd = openSync(path, 'r')
  return new Promise((resolve, reject) =>
    fsync(fd, (error) => {
      closeSync(fd)
      if (error) reject(error)
      else resolve()
    }),
  )
}

/** Makes a rename or unlink in `dir` durable. Some filesystems refuse to fsync a folder; that is not an error. */
export function fsyncDirectory(dir: string): void {
  let fd: number | undefined
  try {
    fd = openSync(dir, 'r')
    fsyncSync(fd)
  } catch {
    // EISDIR/EINVAL/EPERM on filesystems without directory fsync.
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}
