import { parseDuration } from '../config/duration.js'
import { UsageError } from '../errors.js'

/** Large enough for any count a person types, small enough to stay an exact integer everywhere. */
const MAX_WHOLE_NUMBER = 1_000_000

export interface WholeNumberRange {
  min?: number
  max?: number
  /** Accepted instead of a number (e.g. `unlimited` for --keep-*); parsed as `wordValue`. */
  word?: string
  wordValue?: number
}

/**
 * The one parser for whole-number flags (--concurrency, --jobs, --steps, --keep-*, ...): digits only, within
 * [min, max]. `1.5`, `1e3`, `0x10`, `-3` and `abc` are usage errors (exit 3) that name the flag and the range.
 */
export function parseWholeNumber(flag: string, text: string, range: WholeNumberRange = {}): number {
  const { min = 1, max = MAX_WHOLE_NUMBER, word, wordValue = -1 } = range
  const trimmed = text.trim()
  if (word !== undefined && trimmed === word) return wordValue
  const number = /^\d+$/.test(trimmed) ? Number(trimmed) : NaN
  if (Number.isNaN(number) || number < min || number > max) {
    const accepted = `a whole number from ${min} to ${max}${word === undefined ? '' : ` or "${word}"`}`
    throw new UsageError(`${flag} takes ${accepted}, not "${text}"`, `e.g. ${flag} ${Math.max(min, 1)}`)
  }
  return number
}

/**
 * The one parser for duration flags (--timeout, --lock-timeout, --budget, ...): `500ms`, `5s`, `1m30s`, `0`, as in
 * the config. Returns milliseconds; `positive` refuses 0. A bad value is a usage error (exit 3) naming the flag once.
 */
export function parseDurationFlag(flag: string, text: string, { positive = false } = {}): number {
  let ms: number
  try {
    ms = parseDuration(text, flag)
  } catch (error) {
    throw new UsageError((error as Error).message, `e.g. ${flag} 30s`)
  }
  if (positive && ms <= 0) throw new UsageError(`${flag}: must be more than 0, not "${text}"`, `e.g. ${flag} 30s`)
  return ms
}
