#!/usr/bin/env node
// Two figures for the migration lint, each measured against its reference in the same run, alternating, by medians:
// 1. `dbops migrate lint --offline` over N generated migrations vs `squawk` over the same files (goal: <= 1.5x).
//    squawk is npm `squawk-cli` (its native binary comes from the npm registry as an optional dependency). It is not a
//    devDependency: npm writes only this platform's binary into the lock file, and `npm ci` then refuses the lock on
//    every machine. Install it for the bench with `npm install --no-save squawk-cli`, or put `squawk` on PATH.
// 2. `dbops migrate up` of the 1000-migration set of bench/migrate-up.mjs with the lint on vs `--no-lint`
//    (goal: < 3% slower), on PostgreSQL and SQLite.
//
// With --baseline, another build (a git ref, built into a temp dir, or a folder holding bin/dbops.js) is timed in the
// same rounds, alternating, so a change is measured against main under the same load.
//
//   node bench/lint.mjs [--runs N] [--migrations N] [--only lint|up] [--baseline REF|DIR] [--pg-url URL] [--json]
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { baselineBuild, commandLine, median } from './common.mjs'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const { option, flag, die, positiveInt } = commandLine(
  'lint bench',
  `usage: node bench/lint.mjs [--runs N] [--migrations N] [--only lint|up] [--baseline REF|DIR] [--pg-url URL] [--json]
  --runs N         measurements of each command (default 5); medians are reported
  --migrations N   migrations to generate (default 1000)
  --only WHAT      lint (dbops vs squawk) or up (migrate up with and without the lint)
  --baseline X     also time another build in the same rounds: a git ref (e.g. main: exported with git archive and
                   built in a temp dir, ~1 minute), a folder holding bin/dbops.js or that file (e.g. one built earlier)
  --compare PATH   the same as --baseline (the other benches' name for it)
  --engine E       the up figures for postgres or sqlite only
  --pg-url URL     admin connection for the up figures (default $DBOPS_BENCH_PG_URL or postgres://postgres@127.0.0.1:5432/postgres)
  --json           also print the figures as one JSON document`,
)
const runs = positiveInt(option('--runs', '5'), '--runs')
const count = positiveInt(option('--migrations', '1000'), '--migrations')
const only = option('--only', undefined)
if (only !== undefined && only !== 'lint' && only !== 'up') die('--only takes lint or up')
const engineOnly = option('--engine', undefined)
if (engineOnly !== undefined && engineOnly !== 'postgres' && engineOnly !== 'sqlite')
  die('--engine takes postgres or sqlite')
const adminUrl = option('--pg-url', process.env.DBOPS_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres')
const dbopsBin = join(repo, 'bin', 'dbops.js')
const work = mkdtempSync(join(tmpdir(), 'dbops-bench-lint-'))
const figures = {
  machine: { load: loadavg().map((value) => Number(value.toFixed(2))), node: process.version },
  runs,
  migrations: count,
}
// --compare: the other benches' name for it (they take a bin path, which this accepts too).
const baselineOption = option('--baseline', undefined) ?? option('--compare', undefined)
let baselineBin
try {
  baselineBin = baselineOption === undefined ? undefined : baselineBuild(baselineOption, repo, join(work, 'baseline'))
} catch (error) {
  rmSync(work, { recursive: true, force: true })
  die(error.message)
}
if (baselineBin) figures.baseline = baselineOption
console.log(`load average ${figures.machine.load.join(' ')} at the start`)

/** Runs a command, returns { ms, code, stdout }; a non-zero exit is expected from linters that found something. */
function timed(command, args, cwd) {
  const started = performance.now()
  // /usr/bin/time adds the child's CPU time (user + system): on a shared machine wall times swing with the load.
  const time = existsSync('/usr/bin/time')
  const result = spawnSync(time ? '/usr/bin/time' : command, time ? ['-f', '@cpu %U %S', command, ...args] : args, {
    cwd,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, NO_COLOR: '1' },
  })
  const ms = performance.now() - started
  if (result.error) throw result.error
  const cpu = /@cpu ([\d.]+) ([\d.]+)\s*$/.exec(result.stderr)
  return {
    ms,
    cpuMs: cpu ? (Number(cpu[1]) + Number(cpu[2])) * 1000 : NaN,
    code: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
  }
}

function squawkBin() {
  try {
    const require = createRequire(join(repo, 'package.json'))
    const packageDir = dirname(require.resolve('squawk-cli/package.json'))
    const bin = join(packageDir, 'js', 'bin', 'squawk')
    if (existsSync(bin)) return [process.execPath, [bin]]
  } catch {}
  const which = spawnSync('sh', ['-c', 'command -v squawk'], { encoding: 'utf8' })
  if (which.status === 0) return [which.stdout.trim(), []]
  return undefined
}

// ---- 1. dbops migrate lint vs squawk ------------------------------------------------------------------------------
if (only !== 'up') {
  const project = join(work, 'lint')
  mkdirSync(join(project, 'migrations'), { recursive: true })
  writeFileSync(join(project, 'package.json'), '{}\n')
  // A realistic mix: mostly new tables and data, some changes to earlier tables (hazards both tools report).
  for (let i = 0; i < count; i++) {
    const version = String(20240101000000n + BigInt(i))
    const earlier = `t_${Math.max(0, i - 7)}`
    // One table in four is written the way advice flags (serial id, timestamp, varchar): those get parsed.
    const columns =
      i % 4 === 0
        ? 'id serial PRIMARY KEY, name varchar(80) NOT NULL, n integer, created_at timestamp NOT NULL DEFAULT now()'
        : 'id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, n integer, created_at timestamptz NOT NULL DEFAULT now()'
    const body = [
      `CREATE TABLE t_${i} (${columns});`,
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS t_${i}_n_idx ON t_${i} (n);`,
      `INSERT INTO t_${i} (name, n) VALUES ${Array.from({ length: 5 }, (_, r) => `('row ${r}', ${r})`).join(', ')};`,
    ]
    if (i % 10 === 3) body.push(`CREATE INDEX ${earlier}_name_idx ON ${earlier} (name);`)
    if (i % 10 === 5) body.push(`ALTER TABLE ${earlier} ADD CONSTRAINT ${earlier}_n_check CHECK (n >= 0);`)
    if (i % 10 === 7)
      body.push(`ALTER TABLE ${earlier} ADD COLUMN note text;`, `UPDATE ${earlier} SET note = name WHERE id < 100;`)
    writeFileSync(
      join(project, 'migrations', `${version}_m${i}.sql`),
      `-- migrate:up transaction:false\n${body.join('\n')}\n-- migrate:down\n`,
    )
  }
  const files = readdirSync(join(project, 'migrations'))
    .sort()
    .map((file) => join('migrations', file))
  const squawk = squawkBin()
  const lintArgs = ['--url', 'postgres://bench@127.0.0.1:1/none', 'migrate', 'lint', '--offline', '--json']
  const commands = {
    dbops: () => [process.execPath, [dbopsBin, ...lintArgs]],
    ...(baselineBin && { 'dbops [baseline]': () => [process.execPath, [baselineBin, ...lintArgs]] }),
    ...(squawk && { squawk: () => [squawk[0], [...squawk[1], '--reporter', 'json', ...files]] }),
  }
  const names = Object.keys(commands)
  const times = Object.fromEntries(names.map((name) => [name, []]))
  const cpu = Object.fromEntries(names.map((name) => [name, []]))
  const findings = {}
  for (let run = 0; run < runs; run++) {
    // The order rotates every round, so no command always runs right after another (or first, on a cold cache).
    for (let k = 0; k < names.length; k++) {
      const name = names[(run + k) % names.length]
      const [command, args] = commands[name]()
      const result = timed(command, args, project)
      if (name === 'squawk') {
        if (result.code !== 0 && result.code !== 1) throw new Error(`squawk exited ${result.code}: ${result.stderr}`)
        findings[name] = JSON.parse(result.stdout).length
      } else {
        if (result.code !== 0 && result.code !== 1 && result.code !== 2)
          throw new Error(`${name} migrate lint exited ${result.code}: ${result.stderr}`)
        findings[name] = JSON.parse(result.stdout).findings.length
      }
      times[name].push(result.ms)
      cpu[name].push(result.cpuMs)
    }
  }
  figures.lint = {}
  for (const name of names) {
    figures.lint[name] = {
      ms: median(times[name]),
      cpuMs: median(cpu[name]),
      findings: findings[name],
      runs: times[name],
      cpuRuns: cpu[name],
    }
    console.log(
      `lint ${count} migrations: ${name.padEnd(16)} ${median(times[name]).toFixed(0).padStart(5)} ms wall, ${median(cpu[name]).toFixed(0).padStart(5)} ms CPU (${findings[name]} findings; wall runs ${times[name].map((ms) => ms.toFixed(0)).join(' ')})`,
    )
  }
  const ratio = (a, b) => {
    const wall = median(times[a]) / median(times[b])
    const cpuRatio = median(cpu[a]) / median(cpu[b])
    return { wall, cpu: cpuRatio, text: `${wall.toFixed(2)}x wall, ${cpuRatio.toFixed(2)}x CPU` }
  }
  if (squawk) {
    const ours = ratio('dbops', 'squawk')
    figures.lint.ratio = ours.wall
    figures.lint.cpuRatio = ours.cpu
    console.log(`lint: dbops / squawk = ${ours.text} (goal <= 1.5x)`)
    if (baselineBin) {
      const theirs = ratio('dbops [baseline]', 'squawk')
      figures.lint.baselineRatio = theirs.wall
      figures.lint.baselineCpuRatio = theirs.cpu
      console.log(`lint: dbops [baseline] / squawk = ${theirs.text}`)
    }
  } else {
    console.log(
      'squawk not found: install it with "npm install --no-save squawk-cli" (or put squawk on PATH) for the comparison',
    )
  }
  if (baselineBin) console.log(`lint: dbops / dbops [baseline] = ${ratio('dbops', 'dbops [baseline]').text}`)
}

// ---- 2. migrate up with the lint on vs --no-lint ------------------------------------------------------------------
if (only !== 'lint') {
  const project = join(work, 'up')
  mkdirSync(join(project, 'migrations'), { recursive: true })
  writeFileSync(join(project, 'dbops.config.json'), `${JSON.stringify({ migrations: { dir: 'migrations' } })}\n`)
  // The migrations of bench/migrate-up.mjs: CREATE TABLE, CREATE INDEX on it, one INSERT of 10 rows.
  for (let i = 0; i < 1000; i++) {
    const rows = Array.from({ length: 10 }, (_, r) => `(${r + 1}, 'row ${r + 1} of t_${i}', ${(r * 7) % 10})`).join(
      ', ',
    )
    const up = `CREATE TABLE t_${i} (id integer primary key, name text not null, n integer);\nCREATE INDEX t_${i}_n_idx ON t_${i} (n);\nINSERT INTO t_${i} (id, name, n) VALUES ${rows};\n`
    writeFileSync(
      join(project, 'migrations', `${20240101000000n + BigInt(i)}_m${i}.sql`),
      `-- migrate:up\n${up}\n-- migrate:down\nDROP TABLE t_${i};\n`,
    )
  }
  const psql = (sql) => {
    const result = spawnSync('psql', ['-X', '-q', '-At', '-d', adminUrl, '-c', sql], { encoding: 'utf8' })
    if (result.status !== 0) throw new Error(`psql: ${result.stderr}`)
  }
  let sequence = 0
  const engines = {
    postgres() {
      const name = `dbops_bench_lint_${process.pid}_${++sequence}`
      psql(`CREATE DATABASE ${name}`)
      psql('CHECKPOINT')
      const url = new URL(adminUrl)
      url.pathname = `/${name}`
      url.searchParams.set('application_name', 'dbops-bench')
      return { url: url.toString(), done: () => psql(`DROP DATABASE IF EXISTS ${name}`) }
    },
    sqlite() {
      const file = join(project, `bench-${++sequence}.db`)
      return {
        url: `sqlite://${file}`,
        done: () => ['', '-wal', '-shm'].forEach((suffix) => rmSync(file + suffix, { force: true })),
      }
    },
  }
  figures.up = {}
  const builds = { '': dbopsBin, ...(baselineBin && { ' [baseline]': baselineBin }) }
  const variants = Object.entries(builds).flatMap(([suffix, bin]) => [
    { name: `lint${suffix}`, bin, args: [] },
    { name: `no-lint${suffix}`, bin, args: ['--no-lint'] },
  ])
  for (const [engine, fresh] of Object.entries(engines)) {
    if (engineOnly !== undefined && engine !== engineOnly) continue
    const times = Object.fromEntries(variants.map(({ name }) => [name, []]))
    const cpu = Object.fromEntries(variants.map(({ name }) => [name, []]))
    for (let run = 0; run < runs; run++) {
      for (let k = 0; k < variants.length; k++) {
        const { name, bin, args } = variants[(run + k) % variants.length]
        const database = fresh()
        try {
          const result = timed(process.execPath, [bin, '--url', database.url, 'migrate', 'up', ...args], project)
          if (result.code !== 0)
            throw new Error(`migrate up (${name}) exited ${result.code}: ${result.stderr.slice(-2000)}`)
          times[name].push(result.ms)
          cpu[name].push(result.cpuMs)
        } finally {
          database.done()
        }
      }
    }
    figures.up[engine] = {}
    for (const suffix of Object.keys(builds)) {
      const [lint, none] = [`lint${suffix}`, `no-lint${suffix}`].map((name) => median(times[name]))
      const [lintCpu, noneCpu] = [`lint${suffix}`, `no-lint${suffix}`].map((name) => median(cpu[name]))
      const slower = ((lint - none) / none) * 100
      const slowerCpu = ((lintCpu - noneCpu) / noneCpu) * 100
      console.log(
        `${engine} migrate up x1000${suffix}: lint ${(lint / 1000).toFixed(2)} s, --no-lint ${(none / 1000).toFixed(2)} s: ${slower.toFixed(1)}% wall (goal < 3%); CPU ${lintCpu.toFixed(0)} vs ${noneCpu.toFixed(0)} ms: ${slowerCpu.toFixed(1)}%`,
      )
      figures.up[engine][suffix === '' ? 'dbops' : 'baseline'] = {
        lintMs: lint,
        noLintMs: none,
        lintCpuMs: lintCpu,
        noLintCpuMs: noneCpu,
        lintRuns: times[`lint${suffix}`],
        noLintRuns: times[`no-lint${suffix}`],
        slowerPercent: slower,
        slowerCpuPercent: slowerCpu,
      }
    }
  }
}

rmSync(work, { recursive: true, force: true })
console.log(`machine load ${figures.machine.load.join(' ')}, ${figures.machine.node}, ${runs} runs each`)
if (flag('--json')) console.log(JSON.stringify(figures, null, 2))
