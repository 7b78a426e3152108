import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { withBackupLock } from '../../../src/backup/backup-lock.js'

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** Holds the lock until the returned release() is called; resolves `held` once it is taken. */
function hold(
  dir: string,
  options: Parameters<typeof withBackupLock>[1],
): { held: Promise<void>; release: () => void; done: Promise<unknown> } {
  let release!: () => void
  let taken!: () => void
  const held = new Promise<void>((resolve) => (taken = resolve))
  const done = withBackupLock(dir, options, () => {
    taken()
    return new Promise<void>((resolve) => (release = resolve))
  })
  return { held, release: () => release(), done }
}

const attempt = (dir: string, options: Parameters<typeof withBackupLock>[1]) =>
  withBackupLock(dir, options, async () => 'ran').catch((error: { code?: string }) => error.code)

describe('the backup folder lock: shared (verify, restore) and exclusive (prune; create adds only)', () => {
  it('verifies share; prune is refused while one reads; create is not; a verify is refused while prune holds it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dbops-lock-'))
    dirs.push(dir)
    const first = hold(dir, { command: 'dbops backup verify', shared: true, wait: false })
    await first.held
    expect(await attempt(dir, { command: 'dbops backup verify', shared: true, wait: false })).toBe('ran')
    expect(await attempt(dir, { command: 'dbops backup prune', wait: false })).toBe('E_BACKUP_LOCKED')
    expect(await attempt(dir, { command: 'dbops backup create', excludeShared: false, wait: false })).toBe('ran')
    first.release()
    await first.done
    const prune = hold(dir, { command: 'dbops backup prune', wait: false })
    await prune.held
    expect(await attempt(dir, { command: 'dbops backup verify', shared: true, wait: false })).toBe('E_BACKUP_LOCKED')
    expect(await attempt(dir, { command: 'dbops backup create', excludeShared: false, wait: false })).toBe(
      'E_BACKUP_LOCKED',
    )
    prune.release()
    await prune.done
    const create = hold(dir, { command: 'dbops backup create', excludeShared: false, wait: false })
    await create.held
    expect(await attempt(dir, { command: 'dbops backup verify', shared: true, wait: false })).toBe('ran')
    create.release()
    await create.done
    expect(readdirSync(dir)).toEqual([])
  })

  it('a waiting prune runs once the reader is done', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dbops-lock-'))
    dirs.push(dir)
    const reader = hold(dir, { command: 'dbops backup verify', shared: true, wait: false })
    await reader.held
    const order: string[] = []
    let waiting!: () => void
    const announced = new Promise<void>((resolve) => (waiting = resolve))
    const prune = withBackupLock(
      dir,
      { command: 'dbops backup prune', wait: true, pollMs: 10, onWait: () => waiting() },
      async () => {
        order.push('prune')
      },
    )
    await announced
    order.push('reader done')
    reader.release()
    await reader.done
    await prune
    expect(order).toEqual(['reader done', 'prune'])
  })
})
