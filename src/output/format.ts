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

const BYTE_POWERS: Record<string, number> = { '': 0, k: 1, m: 2, g: 3, t: 4 }

/**
 * A size people write, read back: `512`, `8kB`, `500 KB`, `1.5MB`, `2GiB`, `10g`. 1024-based like formatBytes (and
 * df, pg_size_pretty, most monitoring plugins). Whole bytes; undefined when it is not a size.
 */
export function parseBytes(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([kmgt]?)(i?b)?\s*$/i.exec(text)
  if (!match || (match[2] === '' && match[3]?.toLowerCase() === 'ib')) return undefined
  return Math.round(Number(match[1]) * 1024 ** BYTE_POWERS[match[2]!.toLowerCase()]!)
}

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/**
 * A duration for people, the one style of every command: `0s`, `2.1ms`, `340ms`, `3.4s`, `42s`, `7m12s`, `26h`,
 * `1h30m`, `3d4h`. Two significant parts at most; parseDuration reads every result back (rounded). Elapsed times,
 * ages, timeouts and lags all print through it; `--json` keeps the raw numbers.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms)
  if (ms < 0) return `-${formatDuration(-ms)}`
  if (ms === 0) return '0s'
  if (ms < 10) return `${Number(ms.toFixed(1))}ms`
  if (Math.round(ms) < SECOND) return `${Math.round(ms)}ms`
  const shownSeconds = Number((ms / SECOND).toFixed(ms < 10 * SECOND ? 1 : 0))
  if (shownSeconds < 60) return `${shownSeconds}s`
  const seconds = Math.round(ms / SECOND)
  if (seconds < HOUR / SECOND) return parts([Math.floor(seconds / 60), 'm'], [seconds % 60, 's'])
  const minutes = Math.round(ms / MINUTE)
  if (minutes < (2 * DAY) / MINUTE) return parts([Math.floor(minutes / 60), 'h'], [minutes % 60, 'm'])
  const hours = Math.round(ms / HOUR)
  return parts([Math.floor(hours / 24), 'd'], [hours % 24, 'h'])
}

/** `7m12s`, `2m` (no `0s`), `26h`. */
function parts(...pairs: [number, string][]): string {
  return pairs.map(([count, unit]) => (count > 0 ? `${count}${unit}` : '')).join('')
}

/**
 * A target for people, naming the database it acted on and not only the config's name for it:
 * `bench (postgres://app:***@db:5432/other)`, `default (/srv/app/dev.db)`.
 */
export function formatTarget(target: { name: string; database: string }): string {
  return `${target.name} (${target.database})`
}

// C0 and C1 controls but newline and tab, DEL, and the bidirectional overrides that reorder what a terminal shows.
// eslint-disable-next-line no-control-regex
const CONTROL = /\u001b\[[0-9;]*m|[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/**
 * Text from the database (identifiers, messages) made safe for a terminal: a table named `\e[2J` must not clear the
 * screen. Control characters are shown escaped (`\x1b`, `\u202e`); colour codes (SGR) survive only when `keepColors`
 * (dbops' own colouring, on a terminal). `--json` needs none of this: JSON escapes them itself.
 */
export function escapeControlCharacters(text: string, keepColors = false): string {
  return text.replace(CONTROL, (match) => {
    if (match.length > 1) return keepColors ? match : `\\x1b${match.slice(1)}`
    const code = match.charCodeAt(0)
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
  })
}

/**
 * Text from the database that must stay on one line (a table cell, a suggested fix): a line break in a name (a table
 * called `a<newline>b`) is shown as `\n`, so it cannot split the line or pass for a line of its own.
 */
export function escapeLineBreaks(text: string): string {
  return text.replace(/\r?\n/g, '\\n')
}

/** A point in time for people, always UTC to the second: `2024-01-31 12:00:05Z`. Unparseable text is shown as is. */
export function formatTimestamp(time: string | Date): string {
  const date = typeof time === 'string' ? new Date(time) : time
  if (Number.isNaN(date.getTime())) return String(time)
  return date
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z')
}

/** Text on one line for messages and tables: whitespace runs (line breaks included) become one space; cut to `max`. */
export function oneLine(text: unknown, max = Infinity): string {
  const line = String(text ?? '')
    .replace(/\s+/g, ' ')
    .trim()
  return line.length > max ? `${line.slice(0, max - 1)}…` : line
}
