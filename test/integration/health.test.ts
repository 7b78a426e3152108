import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import {
  checkHealth,
  migrateUp,
  openTarget,
  resolveConfig,
  type HealthOptions,
  type HealthResult,
  type Target,
} from '../../src/index.js'
import { pgQuery, tempDir, withDatabase } from '../helpers/databases.js'
import { ENGINES, makeProject, migration, type Project } from '../helpers/projects.js'

async function health(project: Project, options: HealthOptions = {}): Promise<HealthResult> {
  const target = await openTarget({ cwd: project.dir, url: project.url, env: {} })
  try {
    return await checkHealth(target, options)
  } finally {
    await target.close()
  }
}

function check(result: HealthResult, name: string) {
  return result.checks.find((finding) => finding.check === name)
}

const clients: pg.Client[] = []
afterAll(async () => {
  await Promise.all(clients.splice(0).map((client) => client.end().catch(() => {})))
})

async function client(url: string): Promise<pg.Client> {
  const connection = new pg.Client({ connectionString: url })
  connection.on('error', () => {})
  await connection.connect()
  clients.push(connection)
  return connection
}

/** Polls until `predicate` holds on the rows of `sql` (statistics and sessions show up with a small delay). */
async function until(url: string, sql: string, predicate: (rows: Record<string, any>[]) => boolean): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (predicate(await pgQuery(url, sql))) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`timed out waiting for: ${sql}`)
}

describe('health on postgres', () => {
  it('reports a clean database ok on every check, in a fixed handful of queries whatever the table count', async () => {
    const counts: number[] = []
    for (const tables of [10, 200]) {
      const project = await makeProject('postgres')
      await pgQuery(
        project.url,
        `DO $$ BEGIN FOR i IN 1..${tables} LOOP EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, "Name" text)', 't' || i); END LOOP; END $$`,
      )
      const target = await openTarget({ cwd: project.dir, url: project.url, env: {} })
      let queries = 0
      const query = target.backend.query.bind(target.backend)
      target.backend.query = (async (statement: Parameters<typeof query>[0]) => {
        queries++
        return query(statement)
      }) as typeof target.backend.query
      try {
        const result = await checkHealth(target)
        const notOk = result.checks.filter(
          (finding) => finding.severity !== 'ok' && finding.check !== 'replication_slots',
        )
        expect(notOk).toEqual([])
        expect(result.up).toBe(true)
        expect(result.version).toMatch(/^\d+/)
        expect(result.checks.map((finding) => finding.check)).toEqual(
          expect.arrayContaining([
            'connection',
            'connections',
            'long_queries',
            'idle_in_transaction',
            'blocked_queries',
            'cache_hit_ratio',
            'xid_wraparound',
            'sequences',
            'database_size',
            'vacuum',
            'analyze',
            'migrations',
          ]),
        )
        expect(check(result, 'replication')).toBeUndefined() // no standby, no replicas: nothing to say
        expect(check(result, 'backup_age')).toBeUndefined() // no backup folder
      } finally {
        await target.close()
      }
      counts.push(queries)
    }
    expect(counts[0]).toBeGreaterThan(3)
    expect(counts[1]).toBe(counts[0])
  })

  it('sees long queries, sessions idle in transaction and blocked queries with their blocker', async () => {
    const project = await makeProject('postgres')
    await pgQuery(project.url, 'CREATE TABLE "Locked Table" (id int)')
    const holder = await client(project.url)
    await holder.query('BEGIN; LOCK TABLE "Locked Table" IN ACCESS EXCLUSIVE MODE')
    const waiter = await client(project.url)
    const waiting = waiter.query('SELECT count(*) FROM "Locked Table"').catch(() => undefined)
    const sleeper = await client(project.url)
    const sleeping = sleeper.query('SELECT pg_sleep(30)').catch(() => undefined)
    const holderPid = (await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid
    await until(
      project.url,
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND (wait_event_type = 'Lock' OR query LIKE 'SELECT pg_sleep%')`,
      (rows) => rows[0]!.n >= 2,
    )
    await new Promise((resolve) => setTimeout(resolve, 1100))

    const clean = await health(project)
    for (const name of ['long_queries', 'idle_in_transaction', 'blocked_queries'])
      expect(check(clean, name)?.severity).toBe('ok')

    const result = await health(project, {
      thresholds: {
        long_queries: { warn: '1s' },
        idle_in_transaction: { warn: '1s' },
        blocked_queries: { warn: '1s', critical: 1 },
      },
    })
    expect(check(result, 'long_queries')).toMatchObject({ severity: 'warn' })
    expect(check(result, 'long_queries')!.values!.max_seconds).toBeGreaterThanOrEqual(1)
    expect(check(result, 'idle_in_transaction')!.severity).toBe('warn')
    expect(check(result, 'idle_in_transaction')!.message).toContain(`pid ${holderPid}`)
    const blocked = check(result, 'blocked_queries')!
    expect(blocked.severity).toBe('critical')
    expect(blocked.message).toContain(`pid ${holderPid}`)
    expect(JSON.stringify(blocked.detail)).toContain('Locked Table')
    expect(result.status).toBe('critical')

    await pgQuery(
      project.url,
      `SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep%'`,
    )
    await holder.query('ROLLBACK')
    await Promise.all([waiting, sleeping])
  })

  it('grades connections against absolute and relative thresholds, and reports a low cache hit ratio once there are enough reads', async () => {
    const project = await makeProject('postgres')
    await pgQuery(
      project.url,
      'CREATE TABLE reads AS SELECT g AS id, repeat($$x$$, 200) AS filler FROM generate_series(1, 20000) g',
    )
    await pgQuery(project.url, 'SELECT sum(n) FROM generate_series(1, 20), LATERAL (SELECT count(*) AS n FROM reads) s')
    await until(
      project.url,
      'SELECT blks_hit + blks_read AS n FROM pg_stat_database WHERE datname = current_database()',
      (rows) => Number(rows[0]!.n) >= 10_000,
    )
    const result = await health(project, {
      thresholds: { connections: { warn: 1, critical: '100%' }, cache_hit_ratio: { warn: '100%' } },
    })
    const connections = check(result, 'connections')!
    expect(connections.severity).toBe('warn')
    expect(connections.values!.used).toBeGreaterThanOrEqual(1)
    expect(connections.values!.max).toBeGreaterThan(0)
    const critical = await health(project, { thresholds: { connections: { critical: '0.5%' } } })
    expect(check(critical, 'connections')!.severity).toBe('critical')
    expect(check(result, 'cache_hit_ratio')!.severity).toBe('warn')
    expect(check(result, 'cache_hit_ratio')!.values!.ratio).toBeGreaterThan(0.5)
    expect(check(await health(project), 'cache_hit_ratio')!.severity).toBe('ok')
  })

  it('reports sequences near exhaustion by the column type, not only the sequence type', async () => {
    const project = await makeProject('postgres')
    expect(check(await health(project), 'sequences')!.severity).toBe('ok')
    await pgQuery(
      project.url,
      `
      CREATE TABLE "Order Items" (id serial PRIMARY KEY);
      SELECT setval(pg_get_serial_sequence('"Order Items"', 'id'), 1900000000);
      CREATE SEQUENCE "wide seq" AS bigint;
      CREATE TABLE narrow (id integer DEFAULT nextval('"wide seq"'));
      ALTER SEQUENCE "wide seq" OWNED BY narrow.id;
      CREATE SEQUENCE roomy AS bigint;
      CREATE TABLE wide (id bigint DEFAULT nextval('roomy'));
      ALTER SEQUENCE roomy OWNED BY wide.id;
      SELECT setval('roomy', 2100000000);
      CREATE TABLE ring (id smallint);
      CREATE SEQUENCE ring_seq AS smallint CYCLE OWNED BY ring.id;
      SELECT setval('ring_seq', 32760);`,
    )
    const warn = check(await health(project), 'sequences')!
    expect(warn.severity).toBe('warn') // "Order Items" at 88% of int4; roomy is far from bigint's limit
    expect(warn.subject).toContain('"Order Items_id_seq"')
    await pgQuery(project.url, `SELECT setval('"wide seq"', 2100000000)`)
    const critical = check(await health(project), 'sequences')!
    expect(critical.severity).toBe('critical') // a bigint sequence feeding an integer column: 98% of 2^31-1
    expect(critical.subject).toBe('public."wide seq"')
    expect(critical.message).toContain('narrow.id (integer)')
    expect(critical.fix).toContain('TYPE bigint')
  })

  it('finds tables past the autovacuum and autoanalyze triggers by the server formula and per-table settings', async () => {
    const project = await makeProject('postgres')
    await pgQuery(
      project.url,
      `
      CREATE TABLE "Dead ""Rows""" (id int) WITH (autovacuum_enabled = false);
      CREATE TABLE tolerant (id int) WITH (autovacuum_enabled = false, autovacuum_vacuum_threshold = 100000, autovacuum_analyze_threshold = 100000);
      INSERT INTO "Dead ""Rows""" SELECT generate_series(1, 1000);
      INSERT INTO tolerant SELECT generate_series(1, 1000);
      DELETE FROM "Dead ""Rows""";
      DELETE FROM tolerant;`,
    )
    await until(
      project.url,
      `SELECT coalesce(sum(n_dead_tup), 0)::int AS n FROM pg_stat_user_tables`,
      (rows) => rows[0]!.n >= 2000,
    )
    const result = await health(project)
    const vacuum = check(result, 'vacuum')!
    expect(vacuum.severity).toBe('warn')
    expect(vacuum.values!.tables).toBe(1)
    expect(vacuum.subject).toBe('public."Dead ""Rows"""')
    // Off server-wide (as on the test server) is reported as the server setting, not as the table's (issue 10).
    const [setting] = await pgQuery(project.url, 'SHOW autovacuum')
    expect(vacuum.message).toContain(
      setting!.autovacuum === 'off' ? 'autovacuum is off for the whole server' : 'autovacuum disabled for it',
    )
    expect(vacuum.values!.max_ratio).toBeCloseTo(1000 / 50, 0)
    const analyze = check(result, 'analyze')!
    expect(analyze.severity).toBe('warn')
    expect(analyze.values!.tables).toBe(1)
    expect(check(await health(project, { thresholds: { vacuum: { warn: '5000%' } } }), 'vacuum')!.severity).toBe('ok')
  })

  it('reports wraparound age against autovacuum_freeze_max_age, naming the oldest table', async () => {
    const project = await makeProject('postgres')
    expect(check(await health(project), 'xid_wraparound')!.severity).toBe('ok')
    const result = await health(project, { thresholds: { xid_wraparound: { warn: 1, critical: '1000%' } } })
    const finding = check(result, 'xid_wraparound')!
    expect(finding.severity).toBe('warn')
    expect(finding.values!.age).toBeGreaterThan(0)
    expect(finding.message).toMatch(/oldest table \S+/)
    expect(
      check(await health(project, { thresholds: { xid_wraparound: { critical: '0%' } } }), 'xid_wraparound')!.severity,
    ).toBe('critical')
  })

  it('reports inactive replication slots (only when there are slots) and the database size threshold', async () => {
    const project = await makeProject('postgres')
    const slot = `dbops_health_${process.pid}_${Date.now()}`
    // Not reserving WAL: an inactive slot on the shared test server must not make it keep WAL.
    await pgQuery(project.url, `SELECT pg_create_physical_replication_slot($1)`, [slot])
    try {
      const result = await health(project, { thresholds: { database_size: { warn: '1kB' } } })
      const slots = check(result, 'replication_slots')!
      expect(slots.severity).toBe('warn')
      expect(slots.message).toContain(slot)
      expect(slots.fix).toContain(`pg_drop_replication_slot('${slot}')`)
      expect(check(result, 'database_size')!.severity).toBe('warn')
      expect(check(result, 'database_size')!.values!.bytes).toBeGreaterThan(1024)
    } finally {
      await pgQuery(project.url, 'SELECT pg_drop_replication_slot($1)', [slot])
    }
  })

  it('reports what a role without pg_monitor cannot see as unknown, never as ok', async () => {
    const project = await makeProject('postgres')
    const role = `dbops_health_role_${process.pid}`
    await pgQuery(project.url, `DROP ROLE IF EXISTS ${role}; CREATE ROLE ${role} LOGIN`)
    try {
      await pgQuery(project.url, 'CREATE TABLE counted (id serial)')
      const sleeper = await client(project.url)
      const sleeping = sleeper.query('SELECT pg_sleep(30)').catch(() => undefined)
      await until(
        project.url,
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' AND datname = current_database()`,
        (rows) => rows[0]!.n > 0,
      )
      const url = new URL(project.url)
      url.username = role
      const result = await health({ ...project, url: url.toString() })
      expect(check(result, 'long_queries')!.severity).toBe('unknown')
      expect(check(result, 'long_queries')!.message).toContain('pg_monitor')
      expect(check(result, 'long_queries')!.values).toBeUndefined() // no number rather than a wrong one
      expect(check(result, 'sequences')!.severity).toBe('unknown')
      expect(check(result, 'connections')!.severity).toBe('ok')
      await pgQuery(
        project.url,
        `SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' AND datname = current_database()`,
      )
      await sleeping
    } finally {
      await pgQuery(project.url, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${role}'`)
      await pgQuery(project.url, `DROP OWNED BY ${role}; DROP ROLE IF EXISTS ${role}`).catch(() => {})
    }
  })

  it('reports an unreachable server as a critical connection, and a database that does not exist', async () => {
    const project = await makeProject('postgres')
    const missing = withDatabase(project.url, `dbops_missing_${process.pid}`)
    const result = await health({ ...project, url: missing })
    expect(result.up).toBe(false)
    expect(result.status).toBe('critical')
    expect(check(result, 'connection')!.message).toMatch(/does not exist/)
    expect(result.checks.map((finding) => finding.check)).toEqual(['connection'])
  })
})

describe.each(ENGINES)('health ledger and backups on %s', (engine) => {
  it('reports pending, changed and failed migrations, and the ledger alone without the files', async () => {
    const project = await makeProject(engine, {
      '001_one.sql': migration('CREATE TABLE one (id int);', 'DROP TABLE one;'),
    })
    let target: Target = await openTarget({ cwd: project.dir, url: project.url, env: {} })
    await migrateUp(target)
    await target.close()
    expect(check(await health(project), 'migrations')).toMatchObject({
      severity: 'ok',
      values: { applied: 1, pending: 0 },
    })

    project.write('migrations/002_two.sql', migration('CREATE TABLE two (id int);'))
    expect(check(await health(project), 'migrations')).toMatchObject({ severity: 'warn', values: { pending: 1 } })

    project.write('migrations/001_one.sql', migration('CREATE TABLE one (id bigint);', 'DROP TABLE one;'))
    expect(check(await health(project), 'migrations')).toMatchObject({ severity: 'warn', values: { drifted: 1 } })
    project.write('migrations/001_one.sql', migration('CREATE TABLE one (id int);', 'DROP TABLE one;'))

    project.write(
      'migrations/003_broken.sql',
      migration('CREATE TABLE three (id int);\nSELECT no_such_function();', undefined, 'transaction:false'),
    )
    target = await openTarget({ cwd: project.dir, url: project.url, env: {} })
    await migrateUp(target).catch(() => undefined)
    await target.close()
    const failed = check(await health(project), 'migrations')!
    expect(failed.severity).toBe('critical')
    expect(failed.message).toContain('003_broken')
    expect(failed.fix).toContain('dbops migrate resolve 003')

    const noFiles = { ...project, dir: tempDir('dbops-health-nofiles') }
    const ledgerOnly = check(await health(noFiles), 'migrations')!
    expect(ledgerOnly.severity).toBe('critical') // the failure is in the ledger itself
    expect(ledgerOnly.message).toContain('failed')
  })

  it('reports the newest backup manifest by age, and nothing without a backup folder', async () => {
    const project = await makeProject(engine)
    expect(check(await health(project), 'backup_age')).toBeUndefined()
    const dir = (await resolveConfig({ cwd: project.dir, url: project.url, env: {} })).targets.default!.backup.dir
    mkdirSync(dir, { recursive: true })
    expect(check(await health(project), 'backup_age')).toMatchObject({
      severity: 'critical',
      message: expect.stringContaining('no completed backup'),
    })
    writeFileSync(path.join(dir, 'partial.dump'), 'a backup without a manifest is no backup')
    const now = new Date('2026-06-01T12:00:00Z')
    // Backups as `dbops backup create` leaves them: an artifact, and its manifest written last.
    const manifest = (id: string, hoursAgo: number, extra: Record<string, unknown> = {}) => {
      const at = new Date(now.getTime() - hoursAgo * 3600_000).toISOString()
      writeFileSync(path.join(dir, `${id}.dump`), 'x'.repeat(1234))
      writeFileSync(
        path.join(dir, `${id}.manifest.json`),
        JSON.stringify({
          manifestVersion: 1,
          id,
          target: 'default',
          engine,
          format: 'custom',
          startedAt: at,
          finishedAt: at,
          sizeBytes: 1234,
          sha256: '0'.repeat(64),
          artifact: `${id}.dump`,
          verifiedAt: null,
          ...extra,
        }),
      )
    }
    // A manifest whose artifact is gone is not a backup either.
    writeFileSync(
      path.join(dir, 'gone.manifest.json'),
      JSON.stringify({
        manifestVersion: 1,
        id: 'gone',
        target: 'default',
        engine,
        format: 'custom',
        startedAt: now.toISOString(),
        finishedAt: now.toISOString(),
        sizeBytes: 1,
        sha256: '0'.repeat(64),
        artifact: 'gone.dump',
        verifiedAt: null,
      }),
    )
    expect(check(await health(project, { now }), 'backup_age')).toMatchObject({
      severity: 'critical',
      message: expect.stringContaining('no completed backup'),
    })
    manifest('old', 72)
    expect(check(await health(project, { now }), 'backup_age')!.severity).toBe('critical')
    manifest('yesterday', 30)
    const warn = check(await health(project, { now }), 'backup_age')!
    expect(warn).toMatchObject({ severity: 'warn', values: { age_seconds: 30 * 3600, size_bytes: 1234 } })
    expect(warn.message).toContain('yesterday')
    manifest('fresh', 1)
    expect(check(await health(project, { now }), 'backup_age')!.severity).toBe('ok')
    // A fresher backup of another database sharing the folder is not this database's backup.
    manifest('elsewhere', 0.5, { database: { key: `${engine}:another database`, display: 'another database' } })
    expect(check(await health(project, { now }), 'backup_age')!.message).toContain('fresh')
    // A backup whose last verify failed is not fresh.
    manifest('fresh', 1, {
      verifyFailure: { at: now.toISOString(), by: 'checksum', code: 'E_BACKUP_CORRUPT', message: 'sha256 differs' },
    })
    expect(check(await health(project, { now }), 'backup_age')).toMatchObject({
      severity: 'warn',
      message: expect.stringContaining('yesterday'),
    })
    expect(
      check(await health(project, { now, thresholds: { backup_age: { warn: '30m' } } }), 'backup_age')!.severity,
    ).toBe('warn')
  })
})

describe('health on sqlite', () => {
  function sqliteProject(setup: (database: Database.Database) => void, journal: 'wal' | 'delete' = 'wal') {
    const dir = tempDir('dbops-health-sqlite')
    const file = path.join(dir, 'app.db')
    const database = new Database(file)
    database.pragma(`journal_mode = ${journal}`)
    setup(database)
    database.close()
    mkdirSync(path.join(dir, 'migrations'))
    return { dir, file, url: `sqlite:${file}` } as Project & { file: string }
  }

  it('reports a clean WAL database ok and changes nothing in the file', async () => {
    const project = sqliteProject((database) =>
      database.exec('CREATE TABLE "Tricky ""Name""" (id INTEGER PRIMARY KEY, v TEXT)'),
    )
    const before = statSync(project.file).mtimeMs
    const result = await health(project)
    expect(result.checks.filter((finding) => finding.severity !== 'ok')).toEqual([])
    expect(result.checks.map((finding) => finding.check)).toEqual([
      'connection',
      'integrity',
      'foreign_keys',
      'journal_mode',
      'wal_size',
      'freelist',
      'database_size',
      'migrations',
    ])
    expect(statSync(project.file).mtimeMs).toBe(before)
  })

  it('warns about a non-WAL journal without switching it, and the level can be turned off', async () => {
    const project = sqliteProject((database) => database.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)'), 'delete')
    const result = await health(project)
    expect(check(result, 'journal_mode')).toMatchObject({ severity: 'warn', detail: { journalMode: 'delete' } })
    expect(check(result, 'wal_size')).toBeUndefined()
    const database = new Database(project.file, { readonly: true })
    expect(database.pragma('journal_mode', { simple: true })).toBe('delete')
    database.close()
    expect(
      check(await health(project, { thresholds: { journal_mode: { warn: 'off' } } }), 'journal_mode')!.severity,
    ).toBe('ok')
  })

  it('finds foreign key violations planted with enforcement off', async () => {
    const project = sqliteProject((database) => {
      database.pragma('foreign_keys = OFF')
      database.exec(
        'CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id)); INSERT INTO child VALUES (1, 42), (2, 43)',
      )
    })
    const finding = check(await health(project), 'foreign_keys')!
    expect(finding).toMatchObject({ severity: 'warn', values: { violations: 2 } })
    expect(finding.message).toContain('child → parent')
    expect(
      check(await health(project, { thresholds: { foreign_keys: { critical: 2 } } }), 'foreign_keys')!.severity,
    ).toBe('critical')
  })

  it('finds a foreign key to a table that is gone, which foreign_key_check passes (an empty child included)', async () => {
    // vaultwarden's 2018-04-27-155151_create_users_ciphers renames ciphers away, creates it anew and drops the old
    // copy: SQLite has pointed attachments' foreign key at the old copy, so attachments REFERENCES "oldCiphers".
    const project = sqliteProject((database) =>
      database.exec(
        'CREATE TABLE ciphers (uuid TEXT PRIMARY KEY); CREATE TABLE attachments (id TEXT PRIMARY KEY, cipher_uuid TEXT REFERENCES ciphers (uuid)); ALTER TABLE ciphers RENAME TO oldCiphers; CREATE TABLE ciphers (uuid TEXT PRIMARY KEY); DROP TABLE oldCiphers',
      ),
    )
    const finding = check(await health(project), 'foreign_keys')!
    expect(finding).toMatchObject({
      severity: 'critical',
      values: { violations: 1 },
      detail: { missingParents: [{ tbl: 'attachments', parent: 'oldCiphers' }] },
    })
    expect(finding.message).toContain('attachments → oldCiphers')
    expect(finding.message).toContain('("no such table: main.oldCiphers")')
  })

  it('reports the free pages left by deleted rows', async () => {
    const project = sqliteProject((database) => {
      database.exec('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)')
      const insert = database.prepare('INSERT INTO blobs (data) VALUES (zeroblob(8192))')
      for (let i = 0; i < 200; i++) insert.run()
      database.exec('DELETE FROM blobs')
    })
    const finding = check(await health(project), 'freelist')!
    expect(finding.severity).toBe('warn')
    expect(finding.values!.ratio).toBeGreaterThan(0.5)
    expect(finding.fix).toContain('vacuum')
  })

  it('reports a growing WAL file against its threshold while a writer holds it open', async () => {
    const project = sqliteProject((database) => database.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)'))
    const writer = new Database(project.file)
    try {
      writer.pragma('wal_autocheckpoint = 0')
      writer.prepare('INSERT INTO t (v) VALUES (?)').run('x'.repeat(10_000))
      const finding = check(await health(project, { thresholds: { wal_size: { warn: '1kB' } } }), 'wal_size')!
      expect(finding.severity).toBe('warn')
      expect(finding.values!.bytes).toBeGreaterThan(1024)
    } finally {
      writer.close()
    }
  })

  it('reports corruption found by quick_check and integrity_check as critical', async () => {
    const project = sqliteProject((database) => {
      database.pragma('journal_mode = delete')
      database.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t (v)')
      const insert = database.prepare('INSERT INTO t (v) VALUES (?)')
      for (let i = 0; i < 2000; i++) insert.run(`value ${i}`)
    }, 'delete')
    const database = new Database(project.file, { readonly: true })
    const pageSize = database.pragma('page_size', { simple: true }) as number
    const rootPage = (
      database.prepare(`SELECT rootpage FROM sqlite_master WHERE name = 't_v'`).get() as { rootpage: number }
    ).rootpage
    database.close()
    // Scribble over the index's root page (after its header): the table stays readable, the index does not match.
    const { openSync, writeSync, closeSync } = await import('node:fs')
    const fd = openSync(project.file, 'r+')
    writeSync(fd, Buffer.alloc(pageSize - 200, 0x41), 0, pageSize - 200, (rootPage - 1) * pageSize + 100)
    closeSync(fd)
    const quick = await health(project, { only: ['integrity'] })
    expect(check(quick, 'integrity')!.severity).toBe('critical')
    const deep = await health(project, { only: ['integrity'], deep: true })
    expect(check(deep, 'integrity')!.message).toContain('integrity_check')
    expect(check(deep, 'integrity')!.severity).toBe('critical')
  })

  it('reports a missing file as critical without creating it, and a file that is no database', async () => {
    const dir = tempDir('dbops-health-missing')
    const result = await health({ dir, url: `sqlite:${path.join(dir, 'nope.db')}` } as Project)
    expect(result).toMatchObject({ up: false, status: 'critical' })
    expect(check(result, 'connection')!.message).toContain('database not found')
    expect(readdirSync(dir)).toEqual([])
    writeFileSync(
      path.join(dir, 'junk.db'),
      'this is not a database, just text that is long enough to be read as a header '.repeat(20),
    )
    const junk = await health({ dir, url: `sqlite:${path.join(dir, 'junk.db')}` } as Project)
    expect(junk).toMatchObject({ up: false, status: 'critical' })
    expect(check(junk, 'connection')!.message).toMatch(/not a database/)
  })
})

describe('health thresholds', () => {
  it('refuses unparseable thresholds from the command line and the config, and unknown check names on the command line', async () => {
    const project = await makeProject('sqlite')
    await project.query('CREATE TABLE t (id INTEGER PRIMARY KEY)')
    await expect(health(project, { thresholds: { long_queries: { warn: 'soon' } } })).rejects.toMatchObject({
      code: 'E_USAGE',
    })
    await expect(health(project, { thresholds: { connections: { warn: '80 percent' } } })).rejects.toMatchObject({
      code: 'E_USAGE',
    })
    await expect(health(project, { thresholds: { no_such_check: { warn: 1 } } })).rejects.toMatchObject({
      code: 'E_USAGE',
    })
    await expect(health(project, { only: ['no_such_check'] })).rejects.toMatchObject({ code: 'E_USAGE' })
    project.write('dbops.config.json', JSON.stringify({ health: { thresholds: { wal_size: { warn: '12 parsecs' } } } }))
    await expect(health(project)).rejects.toMatchObject({ code: 'E_CONFIG' })
    project.write(
      'dbops.config.json',
      JSON.stringify({ health: { thresholds: { freelist: { warn: '1%' }, audit_only_rule: { warn: 3 } } } }),
    )
    const warnings: string[] = []
    const result = await health(project, { onWarning: (message) => warnings.push(message) })
    expect(warnings.join()).toContain('audit_only_rule')
    expect(result.thresholds.freelist?.warn).toEqual({ value: 0.01, relative: false })
  })
})
