import { readSync } from 'node:fs'
import type { Readable, Writable } from 'node:stream'

/**
 * Whether a process with this id exists on this host (signal 0 checks without sending anything). EPERM means it
 * exists under another user. Ids below 1 never name one process: 0 and -1 would signal whole groups.
 */
export function processExists(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** What one read takes at most; a socketpair holds ~180 KiB of a child's 4 KiB writes, so one read empties it. */
const BATCH_READ = 256 * 1024
/** The slab reads go into; a new one is taken when less than one read is left (consumers keep the old one). */
const SLAB = 2 * 1024 * 1024
/**
 * The wait between reads: what fills about a third of the socket at the rate seen so far, so a reader late by a
 * busy host still finds room left (pg_dump not blocked), within bounds.
 */
const MIN_WAIT_MS = 1
const MAX_WAIT_MS = 20
const TARGET_READ = 64 * 1024
/** A poll taking this much found the socket (nearly) full: the child may be waiting, the rate seen is too low. */
const NEARLY_FULL = 144 * 1024

/**
 * Copies a child's stdout (`stdio: 'pipe'`, a socketpair) into `into` without ending it, reading the socket itself
 * every few milliseconds instead of whenever the child writes. pg_dump writes 4 KiB at a time: read as they come,
 * every write woke node (an epoll wake-up and a read each, ~8 KiB per read) and made pg_dump pay the wake-up, which
 * on a paravirtualised host cost more than encrypting the bytes. Read in batches, the socket fills up meanwhile and
 * a few reads of ~100 KiB take it all, nobody waiting on it in between. The stream's own reading is stopped; at the
 * end of the output (or on a read error) `stdout` is destroyed, which closes the descriptor and lets the child's
 * waiter finish. Back-pressure of `into` pauses the reads. Returns false, having changed nothing, when the
 * descriptor cannot be had (the caller then pipes as usual).
 */
export function pipeInBatches(stdout: Readable, into: Writable): boolean {
  const handle = (stdout as unknown as { _handle?: { fd?: unknown; readStop?: () => number } })._handle
  const fd = handle?.fd
  if (typeof fd !== 'number' || fd < 0 || typeof handle?.readStop !== 'function' || stdout.readableLength > 0)
    return false
  // Nothing has been read yet (called in the tick of the spawn); the stream stays marked as reading, so it never
  // starts again by itself.
  handle.readStop()
  let slab = Buffer.allocUnsafeSlow(SLAB)
  let offset = 0
  let last = performance.now()
  const stop = () => {
    into.off('drain', poll)
    into.off('close', onClose)
  }
  const onClose = () => {
    stop()
    stdout.destroy()
  }
  function poll(): void {
    // Destroyed (the child failed, the reader gave up): its descriptor is closed and its number may be reused.
    if (stdout.destroyed || into.destroyed) return stop()
    let bytes = 0
    let full = false
    for (;;) {
      if (SLAB - offset < BATCH_READ) {
        slab = Buffer.allocUnsafeSlow(SLAB)
        offset = 0
      }
      let read: number
      try {
        read = readSync(fd as number, slab, offset, BATCH_READ, null)
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        // Nothing there yet (the socket is non-blocking), or a signal came first: the next poll reads it.
        if (code === 'EAGAIN' || code === 'EINTR') break
        stop()
        stdout.destroy(error as Error)
        into.destroy(error as Error)
        return
      }
      if (read === 0) {
        stop()
        stdout.destroy()
        return
      }
      full = !into.write(slab.subarray(offset, offset + read))
      offset += read
      bytes += read
      // A short read emptied the socket: the next one would only say so (EAGAIN). A full destination stops the
      // reads at once: a child writing as fast as they read would otherwise keep this loop going past any bound.
      if (read < BATCH_READ || full) break
    }
    if (full) return void into.once('drain', poll)
    const now = performance.now()
    const rate = bytes / Math.max(now - last, 0.1)
    last = now
    const wait =
      bytes >= NEARLY_FULL
        ? MIN_WAIT_MS
        : rate > 0
          ? Math.min(MAX_WAIT_MS, Math.max(MIN_WAIT_MS, TARGET_READ / rate))
          : MAX_WAIT_MS
    setTimeout(poll, wait)
  }
  into.once('close', onClose)
  setTimeout(poll, MIN_WAIT_MS)
  return true
}
