/** A byte count for people, 1024-based with PostgreSQL's pg_size_pretty units: `512 B`, `8.0 kB`, `1.4 GB`, `37 GB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB']
  let value = bytes
  let unit = 0
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(Math.abs(value) < 10 ? 1 : 0)} ${units[unit]}`
}

/** A command's elapsed time for people: `12 ms`, `3.40 s`. */
export function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`
}

/** Text on one line for messages and tables: whitespace runs (line breaks included) become one space; cut to `max`. */
export function oneLine(text: unknown, max = Infinity): string {
  const line = String(text ?? '').replace(/\s+/g, ' ').trim()
  return line.length > max ? `${line.slice(0, max - 1)}…` : line
}
