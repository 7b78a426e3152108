// Backups and restores through the library on both engines: round trips compared row by row and schema by schema,
// verification (checksum, full read, scratch restore), the per-folder lock, leftovers of interrupted runs, retention
// with its guard, and SQLite backups taken while another process keeps committing.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { migrateUp } from '../../src/index.js'
import { createBackup, listBackups, pruneBackups, restoreBackup, verifyBackup } from '../../src/backup/index.js'
import {
  failure,
  withTarget,
  ENGINES,
  makeProject,
  migration,
  type EngineName,
  type Project,
} from '../helpers/projects.js'
import { REPO_ROOT } from '../helpers/databases.js'

const SCHEMA: Record<EngineName, Record<string, string>> = {
  postgres: {
    '001_schema.sql': migration(`CREATE SCHEMA "Sales Ü";
CREATE TABLE "Sales Ü"."Order ""Items""" (
  id bigserial PRIMARY KEY, "Name" text NOT NULL, price numeric(12, 2), tags text[], doc jsonb, raw bytea,
  at timestamptz NOT NULL DEFAULT '2026-01-01T00:00:00Z', "ünïcode ☃" text);
CREATE INDEX "Order Items by name" ON "Sales Ü"."Order ""Items""" ("Name", price DESC);
CREATE TABLE plain (id integer PRIMARY KEY, item bigint REFERENCES "Sales Ü"."Order ""Items""" (id), note text CHECK (note <> ''));
CREATE VIEW item_names AS SELECT "Name" FROM "Sales Ü"."Order ""Items""";
CREATE SEQUENCE counter START 7;`),
    '002_data.sql': migration(`INSERT INTO "Sales Ü"."Order ""Items""" ("Name", price, tags, doc, raw, "ünïcode ☃")
  SELECT 'item ' || i, i * 1.25, ARRAY['a' || i, NULL], jsonb_build_object('n', i, 'q', 'it''s'), decode(md5(i::text), 'hex'), CASE WHEN i % 7 = 0 THEN NULL ELSE 'ü☃' || i END
  FROM generate_series(1, 300) AS i;
INSERT INTO plain SELECT i, i, CASE WHEN i % 2 = 0 THEN 'tab\there' ELSE NULL END FROM generate_series(1, 120) AS i;
SELECT setval('counter', 42);`),
  },
  sqlite: {
    '001_schema.sql':
      migration(`CREATE TABLE "Order ""Items""" (id INTEGER PRIMARY KEY, "Name" TEXT NOT NULL, price REAL, raw BLOB, "ünïcode ☃" TEXT);
CREATE INDEX "Order Items by name" ON "Order ""Items""" ("Name", price DESC);
CREATE TABLE plain (id INTEGER PRIMARY KEY, item INTEGER REFERENCES "Order ""Items""" (id), note TEXT CHECK (note <> ''));
CREATE VIEW item_names AS SELECT "Name" FROM "Order ""Items""";
CREATE TRIGGER plain_note AFTER INSERT ON plain WHEN NEW.note IS NULL BEGIN SELECT 1; END;`),
    '002_data.sql': migration(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
INSERT INTO "Order ""Items""" ("Name", price, raw, "ünïcode ☃") SELECT 'item ' || i, i * 1.25, randomblob(16), CASE WHEN i % 7 = 0 THEN NULL ELSE 'ü☃' || i END FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120)
INSERT INTO plain SELECT i, i, CASE WHEN i % 2 = 0 THEN 'tab' || char(9) || 'here' ELSE NULL END FROM n;`),
  },
}

/** The schema as the engine describes it, and every row of every table, in a stable order. */
async function contents(project: Project): Promise<{ schema: unknown; rows: Record<string, string[]> }> {
  if (project.engine === 'postgres') {
    const dump = spawnSync('pg_dump', ['--schema-only', '--no-owner', project.url], { encoding: 'utf8' })
    expect(dump.status, dump.stderr).toBe(0)
    const schema = dump.stdout
      .split('\n')
      .filter((line) => !/^\\(un)?restrict /.test(line) && !line.startsWith('--'))
      .join('\n')
    const tables = await project.query(
      `SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS name FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
    )
    const rows: Record<string, string[]> = {}
    for (const { name } of tables) {
      rows[String(name)] = (await project.query(`SELECT to_jsonb(t)::text AS row FROM ${String(name)} AS t`))
        .map((row) => String(row.row))
        .sort()
    }
    rows.counter = (await project.query('SELECT last_value::text AS row FROM counter')).map((row) => String(row.row))
    return { schema, rows }
  }
  const schema = await project.query(
    `SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name`,
  )
  const rows: Record<string, string[]> = {}
  for (const row of schema.filter((entry) => entry.type === 'table')) {
    const name = String(row.name).replace(/"/g, '""')
    rows[String(row.name)] = (await project.query(`SELECT * FROM "${name}" ORDER BY rowid`)).map((entry) =>
      JSON.stringify(entry, (_key, value) => (Buffer.isBuffer(value) ? value.toString('hex') : value)),
    )
  }
  return { schema, rows }
}

/** The project's one backup folder (named after its database when there is no config file). */
function backupDir(project: Project): string {
  const names = readdirSync(path.join(project.dir, 'backups'))
  expect(names).toHaveLength(1)
  return path.join(project.dir, 'backups', names[0]!)
}

/** The scratch database (or file) named in verify's progress messages is gone. */
async function expectScratchDropped(project: Project, steps: string[]): Promise<void> {
  const scratch = steps.map((step) => /restoring into scratch (?:database|file) (\S+)/.exec(step)?.[1]).find(Boolean)
  expect(scratch, steps.join('\n')).toBeDefined()
  if (project.engine === 'postgres')
    expect(await project.query(`SELECT 1 FROM pg_database WHERE datname = '${scratch}'`)).toEqual([])
  else expect(existsSync(scratch!)).toBe(false)
}

describe.each(ENGINES)('backup and restore on %s', (engine) => {
  const formats = engine === 'postgres' ? (['custom', 'directory', 'plain'] as const) : ([undefined] as const)

  for (const format of formats) {
    it(`round trip${format ? ` (${format})` : ''}: every row and the schema come back, and verify --restore proves it`, async () => {
      const source = await makeProject(engine, SCHEMA[engine])
      const created = await withTarget(source, async (target) => {
        await migrateUp(target)
        return createBackup(target, {
          ...(format && { format }),
          ...(format === 'directory' && { jobs: 2 }),
          label: 'round trip',
        })
      })
      const manifest = created.backup
      expect(manifest.migrationVersion).toBe('002')
      expect(manifest.label).toBe('round trip')
      const items = engine === 'postgres' ? '"Sales Ü"."Order ""Items"""' : 'Order "Items"'
      // PostgreSQL counts rows when the backup is verified (from the archive), not beside pg_dump.
      if (engine === 'sqlite') {
        expect(manifest.rowCounts![items]).toBe(300)
        expect(manifest.rowCounts!.plain).toBe(120)
      } else {
        expect(manifest.rowCounts).toBeNull()
      }
      const dir = backupDir(source)
      expect(JSON.parse(readFileSync(path.join(dir, `${manifest.id}.manifest.json`), 'utf8'))).toEqual(manifest)
      for (const name of readdirSync(dir)) expect(statSync(path.join(dir, name)).mode & 0o077, name).toBe(0)

      const destination = await makeProject(engine)
      const restored = await withTarget(destination, (target) =>
        restoreBackup(target, path.join(dir, `${manifest.id}.manifest.json`), {
          jobs: format === 'plain' ? 1 : 2,
          from: source.url,
        }),
      )
      expect(restored.id).toBe(manifest.id)
      expect(await contents(destination)).toEqual(await contents(source))

      const steps: string[] = []
      const verified = await withTarget(source, (target) =>
        verifyBackup(target, { latest: true, restore: true, onEvent: (event) => steps.push(event.message) }),
      )
      expect(verified.verifiedBy).toBe('restore')
      expect(listBackups(dir)[0]!.verifiedAt).toBe(verified.verifiedAt)
      expect(listBackups(dir)[0]!.rowCounts![items]).toBe(300)
      expect(listBackups(dir)[0]!.rowCounts![engine === 'postgres' ? 'public.plain' : 'plain']).toBe(120)
      await expectScratchDropped(source, steps)
    })
  }

  it('refuses a non-empty database without --clean and changes nothing; --clean replaces it', async () => {
    const source = await makeProject(engine, SCHEMA[engine])
    const manifest = await withTarget(source, async (target) => {
      await migrateUp(target)
      return (await createBackup(target)).backup
    })
    const file = path.join(backupDir(source), `${manifest.id}.manifest.json`)
    const destination = await makeProject(engine)
    await destination.query('CREATE TABLE keep_me (id integer)')
    await destination.query('INSERT INTO keep_me VALUES (1)')
    const refused = await failure(
      withTarget(destination, (target) => restoreBackup(target, file, { allowOtherDatabase: true })),
    )
    expect(refused.code).toBe('E_NOT_EMPTY')
    expect(await destination.query('SELECT count(*) AS n FROM keep_me')).toEqual([
      { n: engine === 'postgres' ? '1' : 1 },
    ])
    await withTarget(destination, (target) => restoreBackup(target, file, { clean: true, allowOtherDatabase: true }))
    expect((await contents(destination)).rows.plain).toEqual((await contents(source)).rows.plain)
  })

  it('verify finds a flipped byte, says so, and deletes nothing; an unknown id is named', async () => {
    const source = await makeProject(engine, SCHEMA[engine])
    const manifest = await withTarget(source, async (target) => {
      await migrateUp(target)
      return (await createBackup(target)).backup
    })
    const artifact = path.join(backupDir(source), manifest.artifact)
    const bytes = readFileSync(artifact)
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01
    writeFileSync(artifact, bytes)
    const corrupt = await failure(withTarget(source, (target) => verifyBackup(target, { id: manifest.id })))
    expect(corrupt.code).toBe('E_BACKUP_CORRUPT')
    expect(corrupt.message).toContain(manifest.id)
    expect(existsSync(artifact)).toBe(true)
    expect(listBackups(path.dirname(artifact))[0]!.verifiedAt).toBeNull()
    const destination = await makeProject(engine)
    expect(
      (
        await failure(
          withTarget(destination, (target) =>
            restoreBackup(target, artifact, { allowOtherDatabase: true, force: true }),
          ),
        )
      ).code,
    ).toBe('E_BACKUP_CORRUPT')
    const unknown = await failure(withTarget(source, (target) => verifyBackup(target, { id: '20200101T000000Z-nope' })))
    expect(unknown.code).toBe('E_BACKUP_NOT_FOUND')
    expect(unknown.message).toContain('20200101T000000Z-nope')
  })

  it('verify --restore reports a backup that restores differently from its manifest, and drops the scratch database', async () => {
    const source = await makeProject(engine, SCHEMA[engine])
    const manifest = await withTarget(source, async (target) => {
      await migrateUp(target)
      return (await createBackup(target)).backup
    })
    const file = path.join(backupDir(source), `${manifest.id}.manifest.json`)
    const plain = engine === 'postgres' ? 'public.plain' : 'plain'
    writeFileSync(file, JSON.stringify({ ...manifest, rowCounts: { [plain]: 121 }, migrationVersion: '003' }))
    const steps: string[] = []
    const mismatch = await failure(
      withTarget(source, (target) =>
        verifyBackup(target, { restore: true, onEvent: (event) => steps.push(event.message) }),
      ),
    )
    expect(mismatch.code).toBe('E_VERIFY_MISMATCH')
    expect(mismatch.message).toContain(`${plain} has 120 rows restored, 121 backed up`)
    expect(mismatch.message).toContain('migration version 002 restored, 003 backed up')
    expect(listBackups(path.dirname(file))[0]!.verifiedAt).toBeNull()
    await expectScratchDropped(source, steps)
  })

  it('one run at a time per folder: a live holder is named, a dead one is taken over, leftovers are cleaned', async () => {
    const source = await makeProject(engine, SCHEMA[engine])
    await withTarget(source, async (target) => {
      await migrateUp(target)
      const dir = target.backup.dir
      await createBackup(target)
      const sleeper = spawn('sleep', ['30'])
      try {
        writeFileSync(
          path.join(dir, '.lock'),
          JSON.stringify({
            pid: sleeper.pid,
            host: (await import('node:os')).hostname(),
            processStart: null,
            startedAt: 'earlier',
            command: 'dbops backup create',
          }),
        )
        const locked = await failure(createBackup(target))
        expect(locked.code).toBe('E_BACKUP_LOCKED')
        expect(locked.message).toContain(`pid ${sleeper.pid}`)
      } finally {
        sleeper.kill('SIGKILL')
      }
      await new Promise((resolve) => sleeper.once('exit', resolve))
      // A lock from another host is respected while it is refreshed, and taken over once abandoned.
      const foreign = path.join(dir, '.lock')
      writeFileSync(
        foreign,
        JSON.stringify({
          pid: 1,
          host: 'another-host',
          processStart: null,
          startedAt: 'earlier',
          command: 'dbops backup create',
        }),
      )
      expect((await failure(createBackup(target))).message).toContain('pid 1 on another-host')
      const abandoned = new Date(Date.now() - 10 * 60_000)
      utimesSync(foreign, abandoned, abandoned)
      await createBackup(target)
      // The holder is gone: its lock is stale. Leftovers of a run that died mid-way go before the next backup.
      writeFileSync(path.join(dir, '.tmp-20990101T000000Z-default.dump'), 'partial')
      writeFileSync(path.join(dir, '20990101T000001Z-default.sqlite'), 'no manifest')
      const next = await createBackup(target)
      expect(next.cleaned.sort()).toEqual(['.tmp-20990101T000000Z-default.dump', '20990101T000001Z-default.sqlite'])
      expect(readdirSync(dir).filter((name) => name.startsWith('.'))).toEqual([])
      expect(listBackups(dir)).toHaveLength(3)
    })
  })

  it('prune keeps what the policy says plus the newest verified backup, and refuses an empty policy', async () => {
    const source = await makeProject(engine, SCHEMA[engine])
    await withTarget(source, async (target) => {
      await migrateUp(target)
      const times = ['2026-01-01T10:00:00Z', '2026-01-02T10:00:00Z', '2026-01-02T11:00:00Z', '2026-01-03T10:00:00Z']
      const ids: string[] = []
      for (const time of times) ids.push((await createBackup(target, { now: () => new Date(time) })).backup.id)
      await verifyBackup(target, { id: ids[0] })
      expect((await failure(pruneBackups(target, { policy: {} }))).code).toBe('E_USAGE')
      const dry = await pruneBackups(target, { policy: { keepLast: 1 }, dryRun: true })
      expect(dry.removed.map((entry) => entry.id)).toEqual([ids[2], ids[1]])
      expect(listBackups(target)).toHaveLength(4)
      const result = await pruneBackups(target, { policy: { keepDaily: 2 } })
      expect(result.kept.map((entry) => [entry.id, entry.reasons])).toEqual([
        [ids[3], ['daily snapshot']],
        [ids[2], ['daily snapshot']],
        [ids[0], ['newest verified backup']],
      ])
      expect(listBackups(target).map((manifest) => manifest.id)).toEqual([ids[0], ids[2], ids[3]])
      expect(readdirSync(target.backup.dir).filter((name) => name.includes(ids[1]!))).toEqual([])
    })
  })
})

describe('PostgreSQL specifics', () => {
  it('connects and asks pg_dump its version while the destination is being prepared, not after', async () => {
    const source = await makeProject('postgres', {
      '001_t.sql': migration('CREATE TABLE t (id integer PRIMARY KEY); INSERT INTO t VALUES (1);'),
    })
    await withTarget(source, async (target) => {
      await migrateUp(target)
      const backupEngine = target.backend.backupEngine.bind(target.backend)
      const folderAtPreflight: boolean[] = []
      target.backend.backupEngine = async () => {
        const engine = await backupEngine()
        const preflight = engine.preflight.bind(engine)
        engine.preflight = (...args) => {
          folderAtPreflight.push(existsSync(path.join(source.dir, 'backups')))
          return preflight(...args)
        }
        return engine
      }
      const { backup } = await createBackup(target)
      // Started before the folder was made: the first byte dumped does not wait for the two in turn.
      expect(folderAtPreflight).toEqual([false])
      expect(backup.database?.key).toMatch(/^postgres:\d+\//)
    })
  })

  it('pg_dump failing while it writes into the folder: its own error as E_PG_TOOL_FAILED, and nothing left behind', async () => {
    const source = await makeProject('postgres', {
      '001_secret.sql': migration('CREATE TABLE secret (id integer PRIMARY KEY); INSERT INTO secret VALUES (1);'),
    })
    await withTarget(source, (target) => migrateUp(target))
    // A role that may connect but not read the tables: pg_dump starts, writes its file, and fails on a table.
    const role = `dbops_noread_${process.pid}_${Date.now()}`
    await source.query(`CREATE ROLE ${role} LOGIN`)
    try {
      const url = new URL(source.url)
      url.username = role
      url.password = ''
      const error = await failure(withTarget({ ...source, url: url.toString() }, (target) => createBackup(target)))
      expect(error.code, error.message).toBe('E_PG_TOOL_FAILED')
      // pg_dump's own reason: the ledger read beside it (which this role may not do either) does not end the
      // exported snapshot under pg_dump first ("could not import the requested snapshot").
      expect(error.message).toMatch(/^pg_dump failed: .*permission denied for table /)
      expect(String((error.details as { stderr: string }).stderr)).toContain('permission denied')
      expect(readdirSync(backupDir(source))).toEqual([])
    } finally {
      await source.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`).catch(() => {})
    }
  })
})

describe('SQLite specifics', () => {
  it('a backup taken while another process commits continuously is intact and holds a prefix of its rows', async () => {
    const project = await makeProject('sqlite')
    const file = project.url.slice('sqlite:'.length)
    const setup = new Database(file)
    setup.pragma('journal_mode = WAL')
    setup.exec('CREATE TABLE ballast (b BLOB); CREATE TABLE log (id INTEGER PRIMARY KEY, at TEXT)')
    const insert = setup.prepare('INSERT INTO ballast VALUES (randomblob(4096))')
    setup.transaction(() => {
      for (let i = 0; i < 3000; i++) insert.run()
    })()
    setup.close()
    const writer = spawn(
      process.execPath,
      [
        '-e',
        `
      const Database = require('better-sqlite3')
      const db = new Database(process.argv[1], { timeout: 10000 })
      const insert = db.prepare("INSERT INTO log (id, at) VALUES (?, datetime('now'))")
      let id = 0
      setInterval(() => {
        for (let i = 0; i < 20; i++) insert.run(++id)
        if (id === 20) process.stdout.write('committed\\n')
      }, 1)
    `,
        file,
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    )
    try {
      // The writer's first committed batch, not a delay: a loaded machine may take seconds to start it.
      await new Promise<void>((resolve, reject) => {
        writer.stdout!.on('data', () => resolve())
        writer.on('exit', (code) => reject(new Error(`the writer exited (${code}) before its first commit`)))
      })
      const count = () => {
        const reader = new Database(file, { readonly: true })
        try {
          return (reader.prepare('SELECT count(*) AS n FROM log').get() as { n: number }).n
        } finally {
          reader.close()
        }
      }
      const before = count()
      expect(before).toBeGreaterThan(0)
      // Uncompressed, so the copy can be opened as it is.
      const manifest = await withTarget(
        project,
        async (target) => (await createBackup(target, { compress: 'none' })).backup,
      )
      const after = count()
      const copy = new Database(path.join(backupDir(project), manifest.artifact), { readonly: true })
      try {
        expect(copy.prepare('PRAGMA integrity_check').all()).toEqual([{ integrity_check: 'ok' }])
        const { n, low, high } = copy
          .prepare('SELECT count(*) AS n, min(id) AS low, max(id) AS high FROM log')
          .get() as { n: number; low: number; high: number }
        expect(low).toBe(1)
        expect(high).toBe(n)
        expect(n).toBeGreaterThanOrEqual(before)
        expect(n).toBeLessThanOrEqual(after)
        expect(manifest.rowCounts!.log).toBe(n)
      } finally {
        copy.close()
      }
    } finally {
      writer.kill('SIGKILL')
    }
  })

  it('restore refuses while another connection has the database open, leaves no -wal/-shm, and --force overrides', async () => {
    const project = await makeProject('sqlite', SCHEMA.sqlite)
    const file = project.url.slice('sqlite:'.length)
    const manifest = await withTarget(project, async (target) => {
      await migrateUp(target)
      return (await createBackup(target)).backup
    })
    const holder = new Database(file)
    holder.pragma('journal_mode = WAL')
    holder.exec("INSERT INTO plain (id, note) VALUES (1000, 'after the backup')")
    try {
      const busy = await failure(withTarget(project, (target) => restoreBackup(target, manifest.id, { clean: true })))
      expect(busy.code).toBe('E_DATABASE_IN_USE')
      expect((holder.prepare('SELECT count(*) AS n FROM plain').get() as { n: number }).n).toBe(121)
      await withTarget(project, (target) => restoreBackup(target, manifest.id, { clean: true, force: true }))
    } finally {
      holder.close()
    }
    await withTarget(project, (target) => restoreBackup(target, manifest.id, { clean: true }))
    expect(existsSync(`${file}-wal`)).toBe(false)
    expect(existsSync(`${file}-shm`)).toBe(false)
    expect(await project.query('SELECT count(*) AS n FROM plain')).toEqual([{ n: 120 }])
    expect(await project.query('PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }])
  })
})
