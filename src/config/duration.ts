const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const
type Unit = keyof typeof UNIT_MS

const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y

/**
 * Parses `500ms`, `5s`, `1.5s`, `2m`, `1h`, `1d`, compounds such as `1m30s` (what formatDuration prints), and `0`.
 * Returns whole milliseconds. A bare number other than 0 is refused: `lockTimeout: 5` could mean 5 ms (PostgreSQL)
 * or 5 s, and guessing wrong is a production incident.
 *
 * Throws a plain Error whose message starts with `path: ` (a config path or a flag name), so callers can use the
 * message as a config problem line or wrap it in a UsageError as is.
 */
export function parseDuration(text: string, path: string): number {
  const trimmed = text.trim()
  if (trimmed === '') throw new Error(`${path}: empty duration (write e.g. 5s, or 0 for none)`)
  if (/^0+(\.0+)?$/.test(trimmed)) return 0
  if (/^\d+(\.\d+)?$/.test(trimmed)) throw new Error(`${path}: "${trimmed}" needs a unit, e.g. ${trimmed}s`)

  let ms = 0
  PART.lastIndex = 0
  while (PART.lastIndex < trimmed.length) {
    const start = PART.lastIndex
    const match = PART.exec(trimmed)
    if (!match || match.index !== start) {
      throw new Error(`${path}: "${trimmed}" is not a duration (use ms, s, m, h or d, e.g. 500ms, 5s, 1m30s)`)
    }
    ms += Number(match[1]) * UNIT_MS[match[2] as Unit]
  }
  return Math.round(ms)
}

/**
 * A setting's exact text, for writing it back (migration directives, `config show`): 250 -> `250ms`, 5000 -> `5s`,
 * 90000 -> `1m30s`, 1500 -> `1.5s`, 0 -> `0`. parseDuration reads every result back exactly. For people, rounded,
 * use formatDuration (src/output/format.ts).
 */
export function formatDurationSetting(ms: number): string {
  if (ms === 0) return '0'
  if (ms < 1000) return `${Math.round(ms)}ms`
  let rest = Math.round(ms)
  let text = ''
  for (const unit of ['d', 'h', 'm'] as const) {
    const count = Math.floor(rest / UNIT_MS[unit])
    if (count > 0) text += `${count}${unit}`
    rest -= count * UNIT_MS[unit]
  }
  if (rest > 0) text += `${rest / 1000}s`
  return text
}
