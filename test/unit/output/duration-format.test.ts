import { describe, expect, it } from 'vitest'
import { parseDuration } from '../../../src/config/duration.js'
import { formatDuration } from '../../../src/output/format.js'

describe('formatDuration (the one duration style for people)', () => {
  it.each([
    [0, '0s'],
    [0.4, '0.4ms'],
    [2.1, '2.1ms'],
    [12, '12ms'],
    [340, '340ms'],
    [999.6, '1s'],
    [1_000, '1s'],
    [3_400, '3.4s'],
    [12_500, '13s'],
    [42_000, '42s'],
    [59_600, '1m'],
    [90_000, '1m30s'],
    [432_000, '7m12s'],
    [3_599_600, '1h'],
    [5_400_000, '1h30m'],
    [26 * 3_600_000, '26h'],
    [2 * 86_400_000 - 3_600_000, '47h'],
    [2 * 86_400_000 - 1_000, '2d'],
    [(3 * 24 + 4) * 3_600_000, '3d4h'],
    [7 * 86_400_000, '7d'],
    [-500, '-500ms'],
  ])('prints %d ms as %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text)
  })

  it('prints text that parseDuration reads back, to the precision shown', () => {
    for (const ms of [1, 340, 3_400, 432_000, 5_400_000, 26 * 3_600_000, (3 * 24 + 4) * 3_600_000]) {
      expect(parseDuration(formatDuration(ms), 'x')).toBe(ms)
    }
  })
})
