import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { formatPrometheus } from '../../../src/output/prometheus.js'
import { writeFileAtomic } from '../../../src/output/atomic-write.js'
import { worstSeverity } from '../../../src/findings.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe('formatPrometheus', () => {
  it('writes each family once, escapes label values and drops repeated series', () => {
    const text = formatPrometheus([
      {
        name: 'dbops_up',
        help: 'whether the target answered',
        type: 'gauge',
        samples: [{ labels: { target: 'app' }, value: 1 }],
      },
      {
        name: 'dbops_up',
        help: 'ignored',
        type: 'gauge',
        samples: [
          { labels: { target: 'we"ird\\name\n' }, value: 0 },
          { labels: { target: 'app' }, value: 0 },
        ],
      },
      {
        name: 'dbops_size_bytes',
        help: 'size',
        type: 'gauge',
        samples: [{ value: Infinity }, { value: NaN, labels: { b: '2', a: '1' } }],
      },
    ])
    expect(text).toBe(
      [
        '# HELP dbops_up whether the target answered',
        '# TYPE dbops_up gauge',
        'dbops_up{target="app"} 1',
        'dbops_up{target="we\\"ird\\\\name\\n"} 0',
        '# HELP dbops_size_bytes size',
        '# TYPE dbops_size_bytes gauge',
        'dbops_size_bytes +Inf',
        'dbops_size_bytes{a="1",b="2"} NaN',
        '',
      ].join('\n'),
    )
  })

  it('refuses names Prometheus would reject', () => {
    expect(() => formatPrometheus([{ name: 'dbops-up', help: '', type: 'gauge', samples: [] }])).toThrow(
      /invalid metric name/,
    )
    expect(() =>
      formatPrometheus([
        { name: 'dbops_up', help: '', type: 'gauge', samples: [{ labels: { 'a-b': 'x' }, value: 1 }] },
      ]),
    ).toThrow(/invalid label name/)
  })
})

describe('writeFileAtomic', () => {
  it('replaces the file and leaves no temporary file behind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbops-atomic-'))
    dirs.push(dir)
    const path = join(dir, 'metrics.prom')
    writeFileAtomic(path, 'first\n')
    writeFileAtomic(path, 'second\n', 0o600)
    expect(readFileSync(path, 'utf8')).toBe('second\n')
    expect(readdirSync(dir)).toEqual(['metrics.prom'])
  })

  it('fails without touching the target when the folder does not exist', () => {
    expect(() => writeFileAtomic(join(tmpdir(), 'dbops-no-such-dir', 'x', 'm.prom'), 'x')).toThrow(/ENOENT/)
  })
})

describe('worstSeverity', () => {
  it('orders ok < unknown < warn < critical', () => {
    expect(worstSeverity([])).toBe('ok')
    expect(worstSeverity(['ok', 'unknown'])).toBe('unknown')
    expect(worstSeverity(['unknown', 'warn', 'ok'])).toBe('warn')
    expect(worstSeverity(['critical', 'warn'])).toBe('critical')
  })
})
