import { afterEach, describe, expect, it, vi } from 'vitest'
import { Reporter } from '../../../src/output/reporter.js'

/** Every write to stdout and stderr, in order, as [stream, text] (the Reporter writes through output/stdio.ts). */
const output = vi.hoisted(() => ({ writes: [] as Array<[string, string]> }))
vi.mock('../../../src/output/stdio.js', () => ({
  isTerminal: () => false,
  terminalColumns: () => undefined,
  writeOut: (text: string) => output.writes.push(['stdout', text]),
  writeErr: (text: string) => output.writes.push(['stderr', text]),
}))

afterEach(() => {
  vi.restoreAllMocks()
  vi.useRealTimers()
})

function captureWrites(): Array<[string, string]> {
  output.writes = []
  return output.writes
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve))

describe('Reporter progress lines', () => {
  it('writes the lines of one synchronous burst together, when the event loop turns', async () => {
    const reporter = new Reporter({ json: false, color: false, verbose: false, prefixTargets: false })
    const writes = captureWrites()
    for (let i = 1; i <= 3; i++) reporter.finish('app', `applying ${i} ... done in 1 ms`)
    expect(writes).toEqual([])
    await nextTurn()
    expect(writes).toEqual([
      ['stderr', 'applying 1 ... done in 1 ms\napplying 2 ... done in 1 ms\napplying 3 ... done in 1 ms\n'],
    ])
  })

  it('writes a line that follows a write closely at most 100 ms later, together with the ones after it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setImmediate', 'performance'] })
    const reporter = new Reporter({ json: false, color: false, verbose: false, prefixTargets: false })
    const writes = captureWrites()
    reporter.log('app', 'applying 1 ... done in 1 ms')
    reporter.close()
    reporter.log('app', 'applying 2 ... done in 1 ms')
    await vi.advanceTimersByTimeAsync(50)
    reporter.log('app', 'applying 3 ... done in 1 ms')
    expect(writes).toEqual([['stderr', 'applying 1 ... done in 1 ms\n']])
    await vi.advanceTimersByTimeAsync(50)
    expect(writes).toEqual([
      ['stderr', 'applying 1 ... done in 1 ms\n'],
      ['stderr', 'applying 2 ... done in 1 ms\napplying 3 ... done in 1 ms\n'],
    ])
    // Long after the last write, a line goes out when the event loop turns.
    await vi.advanceTimersByTimeAsync(1000)
    reporter.log('app', 'applying 4 ... done in 1 ms')
    await vi.advanceTimersByTimeAsync(0)
    expect(writes.at(-1)).toEqual(['stderr', 'applying 4 ... done in 1 ms\n'])
  })

  it('writes pending progress before a result, a JSON document or an error, so the order does not change', async () => {
    const reporter = new Reporter({ json: false, color: false, verbose: false, prefixTargets: false })
    const writes = captureWrites()
    reporter.log('app', 'applying 1 ... done in 1 ms')
    reporter.result('app: applied 1 migration in 1 ms')
    reporter.warn('app', 'something odd')
    reporter.error('app', 'it failed', undefined)
    reporter.log('app', 'last line')
    reporter.json({ ok: true })
    await nextTurn()
    expect(writes.map(([stream, text]) => `${stream}: ${text.trim()}`)).toEqual([
      'stderr: applying 1 ... done in 1 ms',
      'stdout: app: applied 1 migration in 1 ms',
      'stderr: warning: something odd',
      'stderr: error: it failed',
      'stderr: last line',
      'stdout: {\n  "ok": true\n}',
    ])
  })
})
