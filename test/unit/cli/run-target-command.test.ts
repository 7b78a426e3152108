// --all prints each target's result (or error) in config order, whatever order they finish in.
import { rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { tempDir } from '../../helpers/databases.js'
import { DbopsError } from '../../../src/errors.js'

const written: string[] = []
vi.mock('../../../src/output/stdio.js', async (original) => ({
  ...(await original<typeof import('../../../src/output/stdio.js')>()),
  writeOut: (text: string) => written.push(`out: ${text.trimEnd()}`),
  writeErr: (text: string) => written.push(`err: ${text.trimEnd()}`),
}))
const { runTargetCommand } = await import('../../../src/cli/context.js')

const dir = tempDir('dbops-run-targets')
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const config = path.join(dir, 'dbops.config.json')
writeFileSync(
  config,
  JSON.stringify({
    targets: {
      slow: { url: 'sqlite:./slow.db' },
      broken: { url: 'sqlite:./broken.db' },
      quick: { url: 'sqlite:./quick.db' },
    },
  }),
)

function finished(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((done) => (resolve = done))
  return { promise, resolve }
}

/** `slow` finishes last: it waits for the others to finish, and for whatever they print right away. */
function run(json: boolean): Promise<number> {
  const others = { broken: finished(), quick: finished() }
  written.length = 0
  return runTargetCommand<{ name: string }>(
    { config, all: true, concurrency: 3, dotenv: false, json, color: false },
    {
      command: 'test',
      create: true,
      async run(target) {
        if (target.name === 'slow') {
          await Promise.all([others.broken.promise, others.quick.promise])
          // One turn of the event loop: what the others print once their work is done is printed by then.
          await new Promise((resolve) => setImmediate(resolve))
          return { name: target.name }
        }
        try {
          if (target.name === 'broken') throw new DbopsError('E_TEST', 'broken on purpose')
          return { name: target.name }
        } finally {
          others[target.name as keyof typeof others].resolve()
        }
      },
      print: (result, reporter) => reporter.result(`result of ${result.name}`),
    },
  )
}

describe('runTargetCommand --all', () => {
  it('prints results and errors in config order, the slowest first target included', async () => {
    expect(await run(false)).toBe(2)
    expect(written).toEqual([
      'out: result of slow',
      'err: [broken] error: broken on purpose',
      'out: result of quick',
      'out: 3 target(s): 2 ok, 1 failed',
    ])
  })

  it('--json lists the targets in config order', async () => {
    expect(await run(true)).toBe(2)
    const document = JSON.parse(written.join('\n').replace(/^out: /, ''))
    expect(document.targets.map((entry: { target?: string; name?: string }) => entry.target ?? entry.name)).toEqual([
      'slow',
      'broken',
      'quick',
    ])
  })
})
