import { describe, expect, it } from 'vitest'
import {
  formatValue,
  grade,
  parseThresholdFlags,
  parseValue,
  resolveThresholds,
  selectChecks,
} from '../../../src/health/checks.js'
import { formatNagios, healthExitCode, healthMetrics } from '../../../src/health/health-output.js'
import type { HealthResult } from '../../../src/health/check-health.js'
import { formatPrometheus } from '../../../src/output/prometheus.js'

describe('health thresholds', () => {
  it('parses durations, sizes, ratios and counts in base units', () => {
    expect(parseValue('seconds', '5m')).toBe(300)
    expect(parseValue('seconds', '1m30s')).toBe(90)
    expect(parseValue('seconds', '250ms')).toBe(0.25)
    expect(parseValue('seconds', 26 * 3600)).toBe(93600)
    expect(parseValue('seconds', '3 parsecs')).toBeUndefined()
    expect(parseValue('bytes', '10GB')).toBe(10 * 1024 ** 3)
    expect(parseValue('bytes', '512 MiB')).toBe(512 * 1024 ** 2)
    expect(parseValue('bytes', '1kB')).toBe(1024)
    expect(parseValue('count', '1.5B')).toBe(1.5e9)
    expect(parseValue('count', '250k')).toBe(250_000)
    expect(parseValue('ratio', '0.8')).toBe(0.8)
  })

  it('layers defaults, config and command line per level; "off" switches a level off', () => {
    const { thresholds } = resolveThresholds({
      config: { connections: { warn: '70%' }, long_queries: { critical: '1h' } },
      overrides: { long_queries: { warn: 'off' }, xid_wraparound: { warn: 1_000_000 } },
    })
    expect(thresholds.connections).toEqual({
      warn: { value: 0.7, relative: true },
      critical: { value: 0.95, relative: true },
    })
    expect(thresholds.long_queries).toEqual({ warn: null, critical: { value: 3600, relative: false } })
    expect(thresholds.xid_wraparound!.warn).toEqual({ value: 1_000_000, relative: false })
    expect(thresholds.backup_age).toEqual({
      warn: { value: 26 * 3600, relative: false },
      critical: { value: 50 * 3600, relative: false },
    })
  })

  it('reports every bad value at once: config problems as config errors, flag problems as usage errors', () => {
    expect(() =>
      resolveThresholds({ config: { long_queries: { warn: 'soon' }, wal_size: { critical: '5%' } } }),
    ).toThrow(/health\.thresholds\.long_queries\.warn.*health\.thresholds\.wal_size\.critical/s)
    expect(() => resolveThresholds({ config: { long_queries: { warn: 'soon' } } })).toThrow(
      expect.objectContaining({ code: 'E_CONFIG' }),
    )
    expect(() => resolveThresholds({ overrides: { journal_mode: { warn: 3 } } })).toThrow(
      expect.objectContaining({ code: 'E_USAGE' }),
    )
    expect(resolveThresholds({ config: { some_audit_rule: { warn: 1 } } }).unknownConfigChecks).toEqual([
      'some_audit_rule',
    ])
  })

  it('grades critical before warn, relative thresholds against their reference, and lower-is-worse checks', () => {
    const { thresholds } = resolveThresholds({ overrides: { connections: { warn: 50, critical: '90%' } } })
    expect(grade(thresholds, 'connections', 49, 100)).toBe('ok')
    expect(grade(thresholds, 'connections', 50, 100)).toBe('warn')
    expect(grade(thresholds, 'connections', 90, 100)).toBe('critical')
    expect(grade(thresholds, 'cache_hit_ratio', 0.99)).toBe('ok')
    expect(grade(thresholds, 'cache_hit_ratio', 0.9)).toBe('warn')
    expect(grade(thresholds, 'xid_wraparound', 350e6, 200e6)).toBe('warn')
    expect(grade(thresholds, 'xid_wraparound', 1.1e9, 200e6)).toBe('critical')
  })

  it('parses --threshold flags', () => {
    expect(
      parseThresholdFlags(['connections.warn=70%', 'long_queries.critical=10m', 'wal_size=1GB', 'foreign_keys.crit=5']),
    ).toEqual({
      connections: { warn: '70%' },
      long_queries: { critical: '10m' },
      wal_size: { warn: '1GB' },
      foreign_keys: { critical: 5 },
    })
    expect(() => parseThresholdFlags(['connections'])).toThrow(expect.objectContaining({ code: 'E_USAGE' }))
  })

  it('selects checks per engine with --only and --skip, always keeping the connection', () => {
    expect([...selectChecks('sqlite', undefined, undefined)]).toEqual([
      'connection',
      'integrity',
      'foreign_keys',
      'journal_mode',
      'wal_size',
      'freelist',
      'database_size',
      'migrations',
      'backup_age',
    ])
    expect([...selectChecks('postgres', ['sequences'], undefined)]).toEqual(['connection', 'sequences'])
    expect(selectChecks('postgres', undefined, ['vacuum', 'analyze']).has('vacuum')).toBe(false)
    expect(() => selectChecks('postgres', ['sequence'], undefined)).toThrow(/no health check named "sequence"/)
  })

  it('formats values for people', () => {
    expect(formatValue('seconds', 0)).toBe('0s')
    expect(formatValue('seconds', 0.0021)).toBe('2.1ms')
    expect(formatValue('seconds', 432)).toBe('7m12s')
    expect(formatValue('seconds', 30 * 3600)).toBe('30h')
    expect(formatValue('ratio', 0.853)).toBe('85.3%')
    expect(formatValue('bytes', 3.2 * 1024 ** 3)).toBe('3.2 GB')
  })
})

function result(
  target: string,
  checks: HealthResult['checks'],
  overrides: Parameters<typeof resolveThresholds>[0]['overrides'] = {},
): HealthResult {
  const status = checks.some((c) => c.severity === 'critical')
    ? 'critical'
    : checks.some((c) => c.severity === 'warn')
      ? 'warn'
      : checks.some((c) => c.severity === 'unknown')
        ? 'unknown'
        : 'ok'
  return {
    target,
    engine: 'postgres',
    url: 'postgres://x',
    status,
    up: true,
    version: '15',
    durationMs: 12,
    checks,
    thresholds: resolveThresholds({ overrides }).thresholds,
  }
}

describe('health output', () => {
  const warned = result('prod db', [
    { check: 'connection', severity: 'ok', subject: 'x', message: 'ok', values: { latency_seconds: 0.002 } },
    {
      check: 'connections',
      severity: 'warn',
      subject: 'x',
      message: '85 of 100',
      values: { used: 85, max: 100, used_ratio: 0.85 },
    },
    { check: 'cache_hit_ratio', severity: 'ok', subject: 'x', message: 'fine', values: { ratio: 0.995 } },
    { check: 'sequences', severity: 'unknown', subject: 'x', message: 'could not run: permission denied; more' },
  ])

  it('maps severities to exit codes: unknown counts as a warning, 3 stays for usage errors', () => {
    expect(healthExitCode('ok')).toBe(0)
    expect(healthExitCode('warn')).toBe(1)
    expect(healthExitCode('unknown')).toBe(1)
    expect(healthExitCode('critical')).toBe(2)
  })

  it('writes one Nagios line with perfdata in the value units and quoted labels', () => {
    const line = formatNagios([warned])
    expect(line).toBe(
      'DBOPS HEALTH WARNING - 1 warning(s): connections 85.0%; 1 unknown: sequences (could not run: permission denied) | connection=0.002s;1;5;0; connections=85%;80;95;0;100 cache_hit_ratio=99.5%;95:;;0;100',
    )
    const two = formatNagios([
      warned,
      result('other', [{ check: 'connection', severity: 'critical', subject: 'y', message: 'refused' }]),
    ])
    expect(two).toMatch(
      /^DBOPS HEALTH CRITICAL - 1 critical: other:connection \(refused\); 1 warning\(s\): prod db:connections 85\.0%/,
    )
    expect(two).toContain("'prod db:connections'=85%;80;95;0;100")
    expect(
      formatNagios([
        result('ok', [
          { check: 'connection', severity: 'ok', subject: 'x', message: 'fine', values: { latency_seconds: 0.001 } },
        ]),
      ]),
    ).toBe('DBOPS HEALTH OK - 1 check(s) ok on ok | connection=0.001s;1;5;0;')
  })

  it('writes perfdata numbers exactly and never in e-notation (issue 10: 713432000B, 9.31323e-8%)', () => {
    const line = formatNagios([
      result('t', [
        { check: 'database_size', severity: 'ok', subject: 'x', message: '', values: { bytes: 713_432_123 } },
        {
          check: 'sequences',
          severity: 'ok',
          subject: 'x',
          message: '',
          values: { max_used_ratio: 9.313225746154785e-10 },
        },
      ]),
    ])
    expect(line).toContain('database_size=713432123B;')
    expect(line).toMatch(/sequences=0\.0000000931323%;/)
    expect(line).not.toMatch(/\de[-+]?\d/)
  })

  it('shows absolute connection thresholds as a percentage of the usable slots', () => {
    const custom = result(
      't',
      [
        {
          check: 'connections',
          severity: 'ok',
          subject: 'x',
          message: '',
          values: { used: 10, max: 200, used_ratio: 0.05 },
        },
      ],
      { connections: { warn: 100 } },
    )
    expect(formatNagios([custom])).toContain('connections=5%;50;95;0;100')
  })

  it('exports each metric family once across targets, in base units', () => {
    const text = formatPrometheus(
      healthMetrics([
        warned,
        result('b', [
          { check: 'connection', severity: 'ok', subject: 'x', message: '', values: { latency_seconds: 0.5 } },
        ]),
      ]),
    )
    expect(text.match(/^# TYPE dbops_latency_seconds gauge$/gm)).toHaveLength(1)
    expect(text).toContain('dbops_latency_seconds{target="prod db"} 0.002\n')
    expect(text).toContain('dbops_latency_seconds{target="b"} 0.5\n')
    expect(text).toContain('dbops_connections_used_ratio{target="prod db"} 0.85\n')
    expect(text).toContain('dbops_health_status{check="sequences",target="prod db"} 3\n')
    expect(text).toContain('dbops_up{engine="postgres",target="b"} 1\n')
  })
})
