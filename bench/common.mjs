// What the benchmark scripts share: argument parsing, medians, running a command and timing it.
import { execFileSync, spawnSync } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, symlinkSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'

/** Options of `node bench/<script>.mjs`: `option('--runs', '3')`, `flag('--json')`; `die` exits 2 with a message. */
export function commandLine(scriptName, usage) {
  const args = process.argv.slice(2)
  const die = (message) => {
    console.error(`${scriptName}: ${message}`)
    process.exit(2)
  }
  const option = (name, fallback) => {
    const index = args.indexOf(name)
    if (index < 0) return fallback
    const value = args[index + 1]
    if (value === undefined || value.startsWith('--')) die(`${name} needs a value`)
    return value
  }
  const flag = (name) => args.includes(name)
  const positiveInt = (value, name) => {
    const number = Number(value)
    if (!Number.isInteger(number) || number < 1) die(`${name} takes a whole number of at least 1, not "${value}"`)
    return number
  }
  if (flag('--help') || flag('-h')) {
    console.log(usage)
    process.exit(0)
  }
  return { option, flag, die, positiveInt }
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/**
 * CPU time (user + system, ms) of this process's finished children, from /proc (Linux; undefined elsewhere). Read
 * around a command it gives that command's CPU time, which load on the machine changes far less than wall time.
 */
function childrenCpuMs() {
  try {
    // Fields after the command name (which may hold spaces): cutime and cstime are the 14th and 15th, in 1/100 s.
    const stat = readFileSync('/proc/self/stat', 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[13]) + Number(fields[14])) * 10
  } catch {
    return undefined
  }
}

/** Runs a command, throws on a non-zero exit (with its output), returns { ms, cpuMs, stdout, stderr }. */
export function run(command, commandArgs, { cwd, stdinFile, env } = {}) {
  const stdinFd = stdinFile ? openSync(stdinFile, 'r') : undefined
  try {
    const cpuBefore = childrenCpuMs()
    const started = performance.now()
    const result = spawnSync(command, commandArgs, {
      cwd,
      env: env ?? process.env,
      stdio: [stdinFd ?? 'ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    })
    const ms = performance.now() - started
    const cpuAfter = childrenCpuMs()
    const cpuMs = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore
    if (result.error) throw result.error
    if (result.status !== 0) {
      throw new Error(
        `${basename(command)} ${commandArgs.join(' ')} exited ${result.status ?? result.signal}\n${result.stdout.slice(-2000)}${result.stderr.slice(-4000)}`,
      )
    }
    return { ms, cpuMs, stdout: result.stdout, stderr: result.stderr }
  } finally {
    if (stdinFd !== undefined) closeSync(stdinFd)
  }
}

/**
 * bin/dbops.js of another build, to time in the same rounds (`--baseline`, or `--compare` as the other benches spell
 * it): that file itself, a folder holding bin/dbops.js, or a git ref of `repo`, exported with git archive into `dir`
 * (created) and built there with the repo's node_modules (~1 minute). Throws when none works.
 */
export function baselineBuild(spec, repo, dir) {
  const folder = resolve(spec)
  if (folder.endsWith('.js') && existsSync(folder)) return folder
  if (existsSync(join(folder, 'bin', 'dbops.js'))) return join(folder, 'bin', 'dbops.js')
  mkdirSync(dir, { recursive: true })
  try {
    execFileSync('sh', ['-c', 'git -C "$1" archive "$2" | tar -x -C "$3"', 'sh', repo, spec, dir], { stdio: 'pipe' })
    symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'))
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: dir, stdio: 'pipe' })
  } catch (error) {
    throw new Error(
      `--baseline ${spec}: not a bin/dbops.js or a folder with one, and building it as a git ref failed: ${error.stderr ?? error.message}`,
    )
  }
  return join(dir, 'bin', 'dbops.js')
}

/** The URL of database `name` on the server of `adminUrl`. */
export function databaseUrl(adminUrl, name) {
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
}

/** One psql command's output, trimmed (fails the bench on an SQL error). */
export function psql(url, text) {
  return run('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', text]).stdout.trim()
}

/**
 * The backup benches' pgbench database at `scale` (`dbops_bench_backup_s<scale>`), made once with `pgbench -i` and
 * reused by later runs and by the other backup benches.
 */
export function pgbenchDatabase(adminUrl, scale) {
  const name = `dbops_bench_backup_s${scale}`
  const exists = psql(adminUrl, `SELECT count(*) FROM pg_database WHERE datname = '${name}'`) === '1'
  const url = databaseUrl(adminUrl, name)
  if (exists && psql(url, `SELECT count(*) FROM pg_class WHERE relname = 'pgbench_accounts'`) === '1') return url
  if (!exists) psql(adminUrl, `CREATE DATABASE ${name}`)
  console.log(`creating ${name} with pgbench -i -s ${scale} (once; reused by later runs)`)
  run('pgbench', ['-i', '-q', '-s', String(scale), url])
  return url
}

/** The newest installed PostgreSQL `tool` (the program, not a wrapper script), so dbops and a bench's own command run the same binary. */
export function pgBin(tool) {
  const base = '/usr/lib/postgresql'
  if (existsSync(base)) {
    const majors = readdirSync(base)
      .filter((name) => existsSync(join(base, name, 'bin', tool)))
      .sort((a, b) => Number(b) - Number(a))
    if (majors[0]) return join(base, majors[0], 'bin', tool)
  }
  return tool
}
