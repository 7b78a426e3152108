#!/usr/bin/env node
// Times `dbops backup create` to an S3-compatible bucket against `pg_dump -Fc | aws s3 cp - s3://...`, measured in the
// same run, alternating, against the same store: a moto_server this script starts on a free loopback port (the AWS
// CLI is pointed at it with --endpoint-url). Also the peak RSS of the dbops process and the local disk it uses
// (sampled size of its temporary folder and project folder) at several database sizes: a dump that streams to the
// bucket must keep both flat as the database grows. The baseline pipeline's peak RSS is measured at the same sizes:
// an S3 multipart upload holds whole parts (5 MiB at least) in memory, so any streaming uploader grows until the dump
// fills its part buffers (dbops: 3 x 8 MiB) and stays flat after that.
//
//   node bench/backup-s3.mjs [--runs N] [--scale N] [--small-scale N[,N...]] [--pg-url URL] [--json]
//
// Benchmark databases are created once and reused: `dbops_bench_backup_s<scale>` (pgbench -i -s <scale>), shared
// with bench/backup.mjs. Needs pg_dump, pgbench, moto_server, aws (awscli) and GNU time (/usr/bin/time).
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { commandLine, databaseUrl as urlOf, median, pgBin, pgbenchDatabase as pgbench, psql, run } from './common.mjs'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const { option, flag, die, positiveInt } = commandLine(
  'backup-s3 bench',
  `usage: node bench/backup-s3.mjs [options]
  --runs N          measurements of each command (default 3); medians are reported
  --scale N         pgbench scale of the database (default 10: ~150 MB; the issue's goal figure is at 50)
  --small-scale N   scale(s) of the other databases for the RSS and disk comparison, comma-separated (default 5;
                    e.g. 5,100 for one below the part buffers' size and one above it)
  --pg-url URL      an admin connection (default $DBOPS_BENCH_PG_URL or postgres://postgres@127.0.0.1:5432/postgres)
  --json            also print the figures as one JSON document`,
)
const runs = positiveInt(option('--runs', '3'), '--runs')
const scale = positiveInt(option('--scale', '10'), '--scale')
const smallScales = option('--small-scale', '5')
  .split(',')
  .map((value) => positiveInt(value, '--small-scale'))
const adminUrl = option('--pg-url', process.env.DBOPS_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres')
const wantJson = flag('--json')
const dbops = join(repo, 'bin', 'dbops.js')
if (!existsSync(join(repo, 'dist', 'cli', 'main.cjs'))) die('build first: npm run build')
for (const tool of ['moto_server', 'aws', 'pg_dump', 'pgbench'])
  if (run('sh', ['-c', `command -v ${tool} || true`]).stdout.trim() === '') die(`${tool} is not on PATH`)

const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`
const mb = (bytes) => `${(bytes / 1048576).toFixed(1)} MB`

const work = mkdtempSync(join(tmpdir(), 'dbops-bench-s3-'))
const credentials = {
  AWS_ACCESS_KEY_ID: 'benchkey',
  AWS_SECRET_ACCESS_KEY: 'benchsecret',
  AWS_DEFAULT_REGION: 'us-east-1',
}
const env = { ...process.env, ...credentials, AWS_REGION: 'us-east-1' }
let moto
process.on('exit', () => {
  moto?.kill('SIGKILL')
  rmSync(work, { recursive: true, force: true })
})

async function freePort() {
  const server = net.createServer()
  await new Promise((done) => server.listen(0, '127.0.0.1', done))
  const { port } = server.address()
  await new Promise((done) => server.close(done))
  return port
}

async function startMoto() {
  const port = await freePort()
  const endpoint = `http://127.0.0.1:${port}`
  moto = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' })
  for (let tries = 0; tries < 300; tries++) {
    try {
      if ((await fetch(`${endpoint}/moto-api/`)).status < 500) return endpoint
    } catch {
      // not listening yet
    }
    await new Promise((done) => setTimeout(done, 100))
  }
  die(`moto_server did not answer on ${endpoint}`)
}

function sizeOf(path) {
  let stat
  try {
    stat = statSync(path)
  } catch {
    return 0
  }
  if (!stat.isDirectory()) return stat.size
  let total = 0
  for (const name of readdirSync(path)) total += sizeOf(join(path, name))
  return total
}

/**
 * Runs a command under GNU time: wall ms, peak RSS (KB) of the process (GNU time reports the largest of it and its
 * waited-for children), and the peak size of `watch` folders sampled every 100 ms.
 */
async function timed(command, args, { cwd, watch = [], childEnv = env } = {}) {
  run('sync', [])
  const started = performance.now()
  const child = spawn('/usr/bin/time', ['-f', 'RSS_KB=%M', command, ...args], {
    cwd,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  let stdout = ''
  child.stdout.on('data', (chunk) => (stdout += chunk))
  child.stderr.on('data', (chunk) => (stderr += chunk))
  let peakDisk = 0
  const sampler = setInterval(() => {
    peakDisk = Math.max(
      peakDisk,
      watch.reduce((sum, path) => sum + sizeOf(path), 0),
    )
  }, 100)
  const code = await new Promise((done) => child.on('close', done))
  clearInterval(sampler)
  const ms = performance.now() - started
  if (code !== 0)
    throw new Error(`${command} ${args.join(' ')} exited ${code}\n${stdout.slice(-2000)}${stderr.slice(-4000)}`)
  return { ms, rssKb: Number(/RSS_KB=(\d+)/.exec(stderr)?.[1] ?? NaN), peakDiskBytes: peakDisk, stdout }
}

const endpoint = await startMoto()
const aws = (...args) => run('aws', ['--endpoint-url', endpoint, ...args], { env })
const bucket = 'dbops-bench'
aws('s3', 'mb', `s3://${bucket}`)

console.log(
  `node ${process.version}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}, ${runs} run(s) each, medians; store: moto_server on ${endpoint}`,
)

/** A project whose backups go to s3://bench/<name>, with its own TMPDIR so its local scratch space can be watched. */
function project(name, url) {
  const dir = join(work, name)
  const scratch = join(dir, 'tmp')
  mkdirSync(scratch, { recursive: true })
  writeFileSync(
    join(dir, 'dbops.config.json'),
    JSON.stringify({
      targets: { bench: { url, backup: { dir: `s3://${bucket}/${name}`, s3: { endpoint, forcePathStyle: true } } } },
    }),
  )
  return { dir, scratch }
}

const pgDump = pgBin('pg_dump')
const figures = { machine: { node: process.version, load: loadavg() }, scale, smallScales, runs }
const url = pgbench(adminUrl, scale)
const big = project(`s${scale}`, url)
const baselineCommand = (databaseUrl) => [
  '-c',
  `"${pgDump}" -Fc "$0" | aws --endpoint-url "$1" s3 cp - "s3://$2/base/dump"`,
  databaseUrl,
  endpoint,
  bucket,
]
const baseline = []
const ours = []
for (let i = 0; i < runs; i++) {
  // Alternating, baseline first: both see the same cache state and the same moto.
  baseline.push(await timed('sh', baselineCommand(url)))
  ours.push(
    await timed('node', [dbops, 'backup', 'create', '--json'], {
      cwd: big.dir,
      watch: [big.dir],
      childEnv: { ...env, TMPDIR: big.scratch },
    }),
  )
  // moto keeps objects in memory: empty the bucket between runs.
  aws('s3', 'rm', '--recursive', '--quiet', `s3://${bucket}/`)
}
const base = median(baseline.map((m) => m.ms))
const mine = median(ours.map((m) => m.ms))
const size = JSON.parse(ours.at(-1).stdout).backup.sizeBytes
figures.postgres = {
  dumpBytes: size,
  baselineMs: base,
  dbopsMs: mine,
  ratio: mine / base,
  dbopsPeakRssKb: median(ours.map((m) => m.rssKb)),
  baselinePeakRssKb: median(baseline.map((m) => m.rssKb)),
  dbopsPeakLocalDiskBytes: Math.max(...ours.map((m) => m.peakDiskBytes)),
}
console.log(`PostgreSQL, pgbench scale ${scale} (custom dump ${mb(size)}):`)
console.log(`  pg_dump -Fc | aws s3 cp -      ${seconds(base)}`)
console.log(`  dbops backup create (bucket)   ${seconds(mine)}   ${(mine / base).toFixed(2)}x`)
console.log(
  `  peak RSS: dbops ${(figures.postgres.dbopsPeakRssKb / 1024).toFixed(0)} MB, baseline pipeline (largest process) ${(figures.postgres.baselinePeakRssKb / 1024).toFixed(0)} MB; dbops local disk at most ${mb(figures.postgres.dbopsPeakLocalDiskBytes)}`,
)

const megabytes = (kb) => `${(kb / 1024).toFixed(0)} MB`
figures.flatness = {
  [`scale${scale}`]: {
    dumpBytes: size,
    rssKb: figures.postgres.dbopsPeakRssKb,
    localDiskBytes: figures.postgres.dbopsPeakLocalDiskBytes,
    baselineRssKb: figures.postgres.baselinePeakRssKb,
  },
}
for (const other of smallScales.filter((value) => value !== scale)) {
  const otherUrl = pgbench(adminUrl, other)
  const small = project(`s${other}`, otherUrl)
  const theirs = await timed('sh', baselineCommand(otherUrl))
  const one = await timed('node', [dbops, 'backup', 'create', '--json'], {
    cwd: small.dir,
    watch: [small.dir],
    childEnv: { ...env, TMPDIR: small.scratch },
  })
  aws('s3', 'rm', '--recursive', '--quiet', `s3://${bucket}/`)
  figures.flatness[`scale${other}`] = {
    dumpBytes: JSON.parse(one.stdout).backup.sizeBytes,
    rssKb: one.rssKb,
    localDiskBytes: one.peakDiskBytes,
    baselineRssKb: theirs.rssKb,
  }
}
console.log('  flatness (peak RSS of dbops; of the baseline pipeline; dbops local disk):')
for (const [name, entry] of Object.entries(figures.flatness).sort(
  ([a], [b]) => Number(a.slice(5)) - Number(b.slice(5)),
)) {
  console.log(
    `    ${name.replace('scale', 'scale ')} (dump ${mb(entry.dumpBytes)}): dbops ${megabytes(entry.rssKb)}, aws s3 cp ${megabytes(entry.baselineRssKb)}, local disk ${mb(entry.localDiskBytes)}`,
  )
}
figures.machine.loadAfter = loadavg()
if (wantJson) console.log(JSON.stringify(figures, null, 2))
// moto_server is a child process that keeps the event loop alive: exit (the exit handler stops it and removes the work folder).
process.exit(0)
