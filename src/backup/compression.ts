import { spawnSync } from 'node:child_process'
import { PassThrough, type Readable } from 'node:stream'
import { createGunzip, createGzip } from 'node:zlib'

/**
 * Compression for artifacts pg_dump does not compress itself (plain format, SQLite copies). zstd through the zstd
 * program where it is installed (Node 20's zlib has no zstd, and the npm bindings need a native build or lack
 * streaming); gzip through zlib everywhere else.
 */
export type Compression = 'zstd' | 'gzip' | 'none'

export const COMPRESSION_EXTENSION: Record<Compression, string> = { zstd: '.zst', gzip: '.gz', none: '' }

let zstdFound: boolean | undefined
export function hasZstd(): boolean {
  zstdFound ??= spawnSync('zstd', ['--version'], { stdio: 'ignore' }).status === 0
  return zstdFound
}

/** `auto`: zstd when the program exists, else gzip. */
export function resolveCompression(setting: Compression | 'auto'): Compression {
  return setting === 'auto' ? (hasZstd() ? 'zstd' : 'gzip') : setting
}

export async function compressStream(source: Readable, compression: Compression, level?: number): Promise<Readable> {
  if (compression === 'none') return source
  if (compression === 'gzip') return source.pipe(createGzip(level === undefined ? {} : { level }))
  return throughZstd(source, ['-q', '-c', `-${level ?? 3}`, '-T0'])
}

/** Picks the decompressor from the stream's first bytes, so a restore needs no setting. */
export async function decompressStream(source: Readable, compression: Compression): Promise<Readable> {
  if (compression === 'none') return source
  if (compression === 'gzip') return source.pipe(createGunzip())
  return throughZstd(source, ['-q', '-d', '-c'])
}

async function throughZstd(source: Readable, args: string[]): Promise<Readable> {
  const { execa } = await import('execa')
  const child = execa('zstd', args, { input: source, buffer: false, stripFinalNewline: false, encoding: 'buffer' })
  // The output ends only once zstd exited cleanly: a corrupt input must fail, not look like a short file.
  const output = new PassThrough()
  child.stdout!.pipe(output, { end: false })
  child.then(
    () => output.end(),
    (error: { stderr?: string; shortMessage?: string }) =>
      output.destroy(new Error(`zstd failed: ${String(error.stderr || error.shortMessage).trim()}`)),
  )
  return output
}
