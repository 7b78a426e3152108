import { describe, expect, it } from 'vitest'
import { preparedTransactions, walArchiving } from '../../../src/backends/postgres/postgres-health.js'
import { resolveThresholds } from '../../../src/health/checks.js'
import { healthMetrics } from '../../../src/health/health-output.js'

// The test server neither archives nor allows prepared transactions: rows shaped like the query's.
const { thresholds } = resolveThresholds({})
const archiving = {
  archive_mode: 'on',
  archived_count: 120,
  failed_count: 0,
  last_archived_wal: '00000001000000000000002A',
  archived_seconds_ago: 30,
  failing: false,
}

describe('wal_archiving', () => {
  it('is ok when archiving is off, and when nothing waits', () => {
    expect(walArchiving({ archive_mode: 'off' }, undefined, thresholds)).toMatchObject({
      severity: 'ok',
      message: 'WAL archiving is off (archive_mode = off)',
    })
    expect(walArchiving(archiving, { ready: 0, oldest_seconds: null }, thresholds)).toMatchObject({
      severity: 'ok',
      values: { lag_seconds: 0, ready: 0 },
    })
  })

  it('grades the age of the oldest segment waiting, and warns at least while archive_command fails', () => {
    expect(walArchiving(archiving, { ready: 40, oldest_seconds: 1200 }, thresholds).severity).toBe('warn')
    expect(walArchiving(archiving, { ready: 400, oldest_seconds: 7200 }, thresholds).severity).toBe('critical')
    const failing = walArchiving(
      {
        ...archiving,
        failing: true,
        failed_count: 3,
        last_failed_wal: '00000001000000000000002B',
        failed_seconds_ago: 5,
      },
      { ready: 1, oldest_seconds: 20 },
      thresholds,
    )
    expect(failing.severity).toBe('warn')
    expect(failing.message).toContain('archive_command is failing: 00000001000000000000002B failed 5s ago')
  })

  it('is unknown, not ok, when the role cannot count the waiting segments and nothing failed', () => {
    expect(walArchiving(archiving, null, thresholds).severity).toBe('unknown')
  })
})

describe('prepared_transactions', () => {
  it('grades the oldest prepared transaction and names it', () => {
    expect(
      preparedTransactions({ prepared: 0, prepared_count: 0, prepared_worst: null, max_prepared: 0 }, thresholds),
    ).toMatchObject({ severity: 'ok', message: 'none (max_prepared_transactions = 0)' })
    const row = { gid: "tx'1", database: 'shop', owner: 'app', seconds: 4000 }
    const old = preparedTransactions(
      { prepared: 2, prepared_count: 1, prepared_worst: [row, { ...row, gid: 'tx2', seconds: 2 }], max_prepared: 10 },
      thresholds,
    )
    expect(old.severity).toBe('critical')
    expect(old.message).toContain("oldest 'tx'1' in shop by app")
    expect(old.fix).toContain("COMMIT PREPARED 'tx''1'")
    expect(
      preparedTransactions(
        { prepared: 1, prepared_count: 0, prepared_worst: [{ ...row, seconds: 2 }], max_prepared: 10 },
        thresholds,
      ).severity,
    ).toBe('ok')
  })
})

describe('metrics of the new checks', () => {
  it('exports the oldest transaction, archive lag and prepared transactions in base units', () => {
    const checks = [
      {
        check: 'transaction_age',
        severity: 'warn' as const,
        subject: 'sessions',
        message: '',
        values: { max_seconds: 76, count: 1 },
      },
      walArchiving(archiving, { ready: 3, oldest_seconds: 90 }, thresholds),
      preparedTransactions({ prepared: 0, prepared_count: 0, prepared_worst: null, max_prepared: 0 }, thresholds),
    ]
    const families = healthMetrics([
      {
        target: 'main',
        engine: 'postgres',
        url: '',
        status: 'warn',
        up: true,
        version: null,
        durationMs: 1,
        checks,
        thresholds: {},
      },
    ])
    const value = (name: string) => families.find((family) => family.name === name)?.samples[0]?.value
    expect(value('dbops_oldest_transaction_seconds')).toBe(76)
    expect(value('dbops_wal_archive_lag_seconds')).toBe(90)
    expect(value('dbops_wal_archive_ready_segments')).toBe(3)
    expect(value('dbops_prepared_transactions')).toBe(0)
  })
})
