#!/usr/bin/env node
// Times `dbops audit` and `dbops health` on a large schema: PostgreSQL with 5,000 tables and 15,000 indexes, and a
// SQLite file with 5,000 tables. Prints seconds (median of --runs) and the number of statements each command sent,
// counted inside the dbops process by a preloaded probe that wraps pg's Client#query and better-sqlite3's
// Database#prepare/exec/pragma (no pg_stat_statements needed). The target is "a few seconds" and a statement count
// that does not grow with the table count (run with --tables 500 to compare).
//
//   node bench/large-schema.mjs [--tables N] [--runs N] [--only postgres|sqlite] [--pg-url URL] [--rebuild] [--json]
//
// The PostgreSQL database (dbops_bench_schema_<N>) is kept between runs and reused when it has the expected shape
// (building it takes a while); --rebuild drops and recreates it. The SQLite file lives in a temp dir.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { commandLine, median, run } from './common.mjs'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const { option, flag, die, positiveInt } = commandLine(
  'large-schema bench',
  `usage: node bench/large-schema.mjs [--tables N] [--runs N] [--only postgres|sqlite] [--pg-url URL] [--rebuild] [--json]
  --tables N     tables to create (default 5000); PostgreSQL gets 3 indexes per table (primary key + 2)
  --runs N       timed runs of each command (default 3); medians are reported
  --only ENGINE  postgres or sqlite (default both)
  --pg-url URL   an admin connection (default $DBOPS_BENCH_PG_URL or postgres://postgres@127.0.0.1:5432/postgres)
  --rebuild      drop and rebuild the PostgreSQL database even if it has the right shape
  --dbops PATH   the dbops bin to time (default bin/dbops.js of this repository)
  --health-dbops PATH  the dbops bin to time "health" with, when it is built elsewhere (default: --dbops)
  --json         also print the figures as one JSON document at the end`,
)
const tables = positiveInt(option('--tables', '5000'), '--tables')
const runs = positiveInt(option('--runs', '3'), '--runs')
const only = option('--only', undefined)
if (only !== undefined && only !== 'postgres' && only !== 'sqlite') die('--only takes postgres or sqlite')
const adminUrl = option('--pg-url', process.env.DBOPS_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres')
const dbopsBin = resolve(option('--dbops', join(repo, 'bin', 'dbops.js')))
const healthBin = resolve(option('--health-dbops', dbopsBin))
const engines = only ? [only] : ['postgres', 'sqlite']
const wantJson = flag('--json')

const work = mkdtempSync(join(tmpdir(), 'dbops-bench-schema-'))
const figures = { tables, runs, postgres: {}, sqlite: {} }
process.on('exit', () => rmSync(work, { recursive: true, force: true }))

// ---- the statement counter, preloaded into each dbops process --------------------------------------------------
const probe = join(work, 'count-statements.cjs')
writeFileSync(
  probe,
  `const { writeSync } = require('node:fs')
let count = 0
const Module = require('node:module')
const load = Module._load
Module._load = function (request, parent, isMain) {
  const loaded = load.apply(this, arguments)
  if (!loaded || loaded.__dbopsCounted) return loaded
  if (/[\\\\/]pg(\\.cjs)?$/.test(request) || request.endsWith('vendor/pg.cjs')) {
    const Client = loaded.Client || (loaded.default && loaded.default.Client)
    if (Client && !Client.prototype.__dbopsCounted) {
      const query = Client.prototype.query
      Client.prototype.query = function () { count++; return query.apply(this, arguments) }
      Client.prototype.__dbopsCounted = true
    }
  }
  if (request.includes('better-sqlite3')) {
    const Database = loaded.default || loaded
    if (Database && Database.prototype && !Database.prototype.__dbopsCounted) {
      for (const method of ['prepare', 'exec', 'pragma']) {
        const original = Database.prototype[method]
        if (typeof original === 'function') Database.prototype[method] = function () { count++; return original.apply(this, arguments) }
      }
      Database.prototype.__dbopsCounted = true
    }
  }
  return loaded
}
process.on('exit', () => writeSync(2, '\\nDBOPS_STATEMENTS=' + count + '\\n'))
`,
)

function dbops(bin, url, args) {
  const started = performance.now()
  const result = spawnSync(process.execPath, ['--require', probe, bin, '--url', url, ...args, '--json'], {
    cwd: work,
    env: { ...process.env, NO_COLOR: '1' },
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  })
  const ms = performance.now() - started
  // audit exits 1/2 when it finds something and health when a check warns: both are answers, not failures.
  if (result.error || result.status === null || result.status > 2) {
    throw new Error(
      `dbops ${args.join(' ')} exited ${result.status ?? result.signal}\n${result.stdout.slice(-2000)}${result.stderr.slice(-4000)}`,
    )
  }
  const statements = Number(/DBOPS_STATEMENTS=(\d+)/.exec(result.stderr)?.[1] ?? NaN)
  let document
  try {
    document = JSON.parse(result.stdout)
  } catch {
    throw new Error(`dbops ${args.join(' ')} did not print one JSON document:\n${result.stdout.slice(0, 2000)}`)
  }
  return { ms, statements, document, code: result.status }
}

function hasCommand(bin, name) {
  const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' })
  return new RegExp(`^\\s+${name}\\b`, 'm').test(help.stdout)
}

function measure(label, bin, url, args, describe) {
  const samples = []
  let last
  for (let i = 0; i < runs; i++) {
    last = dbops(bin, url, args)
    samples.push(last.ms)
  }
  const result = {
    seconds: median(samples) / 1000,
    runs: samples.map((ms) => ms / 1000),
    statements: last.statements,
    exitCode: last.code,
    ...describe(last.document),
  }
  console.log(
    `${label.padEnd(22)} ${result.seconds.toFixed(2)} s (runs ${result.runs.map((s) => s.toFixed(2)).join(' ')})  ${String(result.statements).padStart(4)} statements  exit ${result.exitCode}  ${Object.entries(
      describe(last.document),
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  )
  return result
}

const auditFacts = (document) => ({ findings: document.findings?.length ?? 0, catalogQueries: document.queries })
const healthFacts = (document) => ({ checks: (document.checks ?? document.results ?? []).length })

console.log(
  `large-schema bench: ${tables} tables, ${runs} run(s) each, load average ${loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')}`,
)
const withHealth = hasCommand(healthBin, 'health')
if (!withHealth)
  console.log(
    `note: "dbops health" is not a command of ${healthBin} (it is built on another branch; pass --health-dbops): skipped`,
  )
else if (healthBin !== dbopsBin) console.log(`health timed with ${healthBin}`)

// ---- PostgreSQL -----------------------------------------------------------------------------------------------
if (engines.includes('postgres')) {
  const name = `dbops_bench_schema_${tables}`
  const url = (() => {
    const u = new URL(adminUrl)
    u.pathname = `/${name}`
    return u.toString()
  })()
  const psql = (target, sqlText) =>
    run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', target, '-At', '-c', sqlText]).stdout.trim()
  const exists = psql(adminUrl, `SELECT count(*) FROM pg_database WHERE datname = '${name}'`) === '1'
  const shape = () =>
    psql(
      url,
      `SELECT (SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace) || ' ' || (SELECT count(*) FROM pg_class WHERE relkind = 'i' AND relnamespace = 'public'::regnamespace)`,
    )
  const expected = `${tables} ${tables * 3}`
  if (flag('--rebuild') || !exists || shape() !== expected) {
    const started = performance.now()
    psql(adminUrl, `DROP DATABASE IF EXISTS ${name}`)
    psql(adminUrl, `CREATE DATABASE ${name}`)
    // Batches of 100 tables per DO block (each its own transaction): one transaction creating 20,000 relations
    // would need more locks than the server's lock table holds.
    const file = join(work, 'schema.sql')
    const batches = []
    for (let start = 1; start <= tables; start += 100) {
      const end = Math.min(tables, start + 99)
      batches.push(`DO $$ BEGIN FOR i IN ${start}..${end} LOOP
  EXECUTE format('CREATE TABLE %I (id bigint PRIMARY KEY, parent_id bigint REFERENCES %I (id), a int, b int, c text, created_at timestamptz DEFAULT now())', 't_' || i, CASE WHEN i = 1 THEN 't_1' ELSE 't_' || (i - 1) END);
  EXECUTE format('CREATE INDEX %I ON %I (a, b)', 't_' || i || '_a_b', 't_' || i);
  EXECUTE format('CREATE INDEX %I ON %I (%s)', 't_' || i || '_x', 't_' || i, CASE WHEN i % 10 = 0 THEN 'a' WHEN i % 3 = 0 THEN 'parent_id' ELSE 'c' END);
END LOOP; END $$;`)
    }
    writeFileSync(file, `${batches.join('\n')}\nANALYZE;\n`)
    run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', file])
    console.log(
      `built ${name} (${shape()} tables and indexes) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    )
  } else {
    console.log(`reusing ${name} (${shape()} tables and indexes)`)
  }
  figures.postgres.audit = measure('postgres audit', dbopsBin, url, ['audit'], auditFacts)
  if (withHealth) figures.postgres.health = measure('postgres health', healthBin, url, ['health'], healthFacts)
}

// ---- SQLite ---------------------------------------------------------------------------------------------------
if (engines.includes('sqlite')) {
  const file = join(work, 'large.db')
  const Database = createRequire(join(repo, 'package.json'))('better-sqlite3')
  const started = performance.now()
  const database = new Database(file)
  database.pragma('journal_mode = WAL')
  database.exec('BEGIN')
  for (let i = 1; i <= tables; i++) {
    database.exec(
      `CREATE TABLE t_${i} (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES t_${i === 1 ? 1 : i - 1} (id), a INT, b INT, c TEXT)`,
    )
    database.exec(`CREATE INDEX t_${i}_a_b ON t_${i} (a, b)`)
    database.exec(`CREATE INDEX t_${i}_x ON t_${i} (${i % 10 === 0 ? 'a' : i % 3 === 0 ? 'parent_id' : 'c'})`)
    if (i % 50 === 0) database.exec(`INSERT INTO t_${i} (a, b, c) VALUES (1, 2, 'x'), (2, 3, 'y')`)
  }
  database.exec('COMMIT')
  database.close()
  console.log(
    `built a SQLite file with ${tables} tables and ${tables * 2} indexes in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  )
  const url = `sqlite:${file}`
  figures.sqlite.audit = measure('sqlite audit', dbopsBin, url, ['audit'], auditFacts)
  if (withHealth) figures.sqlite.health = measure('sqlite health', healthBin, url, ['health'], healthFacts)
}

if (wantJson) console.log(JSON.stringify(figures, null, 2))
