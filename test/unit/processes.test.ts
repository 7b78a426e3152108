import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { PassThrough, Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { pipeInBatches } from '../../src/processes.js'

/** A child writing `count` pieces of 4 KiB (each piece's bytes numbered), as pg_dump writes its archive. */
function writer(count: number) {
  const script = `const b = Buffer.alloc(4096); for (let i = 0; i < ${count}; i++) { b.fill(i % 251); require('fs').writeSync(1, b) }`
  return spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] })
}

function expected(count: number): string {
  const hash = createHash('sha256')
  const b = Buffer.alloc(4096)
  for (let i = 0; i < count; i++) hash.update(b.fill(i % 251))
  return hash.digest('hex')
}

describe('pipeInBatches', () => {
  it('copies all of a child’s output in order, in chunks larger than its writes, and closes its stdout', async () => {
    const child = writer(2000)
    const into = new PassThrough()
    const hash = createHash('sha256')
    const sizes: number[] = []
    into.on('data', (chunk: Buffer) => {
      hash.update(chunk)
      sizes.push(chunk.length)
    })
    expect(pipeInBatches(child.stdout!, into)).toBe(true)
    await new Promise((resolve) => child.stdout!.once('close', resolve))
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(2000 * 4096)
    expect(hash.digest('hex')).toBe(expected(2000))
    // Never one read per write: at least as many bytes per read as the child wrote per write.
    expect(Math.min(...sizes.slice(0, -1))).toBeGreaterThanOrEqual(4096)
    expect(sizes.length).toBeLessThan(2000)
    expect(into.writableEnded).toBe(false)
  })

  it('stops reading while the destination is full, and goes on after it drained', async () => {
    const child = writer(1000)
    let release: (() => void) | undefined
    let received = 0
    const slow = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _encoding, callback) {
        received += chunk.length
        // The first chunk is held: nothing is written meanwhile beyond the destination's buffer.
        if (release === undefined) release = callback
        else callback()
      },
    })
    pipeInBatches(child.stdout!, slow)
    await new Promise<void>((resolve) => {
      const wait = () => (release ? resolve() : setTimeout(wait, 5))
      wait()
    })
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(received).toBeLessThan(1000 * 4096)
    expect(slow.writableLength).toBeLessThanOrEqual(512 * 1024)
    release!()
    await new Promise((resolve) => child.stdout!.once('close', resolve))
    expect(received).toBe(1000 * 4096)
  })

  it('stops the child’s stdout when the destination is destroyed', async () => {
    const child = writer(100_000)
    const into = new PassThrough()
    into.resume()
    pipeInBatches(child.stdout!, into)
    into.destroy()
    await new Promise((resolve) => child.stdout!.once('close', resolve))
    expect(child.stdout!.destroyed).toBe(true)
    child.kill()
  })

  it('leaves a stdout whose bytes were already read to the caller', async () => {
    const child = writer(10)
    await new Promise((resolve) => child.stdout!.once('readable', resolve))
    expect(pipeInBatches(child.stdout!, new PassThrough())).toBe(false)
    child.stdout!.resume()
    await new Promise((resolve) => child.once('close', resolve))
  })
})
