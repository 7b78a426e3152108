#!/usr/bin/env node
// Times `dbops seed run` loading one CSV file against the tools' own bulk loaders, measured in the same run and
// alternating: `psql -c "\copy t from 'file' csv header"` for PostgreSQL and `sqlite3 db ".import --csv --skip 1 file t"`
// for SQLite, into the same pre-created, empty table. Then reports the peak RSS of the dbops process (/usr/bin/time
// %M) at N and 2N rows: streaming means it stays flat when the file doubles.
//
//   node bench/seed.mjs [--rows N] [--runs N] [--only postgres|sqlite] [--pg-url URL] [--json] [--keep]
//
// The CSV (id, text, int, timestamp, boolean; every 7th text quoted with a comma and doubled quotes inside) is
// generated once into .bench/ (gitignored) and reused.
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  writeFileSync,
  createWriteStream,
  copyFileSync,
} from 'node:fs'
import { once } from 'node:events'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { commandLine, median, run } from './common.mjs'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')

const { option, flag, die, positiveInt } = commandLine(
  'seed bench',
  `usage: node bench/seed.mjs [--rows N] [--runs N] [--only postgres|sqlite] [--pg-url URL] [--json] [--keep]
  --rows N         rows in the CSV (default 1000000); peak RSS is also measured at 2N
  --runs N         timed runs of each command (default 3); medians are reported
  --only ENGINE    postgres or sqlite (default both)
  --pg-url URL     an admin connection to PostgreSQL (default $DBOPS_BENCH_PG_URL or postgres://postgres@127.0.0.1:5432/postgres);
                   one database is created for the bench and dropped afterwards
  --json           also print the figures as one JSON document at the end
  --keep           keep the temporary directory`,
)
const rows = positiveInt(option('--rows', '1000000'), '--rows')
const runs = positiveInt(option('--runs', '3'), '--runs')
const only = option('--only', undefined)
if (only !== undefined && only !== 'postgres' && only !== 'sqlite') die('--only takes postgres or sqlite')
const adminUrl = option('--pg-url', process.env.DBOPS_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres')
const wantJson = flag('--json')
const keep = flag('--keep')
const engines = only ? [only] : ['postgres', 'sqlite']
const dbopsBin = join(repo, 'bin', 'dbops.js')

const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`
const ratio = (a, b) => `${(a / b).toFixed(2)}x`
const psql = (url, sqlText) =>
  run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-At', '-c', sqlText]).stdout.trim()
const sqlite = (file, sqlText) => run('sqlite3', [file, sqlText]).stdout.trim()

// ---- the data -----------------------------------------------------------------------------------------------------
async function csvFile(count) {
  const dir = join(repo, '.bench')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `seed-${count}.csv`)
  if (existsSync(file) && statSync(file).size > 0) return file
  const partial = `${file}.partial`
  const out = createWriteStream(partial)
  out.write('id,name,amount,created_at,active\n')
  const base = Date.UTC(2024, 0, 1)
  let buffer = ''
  for (let i = 1; i <= count; i++) {
    const name = i % 7 === 0 ? `"name ${i}, with ""quotes"""` : `name ${i}`
    buffer += `${i},${name},${(i * 7919) % 100000},${new Date(base + i * 1000).toISOString()},${i % 2 ? 'true' : 'false'}\n`
    if (buffer.length > 1 << 16) {
      if (!out.write(buffer)) await once(out, 'drain')
      buffer = ''
    }
  }
  out.end(buffer)
  await once(out, 'finish')
  run('mv', [partial, file])
  return file
}

const work = mkdtempSync(join(tmpdir(), 'dbops-bench-seed-'))

/** A project folder whose only seed is `t.csv` (a hard link to the data, or a copy across file systems). */
function project(name, file) {
  const dir = join(work, name)
  mkdirSync(join(dir, 'fixtures'), { recursive: true })
  writeFileSync(join(dir, 'dbops.config.json'), `${JSON.stringify({ seeds: { dir: 'fixtures' } })}\n`)
  const target = join(dir, 'fixtures', 't.csv')
  rmSync(target, { force: true })
  try {
    linkSync(file, target)
  } catch {
    copyFileSync(file, target)
  }
  return dir
}

// ---- PostgreSQL ---------------------------------------------------------------------------------------------------
const pgName = `dbops_bench_seed_${process.pid}`
let pgCreated = false
const pgUrl = () => {
  const url = new URL(adminUrl)
  url.pathname = `/${pgName}`
  url.searchParams.set('application_name', 'dbops-bench')
  return url.toString()
}

function pgPrepare() {
  psql(adminUrl, `CREATE DATABASE ${pgName}`)
  pgCreated = true
  psql(
    pgUrl(),
    'CREATE TABLE t (id bigint PRIMARY KEY, name text NOT NULL, amount integer, created_at timestamptz, active boolean)',
  )
}

function pgEmpty() {
  psql(pgUrl(), 'TRUNCATE t; DROP TABLE IF EXISTS dbops_seeds')
  psql(adminUrl, 'CHECKPOINT')
}

function pgVerify(label, count) {
  const got = Number(psql(pgUrl(), 'SELECT count(*) FROM t'))
  if (got !== count) throw new Error(`${label}: WRONG RESULT: t has ${got} rows, want ${count}`)
}

// ---- SQLite -------------------------------------------------------------------------------------------------------
const sqliteFile = join(work, 'bench.db')
function sqliteFresh() {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(sqliteFile + suffix, { force: true })
  sqlite(
    sqliteFile,
    'PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, amount INTEGER, created_at TIMESTAMP, active BOOLEAN)',
  )
}
function sqliteVerify(label, count) {
  const got = Number(sqlite(sqliteFile, 'SELECT count(*) FROM t'))
  if (got !== count) throw new Error(`${label}: WRONG RESULT: t has ${got} rows, want ${count}`)
}

// ---- measurements -------------------------------------------------------------------------------------------------
function dbops(dir, url, { rss = false } = {}) {
  const args = [dbopsBin, '--url', url, 'seed', 'run']
  const env = { ...process.env, NO_COLOR: '1', DATABASE_URL: '' }
  if (!rss) return run(process.execPath, args, { cwd: dir, env }).ms
  const result = run('/usr/bin/time', ['-f', 'maxrss_kb=%M', process.execPath, ...args], { cwd: dir, env })
  const match = /maxrss_kb=(\d+)/.exec(result.stderr)
  if (!match) throw new Error(`no maxrss in ${result.stderr}`)
  return { ms: result.ms, rssKb: Number(match[1]) }
}

function measureFactory(file, dir) {
  return {
    'postgres floor': () => {
      pgEmpty()
      const { ms } = run('psql', [
        '-X',
        '-q',
        '-v',
        'ON_ERROR_STOP=1',
        '-d',
        pgUrl(),
        '-c',
        `\\copy t from '${file}' csv header`,
      ])
      pgVerify('psql \\copy', rows)
      return ms
    },
    'postgres dbops': () => {
      pgEmpty()
      const ms = dbops(dir, pgUrl())
      pgVerify('dbops seed run (postgres)', rows)
      return ms
    },
    'sqlite floor': () => {
      sqliteFresh()
      const { ms } = run('sqlite3', [sqliteFile, `.import --csv --skip 1 ${file} t`])
      sqliteVerify('sqlite3 .import', rows)
      return ms
    },
    'sqlite dbops': () => {
      sqliteFresh()
      const ms = dbops(dir, `sqlite:${sqliteFile}`)
      sqliteVerify('dbops seed run (sqlite)', rows)
      return ms
    },
  }
}

async function main() {
  if (!existsSync(join(repo, 'dist', 'cli', 'main.cjs'))) die('dist/ is missing: run "npm run build" first')
  if (engines.includes('postgres')) {
    try {
      psql(adminUrl, 'SELECT 1')
    } catch (error) {
      die(`cannot reach PostgreSQL at ${adminUrl} (pass --pg-url or --only sqlite): ${error.message.split('\n')[0]}`)
    }
  }
  const file = await csvFile(rows)
  const dir = project('p1', file)
  const measure = measureFactory(file, dir)
  if (engines.includes('postgres')) pgPrepare()
  console.log(
    `dbops seed run: ${rows.toLocaleString('en')} rows (id, text, int, timestamp, boolean) from a ${(statSync(file).size / 1e6).toFixed(0)} MB CSV, ${runs} run(s) each, medians`,
  )
  console.log(
    `node ${process.version}${engines.includes('postgres') ? `, PostgreSQL ${psql(adminUrl, 'SHOW server_version')}` : ''}${engines.includes('sqlite') ? `, sqlite3 CLI ${run('sqlite3', ['-version']).stdout.split(' ')[0]}` : ''}, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  )

  const groups = engines.map((engine) => [`${engine} floor`, `${engine} dbops`])
  for (const group of groups)
    for (const kind of group) process.stderr.write(`warm-up ${kind}: ${seconds(measure[kind]())}\n`)
  const samples = Object.fromEntries(groups.flat().map((kind) => [kind, []]))
  for (let r = 0; r < runs; r++) {
    for (const group of groups) {
      for (const kind of r % 2 ? [...group].reverse() : group) {
        const ms = measure[kind]()
        samples[kind].push(ms)
        process.stderr.write(`run ${r + 1}/${runs} ${kind}: ${seconds(ms)}\n`)
      }
    }
  }

  // Peak RSS at N and 2N rows.
  const doubleFile = await csvFile(rows * 2)
  const doubleDir = project('p2', doubleFile)
  const memory = {}
  for (const engine of engines) {
    memory[engine] = {}
    for (const [count, where] of [
      [rows, dir],
      [rows * 2, doubleDir],
    ]) {
      if (engine === 'postgres') pgEmpty()
      else sqliteFresh()
      const { rssKb } = dbops(where, engine === 'postgres' ? pgUrl() : `sqlite:${sqliteFile}`, { rss: true })
      if (engine === 'postgres') pgVerify('rss run', count)
      else sqliteVerify('rss run', count)
      memory[engine][count] = rssKb
    }
  }

  console.log('')
  const results = {}
  for (const engine of engines) {
    const floor = median(samples[`${engine} floor`])
    const mine = median(samples[`${engine} dbops`])
    const floorName = engine === 'postgres' ? 'psql \\copy' : 'sqlite3 .import'
    results[engine] = {
      floorMs: floor,
      dbopsMs: mine,
      ratio: mine / floor,
      target: 1.2,
      peakRssKb: memory[engine],
      samples: { floor: samples[`${engine} floor`], dbops: samples[`${engine} dbops`] },
    }
    console.log(
      `${engine.padEnd(8)}  ${floorName} ${seconds(floor)}, dbops seed run ${seconds(mine)}, ratio ${ratio(mine, floor)} (target <= 1.20x)`,
    )
    console.log(
      `          runs: floor ${samples[`${engine} floor`].map((v) => (v / 1000).toFixed(2)).join(' ')} s; dbops ${samples[`${engine} dbops`].map((v) => (v / 1000).toFixed(2)).join(' ')} s`,
    )
    console.log(
      `          dbops peak RSS: ${(memory[engine][rows] / 1024).toFixed(0)} MB at ${rows.toLocaleString('en')} rows, ${(memory[engine][rows * 2] / 1024).toFixed(0)} MB at ${(rows * 2).toLocaleString('en')} rows`,
    )
  }
  if (wantJson) console.log(JSON.stringify({ bench: 'seed', rows, runs, node: process.version, results }, null, 2))
}

let failed = false
try {
  await main()
} catch (error) {
  failed = true
  console.error(`seed bench FAILED: ${error.stack ?? error}`)
} finally {
  if (pgCreated) {
    try {
      psql(adminUrl, `DROP DATABASE IF EXISTS ${pgName} WITH (FORCE)`)
    } catch {
      console.error(`could not drop database ${pgName}`)
    }
  }
  if (keep) console.error(`kept ${work}`)
  else rmSync(work, { recursive: true, force: true })
}
process.exitCode = failed ? 2 : 0
