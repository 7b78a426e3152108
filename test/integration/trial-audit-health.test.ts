// Misses and false alarms a trial found in `health` and `audit` against pghero, pg-index-health and check_postgres
// (issue 10 §1): each case fails without its fix.
import { describe, expect, it } from 'vitest'
import { checkHealth, openTarget, type HealthOptions, type HealthResult } from '../../src/index.js'
import { formatNagios } from '../../src/health/health-output.js'
import { pgQuery } from '../helpers/databases.js'
import { makeProject, type Project } from '../helpers/projects.js'

async function health(project: Project, options: HealthOptions = {}): Promise<HealthResult> {
  const target = await openTarget({ cwd: project.dir, url: project.url, env: {} })
  try {
    return await checkHealth(target, options)
  } finally {
    await target.close()
  }
}

async function sequences(sql: string) {
  const project = await makeProject('postgres')
  await pgQuery(project.url, sql)
  const result = await health(project, { only: ['sequences'] })
  return { result, finding: result.checks.find((finding) => finding.check === 'sequences')! }
}

describe('health sequences', () => {
  it('measures a descending sequence toward its MINVALUE', async () => {
    const { finding } = await sequences(`
      CREATE SEQUENCE down AS integer INCREMENT BY -1;
      SELECT setval('down', -2147483000);`)
    expect(finding.severity).toBe('critical')
    expect(finding.message).toContain('648 values left')
  })

  it('measures the share of a range that crosses zero, not last/limit', async () => {
    // From 1000 down to -1000: 1,990 of 2,001 values used, 10 left.
    const { finding } = await sequences(`
      CREATE SEQUENCE sweep INCREMENT BY -1 MINVALUE -1000 MAXVALUE 1000 START 1000;
      SELECT setval('sweep', -990);`)
    expect(finding.severity).toBe('critical')
    expect(finding.message).toContain('10 values left')
    expect(finding.values!.max_used_ratio).toBeGreaterThan(0.99)
  })

  it('does not count a range that starts above 1 as used', async () => {
    // Ids handed out from 1,000,000 to 1,000,010 of a range ending at 2,000,000: hardly used.
    const { finding } = await sequences(`
      CREATE SEQUENCE high MINVALUE 1000000 MAXVALUE 2000000;
      SELECT nextval('high') FROM generate_series(1, 10);`)
    expect(finding.severity).toBe('ok')
    expect(finding.values!.max_used_ratio).toBeLessThan(0.01)
  })

  it('reads the real state of a sequence restarted near its end (pg_sequences.last_value is NULL)', async () => {
    const { finding } = await sequences(`
      CREATE SEQUENCE restarted AS integer;
      ALTER SEQUENCE restarted RESTART WITH 2147483000;`)
    expect(finding.severity).toBe('critical')
    // 2147483000 itself is still to come: 648 values left.
    expect(finding.message).toContain('648 values left')
    expect(finding.message).toContain('restarted')
  })

  it('a never-called sequence has its whole range left', async () => {
    const { finding } = await sequences(`CREATE SEQUENCE fresh AS smallint MAXVALUE 10;`)
    expect(finding.severity).toBe('ok')
    expect(finding.values!.max_used_ratio).toBe(0)
  })

  it('grades a sequence against its own MAXVALUE below the type limit', async () => {
    const { finding } = await sequences(`
      CREATE SEQUENCE capped MAXVALUE 1000;
      SELECT setval('capped', 990);`)
    expect(finding.severity).toBe('critical')
    expect(finding.message).toContain('990 of 1,000, 10 values left')
  })

  it('never prints 100% in Nagios output while values are left', async () => {
    const { result, finding } = await sequences(`
      CREATE SEQUENCE nearly MAXVALUE 100000000;
      SELECT setval('nearly', 99999999);`)
    expect(finding.message).toContain('1 values left')
    const line = formatNagios([result])
    expect(line).not.toMatch(/100(\.0+)?%/)
    expect(line).toMatch(/sequences=99\.9999\d*%/)
  })

  it('prints 100% once a sequence is exhausted', async () => {
    const { result, finding } = await sequences(`
      CREATE SEQUENCE spent MAXVALUE 100;
      SELECT setval('spent', 100);`)
    expect(finding.message).toContain('0 values left')
    expect(formatNagios([result])).toContain('sequences=100%')
  })
})
