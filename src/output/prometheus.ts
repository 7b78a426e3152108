/**
 * The Prometheus text exposition format (version 0.0.4), for `--format prometheus` and node_exporter's textfile
 * collector (`--metrics-file`). Values are in base units (seconds, bytes, ratios); each metric family is written
 * once with its HELP and TYPE, and a series (name + labels) appears once.
 */
export interface MetricSample {
  labels?: Record<string, string>
  value: number
}

export interface MetricFamily {
  /** `dbops_...`, snake_case, with a unit suffix (`_seconds`, `_bytes`, `_ratio`, `_total`) where there is a unit. */
  name: string
  help: string
  type: 'gauge' | 'counter'
  samples: MetricSample[]
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

export function formatPrometheus(families: readonly MetricFamily[]): string {
  const merged = new Map<string, MetricFamily>()
  for (const family of families) {
    if (!METRIC_NAME.test(family.name)) throw new Error(`invalid metric name "${family.name}"`)
    const existing = merged.get(family.name)
    if (existing) existing.samples.push(...family.samples)
    else merged.set(family.name, { ...family, samples: [...family.samples] })
  }
  const lines: string[] = []
  for (const family of merged.values()) {
    lines.push(`# HELP ${family.name} ${family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`)
    lines.push(`# TYPE ${family.name} ${family.type}`)
    const seen = new Set<string>()
    for (const sample of family.samples) {
      const labels = formatLabels(sample.labels ?? {})
      // A repeated series makes the whole file unreadable to Prometheus; the first value wins.
      if (seen.has(labels)) continue
      seen.add(labels)
      lines.push(`${family.name}${labels} ${formatValue(sample.value)}`)
    }
  }
  return lines.join('\n') + '\n'
}

function formatLabels(labels: Record<string, string>): string {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b))
  if (entries.length === 0) return ''
  const parts = entries.map(([name, value]) => {
    if (!LABEL_NAME.test(name)) throw new Error(`invalid label name "${name}"`)
    return `${name}="${value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`
  })
  return `{${parts.join(',')}}`
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}
