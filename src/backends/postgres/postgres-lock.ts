import type pg from 'pg'
import { DbopsError } from '../../errors.js'
import { formatDuration, formatTimestamp } from '../../output/format.js'
import type { LockOptions } from '../backend.js'

/** 'dbop' as a big-endian int4: the first key of every dbops advisory lock, so they are easy to spot in pg_locks. */
const DBOPS_LOCK_CLASS = 0x64626f70
const KEY_SQL = `hashtext(current_database() || '.' || $1::text)`

/**
 * A session advisory lock keyed on database + ledger table, polled with pg_try_advisory_lock. Never blocking in
 * pg_advisory_lock: a blocked waiter keeps a transaction open, and a CREATE INDEX CONCURRENTLY run by the holder
 * would wait for it forever (see ariga/atlas sql/postgres/driver.go). Backoff 25 ms doubling to 1 s, with jitter.
 */
export async function withAdvisoryLock<T>(
  client: pg.Client,
  lockName: string,
  options: LockOptions,
  fn: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs
  let delay = 25
  let reportedHolder = false
  for (;;) {
    const { rows } = await client.query(`SELECT pg_try_advisory_lock(${DBOPS_LOCK_CLASS}, ${KEY_SQL}) AS locked`, [
      lockName,
    ])
    if (rows[0]?.locked === true) break
    const holder = await describeHolder(client, lockName)
    if (!reportedHolder) {
      options.onWait?.(holder)
      reportedHolder = true
    }
    if (Date.now() >= deadline) {
      throw new DbopsError(
        'E_MIGRATION_LOCK_TIMEOUT',
        `another dbops holds the migration lock for ${lockName} (${holder}); gave up after ${formatDuration(options.timeoutMs)}`,
        { hint: 'wait for it to finish and run again, or raise --lock-timeout' },
      )
    }
    const jitter = Math.random() * delay * 0.5
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay + jitter, Math.max(0, deadline - Date.now()))))
    delay = Math.min(delay * 2, 1000)
  }
  try {
    return await fn()
  } finally {
    await releaseLock(client, lockName)
  }
}

async function releaseLock(client: pg.Client, lockName: string): Promise<void> {
  try {
    // A failed migration can leave the session inside an aborted transaction; unlock needs a usable session.
    await client.query('ROLLBACK')
    await client.query(`SELECT pg_advisory_unlock(${DBOPS_LOCK_CLASS}, ${KEY_SQL})`, [lockName])
  } catch {
    // The connection is gone (terminated backend): the server released the session lock with it.
  }
}

async function describeHolder(client: pg.Client, lockName: string): Promise<string> {
  const { rows } = await client.query(
    `SELECT a.pid, a.application_name, a.client_addr, a.backend_start
       FROM pg_locks l JOIN pg_stat_activity a USING (pid)
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
        AND l.classid = ${DBOPS_LOCK_CLASS} AND l.objid::bigint = (${KEY_SQL}::bigint & 4294967295)`,
    [lockName],
  )
  const holder = rows[0]
  if (!holder) return 'holder not visible to this role'
  const since = holder.backend_start instanceof Date ? holder.backend_start.toISOString() : String(holder.backend_start)
  const app = holder.application_name ? `"${holder.application_name}"` : 'unnamed client'
  return `pid ${holder.pid}, ${app}${holder.client_addr ? ` from ${holder.client_addr}` : ''}, connected since ${formatTimestamp(since)}`
}
