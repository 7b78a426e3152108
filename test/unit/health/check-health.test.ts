import { describe, expect, it } from 'vitest'
import { checkHealth } from '../../../src/health/check-health.js'
import type { HealthProbe, ProbeContext } from '../../../src/health/health-probe.js'
import type { Target } from '../../../src/targets/target.js'

/** A target whose engine side is `run`: the deadline and failure handling around it are what is tested here. */
function targetWith(run: (context: ProbeContext) => Promise<{ up: boolean; version?: string }>): Target {
  const probe: HealthProbe = { run, ledgerBackend: () => undefined, close: async () => {} }
  return {
    name: 'fake',
    redactedUrl: 'postgres://fake',
    backend: { engine: 'postgres', healthProbe: async () => probe } as unknown as Target['backend'],
    migrations: { dir: '/nonexistent', table: 'dbops_migrations', schema: 'public' } as Target['migrations'],
    health: { thresholds: {} },
    backup: { dir: '/nonexistent/backups', retention: {} },
  } as unknown as Target
}

const connected = (context: ProbeContext) =>
  context.report({
    check: 'connection',
    severity: 'ok',
    subject: 'fake',
    message: 'fine',
    values: { latency_seconds: 0.001 },
    detail: { version: '15.4' },
  })

describe('checkHealth deadline and failures', () => {
  it('reports a connection that never completes as critical when the deadline passes', async () => {
    const result = await checkHealth(
      targetWith(() => new Promise(() => {})),
      { timeoutMs: 100 },
    )
    expect(result).toMatchObject({ up: false, status: 'critical', version: null })
    expect(result.checks).toEqual([
      expect.objectContaining({
        check: 'connection',
        severity: 'critical',
        message: expect.stringContaining('deadline'),
      }),
    ])
  })

  it('keeps what finished and reports the unfinished checks unknown when connected but not done by the deadline', async () => {
    const result = await checkHealth(
      targetWith(async (context) => {
        connected(context)
        context.report({ check: 'connections', severity: 'warn', subject: 'fake', message: 'busy' })
        return new Promise(() => {})
      }),
      { timeoutMs: 100, only: ['connections', 'sequences'] },
    )
    expect(result).toMatchObject({ up: true, status: 'warn', version: '15.4' })
    expect(result.checks.map((finding) => [finding.check, finding.severity])).toEqual([
      ['connection', 'ok'],
      ['connections', 'warn'],
      ['sequences', 'unknown'],
    ])
  })

  it('turns a failure of the probe itself into unknown checks, and an abort into the same as the deadline', async () => {
    const failed = await checkHealth(
      targetWith(async (context) => {
        connected(context)
        throw new Error('boom')
      }),
      { only: ['vacuum'] },
    )
    expect(failed.checks.find((finding) => finding.check === 'vacuum')).toMatchObject({
      severity: 'unknown',
      message: 'the check failed: boom',
    })
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 50)
    const aborted = await checkHealth(
      targetWith(() => new Promise(() => {})),
      { signal: controller.signal },
    )
    expect(aborted.checks[0]).toMatchObject({
      check: 'connection',
      severity: 'critical',
      message: expect.stringContaining('interrupted'),
    })
  })
})
