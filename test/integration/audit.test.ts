// Every audit check against real databases: the problem planted is reported (with a fix that runs), a clean schema
// reports nothing, and the known false positives stay quiet.
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { auditTarget, type AuditOptions, type AuditResult } from '../../src/index.js'
import { exec, withTarget, makeProject, type EngineName, type Project } from '../helpers/projects.js'

async function audit(project: Project, options: AuditOptions = {}): Promise<AuditResult> {
  return withTarget(project, (target) => auditTarget(target, options))
}

function subjects(result: AuditResult, check: string): string[] {
  return result.findings
    .filter((finding) => finding.check === check)
    .map((finding) => finding.subject)
    .sort()
}

/** Runs every suggested fix (and its undo) so that a fix with bad quoting fails the test. */
async function applyFixes(project: Project, result: AuditResult): Promise<void> {
  for (const finding of result.findings) if (finding.fix) await project.query(finding.fix)
}

const CLEAN: Record<EngineName, string[]> = {
  postgres: [
    'CREATE TABLE parent (id int PRIMARY KEY, name text UNIQUE, a int, b int)',
    'CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent (id), a int, b int)',
    'CREATE INDEX child_parent_id_idx ON child (parent_id)',
    'CREATE INDEX child_a_b_idx ON child (a, b)',
    'CREATE INDEX child_a_desc_b_idx ON child (a DESC, b)',
    'CREATE INDEX child_b_partial_idx ON child (b) WHERE a > 0',
    'CREATE INDEX child_b_idx ON child (b)',
    'ANALYZE',
  ],
  sqlite: [
    'CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT UNIQUE, a INT, b INT)',
    'CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INT REFERENCES parent (id), a INT, b INT)',
    'CREATE TABLE pairs (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID',
    'CREATE INDEX child_parent_id_idx ON child (parent_id)',
    'CREATE INDEX child_a_b_idx ON child (a, b)',
    'CREATE INDEX child_a_desc_b_idx ON child (a DESC, b)',
    'CREATE INDEX child_a_nocase_idx ON child (a COLLATE NOCASE)',
    'CREATE INDEX child_b_partial_idx ON child (b) WHERE a > 0',
    'CREATE INDEX child_b_idx ON child (b)',
    "INSERT INTO parent (id, name, a, b) VALUES (1, 'x', 1, 1)",
    'ANALYZE',
  ],
}

describe.each(['postgres', 'sqlite'] as const)('audit on %s', (engine) => {
  it('reports nothing on a clean schema, including (a DESC, b) vs (a, b), partial vs full, and different collations', async () => {
    const project = await makeProject(engine)
    await exec(project, CLEAN[engine])
    const result = await audit(project, { thresholds: { minStatisticsAgeMs: 0 } })
    // A fresh schema has unscanned indexes: only unused_index may speak, and is checked on its own below.
    expect(result.findings.filter((finding) => finding.check !== 'unused_index')).toEqual([])
    expect(result.checks.length).toBeGreaterThan(4)
  })

  it('reports identical duplicate indexes, keeps the one backing a constraint, and the fix runs', async () => {
    const project = await makeProject(engine)
    await exec(project, [
      'CREATE TABLE "Odd ""Table"" ü" (id int PRIMARY KEY, "Mixed Case" int, b int, CONSTRAINT "odd_uq" UNIQUE ("Mixed Case"))',
      'CREATE INDEX "dup one" ON "Odd ""Table"" ü" ("Mixed Case")',
      'CREATE INDEX dup_b_1 ON "Odd ""Table"" ü" (b)',
      'CREATE INDEX dup_b_2 ON "Odd ""Table"" ü" (b)',
      'CREATE INDEX dup_b_desc ON "Odd ""Table"" ü" (b DESC)',
      'CREATE INDEX dup_b_partial ON "Odd ""Table"" ü" (b) WHERE b > 0',
    ])
    const result = await audit(project, { checks: ['duplicate_index'] })
    const found = subjects(result, 'duplicate_index')
    const prefix = engine === 'postgres' ? 'public.' : ''
    // (b DESC) is (b) read backwards: the same index (issue 10).
    expect(found).toEqual([`${prefix}"dup one"`, `${prefix}dup_b_2`, `${prefix}dup_b_desc`])
    const oddOne = result.findings.find((finding) => finding.subject.includes('dup one'))!
    expect(oddOne.message).toContain(engine === 'postgres' ? 'odd_uq' : 'sqlite_autoindex')
    expect(oddOne.fix).toContain('"dup one"')
    expect(typeof oddOne.detail?.undo).toBe('string')
    await applyFixes(project, result)
    expect((await audit(project, { checks: ['duplicate_index'] })).findings).toEqual([])
    // The undo recreates exactly what was dropped.
    await project.query(String(oddOne.detail!.undo))
    expect(subjects(await audit(project, { checks: ['duplicate_index'] }), 'duplicate_index')).toEqual([
      `${prefix}"dup one"`,
    ])
  })

  it('reports left-prefix redundant indexes (a single column in either direction), but not unique ones or other collations', async () => {
    const project = await makeProject(engine)
    const collate = engine === 'postgres' ? 'COLLATE "C"' : 'COLLATE NOCASE'
    await exec(project, [
      'CREATE TABLE t (id int PRIMARY KEY, a text, b int, c int)',
      'CREATE INDEX t_a ON t (a)',
      'CREATE INDEX t_a_b ON t (a, b)',
      'CREATE UNIQUE INDEX t_b_uq ON t (b)',
      'CREATE INDEX t_b_c ON t (b, c)',
      `CREATE INDEX t_a_coll ON t (a ${collate})`,
      'CREATE INDEX t_c_desc ON t (c DESC)',
      'CREATE INDEX t_c_b ON t (c, b)',
    ])
    const result = await audit(project, { checks: ['redundant_index'] })
    // (c DESC) read backwards is (c): covered by (c, b) (issue 10).
    expect(subjects(result, 'redundant_index')).toEqual(
      engine === 'postgres' ? ['public.t_a', 'public.t_c_desc'] : ['t_a', 't_c_desc'],
    )
    expect(result.findings[0]!.message).toContain('t_a_b')
    await applyFixes(project, result)
  })

  it('reports foreign keys without an index whose leading columns are theirs, in any order', async () => {
    const project = await makeProject(engine)
    await exec(project, [
      'CREATE TABLE p (a int, b int, PRIMARY KEY (a, b))',
      'CREATE TABLE "Kid Table" (id int PRIMARY KEY, "Pa" int, pb int, FOREIGN KEY ("Pa", pb) REFERENCES p (a, b))',
      'CREATE TABLE ordered (id int PRIMARY KEY, x int, y int, FOREIGN KEY (x, y) REFERENCES p (a, b))',
      'CREATE INDEX ordered_y_x ON ordered (y, x)',
      'CREATE TABLE half (id int PRIMARY KEY, x int, y int, FOREIGN KEY (x, y) REFERENCES p (a, b))',
      'CREATE INDEX half_x ON half (x)',
      'CREATE TABLE tail_t (id int PRIMARY KEY, x int, y int, FOREIGN KEY (x, y) REFERENCES p (a, b))',
      'CREATE INDEX tail_t_z ON tail_t (id, x, y)',
    ])
    const result = await audit(project, { checks: ['fk_without_index'] })
    const tables = result.findings.map((finding) => String(finding.detail?.table)).sort()
    const prefix = engine === 'postgres' ? 'public.' : ''
    expect(tables).toEqual([`${prefix}"Kid Table"`, `${prefix}half`, `${prefix}tail_t`])
    const kid = result.findings.find((finding) => String(finding.detail?.table).includes('Kid'))!
    expect(kid.fix).toMatch(
      engine === 'postgres'
        ? /^CREATE INDEX CONCURRENTLY IF NOT EXISTS "Kid Table_Pa_pb_idx" ON "public"."Kid Table" \("Pa", "pb"\);$/
        : /^CREATE INDEX IF NOT EXISTS "Kid Table_Pa_pb_idx" ON "Kid Table" \("Pa", "pb"\);$/,
    )
    await applyFixes(project, result)
    expect((await audit(project, { checks: ['fk_without_index'] })).findings).toEqual([])
  })

  it('reports tables without a primary key', async () => {
    const project = await makeProject(engine)
    await exec(project, [
      'CREATE TABLE "no key" (x int)',
      'CREATE TABLE keyed (x int PRIMARY KEY)',
      'CREATE TABLE uniq (x int NOT NULL UNIQUE)',
      ...(engine === 'sqlite'
        ? [
            'CREATE TABLE wr (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID',
            'CREATE TABLE rowid_alias (id INTEGER PRIMARY KEY)',
          ]
        : []),
    ])
    const result = await audit(project, { checks: ['table_without_pk'] })
    const prefix = engine === 'postgres' ? 'public.' : ''
    expect(subjects(result, 'table_without_pk')).toEqual([`${prefix}"no key"`, `${prefix}uniq`])
  })
})

describe('audit on sqlite only', () => {
  it('reports missing, then stale sqlite_stat1, and ANALYZE fixes it', async () => {
    const project = await makeProject('sqlite')
    await exec(project, [
      'CREATE TABLE t (id INTEGER PRIMARY KEY, v INT)',
      'CREATE INDEX t_v ON t (v)',
      'CREATE TABLE empty (id INTEGER PRIMARY KEY)',
    ])
    await project.query(
      'INSERT INTO t (v) WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM s WHERE value < 1000) SELECT value FROM s',
    )
    let result = await audit(project, { checks: ['stale_statistics'] })
    expect(result.findings.map((finding) => [finding.subject, finding.fix])).toEqual([['sqlite_stat1', 'ANALYZE;']])
    await applyFixes(project, result)
    expect((await audit(project, { checks: ['stale_statistics'] })).findings).toEqual([])
    await project.query(
      'INSERT INTO t (v) WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM s WHERE value < 3000) SELECT value FROM s',
    )
    await project.query('CREATE TABLE small (id INTEGER PRIMARY KEY)')
    await project.query('INSERT INTO small DEFAULT VALUES')
    await project.query('CREATE TABLE later (id INTEGER PRIMARY KEY)')
    await project.query(
      'INSERT INTO later WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 600) SELECT n FROM s',
    )
    result = await audit(project, { checks: ['stale_statistics'] })
    expect(result.findings.map((finding) => finding.subject).sort()).toEqual(['later', 't'])
    expect(result.findings.find((finding) => finding.subject === 't')!.message).toMatch(
      /at least \d+ rows but sqlite_stat1 records 1000/,
    )
    await applyFixes(project, result)
    expect((await audit(project, { checks: ['stale_statistics'] })).findings).toEqual([])
  })
})

describe('audit on postgres only', () => {
  it('reports an invalid index as critical, a _ccnew leftover as a drop, and not an index being built right now', async () => {
    const project = await makeProject('postgres')
    await exec(project, [
      'CREATE TABLE t (id int PRIMARY KEY, x int, y int)',
      'INSERT INTO t SELECT g, g % 3, g FROM generate_series(1, 100) g',
    ])
    await expect(project.query('CREATE UNIQUE INDEX CONCURRENTLY t_x_uq ON t (x)')).rejects.toThrow(
      /could not create unique index/,
    )
    await expect(project.query('CREATE UNIQUE INDEX CONCURRENTLY t_x_uq_ccnew ON t (x)')).rejects.toThrow(
      /could not create unique index/,
    )
    const writer = new pg.Client({ connectionString: project.url })
    const builder = new pg.Client({ connectionString: project.url })
    await writer.connect()
    await builder.connect()
    try {
      // An open writing transaction makes CREATE INDEX CONCURRENTLY wait after it has registered the (invalid) index.
      await writer.query('BEGIN')
      await writer.query('INSERT INTO t VALUES (1000, 1, 1)')
      const building = builder.query('CREATE INDEX CONCURRENTLY t_y_building ON t (y)')
      building.catch(() => {})
      for (let i = 0; i < 100; i++) {
        const rows = await project.query(`SELECT 1 FROM pg_class WHERE relname = 't_y_building'`)
        if (rows.length > 0) break
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      const result = await audit(project, { checks: ['invalid_index'] })
      expect(result.findings.map((finding) => [finding.subject, finding.severity, finding.fix])).toEqual([
        // A unique build that failed on duplicates fails again under REINDEX: drop and create it again.
        [
          'public.t_x_uq',
          'critical',
          'DROP INDEX CONCURRENTLY IF EXISTS "public"."t_x_uq";\nCREATE UNIQUE INDEX CONCURRENTLY "t_x_uq" ON "public"."t" USING btree (x);',
        ],
        ['public.t_x_uq_ccnew', 'critical', 'DROP INDEX CONCURRENTLY IF EXISTS "public"."t_x_uq_ccnew";'],
      ])
      expect(result.skipped.map((skip) => skip.reason).join('\n')).toMatch(/t_y_building is being built/)
      await writer.query('ROLLBACK')
      await building
    } finally {
      await writer.end()
      await builder.end()
    }
    expect(
      (await audit(project, { checks: ['invalid_index'] })).findings.map((finding) => finding.subject),
    ).not.toContain('public.t_y_building')
  })

  it('reports unused indexes only with old enough statistics, and never unique, constraint or sole foreign-key indexes', async () => {
    const project = await makeProject('postgres')
    await exec(project, [
      'CREATE TABLE p (id int PRIMARY KEY)',
      'CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p (id), v int, w int, u int UNIQUE)',
      'CREATE INDEX c_p_id ON c (p_id)',
      'CREATE INDEX c_v ON c (v)',
      'CREATE INDEX c_w ON c (w)',
      'INSERT INTO p SELECT generate_series(1, 10)',
      'INSERT INTO c SELECT g, g % 10 + 1, g, g, g FROM generate_series(1, 1000) g',
      'ANALYZE',
    ])
    await project.query('SET enable_seqscan = off; SELECT count(*) FROM c WHERE w = 5')
    const fresh = await audit(project, { checks: ['unused_index'] })
    expect(fresh.findings).toEqual([])
    expect(fresh.skipped[0]!.reason).toMatch(/statistics are only .* old/)
    const old = await audit(project, { checks: ['unused_index'], thresholds: { minStatisticsAgeMs: 0 } })
    expect(subjects(old, 'unused_index')).toEqual(['public.c_v'])
    expect(old.findings[0]!.values?.statistics_age_seconds).toBeGreaterThanOrEqual(0)
    expect(old.findings[0]!.detail?.undo).toBe(
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS "c_v" ON "public"."c" USING btree (v);',
    )
  })

  it('reports NOT VALID constraints, and VALIDATE CONSTRAINT clears them', async () => {
    const project = await makeProject('postgres')
    await exec(project, [
      'CREATE TABLE p (id int PRIMARY KEY)',
      'CREATE TABLE "C t" (id int PRIMARY KEY, p_id int, v int)',
      'CREATE INDEX ON "C t" (p_id)',
      'ALTER TABLE "C t" ADD CONSTRAINT "Fk ""x""" FOREIGN KEY (p_id) REFERENCES p (id) NOT VALID',
      'ALTER TABLE "C t" ADD CONSTRAINT v_positive CHECK (v > 0) NOT VALID',
      'ALTER TABLE "C t" ADD CONSTRAINT v_small CHECK (v < 100)',
    ])
    const result = await audit(project, { checks: ['not_valid_constraint'] })
    expect(subjects(result, 'not_valid_constraint')).toEqual(['public."C t"."Fk ""x"""', 'public."C t".v_positive'])
    await applyFixes(project, result)
    expect((await audit(project, { checks: ['not_valid_constraint'] })).findings).toEqual([])
  })

  it('judges partitioned tables through their parent: no false positives from partitions', async () => {
    const project = await makeProject('postgres')
    await exec(project, [
      'CREATE TABLE p (id int PRIMARY KEY)',
      'CREATE TABLE events (id int, p_id int REFERENCES p (id), at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)',
      "CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
      "CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
      'CREATE INDEX events_p_id ON events (p_id)',
      'CREATE TABLE logs (msg text, at date) PARTITION BY RANGE (at)',
      "CREATE TABLE logs_2024 PARTITION OF logs FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
      'CREATE TABLE unindexed (id int, p_id int REFERENCES p (id), PRIMARY KEY (id)) PARTITION BY HASH (id)',
      'CREATE TABLE unindexed_0 PARTITION OF unindexed FOR VALUES WITH (MODULUS 2, REMAINDER 0)',
      'CREATE TABLE unindexed_1 PARTITION OF unindexed FOR VALUES WITH (MODULUS 2, REMAINDER 1)',
    ])
    const result = await audit(project, { thresholds: { minStatisticsAgeMs: 0 } })
    // events_p_id is never scanned but is the only index of a foreign key: not unused.
    expect(result.findings.map((finding) => `${finding.check} ${finding.subject}`).sort()).toEqual([
      'fk_without_index public.unindexed.unindexed_p_id_fkey',
      'table_without_pk public.logs',
    ])
    const fk = result.findings.find((finding) => finding.check === 'fk_without_index')!
    // CONCURRENTLY is not supported on a partitioned table.
    expect(fk.fix).toBe('CREATE INDEX IF NOT EXISTS "unindexed_p_id_idx" ON "public"."unindexed" ("p_id");')
    await applyFixes(project, { ...result, findings: [fk] })
    expect((await audit(project, { checks: ['fk_without_index'] })).findings).toEqual([])
  })

  it('leaves out objects an extension owns, and audits every user schema', async () => {
    const project = await makeProject('postgres')
    await exec(project, [
      'CREATE EXTENSION citext',
      'CREATE TABLE ext_owned (x int)',
      'ALTER EXTENSION citext ADD TABLE ext_owned',
      'CREATE SCHEMA "Other Schema"',
      'CREATE TABLE "Other Schema".loose (x int)',
    ])
    const result = await audit(project, { checks: ['table_without_pk'] })
    expect(subjects(result, 'table_without_pk')).toEqual(['"Other Schema".loose'])
  })

  it('reports large tables read mostly by sequential scans', async () => {
    const project = await makeProject('postgres')
    await exec(project, [
      'CREATE TABLE big (id int PRIMARY KEY, v int)',
      'CREATE TABLE small (id int PRIMARY KEY, v int)',
      'INSERT INTO big SELECT g, g FROM generate_series(1, 12000) g',
      'INSERT INTO small SELECT g, g FROM generate_series(1, 100) g',
      'ANALYZE',
    ])
    await project.query(
      `DO $$ BEGIN FOR i IN 1..110 LOOP PERFORM count(*) FROM big WHERE v = i; PERFORM count(*) FROM small WHERE v = i; END LOOP; END $$`,
    )
    const result = await audit(project, { checks: ['seq_scan_heavy'] })
    expect(subjects(result, 'seq_scan_heavy')).toEqual(['public.big'])
    expect(result.findings[0]!.values).toMatchObject({ rows: 12000 })
  })

  it('estimates index bloat only from fresh statistics, and a rebuild clears it', async () => {
    const project = await makeProject('postgres')
    await exec(project, [
      'CREATE TABLE b (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = false)',
      'CREATE TABLE fresh (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = false)',
      'INSERT INTO b SELECT g, g FROM generate_series(1, 60000) g',
      'INSERT INTO fresh SELECT g, g FROM generate_series(1, 60000) g',
      'CREATE INDEX b_v ON b (v)',
      'CREATE INDEX fresh_v ON fresh (v)',
    ])
    const thresholds = { bloatMinBytes: 64 * 1024 }
    const unanalyzed = await audit(project, { checks: ['index_bloat'], thresholds })
    expect(unanalyzed.findings).toEqual([])
    expect(unanalyzed.skipped.map((skip) => skip.reason).join('\n')).toMatch(/never analyzed/)
    await exec(project, ['DELETE FROM b WHERE id % 10 <> 0', 'VACUUM ANALYZE b', 'ANALYZE fresh'])
    const result = await audit(project, { checks: ['index_bloat'], thresholds })
    expect(subjects(result, 'index_bloat')).toEqual(['public.b_pkey', 'public.b_v'])
    expect(result.findings[0]!.values!.bloat_ratio).toBeGreaterThan(0.5)
    await applyFixes(project, result)
    await project.query('ANALYZE b')
    expect((await audit(project, { checks: ['index_bloat'], thresholds })).findings).toEqual([])
  })

  it('sends the same number of catalog queries for 10 tables as for 400', async () => {
    const counts: number[] = []
    for (const tables of [10, 400]) {
      const project = await makeProject('postgres')
      await project.query(`DO $$ BEGIN FOR i IN 1..${tables} LOOP
        EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, p int REFERENCES %I (id), v int, w int)', 't' || i, CASE WHEN i = 1 THEN 't1' ELSE 't' || (i - 1) END);
        EXECUTE format('CREATE INDEX ON %I (v, w)', 't' || i);
        EXECUTE format('CREATE INDEX ON %I (v)', 't' || i);
      END LOOP; END $$`)
      const result = await withTarget(project, async (target) => {
        const query = target.backend.query.bind(target.backend)
        let sent = 0
        target.backend.query = ((q: Parameters<typeof query>[0]) => {
          sent++
          return query(q)
        }) as typeof target.backend.query
        const audited = await auditTarget(target)
        counts.push(sent)
        return audited
      })
      expect(subjects(result, 'redundant_index')).toHaveLength(tables)
      expect(subjects(result, 'fk_without_index')).toHaveLength(tables)
      expect(result.queries).toBe(counts[counts.length - 1])
    }
    expect(counts[0]).toBe(counts[1])
  })
})
