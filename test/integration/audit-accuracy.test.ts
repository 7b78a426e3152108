// Issue 10 §1: audit misses and false alarms found side by side with pghero and pg-index-health: partitioned indexes,
// the SQLite rowid, prefixes read backwards, which twin to keep, invalid indexes writes do not maintain.
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { auditTarget, type AuditOptions, type AuditResult } from '../../src/index.js'
import { exec, makeProject, migration, withTarget, type Project } from '../helpers/projects.js'

async function audit(project: Project, options: AuditOptions = {}): Promise<AuditResult> {
  return withTarget(project, (target) =>
    auditTarget(target, { ...options, thresholds: { minStatisticsAgeMs: 0, ...options.thresholds } }),
  )
}

function findings(result: AuditResult, check: string) {
  return result.findings.filter((finding) => finding.check === check)
}

const PARTITIONED = [
  'CREATE TABLE customers (id int PRIMARY KEY)',
  'CREATE TABLE payments (id int, customer_id int, staff_id int, paid_on date NOT NULL) PARTITION BY RANGE (paid_on)',
  "CREATE TABLE payments_2024 PARTITION OF payments FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
  "CREATE TABLE payments_2025 PARTITION OF payments FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
  'INSERT INTO customers SELECT generate_series(1, 100)',
  "INSERT INTO payments SELECT i, 1 + i % 100, i % 7, date '2024-01-01' + (i % 700) FROM generate_series(1, 5000) i",
  'CREATE INDEX payments_customer_id_idx ON payments (customer_id)',
  'CREATE INDEX payments_staff_id_idx ON payments (staff_id)',
  // pagila declares its foreign keys on the partitions: the partitions' copies of the index are the only ones behind them.
  'ALTER TABLE payments_2024 ADD CONSTRAINT payments_2024_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES customers (id)',
  'ANALYZE',
]

describe('audit of partitioned tables (postgres)', () => {
  it('never suggests dropping a partitioned index whose partition copy is the only index behind a foreign key; sizes count the partitions', async () => {
    const project = await makeProject('postgres')
    await exec(project, PARTITIONED)
    const unused = findings(await audit(project, { checks: ['unused_index'] }), 'unused_index')
    expect(unused.map((finding) => finding.subject)).toEqual(['public.payments_staff_id_idx'])
    expect(unused[0]!.values!.bytes).toBeGreaterThan(8192)
    expect(unused[0]!.message).not.toContain(' 0 B')
  })

  it("judges a partitioned index by the scans of its partitions' indexes", async () => {
    const project = await makeProject('postgres')
    await exec(project, PARTITIONED)
    const client = new pg.Client({ connectionString: project.url })
    await client.connect()
    try {
      await client.query('SET enable_seqscan = off')
      await client.query('SET enable_bitmapscan = off')
      await client.query("SELECT * FROM payments WHERE staff_id = 3 AND paid_on < '2024-06-01'")
    } finally {
      await client.end()
    }
    // Statistics reach the shared counters when the session ends: wait for them, not for a fixed time.
    for (let attempt = 0; attempt < 100; attempt++) {
      const [row] = await project.query(
        `SELECT sum(idx_scan)::int AS scans FROM pg_stat_user_indexes WHERE indexrelname LIKE 'payments_2024_staff_id%'`,
      )
      if (Number(row!.scans) > 0) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(findings(await audit(project, { checks: ['unused_index'] }), 'unused_index')).toEqual([])
  })

  it('finds a standalone index on a partition that duplicates the attached partition index, and keeps the attached one', async () => {
    const project = await makeProject('postgres')
    await exec(project, [...PARTITIONED, 'CREATE INDEX payments_2025_by_customer ON payments_2025 (customer_id)'])
    const duplicates = findings(await audit(project, { checks: ['duplicate_index'] }), 'duplicate_index')
    expect(duplicates.map((finding) => finding.subject)).toEqual(['public.payments_2025_by_customer'])
    expect(duplicates[0]!.detail!.duplicateOf).toBe('public.payments_2025_customer_id_idx')
    await project.query(duplicates[0]!.fix!)
    expect(
      await project.query(`SELECT 1 FROM pg_indexes WHERE indexname = 'payments_2025_customer_id_idx'`),
    ).toHaveLength(1)
  })
})

describe('audit unused_index twins (postgres)', () => {
  it('never suggests dropping every unused index behind one foreign key: the one duplicate_index keeps stays', async () => {
    const project = await makeProject('postgres')
    await exec(project, [
      'CREATE TABLE customers (id int PRIMARY KEY)',
      'CREATE TABLE payments_2022 (id int PRIMARY KEY, customer_id int REFERENCES customers (id))',
      // pagila: two identical indexes behind the same foreign key, the older one made first.
      'CREATE INDEX idx_fk_payments_2022_customer_id ON payments_2022 (customer_id)',
      'CREATE INDEX payments_2022_customer_id_idx ON payments_2022 (customer_id)',
    ])
    const result = await audit(project, { checks: ['unused_index', 'duplicate_index'] })
    expect(result.findings.map((finding) => `${finding.check} ${finding.subject}`)).toEqual([
      'duplicate_index public.payments_2022_customer_id_idx',
      'unused_index public.payments_2022_customer_id_idx',
    ])
  })
})

describe.each(['postgres', 'sqlite'] as const)('audit accuracy on %s', (engine) => {
  it('flags a single-column index covered by a two-column index whatever the direction: (length) by (length DESC, rating)', async () => {
    const project = await makeProject(engine)
    await exec(project, [
      'CREATE TABLE film (film_id int PRIMARY KEY, length int, rating int, title text)',
      'CREATE INDEX film_length_idx ON film (length)',
      'CREATE INDEX film_length_desc_rating_idx ON film (length DESC, rating)',
      // Left alone: a two-column prefix read backwards (only single columns are flagged whatever the direction).
      'CREATE INDEX film_title_rating_idx ON film (title, rating)',
      'CREATE INDEX film_title_desc_idx ON film (title DESC, rating DESC, length)',
    ])
    const redundant = findings(await audit(project, { checks: ['redundant_index'] }), 'redundant_index')
    expect(redundant.map((finding) => finding.subject)).toEqual([
      engine === 'postgres' ? 'public.film_length_idx' : 'film_length_idx',
    ])
    expect(redundant[0]!.detail!.coveredBy).toContain('film_length_desc_rating_idx')
    if (engine === 'postgres') {
      // The covering index serves equality, ranges and ordering on length once the narrow one is gone.
      await project.query(redundant[0]!.fix!)
      await project.query('INSERT INTO film SELECT i, i % 180, i % 5, md5(i::text) FROM generate_series(1, 20000) i')
      await project.query('ANALYZE film')
      const client = new pg.Client({ connectionString: project.url })
      await client.connect()
      try {
        await client.query('SET enable_seqscan = off')
        for (const query of [
          'SELECT * FROM film WHERE length = 90',
          'SELECT * FROM film WHERE length BETWEEN 10 AND 20',
          'SELECT length FROM film ORDER BY length LIMIT 5',
        ]) {
          const plan = (await client.query(`EXPLAIN ${query}`)).rows.map((row) => row['QUERY PLAN']).join('\n')
          expect(plan).toContain('film_length_desc_rating_idx')
          expect(plan).not.toContain('Sort')
        }
      } finally {
        await client.end()
      }
    }
  })

  it('of two identical indexes, --fix keeps the one a migration creates, and says why', async () => {
    const project = await makeProject(engine, {
      '001_orders.sql': migration(
        'CREATE TABLE orders (id int PRIMARY KEY, placed_at int);\nCREATE INDEX orders_placed_at_idx ON orders (placed_at);',
        'DROP TABLE orders;',
      ),
    })
    // The hand-made twin is older and sorts first by name: neither may decide.
    await exec(project, [
      'CREATE TABLE orders (id int PRIMARY KEY, placed_at int)',
      'CREATE INDEX idx_orders_placed ON orders (placed_at)',
      'CREATE INDEX orders_placed_at_idx ON orders (placed_at)',
    ])
    const duplicates = findings(await audit(project, { checks: ['duplicate_index'] }), 'duplicate_index')
    expect(duplicates.map((finding) => finding.subject)).toEqual([
      engine === 'postgres' ? 'public.idx_orders_placed' : 'idx_orders_placed',
    ])
    expect(duplicates[0]!.message).toContain('migration 001_orders.sql creates it')
    expect(duplicates[0]!.fix).toContain('"idx_orders_placed"')
  })

  it('of two identical indexes no migration creates, keeps the older one', async () => {
    const project = await makeProject(engine)
    await exec(project, [
      'CREATE TABLE orders (id int PRIMARY KEY, placed_at int)',
      'CREATE INDEX zz_first ON orders (placed_at)',
      'CREATE INDEX aa_second ON orders (placed_at)',
    ])
    const duplicates = findings(await audit(project, { checks: ['duplicate_index'] }), 'duplicate_index')
    expect(duplicates.map((finding) => finding.subject)).toEqual([
      engine === 'postgres' ? 'public.aa_second' : 'aa_second',
    ])
    expect(duplicates[0]!.message).toContain('older')
  })
})

describe('audit on sqlite', () => {
  it('does not ask for an index on a foreign key that is the INTEGER PRIMARY KEY (the rowid)', async () => {
    const project = await makeProject('sqlite')
    await exec(project, [
      'CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)',
      'CREATE TABLE profiles (user_id INTEGER PRIMARY KEY REFERENCES users (id), bio TEXT)',
      'CREATE TABLE notes (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id))',
    ])
    const missing = findings(await audit(project, { checks: ['fk_without_index'] }), 'fk_without_index')
    expect(missing.map((finding) => finding.subject)).toEqual(['notes.notes_user_id_fkey'])
  })
})

describe('audit of invalid indexes (postgres)', () => {
  it('does not say writes maintain an invalid index whose build failed before it was ready', async () => {
    const project = await makeProject('postgres')
    await exec(project, ['CREATE TABLE t (id int)', 'INSERT INTO t VALUES (1), (1)'])
    await expect(project.query('CREATE UNIQUE INDEX CONCURRENTLY t_id_key ON t (id)')).rejects.toThrow(
      /could not create unique index/,
    )
    const [state] = await project.query(
      `SELECT indisready, indisvalid FROM pg_index WHERE indexrelid = 't_id_key'::regclass`,
    )
    expect(state).toEqual({ indisready: false, indisvalid: false })
    const [finding] = findings(await audit(project, { checks: ['invalid_index'] }), 'invalid_index')
    expect(finding!.message).not.toContain('writes maintain it')
    expect(finding!.message).toContain('writes do not update it')
  })
})

describe('audit table_bloat (postgres)', () => {
  it("estimates a table's bloat only from fresh statistics, and stays quiet on a table that is not bloated", async () => {
    const project = await makeProject('postgres')
    const thresholds = { bloatMinBytes: 512 * 1024 }
    await exec(project, [
      'CREATE TABLE packed (id int PRIMARY KEY, code text, qty int, note text) WITH (autovacuum_enabled = false)',
      'CREATE TABLE hollow (id int PRIMARY KEY, code text, qty int, note text) WITH (autovacuum_enabled = false)',
      "INSERT INTO packed SELECT i, md5(i::text), i % 100, CASE WHEN i % 3 = 0 THEN NULL ELSE repeat('x', i % 40) END FROM generate_series(1, 40000) i",
      "INSERT INTO hollow SELECT i, md5(i::text), i % 100, CASE WHEN i % 3 = 0 THEN NULL ELSE repeat('x', i % 40) END FROM generate_series(1, 40000) i",
      'DELETE FROM hollow WHERE id % 5 <> 0',
      'VACUUM hollow',
    ])
    const stale = await audit(project, { checks: ['table_bloat'], thresholds })
    expect(stale.findings).toEqual([])
    expect(stale.skipped.map((entry) => entry.reason).join('\n')).toMatch(/public\.(packed|hollow): never analyzed/)
    await project.query('ANALYZE')
    const result = await audit(project, { checks: ['table_bloat'], thresholds })
    expect(result.findings.map((finding) => finding.subject)).toEqual(['public.hollow'])
    expect(result.findings[0]!.values!.bloat_ratio).toBeGreaterThan(0.6)
    expect(result.findings[0]!.values!.bloat_ratio).toBeLessThan(0.9)
    expect(result.findings[0]!.fix).toBeUndefined()
    await project.query('VACUUM FULL hollow')
    await project.query('ANALYZE hollow')
    expect((await audit(project, { checks: ['table_bloat'], thresholds })).findings).toEqual([])
  })
})

describe.each(['postgres', 'sqlite'] as const)('audit duplicate_foreign_key on %s', (engine) => {
  it('reports a foreign key declared twice, not two that differ in their actions, and the fix runs', async () => {
    const project = await makeProject(engine)
    await exec(project, [
      'CREATE TABLE customers (id int PRIMARY KEY)',
      engine === 'postgres'
        ? 'CREATE TABLE orders (id int PRIMARY KEY, customer_id int, CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id), CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES customers (id))'
        : 'CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers (id), FOREIGN KEY (customer_id) REFERENCES customers (id))',
      'CREATE INDEX orders_customer_id_idx ON orders (customer_id)',
      'CREATE TABLE lines (id int PRIMARY KEY, order_id int REFERENCES orders (id), FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE)',
      'CREATE INDEX lines_order_id_idx ON lines (order_id)',
    ])
    const result = await audit(project, { checks: ['duplicate_foreign_key'] })
    expect(result.findings.map((finding) => finding.subject)).toEqual([
      engine === 'postgres' ? 'public.orders.orders_customer_id_fkey' : 'orders.orders_customer_id_fkey',
    ])
    if (engine === 'postgres') {
      expect(result.findings[0]!.message).toContain('duplicates orders_customer_fk')
      await project.query(result.findings[0]!.fix!)
      expect((await audit(project, { checks: ['duplicate_foreign_key'] })).findings).toEqual([])
      await project.query(String(result.findings[0]!.detail!.undo))
    } else {
      expect(result.findings[0]!.fix).toBeUndefined()
    }
  })
})
