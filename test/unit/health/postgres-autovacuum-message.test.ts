import { describe, expect, it } from 'vitest'
import { overdue } from '../../../src/backends/postgres/postgres-health.js'
import { resolveThresholds } from '../../../src/health/checks.js'

// Switching autovacuum off server-wide on the shared test server is not an option: rows shaped like the query's.
const { thresholds } = resolveThresholds({})
const row = { schema: 'public', table: 'orders', dead: 5000, inserted: 0, trigger: 'dead', threshold: 1000, ratio: 5 }

describe('vacuum finding', () => {
  it('names the server setting when autovacuum is off server-wide, the table option when only the table is', () => {
    const server = overdue('vacuum', 1, [{ ...row, autovacuum_server: false, autovacuum_table: true }], thresholds)
    expect(server.message).toContain('autovacuum is off for the whole server (autovacuum = off)')
    expect(server.message).not.toContain('disabled for it')
    const table = overdue('vacuum', 1, [{ ...row, autovacuum_server: true, autovacuum_table: false }], thresholds)
    expect(table.message).toContain('autovacuum disabled for it (autovacuum_enabled = false)')
    expect(
      overdue('vacuum', 1, [{ ...row, autovacuum_server: true, autovacuum_table: true }], thresholds).message,
    ).not.toMatch(/disabled|whole server/)
    // Said even when no table is due yet: nothing will clean them when they are.
    expect(overdue('analyze', 0, null, thresholds, false)).toMatchObject({
      severity: 'ok',
      message: 'no table past the autoanalyze trigger; autovacuum is off for the whole server (autovacuum = off)',
    })
  })

  it('shows the trigger that fired: the insert trigger for inserted tuples', () => {
    const finding = overdue(
      'vacuum',
      1,
      [
        {
          ...row,
          dead: 0,
          inserted: 501_000 * 2,
          trigger: 'insert',
          threshold: 501_000,
          ratio: 2,
          autovacuum_server: true,
          autovacuum_table: true,
        },
      ],
      thresholds,
    )
    expect(finding.message).toContain('1,002,000 inserted tuples, insert trigger 501,000 (2.0x)')
  })
})
