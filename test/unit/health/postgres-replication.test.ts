import { describe, expect, it } from 'vitest'
import { replicationLag, replicationSlots } from '../../../src/backends/postgres/postgres-health.js'
import { resolveThresholds } from '../../../src/health/checks.js'

// The test server has no standby; these rows have the shape the replication query returns.
const { thresholds } = resolveThresholds({})

describe('replication findings', () => {
  it('says nothing on a server without standbys, and grades a standby by its replay lag', () => {
    expect(replicationLag({ standby: false, replicas: null }, thresholds)).toBeUndefined()
    expect(replicationLag({ standby: true, standby_lag_seconds: 12 }, thresholds)).toMatchObject({
      severity: 'ok',
      values: { max_lag_seconds: 12 },
    })
    expect(replicationLag({ standby: true, standby_lag_seconds: 400 }, thresholds)!.severity).toBe('critical')
  })

  it('grades the most lagging replica, treats an idle caught-up one (NULL lag) as 0, and warns about one not streaming', () => {
    const replicas = [
      { name: 'a', client: '10.0.0.2', state: 'streaming', lag_seconds: null, lag_bytes: 0 },
      { name: 'b', client: '10.0.0.3', state: 'streaming', lag_seconds: 45, lag_bytes: 1e6 },
    ]
    expect(replicationLag({ standby: false, replicas }, thresholds)).toMatchObject({
      severity: 'warn',
      subject: 'b',
      values: { max_lag_seconds: 45, replicas: 2 },
    })
    const catchingUp = [{ name: 'c', state: 'catchup', lag_seconds: 1, lag_bytes: 10 }]
    expect(replicationLag({ standby: false, replicas: catchingUp }, thresholds)).toMatchObject({
      severity: 'warn',
      message: expect.stringContaining('not streaming: c (catchup)'),
    })
    expect(replicationLag({ standby: false, replicas: [{ name: 'x', state: null }] }, thresholds)).toMatchObject({
      severity: 'unknown',
      message: expect.stringContaining('pg_monitor'),
    })
  })

  it('reports slots: inactive ones warn, lost WAL is critical, retained bytes against the thresholds', () => {
    expect(replicationSlots({ slots: null }, thresholds)).toBeUndefined()
    expect(
      replicationSlots(
        { slots: [{ name: 's', active: true, wal_status: 'reserved', retained_bytes: 1024 }] },
        thresholds,
      )!.severity,
    ).toBe('ok')
    expect(
      replicationSlots(
        { slots: [{ name: 's', active: false, wal_status: 'reserved', retained_bytes: 1024 }] },
        thresholds,
      ),
    ).toMatchObject({ severity: 'warn', fix: "SELECT pg_drop_replication_slot('s');" })
    expect(
      replicationSlots(
        { slots: [{ name: 'big', active: true, wal_status: 'extended', retained_bytes: 20 * 1024 ** 3 }] },
        thresholds,
      )!.severity,
    ).toBe('critical')
    expect(
      replicationSlots(
        { slots: [{ name: 'gone', active: true, wal_status: 'lost', retained_bytes: null }] },
        thresholds,
      )!.severity,
    ).toBe('critical')
  })
})
