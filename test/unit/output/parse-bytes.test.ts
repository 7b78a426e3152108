import { describe, expect, it } from 'vitest'
import { parseSize } from '../../../src/backup/check-backups.js'
import { parseValue } from '../../../src/health/checks.js'
import { formatBytes, parseBytes } from '../../../src/output/format.js'

describe('parseBytes (the one size parser: backup check --min-size and health thresholds)', () => {
  it.each([
    ['512', 512],
    ['5b', 5],
    ['8kB', 8 * 1024],
    ['500 KB', 500 * 1024],
    ['1.5MB', 1.5 * 1024 ** 2],
    ['2GiB', 2 * 1024 ** 3],
    ['10g', 10 * 1024 ** 3],
    ['.5k', 512],
    ['1TB', 1024 ** 4],
  ])('reads %j as %i bytes', (text, bytes) => {
    expect(parseBytes(text)).toBe(bytes)
  })

  it.each(['', 'lots', '5 PB', '1e3', '-1MB', '5ib', 'MB'])('refuses %j', (text) => {
    expect(parseBytes(text)).toBeUndefined()
  })

  it('reads what formatBytes prints, and both callers agree', () => {
    expect(parseBytes(formatBytes(8 * 1024))).toBe(8 * 1024)
    expect(parseBytes(formatBytes(37 * 1024 ** 3))).toBe(37 * 1024 ** 3)
    for (const text of ['1MB', '500 kb', '2GiB', '1024']) {
      expect(parseSize(text, '--min-size')).toBe(parseValue('bytes', text))
    }
  })
})
