#!/usr/bin/env node
// Times `dbops backup create` and `dbops restore` against the tools they wrap, measured in the same run, alternating:
//   PostgreSQL (a pgbench database): dbops backup create (custom) vs pg_dump -Fc -f; dbops directory --jobs 2 vs
//   dbops custom; dbops restore --jobs 2 vs pg_restore -j 2 (each into a fresh database).
//   SQLite (a generated file of --sqlite-mb MB in WAL mode): dbops backup create vs sqlite3 db ".backup out".
// Also the peak RSS of the dbops process at two database sizes: streaming means it must not grow with the database.
//
//   node bench/backup.mjs [--runs N] [--scale N] [--small-scale N] [--sqlite-mb N] [--small-sqlite-mb N]
//                         [--only postgres|sqlite] [--quick] [--create-only] [--compare PATH] [--pg-url URL] [--json]
//
// Benchmark databases are created once and reused: PostgreSQL `dbops_bench_backup_s<scale>` (pgbench -i -s <scale>),
// SQLite files in .bench/. Needs pg_dump, pg_restore, pgbench, sqlite3 and GNU time (/usr/bin/time) on this machine.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { commandLine, databaseUrl as urlOf, median, pgBin, pgbenchDatabase as pgbench, psql, run } from './common.mjs'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const { option, flag, die, positiveInt } = commandLine(
  'backup bench',
  `usage: node bench/backup.mjs [options]
  --runs N              measurements of each command (default 3); medians are reported
  --scale N             pgbench scale of the PostgreSQL database (default 50: ~750 MB, 5M rows)
  --small-scale N       scale of the smaller database for the RSS comparison (default 5)
  --sqlite-mb N         size of the SQLite file (default 1024)
  --small-sqlite-mb N   size of the smaller SQLite file for the RSS comparison (default 100)
  --quick               --runs 1 --scale 5 --small-scale 1 --sqlite-mb 100 --small-sqlite-mb 20
  --only ENGINE         postgres or sqlite (default both)
  --create-only         PostgreSQL: time pg_dump and dbops backup create (custom) only, no directory or restore runs
  --compare PATH        also time another build's bin (e.g. /work/main/bin/dbops.js) creating the same backups in the
                        same rounds, as "dbops [compare]"
  --pg-url URL          an admin connection (default $DBOPS_BENCH_PG_URL or postgres://postgres@127.0.0.1:5432/postgres)
  --json                also print the figures as one JSON document`,
)
const quick = flag('--quick')
const runs = positiveInt(option('--runs', quick ? '1' : '3'), '--runs')
const scale = positiveInt(option('--scale', quick ? '5' : '50'), '--scale')
const smallScale = positiveInt(option('--small-scale', quick ? '1' : '5'), '--small-scale')
const sqliteMb = positiveInt(option('--sqlite-mb', quick ? '100' : '1024'), '--sqlite-mb')
const smallSqliteMb = positiveInt(option('--small-sqlite-mb', quick ? '20' : '100'), '--small-sqlite-mb')
const only = option('--only', undefined)
if (only !== undefined && only !== 'postgres' && only !== 'sqlite') die('--only takes postgres or sqlite')
const adminUrl = option('--pg-url', process.env.DBOPS_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres')
const wantJson = flag('--json')
const createOnly = flag('--create-only')
const compareOption = option('--compare', undefined)
const compareBin = compareOption === undefined ? undefined : resolve(compareOption)
if (compareBin !== undefined && !existsSync(compareBin)) die(`${compareBin} does not exist`)
const dbops = join(repo, 'bin', 'dbops.js')
if (!existsSync(join(repo, 'dist', 'cli', 'main.cjs'))) die('build first: npm run build')

const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`
const ratio = (a, b) => `${(a / b).toFixed(2)}x`
const mb = (kb) => `${(kb / 1024).toFixed(0)} MB`

/**
 * Runs a command under GNU time: wall milliseconds, the peak RSS (KB) of the process (and its largest child) and the
 * CPU time (user + system, children included: pg_dump under dbops), which a busy machine disturbs less than wall time.
 */
function timed(command, args, options = {}) {
  // Dirty pages of the previous command are written out now, not during this one.
  run('sync', [])
  const result = run('/usr/bin/time', ['-f', 'RSS_KB=%M CPU_S=%U+%S', command, ...args], options)
  const rss = Number(/RSS_KB=(\d+)/.exec(result.stderr)?.[1] ?? NaN)
  const cpu = /CPU_S=([\d.]+)\+([\d.]+)/.exec(result.stderr)
  return {
    ms: result.ms,
    rssKb: rss,
    cpuMs: cpu ? (Number(cpu[1]) + Number(cpu[2])) * 1000 : NaN,
    stdout: result.stdout,
  }
}

const figures = { machine: { node: process.version, load: loadavg() } }
const work = mkdtempSync(join(tmpdir(), 'dbops-bench-backup-'))
const cleanups = []
process.on('exit', () => {
  for (const cleanup of cleanups.reverse()) {
    try {
      cleanup()
    } catch {
      // best effort
    }
  }
  rmSync(work, { recursive: true, force: true })
})
console.log(
  `node ${process.version}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}, ${runs} run(s) each, medians`,
)

/** A project folder whose backups go to its own folder; `backups()` lists its backup ids. */
function project(name) {
  const dir = join(work, name)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'dbops.config.json'), JSON.stringify({ backup: { dir: 'backups' } }))
  // backups/default before dbops named the folder after the database: whichever one folder is there.
  const folder = () => {
    const names = existsSync(join(dir, 'backups')) ? readdirSync(join(dir, 'backups')) : []
    return join(dir, 'backups', names[0] ?? 'default')
  }
  return {
    dir,
    get backupDir() {
      return folder()
    },
    ids: () =>
      existsSync(folder())
        ? readdirSync(folder())
            .filter((f) => f.endsWith('.manifest.json'))
            .map((f) => f.replace('.manifest.json', ''))
        : [],
    clear: () => rmSync(join(dir, 'backups'), { recursive: true, force: true }),
  }
}

// ---- PostgreSQL ---------------------------------------------------------------------------------------------------
let sequence = 0
function freshDatabase() {
  const name = `dbops_bench_restore_${process.pid}_${++sequence}`
  psql(adminUrl, `CREATE DATABASE ${name}`)
  const drop = () => psql(adminUrl, `DROP DATABASE IF EXISTS ${name}`)
  cleanups.push(drop)
  return { url: urlOf(adminUrl, name), drop }
}

if (only !== 'sqlite') {
  const url = pgbench(adminUrl, scale)
  const size = psql(url, `SELECT pg_size_pretty(pg_database_size(current_database()))`)
  console.log(`\nPostgreSQL: pgbench scale ${scale} (${size})`)
  const pgDump = pgBin('pg_dump')
  const pgRestore = pgBin('pg_restore')
  const custom = project('pg-custom')
  const compared = project('pg-compare')
  const directory = project('pg-directory')
  const samples = { pgDump: [], dbopsCustom: [], dbopsDirectory: [], pgRestore: [], dbopsRestore: [], compare: [] }
  const cpu = { pgDump: [], dbopsCustom: [], compare: [] }
  const rss = { custom: [], directory: [], restore: [] }
  let customId
  for (let i = 0; i < runs; i++) {
    const out = join(work, 'raw.dump')
    rmSync(out, { force: true })
    const p = timed(pgDump, ['-Fc', '-f', out, url])
    samples.pgDump.push(p.ms)
    cpu.pgDump.push(p.cpuMs)

    custom.clear()
    const c = timed(process.execPath, [dbops, '--url', url, 'backup', 'create'], { cwd: custom.dir })
    samples.dbopsCustom.push(c.ms)
    cpu.dbopsCustom.push(c.cpuMs)
    rss.custom.push(c.rssKb)
    customId = custom.ids()[0]

    if (compareBin) {
      compared.clear()
      const o = timed(process.execPath, [compareBin, '--url', url, 'backup', 'create'], { cwd: compared.dir })
      samples.compare.push(o.ms)
      cpu.compare.push(o.cpuMs)
    }
    if (createOnly) continue

    directory.clear()
    const d = timed(
      process.execPath,
      [dbops, '--url', url, 'backup', 'create', '--format', 'directory', '--jobs', '2'],
      { cwd: directory.dir },
    )
    samples.dbopsDirectory.push(d.ms)
    rss.directory.push(d.rssKb)

    const rawTarget = freshDatabase()
    psql(adminUrl, 'CHECKPOINT')
    samples.pgRestore.push(timed(pgRestore, ['-j', '2', '-d', rawTarget.url, out]).ms)
    rawTarget.drop()

    const dbopsTarget = freshDatabase()
    psql(adminUrl, 'CHECKPOINT')
    const r = timed(
      process.execPath,
      [
        dbops,
        '--url',
        dbopsTarget.url,
        'restore',
        join(custom.backupDir, `${customId}.manifest.json`),
        '--jobs',
        '2',
        '--allow-other-database',
      ],
      { cwd: custom.dir },
    )
    samples.dbopsRestore.push(r.ms)
    rss.restore.push(r.rssKb)
    const rows = psql(dbopsTarget.url, 'SELECT count(*) FROM pgbench_accounts')
    if (Number(rows) !== scale * 100_000)
      throw new Error(`dbops restore: WRONG RESULT: ${rows} rows in pgbench_accounts`)
    dbopsTarget.drop()
  }
  let smallRss = NaN
  if (!createOnly) {
    const smallUrl = pgbench(adminUrl, smallScale)
    const small = project('pg-small')
    smallRss = timed(process.execPath, [dbops, '--url', smallUrl, 'backup', 'create'], { cwd: small.dir }).rssKb
  }
  const m = Object.fromEntries(Object.entries(samples).map(([key, values]) => [key, median(values)]))
  const mCpu = Object.fromEntries(Object.entries(cpu).map(([key, values]) => [key, median(values)]))
  // Each round's own ratio: on a machine whose load drifts, the pairs compare like with like.
  const paired = (a, b) => median(a.map((value, index) => value / b[index]))
  const dumpBytes = statSync(join(custom.backupDir, `${customId}.dump`)).size
  console.log(`  pg_dump -Fc -f                      ${seconds(m.pgDump)}   cpu ${seconds(mCpu.pgDump)}`)
  console.log(
    `  dbops backup create (custom)        ${seconds(m.dbopsCustom)}   ${ratio(m.dbopsCustom, m.pgDump)} pg_dump -Fc (target <= 1.03x), paired ${paired(samples.dbopsCustom, samples.pgDump).toFixed(2)}x; cpu ${seconds(mCpu.dbopsCustom)} (pg_dump included); ${(dumpBytes / 1048576).toFixed(1)} MB`,
  )
  if (compareBin)
    console.log(
      `  [compare] ${compareBin}: ${seconds(m.compare)}   ${ratio(m.compare, m.pgDump)} pg_dump -Fc, paired ${paired(samples.compare, samples.pgDump).toFixed(2)}x; cpu ${seconds(mCpu.compare)}; this build / [compare] paired ${paired(samples.dbopsCustom, samples.compare).toFixed(2)}x`,
    )
  if (createOnly) figures.postgres = { scale, size, medians: m, cpuMedians: mCpu, dumpBytes, samples, cpuSamples: cpu }
  else {
    console.log(
      `  dbops backup create (directory, -j2) ${seconds(m.dbopsDirectory)}  ${ratio(m.dbopsDirectory, m.dbopsCustom)} dbops custom (target < 1.00x)`,
    )
    console.log(`  pg_restore -j 2                     ${seconds(m.pgRestore)}`)
    console.log(
      `  dbops restore --jobs 2 (+ ANALYZE)  ${seconds(m.dbopsRestore)}   ${ratio(m.dbopsRestore, m.pgRestore)} pg_restore -j 2`,
    )
    console.log(
      `  peak RSS of dbops: backup ${mb(median(rss.custom))} at scale ${scale}, ${mb(smallRss)} at scale ${smallScale}; directory ${mb(median(rss.directory))}; restore ${mb(median(rss.restore))}`,
    )
    figures.postgres = {
      scale,
      size,
      medians: m,
      dumpBytes,
      rssKb: {
        custom: median(rss.custom),
        customSmall: smallRss,
        directory: median(rss.directory),
        restore: median(rss.restore),
      },
      cpuMedians: mCpu,
      samples,
      cpuSamples: cpu,
    }
  }
}

// ---- SQLite -------------------------------------------------------------------------------------------------------
function sqliteFile(megabytes) {
  const dir = join(repo, '.bench')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `backup-${megabytes}mb.db`)
  if (existsSync(file)) return file
  console.log(`generating ${file} (once; reused by later runs)`)
  const Database = createRequire(import.meta.url)('better-sqlite3')
  const partial = `${file}.partial`
  rmSync(partial, { force: true })
  const database = new Database(partial)
  database.pragma('journal_mode = WAL')
  database.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, at TEXT NOT NULL, payload BLOB)')
  database.exec('CREATE INDEX events_kind_at ON events (kind, at)')
  const insert = database.prepare(
    "INSERT INTO events (kind, at, payload) VALUES (?, datetime('now', ?), randomblob(?))",
  )
  const batch = database.transaction((count, start) => {
    for (let i = 0; i < count; i++)
      insert.run(`kind ${(start + i) % 50}`, `-${(start + i) % 100000} seconds`, 200 + ((start + i) % 600))
  })
  let rows = 0
  while (
    statSync(partial).size + (existsSync(`${partial}-wal`) ? statSync(`${partial}-wal`).size : 0) <
    megabytes * 1048576
  ) {
    batch(20_000, rows)
    rows += 20_000
  }
  database.pragma('wal_checkpoint(TRUNCATE)')
  database.close()
  for (const suffix of ['', '-wal', '-shm'])
    if (existsSync(partial + suffix)) run('mv', [partial + suffix, file + suffix])
  return file
}

if (only !== 'postgres') {
  const file = sqliteFile(sqliteMb)
  const bytes = statSync(file).size
  console.log(`\nSQLite: ${(bytes / 1048576).toFixed(0)} MB file, WAL mode`)
  const url = `sqlite:${file}`
  const samples = { sqlite3: [], dbops: [] }
  const rss = []
  const out = join(work, 'sqlite3-backup.db')
  const proj = project('sqlite')
  for (let i = 0; i < runs; i++) {
    rmSync(out, { force: true })
    samples.sqlite3.push(timed('sqlite3', [file, `.backup '${out}'`]).ms)
    rmSync(out, { force: true })
    proj.clear()
    const d = timed(process.execPath, [dbops, '--url', url, 'backup', 'create'], { cwd: proj.dir })
    samples.dbops.push(d.ms)
    rss.push(d.rssKb)
  }
  proj.clear()
  const smallFile = sqliteFile(smallSqliteMb)
  const smallRss = timed(process.execPath, [dbops, '--url', `sqlite:${smallFile}`, 'backup', 'create'], {
    cwd: project('sqlite-small').dir,
  }).rssKb
  const m = { sqlite3: median(samples.sqlite3), dbops: median(samples.dbops) }
  console.log(`  sqlite3 .backup                     ${seconds(m.sqlite3)}`)
  console.log(
    `  dbops backup create                 ${seconds(m.dbops)}   ${ratio(m.dbops, m.sqlite3)} sqlite3 .backup (target <= 1.5x; dbops also runs integrity_check and sha256)`,
  )
  console.log(`  peak RSS of dbops: ${mb(median(rss))} at ${sqliteMb} MB, ${mb(smallRss)} at ${smallSqliteMb} MB`)
  figures.sqlite = { bytes, medians: m, rssKb: { large: median(rss), small: smallRss }, samples }
}

if (wantJson) console.log(JSON.stringify(figures, null, 2))
