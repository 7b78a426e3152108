import { createServer, type Server } from 'node:net'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import pg from 'pg'
import { runCli, tempDir, usePgDatabase } from '../helpers/databases.js'
import { startThrowawayCluster, type PgServer } from '../helpers/global-setup.js'

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** A strict reader of the Prometheus text format: HELP and TYPE once per family before its samples, no repeated series. */
function parsePrometheus(text: string): Sample[] {
  const help = new Map<string, number>()
  const type = new Map<string, number>()
  const series = new Set<string>()
  const samples: Sample[] = []
  expect(text.endsWith('\n')).toBe(true)
  for (const line of text.slice(0, -1).split('\n')) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line)
    if (meta) {
      const seen = meta[1] === 'HELP' ? help : type
      seen.set(meta[2]!, (seen.get(meta[2]!) ?? 0) + 1)
      if (meta[1] === 'TYPE') expect(['gauge', 'counter']).toContain(meta[3])
      continue
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!sample) throw new Error(`not a Prometheus line: ${JSON.stringify(line)}`)
    const [, name, labelText = '', valueText] = sample
    expect(type.has(name!), `TYPE before the samples of ${name}`).toBe(true)
    const labels: Record<string, string> = {}
    const rest = labelText.replace(
      /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g,
      (_, key: string, value: string) => {
        labels[key] = value.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\')
        return ''
      },
    )
    expect(rest, `labels of ${line}`).toBe('')
    const value = Number(valueText)
    expect(Number.isFinite(value), `numeric value in ${line}`).toBe(true)
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`
    expect(series.has(key), `repeated series ${key}`).toBe(false)
    series.add(key)
    samples.push({ name: name!, labels, value })
  }
  for (const [name, count] of [...help, ...type]) expect(count, `HELP/TYPE of ${name} once`).toBe(1)
  for (const name of type.keys()) expect(help.has(name)).toBe(true)
  return samples
}

const NAGIOS = /^DBOPS HEALTH (OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]+(?: \| (.+))?\n$/
const PERF_ITEM =
  /^('(?:[^']|'')+'|[^'= ]+)=(-?[\d.]+(?:e-?\d+)?)(s|%|B|c)?;(-?[\d.e]*:?);(-?[\d.e]*:?);(-?[\d.e]*);(-?[\d.e]*)$/

function checkNagios(stdout: string): { state: string; perfdata: string[] } {
  const match = NAGIOS.exec(stdout)
  expect(match, stdout).not.toBeNull()
  const perfdata = match![2]?.split(' ') ?? []
  for (const item of perfdata) expect(item).toMatch(PERF_ITEM)
  return { state: match![1]!, perfdata }
}

function sqliteFile(dir: string, journal: 'wal' | 'delete', setup = 'CREATE TABLE t (id INTEGER PRIMARY KEY)'): string {
  const file = path.join(dir, `${journal}.db`)
  const database = new Database(file)
  database.pragma(`journal_mode = ${journal}`)
  database.exec(setup)
  database.close()
  return file
}

describe('dbops health (e2e)', () => {
  let dir: string
  const pg = usePgDatabase('dbops_health_e2e')
  let hung: Server
  let hungPort: number

  beforeAll(async () => {
    dir = tempDir('dbops-health-e2e')
    mkdirSync(path.join(dir, 'migrations'))
    hung = createServer(() => {}) // accepts connections and never answers
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve))
    hungPort = (hung.address() as { port: number }).port
  })
  afterAll(() => {
    hung?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('exits 0 with a table when all is well, and prints one stable JSON document', async () => {
    const file = sqliteFile(dir, 'wal')
    const human = await runCli(['health', '--url', `sqlite:${file}`], { cwd: dir })
    expect(human.stderr).toBe('')
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/^CHECK\s+STATUS\s+VALUE\s+MESSAGE$/m)
    expect(human.stdout).toMatch(/^integrity\s+ok\s+ok\s+PRAGMA quick_check: ok$/m)

    const json = await runCli(['health', '--url', `sqlite:${file}`, '--json'], { cwd: dir })
    expect(json.code).toBe(0)
    const document = JSON.parse(json.stdout)
    expect(document).toMatchObject({ ok: true, target: 'default', engine: 'sqlite', status: 'ok', up: true })
    expect(document.checks.map((finding: { check: string }) => finding.check)).toContain('journal_mode')
    for (const finding of document.checks)
      expect(Object.keys(finding)).toEqual(expect.arrayContaining(['check', 'severity', 'subject', 'message']))
    const format = await runCli(['health', '--url', `sqlite:${file}`, '--format', 'json'], { cwd: dir })
    expect(JSON.parse(format.stdout).status).toBe('ok')
  })

  it('exits 1 on a warning, with a Nagios line whose state and perfdata are valid; thresholds from config and flags', async () => {
    const file = sqliteFile(dir, 'delete')
    const result = await runCli(['health', '--url', `sqlite:${file}`, '--format', 'nagios'], { cwd: dir })
    expect(result.code).toBe(1)
    const { state, perfdata } = checkNagios(result.stdout)
    expect(state).toBe('WARNING')
    expect(result.stdout).toContain('1 warning(s): journal_mode delete')
    expect(perfdata.some((item) => /^freelist=0%;50;;0;100$/.test(item))).toBe(true)
    expect(perfdata.some((item) => item.startsWith('database_size=') && item.includes('B;;;0;'))).toBe(true)

    const off = await runCli(
      ['health', '--url', `sqlite:${file}`, '--format', 'nagios', '--threshold', 'journal_mode.warn=off'],
      { cwd: dir },
    )
    expect(off.code).toBe(0)
    expect(checkNagios(off.stdout).state).toBe('OK')

    const project = tempDir('dbops-health-config')
    try {
      writeFileSync(
        path.join(project, 'dbops.config.json'),
        JSON.stringify({ health: { thresholds: { database_size: { critical: '1kB' } } } }),
      )
      const fromConfig = await runCli(
        ['health', '--url', `sqlite:${file}`, '--skip', 'journal_mode,migrations', '--format', 'nagios'],
        { cwd: project },
      )
      expect(fromConfig.code).toBe(2)
      expect(fromConfig.stdout).toMatch(/^DBOPS HEALTH CRITICAL - 1 critical: database_size 8\.0 kB/)
      expect(fromConfig.stdout).toMatch(/database_size=8192B;;1024;0;/)
      const overridden = await runCli(
        [
          'health',
          '--url',
          `sqlite:${file}`,
          '--skip',
          'journal_mode,migrations',
          '--threshold',
          'database_size.critical=1GB',
        ],
        { cwd: project },
      )
      expect(overridden.code).toBe(0)
    } finally {
      rmSync(project, { recursive: true, force: true })
    }
  })

  it('exits 2 for a missing SQLite file (without creating it), an unreachable server, and one that never answers', async () => {
    const missing = path.join(dir, 'missing.db')
    const result = await runCli(['health', '--url', `sqlite:${missing}`, '--format', 'nagios'], { cwd: dir })
    expect(result.code).toBe(2)
    expect(result.stdout).toMatch(/^DBOPS HEALTH CRITICAL - 1 critical: connection \(database not found/)
    expect(existsSync(missing)).toBe(false)

    const refused = await runCli(['health', '--url', 'postgres://dbops:s3cret-pw@127.0.0.1:1/app', '--json'], {
      cwd: dir,
    })
    expect(refused.code).toBe(2)
    const document = JSON.parse(refused.stdout)
    expect(document).toMatchObject({ ok: false, status: 'critical', up: false })
    expect(document.checks[0].message).toContain('connection refused')
    expect(refused.stdout + refused.stderr).not.toContain('s3cret-pw')

    const silent = await runCli(
      [
        'health',
        '--url',
        `postgres://dbops:s3cret-pw@127.0.0.1:${hungPort}/app`,
        '--timeout',
        '1s',
        '--format',
        'prometheus',
      ],
      { cwd: dir, timeoutMs: 20_000 },
    )
    expect(silent.code).toBe(2)
    const samples = parsePrometheus(silent.stdout)
    expect(samples.find((sample) => sample.name === 'dbops_up')).toMatchObject({
      value: 0,
      labels: { target: 'default', engine: 'postgres' },
    })
    expect(
      samples.find((sample) => sample.name === 'dbops_health_status' && sample.labels.check === 'connection')?.value,
    ).toBe(2)
    expect(silent.stdout + silent.stderr).not.toContain('s3cret-pw')
  })

  it('exits 3 on bad thresholds, formats, check names and config, with a one-line error', async () => {
    const file = sqliteFile(dir, 'wal', 'CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY)')
    const cases: string[][] = [
      ['--threshold', 'long_queries.warn=soon'],
      ['--threshold', 'nonsense'],
      ['--threshold', 'no_such_check.warn=1'],
      ['--format', 'xml'],
      ['--only', 'integrity,bogus'],
      ['--timeout', '0'],
      ['--metrics-file', path.join(dir, 'no-such-folder', 'x.prom')],
    ]
    for (const args of cases) {
      const result = await runCli(['health', '--url', `sqlite:${file}`, ...args], { cwd: dir })
      expect(result.code, args.join(' ')).toBe(3)
      expect(result.stderr).toMatch(/^error: .+\(hint: .+\)\n$/)
      expect(result.stdout).toBe('')
    }
    const conflict = await runCli(['health', '--url', `sqlite:${file}`, '--json', '--format', 'nagios'], { cwd: dir })
    expect(conflict.code).toBe(3)
    expect(JSON.parse(conflict.stdout)).toMatchObject({ ok: false, error: { code: 'E_USAGE' } })
    const project = tempDir('dbops-health-badconfig')
    try {
      writeFileSync(
        path.join(project, 'dbops.config.json'),
        JSON.stringify({ health: { thresholds: { wal_size: { warn: '12 parsecs' } } } }),
      )
      const result = await runCli(['health', '--url', `sqlite:${file}`], { cwd: project })
      expect(result.code).toBe(3)
      expect(result.stderr).toContain('health.thresholds.wal_size.warn')
    } finally {
      rmSync(project, { recursive: true, force: true })
    }
  })

  it('--all writes one Prometheus exposition (each family once) to stdout and atomically to --metrics-file, and one Nagios line', async () => {
    const file = sqliteFile(dir, 'wal', 'CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY)')
    const withPassword = new URL(pg.url)
    withPassword.password = 'never-print-me' // trust authentication ignores it
    const project = tempDir('dbops-health-all')
    try {
      mkdirSync(path.join(project, 'migrations'))
      writeFileSync(
        path.join(project, 'dbops.config.json'),
        JSON.stringify({
          defaultTarget: 'main',
          targets: { main: { url: withPassword.toString() }, lite: { url: `sqlite:${file}` } },
        }),
      )
      const metricsFile = path.join(project, 'dbops.prom')
      const result = await runCli(['health', '--all', '--format', 'prometheus', '--metrics-file', metricsFile], {
        cwd: project,
      })
      expect(result.code).toBe(0)
      expect(result.stderr).toBe('')
      for (const text of [result.stdout, readFileSync(metricsFile, 'utf8')]) {
        const samples = parsePrometheus(text)
        expect(
          samples
            .filter((sample) => sample.name === 'dbops_up')
            .map((sample) => [sample.labels.target, sample.value])
            .sort(),
        ).toEqual([
          ['lite', 1],
          ['main', 1],
        ])
        expect(
          samples.filter((sample) => sample.name === 'dbops_health_status' && sample.labels.check === 'connection'),
        ).toHaveLength(2)
        const size = samples.find(
          (sample) => sample.name === 'dbops_database_size_bytes' && sample.labels.target === 'main',
        )!
        expect(size.value).toBeGreaterThan(1_000_000) // bytes, not megabytes
        const ratio = samples.find((sample) => sample.name === 'dbops_connections_used_ratio')!
        expect(ratio.value).toBeGreaterThan(0)
        expect(ratio.value).toBeLessThanOrEqual(1)
        expect(samples.find((sample) => sample.name === 'dbops_xid_age')!.value).toBeGreaterThan(0)
        expect(text).not.toContain('never-print-me')
      }
      expect(existsSync(metricsFile)).toBe(true)

      const nagios = await runCli(['health', '--all', '--format', 'nagios', '--threshold', 'connections.warn=1'], {
        cwd: project,
      })
      expect(nagios.code).toBe(1)
      const { state, perfdata } = checkNagios(nagios.stdout)
      expect(state).toBe('WARNING')
      expect(nagios.stdout).toContain('main:connections ')
      expect(perfdata.some((item) => item.startsWith('main:connections='))).toBe(true)
      expect(perfdata.some((item) => item.startsWith('lite:integrity='))).toBe(true)
      const human = await runCli(['health', '--all'], { cwd: project })
      expect(human.stdout).toContain('2 target(s): 2 ok')
      expect(human.stdout + human.stderr + nagios.stdout + nagios.stderr).not.toContain('never-print-me')
    } finally {
      rmSync(project, { recursive: true, force: true })
    }
  })
})

describe('health against a server that archives WAL and allows prepared transactions', () => {
  // The shared test server has archive_mode off and max_prepared_transactions = 0: a throwaway cluster has both, and
  // an archive_command that always fails.
  let cluster: PgServer
  let client: pg.Client
  beforeAll(async () => {
    cluster = await startThrowawayCluster(() => {}, {
      settings: { max_prepared_transactions: '2', archive_mode: 'on', archive_command: 'false' },
    })
    client = new pg.Client({ connectionString: cluster.url })
    await client.connect()
  }, 120_000)
  afterAll(async () => {
    await client?.query(`ROLLBACK PREPARED 'dbops_forgotten'`).catch(() => {})
    await client?.end()
    await cluster?.stop()
  })

  const health = async (check: string, threshold?: string) => {
    const result = await runCli([
      '--url',
      cluster.url,
      'health',
      '--only',
      check,
      ...(threshold ? ['--threshold', threshold] : []),
      '--json',
    ])
    return { code: result.code, finding: JSON.parse(result.stdout).checks.find((c: any) => c.check === check) }
  }

  it('prepared_transactions: none, then names a forgotten one with the fix', async () => {
    expect((await health('prepared_transactions')).finding).toMatchObject({ severity: 'ok', message: 'none' })
    await client.query('CREATE TABLE IF NOT EXISTS t (id int)')
    await client.query(`BEGIN; INSERT INTO t VALUES (1); PREPARE TRANSACTION 'dbops_forgotten'`)
    const { code, finding } = await health('prepared_transactions', 'prepared_transactions.warn=0s')
    expect(code).toBe(1)
    expect(finding).toMatchObject({
      severity: 'warn',
      subject: 'dbops_forgotten',
      message: expect.stringMatching(
        /^1 prepared transaction\(s\), 1 past the threshold; oldest 'dbops_forgotten' in postgres by postgres/,
      ),
      fix: expect.stringContaining(`COMMIT PREPARED 'dbops_forgotten'`),
      values: { count: 1 },
    })
    await client.query(`ROLLBACK PREPARED 'dbops_forgotten'`)
  })

  it('wal_archiving: warns while archive_command fails, naming the segment', async () => {
    await client.query('CREATE TABLE IF NOT EXISTS w (id int); INSERT INTO w VALUES (1)')
    await client.query('SELECT pg_switch_wal()')
    // Wait for the archiver to have tried (a server-side event, not a delay).
    for (;;) {
      const { rows } = await client.query('SELECT failed_count FROM pg_stat_archiver')
      if (Number(rows[0].failed_count) > 0) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const { code, finding } = await health('wal_archiving')
    expect(code).toBe(1)
    expect(finding).toMatchObject({
      severity: 'warn',
      message: expect.stringMatching(
        /^archive_command is failing: [0-9A-F]{24} failed .* ago .*; 1 WAL segment\(s\) waiting to be archived/,
      ),
    })
    expect(finding.values.ready).toBeGreaterThanOrEqual(1)
  })
})
