#!/usr/bin/env node
// Cold start: `node -e 0` (bare node), `dbops --help`, and `dbops migrate status` against a SQLite and a PostgreSQL
// database with 100 applied migrations, interleaved, medians and ratios vs bare node. Then checks that `--help` loads
// no database driver (better-sqlite3, pg, kysely: from node_modules or bundled in a dist/ file).
//
//   node bench/startup.mjs [--runs N] [--only postgres|sqlite] [--pg-url URL] [--json] [--keep]
//
// No new dependencies: plain node, psql for setting up and dropping the PostgreSQL database.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { commandLine, median, run } from './common.mjs'
import { fileURLToPath, pathToFileURL } from 'node:url'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')

// ---- options ------------------------------------------------------------------------------------------------------
const { option, flag, die, positiveInt } = commandLine(
  'startup bench',
  `usage: node bench/startup.mjs [--runs N] [--only postgres|sqlite] [--pg-url URL] [--json] [--keep]
  --runs N         timed runs of each command (default 25, at least 20 recommended); medians are reported
  --only ENGINE    time status against postgres or sqlite only (default both)
  --pg-url URL     an admin connection to PostgreSQL (default $DBOPS_BENCH_PG_URL or postgres://postgres@127.0.0.1:5432/postgres);
                   a database with 100 applied migrations is created and dropped afterwards
  --dbops PATH     the dbops bin to time (default bin/dbops.js of this repository)
  --compare PATH   also time another build's bin (e.g. of the main branch) in the same rounds, as "[compare]" rows
  --json           also print the figures as one JSON document at the end
  --keep           keep the temporary directory`,
)
const runs = positiveInt(option('--runs', '25'), '--runs')
const only = option('--only', undefined)
if (only !== undefined && only !== 'postgres' && only !== 'sqlite') die('--only takes postgres or sqlite')
const adminUrl = option('--pg-url', process.env.DBOPS_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres')
const dbopsBin = resolve(option('--dbops', join(repo, 'bin', 'dbops.js')))
const compareOption = option('--compare', undefined)
const compareBin = compareOption === undefined ? undefined : resolve(compareOption)
const wantJson = flag('--json')
const keep = flag('--keep')
const engines = only ? [only] : ['postgres', 'sqlite']
const MIGRATIONS = 100

// ---- helpers ------------------------------------------------------------------------------------------------------
const ms = (value) => `${value.toFixed(1)} ms`

const psql = (url, sqlText) =>
  run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-At', '-c', sqlText]).stdout.trim()
const databaseUrl = (name) => {
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
}

// ---- setup: 100 migrations, applied to a SQLite and a PostgreSQL database ------------------------------------------
const work = mkdtempSync(join(tmpdir(), 'dbops-bench-startup-'))
const env = { ...process.env, NO_COLOR: '1' }
delete env.DATABASE_URL
let pgDatabase

function setup() {
  if (!existsSync(dbopsBin)) die(`${dbopsBin} does not exist`)
  if (compareBin && !existsSync(compareBin)) die(`${compareBin} does not exist`)
  if (!existsSync(join(repo, 'dist', 'cli', 'main.cjs'))) die('dist/ is missing: run "npm run build" first')
  mkdirSync(join(work, 'migrations'))
  writeFileSync(join(work, 'dbops.config.json'), `${JSON.stringify({ migrations: { dir: 'migrations' } })}\n`)
  for (let i = 0; i < MIGRATIONS; i++) {
    const version = String(20240101000000n + BigInt(i))
    const rows = Array.from({ length: 10 }, (_, r) => `(${r + 1}, 'row ${r + 1}', ${r})`).join(', ')
    writeFileSync(
      join(work, 'migrations', `${version}_m${i}.sql`),
      `-- migrate:up\nCREATE TABLE t_${i} (id integer primary key, name text not null, n integer);\nCREATE INDEX t_${i}_n_idx ON t_${i} (n);\nINSERT INTO t_${i} (id, name, n) VALUES ${rows};\n\n-- migrate:down\nDROP TABLE t_${i};\n`,
    )
  }
  // The same migrations seen without any config file (the default dir "migrations" under the working directory),
  // to show what finding and loading the config costs.
  mkdirSync(join(work, 'noconfig'))
  symlinkSync(join(work, 'migrations'), join(work, 'noconfig', 'migrations'))
  const urls = {}
  if (engines.includes('sqlite')) {
    urls.sqlite = `sqlite://${join(work, 'status.db')}`
    run(process.execPath, [dbopsBin, '--url', urls.sqlite, 'migrate', 'up'], { cwd: work, env })
  }
  if (engines.includes('postgres')) {
    try {
      psql(adminUrl, 'SELECT 1')
    } catch (error) {
      die(`cannot reach PostgreSQL at ${adminUrl} (pass --pg-url or --only sqlite): ${error.message.split('\n')[0]}`)
    }
    pgDatabase = `dbops_bench_status_${process.pid}`
    psql(adminUrl, `CREATE DATABASE ${pgDatabase}`)
    urls.postgres = databaseUrl(pgDatabase)
    run(process.execPath, [dbopsBin, '--url', urls.postgres, 'migrate', 'up'], { cwd: work, env })
  }
  return urls
}

// ---- the --help driver check ---------------------------------------------------------------------------------------
// Two probes, because the bundle loads modules both ways: an ESM `load` hook (module.register, via --import) logs
// every module the ESM loader loads (the dist chunks, and better-sqlite3 which the bundle imports as an external), and
// a --require preload wraps Module._load to log every require() (pg/kysely if they were ever required, better-sqlite3's
// own CommonJS internals, bindings, the .node addon). Bundled code (pg and kysely live inside dist chunks) is
// attributed through each loaded chunk's source map: a chunk whose sources include node_modules/pg/ *is* pg.
function writeProbes() {
  const dir = join(work, 'probe')
  mkdirSync(dir)
  writeFileSync(
    join(dir, 'esm-hooks.mjs'),
    `import { appendFileSync } from 'node:fs'
let log
export async function initialize(data) { log = data.log }
export async function load(url, context, nextLoad) {
  appendFileSync(log, 'esm ' + url + '\\n')
  return nextLoad(url, context)
}
`,
  )
  writeFileSync(
    join(dir, 'register.mjs'),
    `import { register } from 'node:module'
register(${JSON.stringify(pathToFileURL(join(dir, 'esm-hooks.mjs')).href)}, { data: { log: process.env.DBOPS_BENCH_LOAD_LOG } })
`,
  )
  writeFileSync(
    join(dir, 'cjs-probe.cjs'),
    `const Module = require('node:module')
const { appendFileSync } = require('node:fs')
const log = process.env.DBOPS_BENCH_LOAD_LOG
const original = Module._load
Module._load = function (request, parent, isMain) {
  let file = request
  try { file = Module._resolveFilename(request, parent, isMain) } catch {}
  appendFileSync(log, 'cjs ' + request + ' ' + file + '\\n')
  return original.apply(this, arguments)
}
process.on('exit', () => appendFileSync(log, Object.keys(require.cache).map((f) => 'cache ' + f + '\\n').join('')))
`,
  )
  return dir
}

/** Which packages each dist file bundles, from its source map. */
function bundledPackages(file) {
  try {
    const map = JSON.parse(readFileSync(`${file}.map`, 'utf8'))
    const packages = new Set()
    for (const source of map.sources ?? []) {
      const at = source.lastIndexOf('node_modules/')
      if (at < 0) continue
      const parts = source.slice(at + 'node_modules/'.length).split('/')
      packages.add(parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0])
    }
    return packages
  } catch {
    return new Set()
  }
}

function loadedModules(probeDir, commandArgs, label) {
  const log = join(probeDir, `${label}.log`)
  rmSync(log, { force: true })
  writeFileSync(log, '')
  run(
    process.execPath,
    [
      '--require',
      join(probeDir, 'cjs-probe.cjs'),
      '--import',
      pathToFileURL(join(probeDir, 'register.mjs')).href,
      dbopsBin,
      ...commandArgs,
    ],
    {
      cwd: work,
      env: { ...env, DBOPS_BENCH_LOAD_LOG: log },
    },
  )
  const files = new Set()
  const requests = new Set()
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const [kind, first, second] = line.split(' ')
    if (kind === 'esm' && first.startsWith('file:')) files.add(fileURLToPath(first))
    if (kind === 'cjs') {
      requests.add(first)
      if (second && second.startsWith('/')) files.add(second)
    }
    if (kind === 'cache') files.add(first)
  }
  const drivers = new Map()
  const note = (name, why) => {
    if (!drivers.has(name)) drivers.set(name, why)
  }
  for (const file of files) {
    for (const name of ['better-sqlite3', 'pg', 'kysely']) {
      if (file.includes(`/node_modules/${name}/`)) note(name, file)
    }
    if (/\.node$/.test(file)) note('better-sqlite3', file)
    const inDist =
      file.startsWith(join(repo, 'dist') + '/') || file.startsWith(join(dirname(dirname(dbopsBin)), 'dist') + '/')
    if (inDist) {
      if (/\/chunks\/[^/]*backend[^/]*\.js$/.test(file)) note('a dist *backend* chunk', file)
      for (const name of bundledPackages(file))
        if (['pg', 'kysely', 'better-sqlite3'].includes(name)) note(name, `bundled in ${basename(file)}`)
    }
  }
  for (const name of ['better-sqlite3', 'pg', 'kysely']) if (requests.has(name)) note(name, `require('${name}')`)
  return {
    drivers,
    moduleCount: files.size,
    distFiles: [...files]
      .filter((file) => file.includes('/dist/'))
      .map((file) => file.slice(file.indexOf('/dist/') + 1)),
  }
}

// ---- main ---------------------------------------------------------------------------------------------------------
function main() {
  const urls = setup()
  const dbopsCommands = (bin, suffix) => [
    [`dbops --help${suffix}`, [process.execPath, [bin, '--help']]],
    ...(urls.sqlite
      ? [
          [
            `dbops migrate status (sqlite)${suffix}`,
            [process.execPath, [bin, '--url', urls.sqlite, 'migrate', 'status']],
          ],
        ]
      : []),
    ...(urls.postgres
      ? [
          [
            `dbops migrate status (postgres)${suffix}`,
            [process.execPath, [bin, '--url', urls.postgres, 'migrate', 'status']],
          ],
        ]
      : []),
    ...(urls.sqlite
      ? [
          [
            `dbops migrate status (sqlite, no config file)${suffix}`,
            [process.execPath, [bin, '--url', urls.sqlite, 'migrate', 'status']],
            join(work, 'noconfig'),
          ],
        ]
      : []),
  ]
  const commands = [
    ['node -e 0', [process.execPath, ['-e', '0']]],
    ...dbopsCommands(dbopsBin, ''),
    ...(compareBin ? dbopsCommands(compareBin, ' [compare]') : []),
  ]
  // Sanity: the status commands see 100 applied migrations; --help prints usage.
  for (const [label, [command, commandArgs], cwd = work] of commands) {
    const { stdout } = run(command, commandArgs, { cwd, env })
    if (label.includes('status') && !stdout.includes(`${MIGRATIONS} applied, 0 pending`))
      throw new Error(`${label}: unexpected output:\n${stdout}`)
    if (label.includes('--help') && !/Usage: dbops/.test(stdout))
      throw new Error(`${label}: unexpected output:\n${stdout}`)
  }
  console.log(
    `cold start: ${runs} interleaved runs of each command (after 3 warm-up rounds), medians; status against ${MIGRATIONS} applied migrations`,
  )
  console.log(
    `node ${process.version}, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  )

  for (let r = 0; r < 3; r++)
    for (const [, [command, commandArgs], cwd = work] of commands) run(command, commandArgs, { cwd, env })
  const samples = commands.map(() => [])
  for (let r = 0; r < runs; r++) {
    // Rotate the order each round so no command always follows the same one.
    for (let k = 0; k < commands.length; k++) {
      const index = (k + r) % commands.length
      const [, [command, commandArgs], cwd = work] = commands[index]
      samples[index].push(run(command, commandArgs, { cwd, env }).ms)
    }
  }
  const base = median(samples[0])
  const results = []
  console.log('')
  commands.forEach(([label], index) => {
    const value = median(samples[index])
    // Paired: the ratio to bare node measured in the same round, then the median of those.
    const paired = median(samples[index].map((sample, r) => sample / samples[0][r]))
    const target = label.includes('status') ? 1.5 : undefined
    results.push({
      command: label,
      medianMs: value,
      ratio: value / base,
      pairedRatio: paired,
      ...(target && { target }),
      samples: samples[index],
    })
    if (index === 0) console.log(`${label.padEnd(56)} ${ms(value).padStart(9)}`)
    else {
      const verdict = target ? ` (target <= ${target}x: ${value / base <= target ? 'met' : 'NOT met'})` : ''
      console.log(
        `${label.padEnd(56)} ${ms(value).padStart(9)}  ${(value / base).toFixed(2)}x bare node (paired median ${paired.toFixed(2)}x)${verdict}`,
      )
    }
  })

  // The driver check, with the two status commands as positive controls for the probe itself (they must be seen
  // loading their driver; kysely is reported when seen but not required: a build may not need it to read the ledger).
  const probeDir = writeProbes()
  const help = loadedModules(probeDir, ['--help'], 'help')
  const controls = []
  if (urls.sqlite)
    controls.push([
      'status (sqlite)',
      loadedModules(probeDir, ['--url', urls.sqlite, 'migrate', 'status'], 'status-sqlite'),
      ['better-sqlite3'],
    ])
  if (urls.postgres)
    controls.push([
      'status (postgres)',
      loadedModules(probeDir, ['--url', urls.postgres, 'migrate', 'status'], 'status-postgres'),
      ['pg'],
    ])
  console.log('')
  console.log(`--help loaded ${help.moduleCount} files; from dist: ${help.distFiles.join(', ') || '(none)'}`)
  for (const [name, why] of help.drivers) console.log(`  --help loaded ${name}: ${why}`)
  let probeWorks = true
  for (const [label, loaded, expected] of controls) {
    const seen = expected.filter((name) => loaded.drivers.has(name))
    const ok = seen.length === expected.length
    probeWorks &&= ok
    console.log(
      `probe check: ${label} is seen loading ${[...loaded.drivers.keys()].join(', ') || 'nothing'} (${ok ? 'as expected' : `EXPECTED ${expected.join(', ')}`})`,
    )
  }
  const clean = help.drivers.size === 0
  console.log(
    `--help loads no database driver: ${!probeWorks ? 'unknown (the probe failed its own check)' : clean ? 'yes' : 'no'}`,
  )

  if (wantJson) {
    console.log(
      JSON.stringify(
        {
          bench: 'startup',
          runs,
          node: process.version,
          migrationsApplied: MIGRATIONS,
          results,
          helpLoadsNoDriver: probeWorks ? clean : null,
          helpLoaded: Object.fromEntries(help.drivers),
        },
        null,
        2,
      ),
    )
  }
  return probeWorks && clean
}

let failed = false
try {
  if (!main()) failed = true
} catch (error) {
  failed = true
  console.error(`startup bench FAILED: ${error.stack ?? error}`)
} finally {
  if (pgDatabase) {
    try {
      psql(adminUrl, `DROP DATABASE IF EXISTS ${pgDatabase}`)
    } catch {
      console.error(`could not drop database ${pgDatabase}`)
    }
  }
  if (keep) console.error(`kept ${work}`)
  else rmSync(work, { recursive: true, force: true })
}
process.exitCode = failed ? 2 : 0
