// migrate lint turns V8's optimising compiler off for a short lint and on again for a long one (cli/context.ts
// optimiseOnlyLongLints); a library caller's V8 flags are left alone.
import { afterEach, describe, expect, it, vi } from 'vitest'

const flags = vi.hoisted(() => [] as string[])
vi.mock('node:v8', async (original) => ({
  ...(await original<typeof import('node:v8')>()),
  setFlagsFromString: (flag: string) => flags.push(flag),
}))

const { lintFiles } = await import('./lint-helpers.js')
const asked = Symbol.for('dbops.optimiseOnlyLongLints')

afterEach(() => {
  delete (globalThis as Record<symbol, unknown>)[asked]
  flags.length = 0
})

describe('optimising compiler during migrate lint', () => {
  it('is left alone for a library caller', async () => {
    await lintFiles(['CREATE TABLE t (id int);'])
    expect(flags).toEqual([])
  })
  it('is off for a short lint when the CLI asks, and on again once the set is over 1.5M characters', async () => {
    ;(globalThis as Record<symbol, unknown>)[asked] = true
    const short = await lintFiles(['CREATE INDEX i ON t (a);'])
    expect(flags).toEqual(['--no-opt'])
    expect(short.findings.map((finding) => finding.rule)).toEqual(['create-index-without-concurrently'])
    flags.length = 0
    const padding = `-- ${'x'.repeat(800_000)}\n`
    await lintFiles([`${padding}CREATE TABLE a (id int);`, `${padding}CREATE TABLE b (id int);`])
    expect(flags).toEqual(['--no-opt', '--opt'])
  })
})
