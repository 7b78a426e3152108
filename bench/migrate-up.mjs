#!/usr/bin/env node
// Times `dbops migrate up` applying 1000 migrations against the floor: psql / sqlite3 running the same SQL on one
// connection, BEGIN ... COMMIT per migration with a ledger insert inside it. Floors and dbops are measured in the
// same run, alternating, and compared by their medians (absolute times drift between machines; ratios do not).
//
//   node bench/migrate-up.mjs [--runs N] [--migrations N] [--only postgres|sqlite] [--pg-url URL] [--json] [--keep]
//
// Each migration: CREATE TABLE t_<i>, CREATE INDEX t_<i>_n_idx, and ONE multi-row INSERT of 10 rows (the floor runs
// exactly the same statements). No new dependencies: plain node, psql and sqlite3 on PATH.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { commandLine, median, run } from './common.mjs'
import { fileURLToPath } from 'node:url'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')

// ---- options ------------------------------------------------------------------------------------------------------
const { option, flag, die, positiveInt } = commandLine(
  'migrate-up bench',
  `usage: node bench/migrate-up.mjs [--runs N] [--migrations N] [--only postgres|sqlite] [--pg-url URL] [--json] [--keep]
  --runs N         measurements of each command (default 3); medians are reported
  --migrations N   migrations to generate (default 1000)
  --only ENGINE    postgres or sqlite (default both)
  --pg-url URL     an admin connection to PostgreSQL (default $DBOPS_BENCH_PG_URL or postgres://postgres@127.0.0.1:5432/postgres);
                   a fresh database is created for every run and dropped afterwards
  --dbops PATH     the dbops bin to time (default bin/dbops.js of this repository)
  --compare PATH   also time another build's bin (e.g. of the main branch) in the same rounds, as "dbops [compare]"
  --json           also print the figures as one JSON document at the end
  --keep           keep the temporary directory`,
)
const runs = positiveInt(option('--runs', '3'), '--runs')
const count = positiveInt(option('--migrations', '1000'), '--migrations')
const only = option('--only', undefined)
if (only !== undefined && only !== 'postgres' && only !== 'sqlite') die('--only takes postgres or sqlite')
const adminUrl = option('--pg-url', process.env.DBOPS_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres')
const dbopsBin = resolve(option('--dbops', join(repo, 'bin', 'dbops.js')))
const compareOption = option('--compare', undefined)
const compareBin = compareOption === undefined ? undefined : resolve(compareOption)
const wantJson = flag('--json')
const keep = flag('--keep')
const engines = only ? [only] : ['postgres', 'sqlite']

// ---- helpers ------------------------------------------------------------------------------------------------------
const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`
const ratio = (a, b) => `${(a / b).toFixed(2)}x`
const spread = (label, values) => `${label} runs ${values.map((v) => (v / 1000).toFixed(2)).join(' ')} s`

const psqlArgs = (url) => ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url]
const psql = (url, sqlText) => run('psql', [...psqlArgs(url), '-At', '-c', sqlText]).stdout.trim()
const sqlite = (file, sqlText) => run('sqlite3', [file, sqlText]).stdout.trim()
const databaseUrl = (name) => {
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
}

// ---- the migrations -----------------------------------------------------------------------------------------------
const work = mkdtempSync(join(tmpdir(), 'dbops-bench-migrate-'))
const migrationsDir = join(work, 'migrations')
mkdirSync(migrationsDir)
writeFileSync(join(work, 'dbops.config.json'), `${JSON.stringify({ migrations: { dir: 'migrations' } })}\n`)

const last = count - 1
const migrations = []
for (let i = 0; i < count; i++) {
  const version = String(20240101000000n + BigInt(i))
  const name = `m${i}`
  const rows = Array.from({ length: 10 }, (_, r) => `(${r + 1}, 'row ${r + 1} of t_${i}', ${(r * 7) % 10})`).join(', ')
  const statements = [
    `CREATE TABLE t_${i} (id integer primary key, name text not null, n integer);`,
    `CREATE INDEX t_${i}_n_idx ON t_${i} (n);`,
    `INSERT INTO t_${i} (id, name, n) VALUES ${rows};`,
  ]
  const up = `${statements.join('\n')}\n`
  writeFileSync(
    join(migrationsDir, `${version}_${name}.sql`),
    `-- migrate:up\n${up}\n-- migrate:down\nDROP TABLE t_${i};\n`,
  )
  // The checksum only has to look like one: the floor stores a value of the same shape dbops does.
  migrations.push({ version, name, statements, checksum: `sha256:${createHash('sha256').update(up).digest('hex')}` })
}

/** The floor script: a ledger table, then per migration BEGIN; <statements>; ledger insert; COMMIT. */
function floorSql(engine, prelude = []) {
  const timestamp = engine === 'postgres' ? 'timestamptz' : 'text'
  const now = engine === 'postgres' ? 'now()' : `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`
  const lines = [
    ...prelude,
    `CREATE TABLE ledger (version text primary key, name text not null, checksum text not null, applied_at ${timestamp} not null);`,
  ]
  for (const m of migrations) {
    lines.push('BEGIN;', ...m.statements)
    lines.push(
      `INSERT INTO ledger (version, name, checksum, applied_at) VALUES ('${m.version}', '${m.name}', '${m.checksum}', ${now});`,
      'COMMIT;',
    )
  }
  return `${lines.join('\n')}\n`
}

const floorFiles = {
  postgres: join(work, 'floor-postgres.sql'),
  sqliteWal: join(work, 'floor-sqlite-wal.sql'),
  sqliteWalNormal: join(work, 'floor-sqlite-wal-normal.sql'),
  sqliteRollback: join(work, 'floor-sqlite-rollback.sql'),
}
writeFileSync(floorFiles.postgres, floorSql('postgres'))
writeFileSync(floorFiles.sqliteWal, floorSql('sqlite', ['PRAGMA journal_mode=WAL;']))
writeFileSync(
  floorFiles.sqliteWalNormal,
  floorSql('sqlite', ['PRAGMA journal_mode=WAL;', 'PRAGMA synchronous=NORMAL;']),
)
writeFileSync(floorFiles.sqliteRollback, floorSql('sqlite'))

// ---- verification -------------------------------------------------------------------------------------------------
function verify(label, ledgerCount, lastRows) {
  if (Number(ledgerCount) !== count || Number(lastRows) !== 10) {
    throw new Error(
      `${label}: WRONG RESULT: ledger has ${ledgerCount} rows (want ${count}), t_${last} has ${lastRows} rows (want 10)`,
    )
  }
}
function verifyPostgres(label, url, ledger) {
  const where = ledger === 'dbops_migrations' ? ` WHERE status = 'applied'` : ''
  verify(label, psql(url, `SELECT count(*) FROM ${ledger}${where}`), psql(url, `SELECT count(*) FROM t_${last}`))
}
function verifySqlite(label, file, ledger) {
  const where = ledger === 'dbops_migrations' ? ` WHERE status = 'applied'` : ''
  verify(label, sqlite(file, `SELECT count(*) FROM ${ledger}${where}`), sqlite(file, `SELECT count(*) FROM t_${last}`))
}

// ---- one measurement of each kind ---------------------------------------------------------------------------------
let sequence = 0
const createdDatabases = new Set()

function freshPostgres() {
  const name = `dbops_bench_${process.pid}_${++sequence}`
  psql(adminUrl, `CREATE DATABASE ${name}`)
  createdDatabases.add(name)
  // Start every timed run from a clean slate: the previous run's dirty buffers are written now, not during it.
  psql(adminUrl, 'CHECKPOINT')
  return { name, url: databaseUrl(name) }
}
function dropPostgres(name) {
  psql(adminUrl, `DROP DATABASE IF EXISTS ${name}`)
  createdDatabases.delete(name)
}

function freshSqlitePath(tag) {
  const file = join(work, `${tag}-${++sequence}.db`)
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true })
  return file
}
function removeSqlite(file) {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true })
}

const dbops = (url, bin = dbopsBin) =>
  run(process.execPath, [bin, '--url', url, 'migrate', 'up'], { cwd: work, env: { ...process.env, NO_COLOR: '1' } })

const measure = {
  'postgres floor'() {
    const db = freshPostgres()
    try {
      const timing = run('psql', [...psqlArgs(db.url), '-f', floorFiles.postgres])
      verifyPostgres('postgres floor', db.url, 'ledger')
      return timing
    } finally {
      dropPostgres(db.name)
    }
  },
  'postgres dbops'(bin = dbopsBin) {
    const db = freshPostgres()
    try {
      // A distinct application_name: test/e2e/concurrency.test.ts terminates every backend named "dbops migrate up"
      // on the server, which would kill this run if the test suite runs at the same time. Costs nothing extra.
      const url = new URL(db.url)
      url.searchParams.set('application_name', 'dbops-bench')
      const timing = dbops(url.toString(), bin)
      if (!/\bdone\b/.test(timing.stderr) && count > 0) throw new Error(`dbops printed no progress:\n${timing.stderr}`)
      verifyPostgres('postgres dbops', db.url, 'public.dbops_migrations')
      return timing
    } finally {
      dropPostgres(db.name)
    }
  },
  'sqlite floor wal'() {
    const file = freshSqlitePath('floor-wal')
    const timing = run('sqlite3', [file], { stdinFile: floorFiles.sqliteWal })
    verifySqlite('sqlite floor wal', file, 'ledger')
    removeSqlite(file)
    return timing
  },
  'sqlite floor wal normal'() {
    const file = freshSqlitePath('floor-wal-normal')
    const timing = run('sqlite3', [file], { stdinFile: floorFiles.sqliteWalNormal })
    verifySqlite('sqlite floor wal normal', file, 'ledger')
    removeSqlite(file)
    return timing
  },
  'sqlite floor rollback'() {
    const file = freshSqlitePath('floor-rollback')
    const timing = run('sqlite3', [file], { stdinFile: floorFiles.sqliteRollback })
    verifySqlite('sqlite floor rollback', file, 'ledger')
    removeSqlite(file)
    return timing
  },
  'sqlite dbops'(bin = dbopsBin) {
    const file = freshSqlitePath('dbops')
    const timing = dbops(`sqlite://${file}`, bin)
    verifySqlite('sqlite dbops', file, 'dbops_migrations')
    const mode = sqlite(file, 'PRAGMA journal_mode')
    if (mode !== 'wal') throw new Error(`sqlite dbops: expected the database in WAL mode, found ${mode}`)
    removeSqlite(file)
    return timing
  },
  'postgres dbops [compare]'() {
    return measure['postgres dbops'](compareBin)
  },
  'sqlite dbops [compare]'() {
    return measure['sqlite dbops'](compareBin)
  },
}

// ---- main ---------------------------------------------------------------------------------------------------------
function preflight() {
  if (!existsSync(dbopsBin)) die(`${dbopsBin} does not exist`)
  if (compareBin && !existsSync(compareBin)) die(`${compareBin} does not exist`)
  if (!existsSync(join(repo, 'dist', 'cli', 'main.cjs'))) die('dist/ is missing: run "npm run build" first')
  if (engines.includes('postgres')) {
    try {
      psql(adminUrl, 'SELECT 1')
    } catch (error) {
      die(`cannot reach PostgreSQL at ${adminUrl} (pass --pg-url or --only sqlite): ${error.message.split('\n')[0]}`)
    }
  }
  if (engines.includes('sqlite')) run('sqlite3', ['-version'])
}

const versions = () => ({
  node: process.version,
  sqlite3: engines.includes('sqlite') ? run('sqlite3', ['-version']).stdout.split(' ')[0] : undefined,
  postgres: engines.includes('postgres') ? psql(adminUrl, 'SHOW server_version') : undefined,
})

function main() {
  preflight()
  const info = versions()
  const kinds = [
    ...(engines.includes('postgres')
      ? [['postgres floor', 'postgres dbops', ...(compareBin ? ['postgres dbops [compare]'] : [])]]
      : []),
    ...(engines.includes('sqlite')
      ? [
          [
            'sqlite floor wal',
            'sqlite dbops',
            ...(compareBin ? ['sqlite dbops [compare]'] : []),
            'sqlite floor wal normal',
            'sqlite floor rollback',
          ],
        ]
      : []),
  ]
  console.log(
    `dbops migrate up: ${count} migrations (CREATE TABLE + CREATE INDEX + one 10-row multi-row INSERT each), ${runs} run(s) each, medians`,
  )
  console.log(
    `node ${info.node}${info.postgres ? `, PostgreSQL ${info.postgres}` : ''}${info.sqlite3 ? `, sqlite3 CLI ${info.sqlite3}` : ''}, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  )
  console.log(`work dir ${work}`)

  // Warm-up (not timed into the results): page cache for node, the bundle, psql and sqlite3.
  for (const group of kinds)
    for (const kind of group) process.stderr.write(`warm-up ${kind}: ${seconds(measure[kind]().ms)}\n`)

  const samples = Object.fromEntries(kinds.flat().map((kind) => [kind, []]))
  // CPU time (user + system) of each run: what load on the machine inflates. A floor that mostly waits for fsync
  // loses little wall time to other processes; dbops, mostly CPU (node's start-up, JavaScript), loses more.
  const cpuSamples = Object.fromEntries(kinds.flat().map((kind) => [kind, []]))
  for (let r = 0; r < runs; r++) {
    for (const group of kinds) {
      // Alternate: dbops first on odd runs, so neither side always runs on a warmer or colder machine.
      const order = r % 2 ? [...group].reverse() : group
      for (const kind of order) {
        const { ms, cpuMs } = measure[kind]()
        samples[kind].push(ms)
        if (cpuMs !== undefined) cpuSamples[kind].push(cpuMs)
        process.stderr.write(
          `run ${r + 1}/${runs} ${kind}: ${seconds(ms)}${cpuMs === undefined ? '' : ` (CPU ${seconds(cpuMs)})`}\n`,
        )
      }
    }
  }

  const medians = Object.fromEntries(Object.entries(samples).map(([kind, values]) => [kind, median(values)]))
  const results = {}
  console.log('')
  if (engines.includes('postgres')) {
    const floor = medians['postgres floor']
    const mine = medians['postgres dbops']
    results.postgres = {
      floorMs: floor,
      dbopsMs: mine,
      ratio: mine / floor,
      target: 1.05,
      samples: { floor: samples['postgres floor'], dbops: samples['postgres dbops'] },
      cpuSamples: { floor: cpuSamples['postgres floor'], dbops: cpuSamples['postgres dbops'] },
    }
    console.log(
      `postgres: floor ${seconds(floor)}, dbops ${seconds(mine)}, ratio ${ratio(mine, floor)} (target <= 1.05x)  [floor: one psql -f, BEGIN/COMMIT per migration]`,
    )
    console.log(
      `          ${spread('floor', samples['postgres floor'])}; ${spread('dbops', samples['postgres dbops'])}; fastest dbops / fastest floor ${ratio(Math.min(...samples['postgres dbops']), Math.min(...samples['postgres floor']))}`,
    )
  }
  if (engines.includes('sqlite')) {
    const mine = medians['sqlite dbops']
    const wal = medians['sqlite floor wal']
    const walNormal = medians['sqlite floor wal normal']
    const rollback = medians['sqlite floor rollback']
    results.sqlite = {
      dbopsMs: mine,
      floorWalMs: wal,
      floorWalNormalMs: walNormal,
      floorRollbackMs: rollback,
      ratio: mine / wal,
      ratioWalNormal: mine / walNormal,
      ratioRollback: mine / rollback,
      target: 1.05,
      cpuSamples: { dbops: cpuSamples['sqlite dbops'], floorWal: cpuSamples['sqlite floor wal'] },
      samples: {
        dbops: samples['sqlite dbops'],
        floorWal: samples['sqlite floor wal'],
        floorWalNormal: samples['sqlite floor wal normal'],
        floorRollback: samples['sqlite floor rollback'],
      },
    }
    console.log(
      `sqlite:   floor ${seconds(wal)}, dbops ${seconds(mine)}, ratio ${ratio(mine, wal)} (target <= 1.05x)  [floor: sqlite3 CLI, PRAGMA journal_mode=WAL (dbops opens SQLite in WAL mode), CLI default synchronous=FULL]`,
    )
    console.log(
      `sqlite:   floor with WAL + PRAGMA synchronous=NORMAL ${seconds(walNormal)}: dbops ${ratio(mine, walNormal)} of it`,
    )
    console.log(
      `sqlite:   floor with the default rollback journal ${seconds(rollback)}: dbops ${ratio(mine, rollback)} of it`,
    )
    console.log(
      `          ${spread('floor (WAL)', samples['sqlite floor wal'])}; ${spread('dbops', samples['sqlite dbops'])}; fastest dbops / fastest floor (WAL) ${ratio(Math.min(...samples['sqlite dbops']), Math.min(...samples['sqlite floor wal']))}, (WAL, NORMAL) ${ratio(Math.min(...samples['sqlite dbops']), Math.min(...samples['sqlite floor wal normal']))}`,
    )
  }
  for (const engine of engines) {
    const kind = `${engine} dbops [compare]`
    if (!samples[kind]) continue
    const floor = medians[engine === 'postgres' ? 'postgres floor' : 'sqlite floor wal']
    const paired = median(samples[`${engine} dbops`].map((value, r) => value / samples[kind][r]))
    console.log(
      `${engine}: [compare] ${compareBin}: ${seconds(medians[kind])}, ratio ${ratio(medians[kind], floor)} to the same floor; this build / [compare], paired median ${paired.toFixed(2)}x`,
    )
    console.log(`          ${spread('[compare]', samples[kind])}`)
    results[engine].compare = {
      bin: compareBin,
      dbopsMs: medians[kind],
      ratio: medians[kind] / floor,
      pairedToCompare: paired,
      samples: samples[kind],
      cpuSamples: cpuSamples[kind],
    }
  }
  const cpuLine = Object.entries(cpuSamples)
    .filter(([, values]) => values.length > 0)
    .map(([kind, values]) => `${kind} ${seconds(median(values))}`)
  if (cpuLine.length > 0) console.log(`CPU time (user + system, medians): ${cpuLine.join(', ')}`)
  console.log(
    `load average at the end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  )
  console.log(
    `(every dbops run checked: ${count} applied ledger rows and 10 rows in t_${last}; floors checked the same way)`,
  )
  if (wantJson) {
    console.log(
      JSON.stringify(
        { bench: 'migrate-up', migrations: count, runs, insert: 'one multi-row INSERT of 10 rows', ...info, results },
        null,
        2,
      ),
    )
  }
}

let failed = false
try {
  main()
} catch (error) {
  failed = true
  console.error(`migrate-up bench FAILED: ${error.stack ?? error}`)
} finally {
  for (const name of createdDatabases) {
    try {
      dropPostgres(name)
    } catch {
      console.error(`could not drop database ${name}`)
    }
  }
  if (keep) console.error(`kept ${work}`)
  else rmSync(work, { recursive: true, force: true })
}
process.exitCode = failed ? 2 : 0
