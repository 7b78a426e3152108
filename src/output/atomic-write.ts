import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { dirname, basename, join } from 'node:path'

/**
 * Writes `path` so that readers see the old file or the new one, never a part: a temporary file in the same folder,
 * fsynced, renamed over the target, and the folder fsynced so the rename survives a crash. Used for metrics files
 * (a Prometheus textfile collector reads them at any moment) and manifests.
 */
export function writeFileAtomic(path: string, content: string | Uint8Array, mode = 0o644): void {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`)
  try {
    const fd = openSync(temporary, 'wx', mode)
    try {
      writeSync(fd, typeof content === 'string' ? Buffer.from(content) : content)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(temporary, path)
  } catch (error) {
    rmSync(temporary, { force: true })
    // Errors name the file being replaced, not the temporary one beside it (and write(fd) errors name none).
    if (error instanceof Error && 'code' in error) Object.assign(error, { path, dest: undefined })
    throw error
  }
  fsyncDirectory(dirname(path))
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
