#!/usr/bin/env node
// Times `dbops health` on a large schema against the floor of any health check: starting psql / sqlite3, connecting
// and running one trivial query. dbops and the floor run alternately in the same run; medians and ratios are reported.
//
//   node bench/health.mjs [--runs N] [--tables N] [--only postgres|sqlite] [--pg-url URL] [--json] [--keep]
//
// PostgreSQL schema: N tables, each with a primary key and two more indexes (N tables, 3N indexes), a serial
// sequence each. SQLite: the same tables in one file. dbops' query count does not depend on N (see
// test/integration/health.test.ts); this shows what that buys on a big catalog.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnSync } from 'node:child_process'
import { commandLine, median, run } from './common.mjs'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const { option, flag, die, positiveInt } = commandLine(
  'health bench',
  `usage: node bench/health.mjs [--runs N] [--tables N] [--only postgres|sqlite] [--pg-url URL] [--json] [--keep]
  --runs N         measurements of each command (default 5); medians are reported
  --tables N       tables in the schema (default 5000; each with 3 indexes)
  --only ENGINE    postgres or sqlite (default both)
  --pg-url URL     an admin connection (default $DBOPS_BENCH_PG_URL or postgres://postgres@127.0.0.1:5432/postgres);
                   a database is created for the run and dropped afterwards
  --json           also print the figures as one JSON document
  --keep           keep the temporary directory and database`,
)
const runs = positiveInt(option('--runs', '5'), '--runs')
const tables = positiveInt(option('--tables', '5000'), '--tables')
const only = option('--only', undefined)
if (only !== undefined && only !== 'postgres' && only !== 'sqlite') die('--only takes postgres or sqlite')
const adminUrl = option('--pg-url', process.env.DBOPS_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres')
const wantJson = flag('--json')
const keep = flag('--keep')
const engines = only ? [only] : ['postgres', 'sqlite']
const dbops = join(repo, 'bin', 'dbops.js')

const work = mkdtempSync(join(tmpdir(), 'dbops-bench-health-'))
writeFileSync(join(work, 'dbops.config.json'), '{}\n')
const psql = (url, text) =>
  run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-At', '-c', text]).stdout.trim()
const databaseUrl = (name) => {
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  url.searchParams.set('application_name', 'dbops-bench')
  return url.toString()
}
const ms = (value) => `${value.toFixed(0)} ms`
const ratio = (a, b) => `${(a / b).toFixed(2)}x`

/** Runs dbops health (exit 0 or 1 are both answers; 2 means it could not check) and returns the time and JSON. */
function health(url) {
  const started = performance.now()
  const result = spawnSync(process.execPath, [dbops, 'health', '--url', url, '--json', '--skip', 'backup_age'], {
    cwd: work,
    encoding: 'utf8',
  })
  const elapsed = performance.now() - started
  if (result.status !== 0 && result.status !== 1)
    throw new Error(`dbops health exited ${result.status}\n${result.stdout}${result.stderr}`)
  return { ms: elapsed, document: JSON.parse(result.stdout) }
}

const results = {}
const databaseName = `dbops_bench_health_${process.pid}`
try {
  console.log(
    `dbops health on ${tables} tables with ${3 * tables} indexes, ${runs} run(s) each, medians; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  )
  if (engines.includes('postgres')) {
    psql(adminUrl, `CREATE DATABASE ${databaseName}`)
    const url = databaseUrl(databaseName)
    const setup = performance.now()
    psql(
      url,
      `DO $$ BEGIN FOR i IN 1..${tables} LOOP
      EXECUTE format('CREATE TABLE %I (id serial PRIMARY KEY, a int, b text)', 't' || i);
      EXECUTE format('CREATE INDEX ON %I (a)', 't' || i);
      EXECUTE format('CREATE INDEX ON %I (b, a)', 't' || i);
      IF i % 500 = 0 THEN COMMIT; END IF;
    END LOOP; END $$`,
    )
    psql(url, 'ANALYZE')
    console.log(`postgres: schema created in ${ms(performance.now() - setup)}`)
    const floor = []
    const mine = []
    let document
    for (let i = 0; i < runs; i++) {
      floor.push(run('psql', ['-X', '-q', '-d', url, '-At', '-c', 'SELECT 1']).ms)
      const measured = health(url)
      mine.push(measured.ms)
      document = measured.document
    }
    const notOk = document.checks
      .filter((check) => check.severity !== 'ok')
      .map((check) => `${check.check}=${check.severity}`)
    results.postgres = {
      floorMs: median(floor),
      dbopsMs: median(mine),
      dbopsInternalMs: document.durationMs,
      status: document.status,
    }
    console.log(
      `postgres: floor (psql, SELECT 1) ${ms(median(floor))}, dbops health ${ms(median(mine))} (${document.checks.length} checks, ${document.durationMs} ms inside), ratio ${ratio(median(mine), median(floor))}${notOk.length ? `; not ok: ${notOk.join(', ')}` : ''}`,
    )
  }
  if (engines.includes('sqlite')) {
    const file = join(work, 'big.db')
    const statements = ['PRAGMA journal_mode=WAL;', 'BEGIN;']
    for (let i = 1; i <= tables; i++)
      statements.push(
        `CREATE TABLE t${i} (id INTEGER PRIMARY KEY, a INT, b TEXT); CREATE INDEX t${i}_a ON t${i} (a); CREATE INDEX t${i}_ba ON t${i} (b, a); INSERT INTO t${i} (a, b) VALUES (1, 'x');`,
      )
    statements.push('COMMIT;')
    writeFileSync(join(work, 'schema.sql'), statements.join('\n'))
    run('sqlite3', [file], { stdinFile: join(work, 'schema.sql') })
    const floor = []
    const quick = []
    const mine = []
    let document
    for (let i = 0; i < runs; i++) {
      floor.push(run('sqlite3', ['-readonly', file, 'SELECT 1']).ms)
      quick.push(run('sqlite3', ['-readonly', file, 'PRAGMA quick_check; PRAGMA foreign_key_check;']).ms)
      const measured = health(`sqlite:${file}`)
      mine.push(measured.ms)
      document = measured.document
    }
    results.sqlite = {
      floorMs: median(floor),
      quickCheckMs: median(quick),
      dbopsMs: median(mine),
      dbopsInternalMs: document.durationMs,
      status: document.status,
    }
    console.log(
      `sqlite:   floor (sqlite3, SELECT 1) ${ms(median(floor))}, sqlite3 quick_check + foreign_key_check ${ms(median(quick))}, dbops health ${ms(median(mine))} (${document.durationMs} ms inside), ratio to quick_check ${ratio(median(mine), median(quick))}`,
    )
  }
  if (wantJson) console.log(JSON.stringify({ bench: 'health', tables, runs, results }, null, 2))
} finally {
  if (!keep) {
    if (engines.includes('postgres'))
      spawnSync('psql', ['-X', '-q', '-d', adminUrl, '-c', `DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`])
    rmSync(work, { recursive: true, force: true })
  } else {
    console.log(`kept ${work} and database ${databaseName}`)
  }
}
