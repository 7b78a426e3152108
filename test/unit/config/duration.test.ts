import { describe, expect, it } from 'vitest'
import { formatDurationSetting, parseDuration } from '../../../src/config/duration.js'

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['5s', 5_000],
    ['1.5s', 1_500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1m30s', 90_000],
    ['0', 0],
    ['0s', 0],
    [' 5s ', 5_000],
  ])('reads %j as %i ms', (text, ms) => {
    expect(parseDuration(text, 'lockTimeout')).toBe(ms)
  })

  it('refuses a bare number other than 0 and says which unit to add', () => {
    expect(() => parseDuration('5', 'migrations.lockTimeout')).toThrow(
      'migrations.lockTimeout: "5" needs a unit, e.g. 5s',
    )
    expect(() => parseDuration('60', 'x')).toThrow('x: "60" needs a unit, e.g. 60s')
  })

  it.each(['', '5 s', '5sec', '-5s', 's', '1.s', '5s5', 'five seconds'])('refuses %j', (text) => {
    expect(() => parseDuration(text, 'statementTimeout')).toThrow(/^statementTimeout: /)
  })

  it('throws a plain Error, for callers to turn into a config problem or a usage error', () => {
    try {
      parseDuration('soon', '--lock-timeout')
      expect.unreachable()
    } catch (error) {
      expect((error as Error).constructor).toBe(Error)
    }
  })
})

describe('formatDurationSetting', () => {
  it.each([
    [0, '0'],
    [250, '250ms'],
    [5_000, '5s'],
    [90_000, '1m30s'],
    [1_500, '1.5s'],
    [3_600_000, '1h'],
    [90_061_000, '1d1h1m1s'],
  ])('prints %i ms as %j', (ms, text) => {
    expect(formatDurationSetting(ms)).toBe(text)
  })

  it('prints what parseDuration reads back', () => {
    for (const ms of [0, 1, 999, 1_000, 61_500, 3_599_999, 86_400_000 * 3 + 7]) {
      expect(parseDuration(formatDurationSetting(ms), 'x')).toBe(ms)
    }
  })
})
