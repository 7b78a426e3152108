// Helpers shared by the backup unit tests (compression, encryption, sealed artifacts).
import type { Readable } from 'node:stream'

/** Everything `stream` yields, as one buffer. */
export async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const part of stream) parts.push(Buffer.from(part as Uint8Array))
  return Buffer.concat(parts)
}

/** A dump-like text of about 3 MB: compressible but not trivial, and long enough for many age chunks. */
export function dumpLike(): Buffer {
  const lines: string[] = []
  for (let i = 0; i < 60_000; i++) lines.push(`${i}\tuser${i}@example.com\t${(i * 7919) % 10007}\t2026-12-04`)
  return Buffer.from(lines.join('\n'))
}

/** The error `promise` rejects with; throws "expected a failure" when it resolves. */
export async function failureOf(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  return (await promise.then(
    () => {
      throw new Error('expected a failure')
    },
    (caught: unknown) => caught,
  )) as Error & { code?: string }
}
