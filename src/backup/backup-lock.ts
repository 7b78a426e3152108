import { closeSync, linkSync, openSync, readFileSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { DbopsError } from '../errors.js'

export interface LockHolder {
  pid: number
  host: string
  /** The holder's start time as the kernel counts it (Linux), so a recycled pid is not mistaken for the holder. */
  processStart: string | null
  startedAt: string
  command: string
}

export interface BackupLockOptions {
  command: string
  /** Wait for the holder instead of failing (checked every `pollMs`). */
  wait: boolean
  pollMs?: number
  signal?: AbortSignal
  onWait?: (holder: LockHolder) => void
}

export const LOCK_FILE = '.lock'

/**
 * One dbops at a time per backup folder: two overlapping cron runs must not write (or prune) at once. The lock is a
 * file created atomically holding the owner's pid and refreshed while held; a lock whose process is gone (killed,
 * crashed) or that nobody refreshed for minutes (a host or container that went away) is taken over.
 */
export async function withBackupLock<T>(dir: string, options: BackupLockOptions, fn: () => Promise<T>): Promise<T> {
  const path = join(dir, LOCK_FILE)
  const mine: LockHolder = {
    pid: process.pid,
    host: hostname(),
    processStart: processStart(process.pid),
    startedAt: new Date().toISOString(),
    command: options.command,
  }
  let announced = false
  for (;;) {
    if (tryCreate(path, mine)) break
    const holder = readHolder(path)
    if (holder === undefined || isStale(holder)) {
      // Removing and re-creating races with another taker; O_EXCL decides who wins.
      rmSync(path, { force: true })
      continue
    }
    if (!options.wait) {
      throw new DbopsError(
        'E_BACKUP_LOCKED',
        `another dbops (pid ${holder.pid} on ${holder.host}, "${holder.command}" since ${holder.startedAt}) is working on ${dir}`,
        { hint: 'wait for it to finish, or pass --wait to wait for it', details: { holder } },
      )
    }
    if (!announced) options.onWait?.(holder)
    announced = true
    if (options.signal?.aborted) throw new DbopsError('E_INTERRUPTED', 'interrupted while waiting for the backup lock')
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 250))
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

const HEARTBEAT_MS = 30_000
/** A lock not refreshed for this long belongs to nobody. */
const ABANDONED_MS = 5 * HEARTBEAT_MS

/** Written to a private name first and hard-linked into place, so the lock never exists half-written. */
function tryCreate(path: string, holder: LockHolder): boolean {
  const temporary = `${path}.${process.pid}.tmp`
  const fd = openSync(temporary, 'w', 0o600)
  try {
    writeSync(fd, JSON.stringify(holder))
  } finally {
    closeSync(fd)
  }
  try {
    linkSync(temporary, path)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  } finally {
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
  try {
    process.kill(holder.pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH'
  }
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
