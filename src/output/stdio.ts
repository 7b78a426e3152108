import { fstatSync, writeSync, type Stats } from 'node:fs'

/**
 * Writes to stdout and stderr without creating process.stdout / process.stderr when they are a pipe, a socket (what
 * a parent's `stdio: 'pipe'` is), a file or a device that is not a terminal (/dev/null). Node builds those streams
 * on first access, and for a pipe that loads its net and stream modules: ~5-15 ms of every command's start-up
 * (`dbops migrate status | ...`, CI logs, the benchmarks), more than some commands' own work. Each write is one write(2) of the whole text, in program order.
 * One difference: a reader that stops reading holds dbops at its next write once the pipe is full (as it would a C
 * or Go program), where node's stream would queue the output in memory. Terminals (colours, widths, the spinner)
 * and anything else still use node's streams.
 */
export type Fd = 1 | 2

const plainFds: (boolean | undefined)[] = []

/** Whether `fd` is a pipe, a socket, a regular file or /dev/null, written here directly (false once a write fell back). */
export function isPlainOutput(fd: Fd): boolean {
  let plain = plainFds[fd]
  if (plain === undefined) {
    try {
      const stat = fstatSync(fd)
      // A character device that is not a terminal: /dev/null (cron's `> /dev/null`), /dev/full.
      plain =
        stat.isFIFO() || stat.isSocket() || stat.isFile() || (stat.isCharacterDevice() && !isTerminalDevice(fd, stat))
    } catch {
      plain = false // Closed or odd: leave it to node's stream, as before.
    }
    plainFds[fd] = plain
  }
  return plain
}

/**
 * Linux's memory devices (/dev/null, /dev/zero, /dev/full) have major number 1, which no terminal has: told apart
 * without node:tty, whose loading brings node's net module with it (~4 ms of start-up).
 */
function isTerminalDevice(fd: Fd, stat: Stats): boolean {
  if (process.platform === 'linux' && (stat.rdev >> 8) % 4096 === 1) return false
  return process.getBuiltinModule('node:tty').isatty(fd)
}

/** Whether `fd` is a terminal; answered without node's stream when it is a pipe or a file. */
export function isTerminal(fd: Fd): boolean {
  return !isPlainOutput(fd) && Boolean(streamOf(fd).isTTY)
}

/** The terminal's width, or undefined when `fd` is not a terminal (or reports none). */
export function terminalColumns(fd: Fd): number | undefined {
  if (!isTerminal(fd)) return undefined
  const columns = streamOf(fd).columns
  return columns > 0 ? columns : undefined
}

export function writeOut(text: string): void {
  write(1, text)
}

export function writeErr(text: string): void {
  write(2, text)
}

function write(fd: Fd, text: string): void {
  if (!isPlainOutput(fd)) {
    streamOf(fd).write(text)
    return
  }
  const bytes = Buffer.from(text, 'utf8')
  let offset = 0
  try {
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EAGAIN') {
      // A non-blocking pipe (shared with another process that set O_NONBLOCK) is full: the stream queues the rest
      // and waits for the reader, and takes every later write too, so the order stays.
      plainFds[fd] = false
      streamOf(fd).write(bytes.subarray(offset))
      return
    }
    // `dbops ... | head` closed the pipe: that ends the output, as bin/dbops.js does for the streams.
    if (code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw error
  }
}

function streamOf(fd: Fd): NodeJS.WriteStream {
  return fd === 1 ? process.stdout : process.stderr
}
