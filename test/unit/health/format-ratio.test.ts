import { describe, expect, it } from 'vitest'
import { formatValue } from '../../../src/health/checks.js'

describe('formatValue ratio', () => {
  it('never rounds up to 100% what is not all of it', () => {
    expect(formatValue('ratio', 0.99996)).toBe('99.9%')
    expect(formatValue('ratio', 1 - Number.EPSILON / 2)).toBe('99.9%')
    expect(formatValue('ratio', 1)).toBe('100%')
    expect(formatValue('ratio', 0.853)).toBe('85.3%')
    expect(formatValue('ratio', 0)).toBe('0%')
  })
})
