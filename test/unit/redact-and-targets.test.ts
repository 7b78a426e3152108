import { describe, expect, it } from 'vitest'
import { redactUrl, urlPasswords } from '../../src/config/database-url.js'
import { registerSecretsFromUrl, scrubSecrets } from '../../src/output/redact.js'
import { forEachTarget } from '../../src/targets/for-each-target.js'

describe('passwords in URLs', () => {
  it('finds the userinfo password even with unencoded "@", "/" and ":", and password= in the query', () => {
    const url = 'postgres://app:p@ss/wo:rd@db.example:5432/app?sslmode=require&password=other'
    expect(urlPasswords(url)).toEqual(['p@ss/wo:rd', 'other'])
    expect(redactUrl(url)).toBe('postgres://app:***@db.example:5432/app?sslmode=require&password=***')
    expect(urlPasswords('postgres://app@db/app')).toEqual([])
    expect(urlPasswords('sqlite:./dev.db')).toEqual([])
  })

  it('scrubs registered passwords from any text, raw and percent-decoded', () => {
    registerSecretsFromUrl('postgres://app:s%40cret-1@db/app')
    expect(scrubSecrets('failed: s%40cret-1 and s@cret-1 appear here')).toBe('failed: *** and *** appear here')
  })
})

describe('forEachTarget', () => {
  it('runs at most `concurrency` targets at once, keeps their order, and isolates failures', async () => {
    let running = 0
    let peak = 0
    const targets = ['a', 'b', 'c', 'd', 'e'].map((name) => ({ name }))
    const outcomes = await forEachTarget(targets, 2, async ({ name }) => {
      running++
      peak = Math.max(peak, running)
      await new Promise((resolve) => setTimeout(resolve, name === 'a' ? 30 : 5))
      running--
      if (name === 'c') throw new Error('c is down')
      return name.toUpperCase()
    })
    expect(peak).toBe(2)
    expect(outcomes.map((outcome) => outcome.target)).toEqual(['a', 'b', 'c', 'd', 'e'])
    expect(outcomes.map((outcome) => (outcome.ok ? outcome.result : (outcome.error as Error).message))).toEqual([
      'A',
      'B',
      'c is down',
      'D',
      'E',
    ])
  })
})
