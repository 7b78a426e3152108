import { describe, expect, it } from 'vitest'
import { parseDurationFlag, parseWholeNumber } from '../../../src/cli/flags.js'
import { UsageError } from '../../../src/errors.js'

function usageError(parse: () => unknown): UsageError {
  try {
    parse()
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError)
    return error as UsageError
  }
  throw new Error('expected a usage error')
}

describe('parseWholeNumber', () => {
  it('reads digits within the range', () => {
    expect(parseWholeNumber('--jobs', '4')).toBe(4)
    expect(parseWholeNumber('--jobs', ' 12 ')).toBe(12)
    expect(parseWholeNumber('--keep-last', '0', { min: 0 })).toBe(0)
    expect(parseWholeNumber('--pg-version', '15', { min: 9, max: 99 })).toBe(15)
  })

  it('refuses what is not a plain whole number, naming the flag and the accepted range', () => {
    for (const text of ['0', '-3', 'abc', '1.5', '1e3', '0x10', '', ' ', '4abc', 'Infinity']) {
      const error = usageError(() => parseWholeNumber('--concurrency', text, { max: 100 }))
      expect(error.code).toBe('E_USAGE')
      expect(error.message).toBe(`--concurrency takes a whole number from 1 to 100, not "${text}"`)
    }
  })

  it('refuses numbers outside the range', () => {
    expect(usageError(() => parseWholeNumber('--pg-version', '100', { min: 9, max: 99 })).message).toContain(
      'from 9 to 99',
    )
    expect(usageError(() => parseWholeNumber('--steps', '10000000')).message).toContain('from 1 to 1000000')
  })

  it('accepts its word instead of a number', () => {
    const range = { min: 0, word: 'unlimited', wordValue: -1 }
    expect(parseWholeNumber('--keep-daily', 'unlimited', range)).toBe(-1)
    expect(usageError(() => parseWholeNumber('--keep-daily', 'all', range)).message).toBe(
      '--keep-daily takes a whole number from 0 to 1000000 or "unlimited", not "all"',
    )
  })
})

describe('parseDurationFlag', () => {
  it('reads durations as the config does', () => {
    expect(parseDurationFlag('--timeout', '1m30s')).toBe(90_000)
    expect(parseDurationFlag('--timeout', '500ms')).toBe(500)
    expect(parseDurationFlag('--lock-timeout', '0')).toBe(0)
  })

  it('names the flag once and gives an example', () => {
    const error = usageError(() => parseDurationFlag('--lock-timeout', 'abc'))
    expect(error.message.match(/--lock-timeout/g)).toHaveLength(1)
    expect(error.message).toMatch(/^--lock-timeout: "abc" is not a duration/)
    expect(error.hint).toBe('e.g. --lock-timeout 30s')
    expect(usageError(() => parseDurationFlag('--timeout', '5')).message).toBe('--timeout: "5" needs a unit, e.g. 5s')
  })

  it('refuses 0 when the flag needs a positive duration', () => {
    expect(usageError(() => parseDurationFlag('--timeout', '0', { positive: true })).message).toBe(
      '--timeout: must be more than 0, not "0"',
    )
  })
})
