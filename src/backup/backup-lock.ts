import {
  closeSync,
  linkSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeSync,
} from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { DbopsError } from '../errors.js'
import { formatTimestamp } from '../output/format.js'
import { processExists } from '../processes.js'

export interface LockHolder {
  pid: number
  host: string
  /** The holder's start time as the kernel counts it (Linux), so a recycled pid is not mistaken for the holder. */
  processStart: string | null
  startedAt: string
  command: string
  /** Whether shared holders must wait for this one (prune deletes backups; create only adds). Absent: yes. */
  excludesShared?: boolean
}

export interface BackupLockOptions {
  command: string
  /** Wait for the holder instead of failing (checked every `pollMs`). */
  wait: boolean
  pollMs?: number
  signal?: AbortSignal
  onWait?: (holder: LockHolder) => void
  /**
   * Shared with other shared holders (verify, restore reading a backup), exclusive against the exclusive holders
   * (create, prune) that write or delete backups.
   */
  shared?: boolean
  /**
   * For an exclusive holder: whether it also keeps shared holders out (default true). `create` does not: it only adds
   * backups, and its cleanup touches nothing a reader uses.
   */
  excludeShared?: boolean
  /** A shared holder on storage it cannot write to runs without the lock; this says why. */
  onUnlocked?: (reason: string) => void
}

export const LOCK_FILE = '.lock'
/** Each shared holder's own file: `.lock-shared-<pid>-<n>`. */
const SHARED_PREFIX = '.lock-shared-'

/**
 * One dbops at a time per backup folder: two overlapping cron runs must not write (or prune) at once. The lock is a
 * file created atomically holding the owner's pid and refreshed while held; a lock whose process is gone (killed,
 * crashed) or that nobody refreshed for minutes (a host or container that went away) is taken over. Readers (verify,
 * restore) hold it shared, each with a file of its own: a prune waits for them (holding `.lock`, so no new reader
 * starts meanwhile), a create does not need to.
 */
export async function withBackupLock<T>(dir: string, options: BackupLockOptions, fn: () => Promise<T>): Promise<T> {
  const exclusivePath = join(dir, LOCK_FILE)
  const path = options.shared ? join(dir, `${SHARED_PREFIX}${process.pid}-${++sharedCount}`) : exclusivePath
  const mine: LockHolder = {
    pid: process.pid,
    host: hostname(),
    processStart: processStart(process.pid),
    startedAt: new Date().toISOString(),
    command: options.command,
    ...(!options.shared && { excludesShared: options.excludeShared !== false }),
  }
  let announced = false
  const waitFor = async (holder: LockHolder) => {
    if (!options.wait) {
      throw new DbopsError(
        'E_BACKUP_LOCKED',
        `another dbops (pid ${holder.pid} on ${holder.host}, "${holder.command}" since ${formatTimestamp(holder.startedAt)}) is working on ${dir}`,
        { hint: 'wait for it to finish, or pass --wait to wait for it', details: { holder } },
      )
    }
    if (!announced) options.onWait?.(holder)
    announced = true
    if (options.signal?.aborted) throw new DbopsError('E_INTERRUPTED', 'interrupted while waiting for the backup lock')
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 250))
  }
  // Both sides announce themselves first and look for the other side second, so of a shared and an exclusive taker
  // arriving together at least one sees the other and steps back.
  for (;;) {
    if (options.shared) {
      let created: boolean
      try {
        created = tryCreate(path, mine)
      } catch (error) {
        // Storage nobody can write to cannot lose a backup to a prune either: read without the lock, and say so.
        const code = (error as NodeJS.ErrnoException).code
        if (code !== 'EROFS' && code !== 'EACCES' && code !== 'EPERM') throw error
        options.onUnlocked?.(`could not take the shared lock in ${dir} (${code})`)
        return fn()
      }
      if (!created) throw new Error(`${path} exists`)
      const holder = liveHolder(exclusivePath)
      if (!holder || holder.excludesShared === false) break
      rmSync(path, { force: true })
      await waitFor(holder)
      continue
    }
    if (!tryCreate(path, mine)) {
      const holder = liveHolder(path)
      if (holder) await waitFor(holder)
      continue
    }
    // Holding the exclusive file keeps new shared holders out while the current ones finish.
    let reader: LockHolder | undefined
    while (mine.excludesShared && (reader = sharedHolders(dir)[0]) !== undefined) {
      try {
        await waitFor(reader)
      } catch (error) {
        rmSync(path, { force: true })
        throw error
      }
    }
    break
  }
  // The holder refreshes the lock's mtime: a lock nobody refreshes is stale even when its pid means nothing here
  // (another host sharing the folder, a container that was replaced).
  const heartbeat = setInterval(() => {
    try {
      const now = new Date()
      utimesSync(path, now, now)
    } catch {
      // Taken away (removed by hand): the run goes on; release below checks ownership.
    }
  }, HEARTBEAT_MS)
  heartbeat.unref()
  try {
    return await fn()
  } finally {
    clearInterval(heartbeat)
    if (readHolder(path)?.pid === process.pid) rmSync(path, { force: true })
  }
}

let sharedCount = 0

/** The holder of a lock file when it is alive; a stale or unreadable lock is removed (O_EXCL decides later takers). */
function liveHolder(path: string): LockHolder | undefined {
  const holder = readHolder(path)
  if (holder !== undefined && !isStale(holder)) return holder
  if (holder !== undefined || existsQuietly(path)) rmSync(path, { force: true })
  return undefined
}

/** Live shared holders of the folder; stale ones (killed verifies) are removed. */
function sharedHolders(dir: string): LockHolder[] {
  const holders: LockHolder[] = []
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(SHARED_PREFIX)) continue
    const holder = liveHolder(join(dir, name))
    if (holder) holders.push(holder)
  }
  return holders
}

function existsQuietly(path: string): boolean {
  try {
    statSync(path)
    return true
  } catch {
    return false
  }
}

const HEARTBEAT_MS = 30_000
/** A lock not refreshed for this long belongs to nobody. */
const ABANDONED_MS = 5 * HEARTBEAT_MS

/** Written to a private name first and hard-linked into place, so the lock never exists half-written. */
function tryCreate(path: string, holder: LockHolder): boolean {
  const temporary = `${path}.${process.pid}.tmp`
  try {
    const fd = openSync(temporary, 'w', 0o600)
    try {
      writeSync(fd, JSON.stringify(holder))
    } finally {
      closeSync(fd)
    }
    linkSync(temporary, path)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    // A full disk fails the write(fd), which names no file: name the lock.
    if (error instanceof Error && 'code' in error && !('path' in error)) Object.assign(error, { path })
    throw error
  } finally {
    // Also after a failed write (a full disk): no half-written lock file is left behind.
    rmSync(temporary, { force: true })
  }
}

function readHolder(path: string): (LockHolder & { refreshedMs: number }) | undefined {
  try {
    const holder = JSON.parse(readFileSync(path, 'utf8')) as LockHolder
    return typeof holder.pid === 'number' ? { ...holder, refreshedMs: statSync(path).mtimeMs } : undefined
  } catch {
    // Gone (released meanwhile) or not ours to understand: try again / take it over.
    return undefined
  }
}

/** Whether the lock's owner is gone: not refreshed for minutes, or (same host) its process is gone. */
export function isStale(holder: LockHolder & { refreshedMs?: number }): boolean {
  if (holder.refreshedMs !== undefined && Date.now() - holder.refreshedMs > ABANDONED_MS) return true
  if (holder.host !== hostname()) return false
  if (!processExists(holder.pid)) return true
  const start = processStart(holder.pid)
  return holder.processStart !== null && start !== null && start !== holder.processStart
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); null where there is no /proc. */
function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null
  }
}
