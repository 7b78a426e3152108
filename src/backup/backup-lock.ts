import { closeSync, linkSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
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
 * file created with O_EXCL holding the owner's pid; a lock whose process is gone (killed, crashed) is taken over.
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
  try {
    return await fn()
  } finally {
    if (readHolder(path)?.pid === process.pid) rmSync(path, { force: true })
  }
}

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

function readHolder(path: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(readFileSync(path, 'utf8')) as LockHolder
    return typeof holder.pid === 'number' ? holder : undefined
  } catch {
    // Gone (released meanwhile) or not ours to understand: try again / take it over.
    return undefined
  }
}

/** Whether the lock's owner is gone. A lock from another host is never stale: its pid means nothing here. */
export function isStale(holder: LockHolder): boolean {
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
