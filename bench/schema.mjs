#!/usr/bin/env node
// Times `dbops migrate test` of N generated migrations against its yardstick, `dbops migrate up` followed by
// `dbops migrate down --to 0` of the same set (goal: migrate test <= 3x), and `dbops schema drift` on a 500-table
// schema (time and catalog query count). Whole processes, medians of --runs, measured alternately in one run.
//
// With --baseline, another build (a git ref or a folder holding bin/dbops.js) runs the same commands in the same rounds.
//
//   node bench/schema.mjs [--runs N] [--migrations N] [--tables N] [--only postgres|sqlite] [--baseline REF|DIR]
//                         [--no-drift] [--pg-url URL] [--json]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { baselineBuild, commandLine, median, run } from './common.mjs'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const { option, flag, die, positiveInt } = commandLine(
  'schema bench',
  `usage: node bench/schema.mjs [--runs N] [--migrations N] [--tables N] [--only postgres|sqlite] [--pg-url URL] [--json]
  --runs N         measurements of each command (default 3); medians are reported
  --migrations N   migrations for migrate test (default 100)
  --tables N       tables of the drift schema (default 500)
  --only ENGINE    postgres or sqlite (default both)
  --baseline X     also time another build in the same rounds: a git ref (e.g. main, built in a temp dir), a folder
                   holding bin/dbops.js, or that file
  --compare PATH   the same as --baseline (the other benches' name for it)
  --no-drift       skip the schema drift figure
  --pg-url URL     an admin connection to PostgreSQL (default $DBOPS_BENCH_PG_URL or postgres://postgres@127.0.0.1:5432/postgres)
  --json           also print the figures as one JSON document`,
)
const runs = positiveInt(option('--runs', '3'), '--runs')
const count = positiveInt(option('--migrations', '100'), '--migrations')
const tableCount = positiveInt(option('--tables', '500'), '--tables')
const only = option('--only', undefined)
if (only !== undefined && only !== 'postgres' && only !== 'sqlite') die('--only takes postgres or sqlite')
const adminUrl = option('--pg-url', process.env.DBOPS_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres')
const engines = only ? [only] : ['postgres', 'sqlite']
const dbops = join(repo, 'bin', 'dbops.js')

const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`
const psql = (url, text) =>
  run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-At', '-c', text]).stdout.trim()
const databaseUrl = (name) => {
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  url.searchParams.set('application_name', 'dbops-bench')
  return url.toString()
}

const work = mkdtempSync(join(tmpdir(), 'dbops-bench-schema-'))
process.on('exit', () => rmSync(work, { recursive: true, force: true }))
// --compare: the other benches' name for it (they take a bin path, which this accepts too).
const baselineOption = option('--baseline', undefined) ?? option('--compare', undefined)
let baselineBin
try {
  baselineBin = baselineOption === undefined ? undefined : baselineBuild(baselineOption, repo, join(work, 'baseline'))
} catch (error) {
  die(error.message)
}
const builds = { dbops, ...(baselineBin && { baseline: baselineBin }) }

/** Migrations that touch every kind of object migrate test compares: tables, columns, indexes, constraints, views. */
function writeTestSet(dir) {
  mkdirSync(dir, { recursive: true })
  for (let i = 0; i < count; i++) {
    const version = String(20240101000000n + BigInt(i))
    const kind = i % 4
    let up
    let down
    if (kind === 0 || i < 4) {
      up = `CREATE TABLE t_${i} (id integer PRIMARY KEY, name text NOT NULL, n integer DEFAULT 0);\nCREATE INDEX t_${i}_n_idx ON t_${i} (n);`
      down = `DROP TABLE t_${i};`
    } else if (kind === 1) {
      up = `ALTER TABLE t_${i - 1} ADD COLUMN extra_${i} text;`
      down = `ALTER TABLE t_${i - 1} DROP COLUMN extra_${i};`
    } else if (kind === 2) {
      up = `CREATE INDEX t_${i - 2}_name_idx_${i} ON t_${i - 2} (name);`
      down = `DROP INDEX t_${i - 2}_name_idx_${i};`
    } else {
      up = `CREATE VIEW v_${i} AS SELECT id, name FROM t_${i - 3} WHERE n > 0;`
      down = `DROP VIEW v_${i};`
    }
    writeFileSync(join(dir, `${version}_m${i}.sql`), `-- migrate:up\n${up}\n\n-- migrate:down\n${down}\n`)
  }
}

/** One migration creating `tableCount` tables, each with a foreign key to the previous one and two indexes. */
function writeDriftSet(dir) {
  mkdirSync(dir, { recursive: true })
  const statements = []
  for (let i = 0; i < tableCount; i++) {
    statements.push(
      `CREATE TABLE d_${i} (id integer PRIMARY KEY, parent_id integer${i > 0 ? ` REFERENCES d_${i - 1} (id)` : ''}, name text NOT NULL, created_at text, score integer DEFAULT 0 CHECK (score >= 0));`,
    )
    statements.push(
      `CREATE INDEX d_${i}_parent_idx ON d_${i} (parent_id);`,
      `CREATE INDEX d_${i}_name_idx ON d_${i} (name, created_at);`,
    )
  }
  writeFileSync(
    join(dir, '20240101000000_drift.sql'),
    `-- migrate:up\n${statements.join('\n')}\n\n-- migrate:down\nSELECT 1;\n`,
  )
}

const testProject = join(work, 'test')
writeTestSet(join(testProject, 'migrations'))
const driftProject = join(work, 'drift')
writeDriftSet(join(driftProject, 'migrations'))

console.error(
  `schema bench: ${count} migrations for migrate test, ${tableCount} tables for drift, ${runs} run(s); load average ${loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')}`,
)

/** A fresh database for one measurement: its URL and how to drop it. */
function freshDatabase(engine, label) {
  if (engine === 'postgres') {
    const name = `dbops_bench_schema_${label}_${process.pid}_${Math.random().toString(16).slice(2, 8)}`
    psql(adminUrl, `CREATE DATABASE ${name}`)
    return { url: databaseUrl(name), drop: () => psql(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) }
  }
  const dir = mkdtempSync(join(work, 'db-'))
  return { url: `sqlite:${join(dir, 'bench.db')}`, drop: () => rmSync(dir, { recursive: true, force: true }) }
}

const cli = (cwd, url, ...args) => run(process.execPath, [dbops, '--url', url, ...args], { cwd })
const cliOf =
  (bin) =>
  (cwd, url, ...args) =>
    run(process.execPath, [bin, '--url', url, ...args], { cwd })

const figures = {}
for (const engine of engines) {
  const upDown = {}
  const upDownCpu = {}
  const tests = {}
  const testsCpu = {}
  for (const name of Object.keys(builds)) [upDown, upDownCpu, tests, testsCpu].forEach((table) => (table[name] = []))
  for (let r = 0; r < runs; r++) {
    for (const [name, bin] of Object.entries(builds)) {
      const call = cliOf(bin)
      const baseline = freshDatabase(engine, 'updown')
      try {
        const up = call(testProject, baseline.url, 'migrate', 'up')
        const down = call(testProject, baseline.url, 'migrate', 'down', '--to', '0')
        upDown[name].push(up.ms + down.ms)
        upDownCpu[name].push(up.cpuMs + down.cpuMs)
      } finally {
        baseline.drop()
      }
      const target = freshDatabase(engine, 'test')
      try {
        const tested = call(testProject, target.url, 'migrate', 'test', '--json')
        const document = JSON.parse(tested.stdout)
        if (!document.passed || document.tested.length !== count)
          throw new Error(`migrate test (${name}) did not pass all ${count}: ${tested.stdout.slice(0, 500)}`)
        tests[name].push(tested.ms)
        testsCpu[name].push(tested.cpuMs)
      } finally {
        target.drop()
      }
    }
  }
  figures[engine] = {}
  for (const name of Object.keys(builds)) {
    const f = {
      upDownMs: median(upDown[name]),
      migrateTestMs: median(tests[name]),
      ratio: median(tests[name]) / median(upDown[name]),
      upDownCpuMs: median(upDownCpu[name]),
      migrateTestCpuMs: median(testsCpu[name]),
      cpuRatio: median(testsCpu[name]) / median(upDownCpu[name]),
      testRuns: tests[name],
      upDownRuns: upDown[name],
    }
    figures[engine][name] = f
    const label = name === 'dbops' ? '' : ` [${name}]`
    console.log(
      `${engine}${label}: migrate test of ${count} migrations ${seconds(f.migrateTestMs)} vs migrate up + down --to 0 ${seconds(f.upDownMs)}: ${f.ratio.toFixed(2)}x wall (goal <= 3x); CPU ${seconds(f.migrateTestCpuMs)} vs ${seconds(f.upDownCpuMs)}: ${f.cpuRatio.toFixed(2)}x`,
    )
    console.log(
      `${engine}${label}:   runs: test ${tests[name].map((ms) => (ms / 1000).toFixed(2)).join(' ')} s; up+down ${upDown[name].map((ms) => (ms / 1000).toFixed(2)).join(' ')} s`,
    )
  }
  if (flag('--no-drift')) continue
  const driftTimes = []
  let queries
  let objects
  const driftDb = freshDatabase(engine, 'drift')
  try {
    cli(driftProject, driftDb.url, 'migrate', 'up')
    for (let r = 0; r < runs; r++) {
      const drift = cli(driftProject, driftDb.url, 'schema', 'drift', '--json')
      const document = JSON.parse(drift.stdout)
      if (document.drift) throw new Error(`unexpected drift: ${drift.stdout.slice(0, 500)}`)
      queries = document.queries
      objects = document.objects.database
      driftTimes.push(drift.ms)
    }
  } finally {
    driftDb.drop()
  }
  Object.assign(figures[engine].dbops, {
    driftMs: median(driftTimes),
    driftQueries: queries,
    driftObjects: objects,
  })
  console.log(
    `${engine}: schema drift on ${tableCount} tables (${objects} objects): ${seconds(median(driftTimes))}, ${queries} catalog quer${queries === 1 ? 'y' : 'ies'} on the target (runs ${driftTimes.map((ms) => (ms / 1000).toFixed(2)).join(' ')} s)`,
  )
}
console.log(
  `load average ${loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')} at the end`,
)
if (flag('--json')) console.log(JSON.stringify({ migrations: count, tables: tableCount, runs, figures }, null, 2))
