#!/usr/bin/env node
// What encryption and compression cost `dbops backup create`, measured in the same run, alternating:
//   custom format: without encryption vs with age encryption (goal: encryption <= 10% of the dump time)
//   plain format:  --compress none vs the default compression (zstd, else gzip), and the same encrypted
// Each to a local folder, on a pgbench database. Variants are interleaved (one run of each per round, the order
// reversed every other round). Reports medians (and minima) of wall time and of CPU time (user + sys of dbops and
// pg_dump together: steadier than wall time on a busy machine), the cost in % of the unencrypted dump, sizes and the
// compression ratio from the manifest, and the machine's load. --compare times another build's custom variants in
// the same rounds.
//
//   node bench/backup-encrypt.mjs [--runs N] [--scale N] [--quick] [--custom-only] [--compare PATH] [--pg-url URL]
//                                 [--json]
//
// The database `dbops_bench_backup_s<scale>` (pgbench -i -s <scale>) is created once and reused (bench/backup.mjs
// uses the same one). Needs pg_dump and pgbench.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { commandLine, databaseUrl as urlOf, median, pgbenchDatabase as pgbench, psql, run } from './common.mjs'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const { option, flag, die, positiveInt } = commandLine(
  'backup-encrypt bench',
  `usage: node bench/backup-encrypt.mjs [options]
  --runs N      measurements of each variant (default 7); medians and minima are reported
  --scale N     pgbench scale of the database (default 50: ~750 MB, 5M rows)
  --quick       --runs 3 --scale 5
  --custom-only only the custom-format variants (the encryption goal), not the plain ones
  --compare PATH  also time another build's bin (e.g. /work/main/bin/dbops.js) for the custom variants, same rounds
  --pg-url URL  an admin connection (default $DBOPS_BENCH_PG_URL or postgres://postgres@127.0.0.1:5432/postgres)
  --json        also print the figures as one JSON document`,
)
const quick = flag('--quick')
const runs = positiveInt(option('--runs', quick ? '3' : '7'), '--runs')
const scale = positiveInt(option('--scale', quick ? '5' : '50'), '--scale')
const adminUrl = option('--pg-url', process.env.DBOPS_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres')
const wantJson = flag('--json')
const customOnly = flag('--custom-only')
const compareOption = option('--compare', undefined)
const compareBin = compareOption === undefined ? undefined : resolve(compareOption)
const dbops = join(repo, 'bin', 'dbops.js')
if (!existsSync(join(repo, 'dist', 'cli', 'main.cjs'))) die('build first: npm run build')
if (compareBin && !existsSync(compareBin)) die(`${compareBin} does not exist`)

const work = mkdtempSync(join(tmpdir(), 'dbops-bench-encrypt-'))
process.on('exit', () => rmSync(work, { recursive: true, force: true }))

// A throwaway age key pair: the public key goes in the config; the private key is never needed here.
const { generateIdentity, identityToRecipient } = await import('age-encryption')
const recipient = await identityToRecipient(await generateIdentity())

/** A project whose config backs up `url` into its own folder with `backup` settings. */
function project(name, url, backup, bin = dbops) {
  const dir = join(work, name)
  mkdirSync(dir, { recursive: true })
  writeFileSync(
    join(dir, 'dbops.config.json'),
    JSON.stringify({ targets: { bench: { url } }, backup: { dir: 'backups', ...backup } }),
  )
  const folder = join(dir, 'backups', 'bench')
  return {
    /** Runs one backup create and returns its wall and CPU time and manifest; the backup is deleted afterwards. */
    create(args = []) {
      rmSync(join(dir, 'backups'), { recursive: true, force: true })
      run('sync', [])
      const { ms, cpuMs } = run(process.execPath, [bin, 'backup', 'create', ...args], { cwd: dir })
      const manifestFile = readdirSync(folder).find((name) => name.endsWith('.manifest.json'))
      const manifest = JSON.parse(readFileSync(join(folder, manifestFile), 'utf8'))
      return { ms, cpuMs, manifest }
    },
  }
}

const url = pgbench(adminUrl, scale)
const size = psql(url, `SELECT pg_size_pretty(pg_database_size(current_database()))`)
const variants = {
  custom: project('custom', url, {}),
  customEncrypted: project('custom-encrypted', url, { encrypt: { recipients: [recipient] } }),
  ...(compareBin && {
    customCompare: project('custom-compare', url, {}, compareBin),
    customEncryptedCompare: project(
      'custom-encrypted-compare',
      url,
      { encrypt: { recipients: [recipient] } },
      compareBin,
    ),
  }),
  ...(!customOnly && {
    plainRaw: project('plain-raw', url, { format: 'plain', compress: 'none' }),
    plainCompressed: project('plain-compressed', url, { format: 'plain' }),
    plainCompressedEncrypted: project('plain-compressed-encrypted', url, {
      format: 'plain',
      encrypt: { recipients: [recipient] },
    }),
  }),
}
const loadBefore = loadavg()
console.log(
  `pgbench scale ${scale} (${size}); node ${process.version}; ${runs} run(s) of each variant, interleaved, medians`,
)
const samples = Object.fromEntries(Object.keys(variants).map((name) => [name, []]))
const cpuSamples = Object.fromEntries(Object.keys(variants).map((name) => [name, []]))
const manifests = {}
for (let i = 0; i < runs; i++) {
  // Reversed every other round: no variant always runs right after the same other one.
  const order = Object.entries(variants)
  for (const [name, variant] of i % 2 ? order.reverse() : order) {
    const { ms, cpuMs, manifest } = variant.create()
    samples[name].push(ms)
    if (cpuMs !== undefined) cpuSamples[name].push(cpuMs)
    manifests[name] = manifest
  }
}
const loadAfter = loadavg()
const med = Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]))
const cpu = Object.fromEntries(
  Object.entries(cpuSamples).map(([name, values]) => [name, values.length ? median(values) : undefined]),
)
const least = Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, Math.min(...values)]))
const cost = (encrypted, plain) => `${(((encrypted - plain) / plain) * 100).toFixed(1)}%`
/**
 * The CPU time (user + sys, dbops and pg_dump) encryption adds: medians' difference in ms, in % of the unencrypted
 * dump's wall time (the goal's measure, without the machine's noise) and in % of its CPU time.
 */
const cpuCost = (encrypted, plain) =>
  cpu[encrypted] === undefined
    ? ''
    : `\n    CPU (user+sys): +${(cpu[encrypted] - cpu[plain]).toFixed(0)} ms median = ${cost(med[plain] + cpu[encrypted] - cpu[plain], med[plain])} of the dump's wall time, ${cost(cpu[encrypted], cpu[plain])} of its CPU time`
const wallCost = (encrypted, plain) =>
  `wall: ${cost(med[encrypted], med[plain])} (medians), ${cost(least[encrypted], least[plain])} (minima)`
const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`
const line = (label, name) =>
  console.log(
    `  ${label.padEnd(36)} ${(med[name] / 1000).toFixed(2).padStart(7)} s${cpu[name] === undefined ? '' : ` (CPU ${(cpu[name] / 1000).toFixed(2)} s)`}  ${mb(manifests[name].sizeBytes).padStart(10)}${manifests[name].compression ? `  ${manifests[name].compression.algorithm} ${manifests[name].compression.ratio}x` : ''}`,
  )
line('custom (pg_dump -Fc)', 'custom')
line('custom, age-encrypted', 'customEncrypted')
console.log(
  `  encryption cost (custom, goal <= 10%): ${wallCost('customEncrypted', 'custom')}${cpuCost('customEncrypted', 'custom')}`,
)
if (compareBin) {
  console.log(`  [compare] ${compareBin}:`)
  line('custom (pg_dump -Fc) [compare]', 'customCompare')
  line('custom, age-encrypted [compare]', 'customEncryptedCompare')
  console.log(
    `  encryption cost (custom) [compare]: ${wallCost('customEncryptedCompare', 'customCompare')}${cpuCost('customEncryptedCompare', 'customCompare')}`,
  )
}
if (!customOnly) {
  line('plain, --compress none', 'plainRaw')
  line('plain, compressed', 'plainCompressed')
  line('plain, compressed and age-encrypted', 'plainCompressedEncrypted')
  console.log(`  compression cost (plain): ${cost(med.plainCompressed, med.plainRaw)}`)
  console.log(
    `  encryption cost (plain, compressed): ${wallCost('plainCompressedEncrypted', 'plainCompressed')}${cpuCost('plainCompressedEncrypted', 'plainCompressed')}`,
  )
}
console.log(
  `  load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`,
)
if (wantJson)
  console.log(
    JSON.stringify({
      scale,
      runs,
      node: process.version,
      load: { before: loadBefore, after: loadAfter },
      compare: compareBin ?? null,
      samplesMs: samples,
      mediansMs: med,
      minimaMs: least,
      cpuSamplesMs: cpuSamples,
      cpuMediansMs: cpu,
      sizes: Object.fromEntries(Object.entries(manifests).map(([name, m]) => [name, m.sizeBytes])),
      compression: Object.fromEntries(Object.entries(manifests).map(([name, m]) => [name, m.compression ?? null])),
    }),
  )
