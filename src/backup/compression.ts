import { spawn, spawnSync } from 'node:child_process'
import { Duplex, pipeline, type Readable } from 'node:stream'
import { createGunzip, createGzip } from 'node:zlib'

/**
 * Compression for artifacts pg_dump does not compress itself (plain format, SQLite copies). zstd through the zstd
 * program where it is installed (Node 20's zlib has no zstd, and the npm bindings need a native build or lack
 * streaming); gzip through zlib everywhere else.
 */
export type Compression = 'zstd' | 'gzip' | 'none'

export const COMPRESSION_EXTENSION: Record<Compression, string> = { zstd: '.zst', gzip: '.gz', none: '' }

/** Levels each algorithm accepts (zstd above 19 needs --ultra and a lot of memory: left out). */
export const COMPRESSION_LEVELS: Record<Exclude<Compression, 'none'>, { min: number; max: number }> = {
  zstd: { min: 1, max: 19 },
  gzip: { min: 0, max: 9 },
}

let zstdFound: boolean | undefined
export function hasZstd(): boolean {
  zstdFound ??= spawnSync('zstd', ['--version'], { stdio: 'ignore' }).status === 0
  return zstdFound
}

/** `auto`: zstd when the program exists, else gzip. */
export function resolveCompression(setting: Compression | 'auto'): Compression {
  return setting === 'auto' ? (hasZstd() ? 'zstd' : 'gzip') : setting
}

/** A transform that compresses what is written to it; a failure (zstd exiting non-zero) is an error on it. */
export function compressor(compression: Exclude<Compression, 'none'>, level?: number): Duplex {
  if (compression === 'gzip') return createGzip(level === undefined ? {} : { level })
  return throughZstd(['-q', '-c', `-${level ?? 3}`, '-T0'])
}

/** The reverse; truncated or corrupt input is an error, never a short result. */
export function decompressor(compression: Exclude<Compression, 'none'>): Duplex {
  if (compression === 'gzip') return createGunzip()
  return throughZstd(['-q', '-d', '-c'])
}

export async function compressStream(source: Readable, compression: Compression, level?: number): Promise<Readable> {
  if (compression === 'none') return source
  return pipeline(source, compressor(compression, level), () => {})
}

export async function decompressStream(source: Readable, compression: Compression): Promise<Readable> {
  if (compression === 'none') return source
  return pipeline(source, decompressor(compression), () => {})
}

function throughZstd(args: string[]): Duplex {
  const child = spawn('zstd', args, { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    if (stderr.length < 2000) stderr += text
  })
  // zstd stopping early makes writes fail with EPIPE; its exit status and message are the error worth reporting.
  child.stdin.on('error', () => {})
  let exited = false
  const duplex = new Duplex({
    write(chunk: Buffer, _encoding, callback) {
      if (exited) return callback()
      child.stdin.write(chunk, () => callback())
    },
    final(callback) {
      child.stdin.end()
      callback()
    },
    read() {
      child.stdout.resume()
    },
    destroy(error, callback) {
      // A consumer that stops early (an error elsewhere in the pipeline) must not leave zstd running.
      if (!exited) child.kill()
      callback(error)
    },
  })
  child.stdout.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) child.stdout.pause()
  })
  child.once('error', (error) => duplex.destroy(error))
  // The output ends only once zstd exited cleanly: a corrupt input must fail, not look like a short file.
  child.once('close', (code, signal) => {
    exited = true
    if (code === 0) duplex.push(null)
    else duplex.destroy(new Error(`zstd failed: ${stderr.trim().split('\n').at(-1) || `exit ${code ?? signal}`}`))
  })
  return duplex
}
