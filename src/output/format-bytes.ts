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
