// Misses and false alarms a trial found in `health` and `audit` against pghero, pg-index-health and check_postgres
// (issue 10 §1): each case fails without its fix.
import { describe, expect, it } from 'vitest'
import {
  auditTarget,
  checkHealth,
  openTarget,
  type AuditOptions,
  type AuditResult,
  type HealthOptions,
  type HealthResult,
} from '../../src/index.js'
import { formatNagios } from '../../src/health/health-output.js'
import { pgQuery } from '../helpers/databases.js'
import { exec, makeProject, withTarget, type Project } from '../helpers/projects.js'

async function health(project: Project, options: HealthOptions = {}): Promise<HealthResult> {
  const target = await openTarget({ cwd: project.dir, url: project.url, env: {} })
  try {
    return await checkHealth(target, options)
  } finally {
    await target.close()
  }
}

async function sequences(sql: string) {
  const project = await makeProject('postgres')
  await pgQuery(project.url, sql)
  const result = await health(project, { only: ['sequences'] })
  return { result, finding: result.checks.find((finding) => finding.check === 'sequences')! }
}

describe('health sequences', () => {
  it('measures a descending sequence toward its MINVALUE', async () => {
    const { finding } = await sequences(`
      CREATE SEQUENCE down AS integer INCREMENT BY -1;
      SELECT setval('down', -2147483000);`)
    expect(finding.severity).toBe('critical')
    expect(finding.message).toContain('648 values left')
  })

  it('measures the share of a range that crosses zero, not last/limit', async () => {
    // From 1000 down to -1000: 1,990 of 2,001 values used, 10 left.
    const { finding } = await sequences(`
      CREATE SEQUENCE sweep INCREMENT BY -1 MINVALUE -1000 MAXVALUE 1000 START 1000;
      SELECT setval('sweep', -990);`)
    expect(finding.severity).toBe('critical')
    expect(finding.message).toContain('10 values left')
    expect(finding.values!.max_used_ratio).toBeGreaterThan(0.99)
  })

  it('does not count a range that starts above 1 as used', async () => {
    // Ids handed out from 1,000,000 to 1,000,010 of a range ending at 2,000,000: hardly used.
    const { finding } = await sequences(`
      CREATE SEQUENCE high MINVALUE 1000000 MAXVALUE 2000000;
      SELECT nextval('high') FROM generate_series(1, 10);`)
    expect(finding.severity).toBe('ok')
    expect(finding.values!.max_used_ratio).toBeLessThan(0.01)
  })

  it('reads the real state of a sequence restarted near its end (pg_sequences.last_value is NULL)', async () => {
    const { finding } = await sequences(`
      CREATE SEQUENCE restarted AS integer;
      ALTER SEQUENCE restarted RESTART WITH 2147483000;`)
    expect(finding.severity).toBe('critical')
    // 2147483000 itself is still to come: 648 values left.
    expect(finding.message).toContain('648 values left')
    expect(finding.message).toContain('restarted')
  })

  it('a never-called sequence has its whole range left', async () => {
    const { finding } = await sequences(`CREATE SEQUENCE fresh AS smallint MAXVALUE 10;`)
    expect(finding.severity).toBe('ok')
    expect(finding.values!.max_used_ratio).toBe(0)
  })

  it('grades a sequence against its own MAXVALUE below the type limit', async () => {
    const { finding } = await sequences(`
      CREATE SEQUENCE capped MAXVALUE 1000;
      SELECT setval('capped', 990);`)
    expect(finding.severity).toBe('critical')
    expect(finding.message).toContain('990 of 1,000, 10 values left')
  })

  it('never prints 100% in Nagios output while values are left', async () => {
    const { result, finding } = await sequences(`
      CREATE SEQUENCE nearly MAXVALUE 100000000;
      SELECT setval('nearly', 99999999);`)
    expect(finding.message).toContain('1 values left')
    const line = formatNagios([result])
    expect(line).not.toMatch(/100(\.0+)?%/)
    expect(line).toMatch(/sequences=99\.9999\d*%/)
  })

  it('prints 100% once a sequence is exhausted', async () => {
    const { result, finding } = await sequences(`
      CREATE SEQUENCE spent MAXVALUE 100;
      SELECT setval('spent', 100);`)
    expect(finding.message).toContain('0 values left')
    expect(formatNagios([result])).toContain('sequences=100%')
  })
})

async function audit(project: Project, options: AuditOptions = {}): Promise<AuditResult> {
  return withTarget(project, (target) =>
    auditTarget(target, { ...options, thresholds: { minStatisticsAgeMs: 0, ...options.thresholds } }),
  )
}

async function auditOf(statements: string[], checks: string[]) {
  const project = await makeProject('postgres')
  await exec(project, statements)
  return { project, result: await audit(project, { checks }) }
}

const subjects = (result: AuditResult, check: string) =>
  result.findings.filter((finding) => finding.check === check).map((finding) => finding.subject)

describe('audit indexes (postgres)', () => {
  it('a unique index with NULLS NOT DISTINCT is not a duplicate of a plain unique index, and vice versa', async () => {
    const { result } = await auditOf(
      [
        'CREATE TABLE t (code text)',
        'CREATE UNIQUE INDEX t_code_nnd ON t (code) NULLS NOT DISTINCT',
        'CREATE UNIQUE INDEX t_code_key ON t (code)',
      ],
      ['duplicate_index', 'redundant_index'],
    )
    expect(result.findings).toEqual([])
  })

  it('never proposes dropping the index used as REPLICA IDENTITY', async () => {
    const { result } = await auditOf(
      [
        'CREATE TABLE t (code text NOT NULL)',
        'CREATE UNIQUE INDEX t_code_a ON t (code)',
        'CREATE UNIQUE INDEX t_code_b ON t (code)',
        'ALTER TABLE t REPLICA IDENTITY USING INDEX t_code_b',
      ],
      ['duplicate_index', 'redundant_index', 'unused_index'],
    )
    const fixes = result.findings.map((finding) => finding.fix ?? '').join('\n')
    expect(fixes).not.toContain('t_code_b')
    expect(subjects(result, 'duplicate_index')).toEqual(['public.t_code_a'])
  })

  it('an index with INCLUDE columns is not covered by one without them; one without is covered by its INCLUDE twin', async () => {
    const { result } = await auditOf(
      [
        'CREATE TABLE t (a int, b int, x int)',
        'CREATE INDEX t_a_incl ON t (a) INCLUDE (x)',
        'CREATE INDEX t_a_b ON t (a, b)',
        'CREATE TABLE u (a int, x int)',
        'CREATE INDEX u_a ON u (a)',
        'CREATE INDEX u_a_incl ON u (a) INCLUDE (x)',
      ],
      ['duplicate_index', 'redundant_index'],
    )
    expect(subjects(result, 'redundant_index')).toEqual(['public.u_a'])
    expect(subjects(result, 'duplicate_index')).toEqual([])
  })

  it('a single key read backwards is alike (duplicate or prefix); several keys are left alone', async () => {
    const { result } = await auditOf(
      [
        'CREATE TABLE t (a int, b int, c int)',
        'CREATE INDEX t_a ON t (a)',
        'CREATE INDEX t_a_desc ON t (a DESC)',
        'CREATE TABLE v (a int, b int, c int)',
        'CREATE INDEX v_a ON v (a)',
        'CREATE INDEX v_a_desc_c ON v (a DESC, c)',
        'CREATE INDEX v_ab ON v (a, b)',
        'CREATE INDEX v_ab_desc_c ON v (a DESC, b DESC, c)',
        'CREATE TABLE u (a int, b int, c int)',
        'CREATE INDEX u_ab_mixed ON u (a, b DESC)',
        'CREATE INDEX u_abc ON u (a, b, c)',
      ],
      ['duplicate_index', 'redundant_index'],
    )
    expect(subjects(result, 'duplicate_index')).toEqual(['public.t_a_desc'])
    expect(subjects(result, 'redundant_index')).toEqual(['public.v_a'])
  })

  it('an INVALID unique index is dropped and recreated concurrently, not REINDEXed', async () => {
    const project = await makeProject('postgres')
    await exec(project, ['CREATE TABLE t (id int)', 'INSERT INTO t VALUES (1), (1)'])
    await expect(project.query('CREATE UNIQUE INDEX CONCURRENTLY t_id_key ON t (id)')).rejects.toThrow()
    const result = await audit(project, { checks: ['invalid_index'] })
    const [finding] = result.findings
    expect(finding!.fix).not.toContain('REINDEX')
    expect(finding!.fix).toContain('DROP INDEX CONCURRENTLY')
    expect(finding!.fix).toContain('CREATE UNIQUE INDEX CONCURRENTLY')
    expect(finding!.message).toMatch(/duplicate/i)
  })
})

describe('audit foreign keys (postgres)', () => {
  it('judges a foreign key on a partitioned table by the indexes of every partition', async () => {
    const { result } = await auditOf(
      [
        'CREATE TABLE customers (id int PRIMARY KEY)',
        'CREATE TABLE payments (id int, customer_id int REFERENCES customers, paid_on date NOT NULL) PARTITION BY RANGE (paid_on)',
        "CREATE TABLE payments_2024 PARTITION OF payments FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
        "CREATE TABLE payments_2025 PARTITION OF payments FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
        'CREATE INDEX ON payments_2024 (customer_id)',
        'CREATE INDEX ON payments_2025 (customer_id)',
        'CREATE TABLE refunds (id int, customer_id int REFERENCES customers, paid_on date NOT NULL) PARTITION BY RANGE (paid_on)',
        "CREATE TABLE refunds_2024 PARTITION OF refunds FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
        "CREATE TABLE refunds_2025 PARTITION OF refunds FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
        'CREATE INDEX ON refunds_2024 (customer_id)',
      ],
      ['fk_without_index'],
    )
    // payments: every partition has its index. refunds: one partition lacks it, reported once, fixed there.
    const found = result.findings
    expect(found.map((finding) => finding.subject)).toEqual(['public.refunds_2025.refunds_customer_id_fkey'])
    expect(found[0]!.fix).toContain('ON "public"."refunds_2025"')
  })

  it('an index with another collation than the foreign key column does not serve it', async () => {
    const { result } = await auditOf(
      [
        'CREATE TABLE codes (code text PRIMARY KEY)',
        'CREATE TABLE uses (id int, code text REFERENCES codes)',
        'CREATE INDEX uses_code_c ON uses (code COLLATE "C")',
      ],
      ['fk_without_index'],
    )
    expect(result.findings.map((finding) => finding.subject)).toEqual(['public.uses.uses_code_fkey'])
  })

  it('a partial index WHERE fk IS NOT NULL serves the foreign key', async () => {
    const { result } = await auditOf(
      [
        'CREATE TABLE customers (id int PRIMARY KEY)',
        'CREATE TABLE orders (id int, customer_id int REFERENCES customers)',
        'CREATE INDEX orders_customer_id_idx ON orders (customer_id) WHERE customer_id IS NOT NULL',
        'CREATE TABLE notes (id int, customer_id int REFERENCES customers, done boolean)',
        'CREATE INDEX notes_customer_open ON notes (customer_id) WHERE NOT done',
      ],
      ['fk_without_index'],
    )
    expect(result.findings.map((finding) => finding.subject)).toEqual(['public.notes.notes_customer_id_fkey'])
  })

  it('a NOT VALID foreign key and its validated twin are duplicates; the validated one stays', async () => {
    const { project, result } = await auditOf(
      [
        'CREATE TABLE customers (id int PRIMARY KEY)',
        'CREATE TABLE orders (id int, customer_id int, CONSTRAINT a_valid FOREIGN KEY (customer_id) REFERENCES customers)',
        'ALTER TABLE orders ADD CONSTRAINT z_pending FOREIGN KEY (customer_id) REFERENCES customers NOT VALID',
        'CREATE TABLE lines (id int, customer_id int)',
        'ALTER TABLE lines ADD CONSTRAINT a_pending FOREIGN KEY (customer_id) REFERENCES customers NOT VALID',
        'ALTER TABLE lines ADD CONSTRAINT z_valid FOREIGN KEY (customer_id) REFERENCES customers',
      ],
      ['duplicate_foreign_key'],
    )
    expect(result.findings.map((finding) => finding.subject).sort()).toEqual([
      'public.lines.a_pending',
      'public.orders.z_pending',
    ])
    for (const finding of result.findings) await project.query(finding.fix!)
  })
})

describe('audit --fix drops', () => {
  it('never drops every index of a set of twins, and names each dropped index once', async () => {
    const project = await makeProject('postgres')
    await exec(project, [
      'CREATE TABLE t (a int, b int)',
      'CREATE INDEX t_a_1 ON t (a)',
      'CREATE INDEX t_a_2 ON t (a)',
      'CREATE INDEX t_a_3 ON t (a)',
      'CREATE INDEX t_ab ON t (a, b)',
    ])
    const result = await audit(project, { checks: ['duplicate_index', 'redundant_index', 'unused_index'] })
    const drops = result.findings.map((finding) => finding.fix).filter((fix): fix is string => fix !== undefined)
    expect(new Set(drops).size).toBe(drops.length)
    const dropped = ['t_a_1', 't_a_2', 't_a_3', 't_ab'].filter((name) => drops.some((fix) => fix.includes(`"${name}"`)))
    // t_ab is unused and may go; of the three twins and t_ab, something serving lookups on (a) stays.
    expect(dropped.length).toBeLessThan(4)
    expect(['t_a_1', 't_a_2', 't_a_3'].every((name) => dropped.includes(name))).toBe(false)
  })
})

describe('audit table_bloat (postgres)', () => {
  it('counts alignment padding: no bloat on a freshly loaded table of bool/bigint pairs, and the estimate is near pgstattuple', async () => {
    const project = await makeProject('postgres')
    const pairs = Array.from({ length: 8 }, (_, i) => `f${i} boolean, n${i} bigint`).join(', ')
    const values = Array.from({ length: 8 }, () => `i % 2 = 0, i`).join(', ')
    await exec(project, [
      `CREATE TABLE padded (${pairs}) WITH (autovacuum_enabled = false)`,
      `INSERT INTO padded SELECT ${values} FROM generate_series(1, 60000) i`,
      'ANALYZE padded',
      'CREATE EXTENSION pgstattuple',
    ])
    const thresholds = { bloatMinBytes: 64 * 1024, bloatMinRatio: 0.1 }
    const result = await audit(project, { checks: ['table_bloat'], thresholds })
    expect(result.findings).toEqual([])
    // Measured: the table is all live tuples; the estimate must be within 10% of it.
    const target = await openTarget({ cwd: project.dir, url: project.url, env: {} })
    try {
      const snapshot = await (await target.backend.auditor()).introspect({ bloatMinBytes: 64 * 1024 })
      const estimate = snapshot.tableBloat!.estimates.find((entry) => entry.table === 'padded')!
      const [exact] = await project.query(`SELECT table_len, free_space FROM pgstattuple('padded')`)
      const needed = Number(exact!.table_len) - Number(exact!.free_space)
      expect(Math.abs(estimate.expectedBytes - needed) / needed).toBeLessThan(0.1)
    } finally {
      await target.close()
    }
  })
})

describe('audit unused_index on partitions (postgres)', () => {
  it("keeps a partition's own index that is the only one behind a foreign key declared on the partitioned parent", async () => {
    const { result } = await auditOf(
      [
        'CREATE TABLE customers (id int PRIMARY KEY)',
        'CREATE TABLE payments (id int, customer_id int REFERENCES customers, paid_on date NOT NULL) PARTITION BY RANGE (paid_on)',
        "CREATE TABLE payments_2024 PARTITION OF payments FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
        "CREATE TABLE payments_2025 PARTITION OF payments FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
        'CREATE INDEX payments_2024_customer ON payments_2024 (customer_id)',
        'CREATE INDEX payments_2025_customer ON payments_2025 (customer_id)',
        'CREATE INDEX payments_2025_paid_on ON payments_2025 (paid_on)',
      ],
      ['unused_index', 'fk_without_index'],
    )
    expect(subjects(result, 'unused_index')).toEqual(['public.payments_2025_paid_on'])
    expect(subjects(result, 'fk_without_index')).toEqual([])
  })
})

describe('audit --fix rebuilds', () => {
  it('does not rebuild a bloated index that the fixes drop as unused', async () => {
    const project = await makeProject('postgres')
    await exec(project, [
      'CREATE TABLE b (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = false)',
      'INSERT INTO b SELECT g, g FROM generate_series(1, 60000) g',
      'CREATE INDEX b_v ON b (v)',
      'DELETE FROM b WHERE id % 10 <> 0',
      'VACUUM ANALYZE b',
    ])
    const result = await audit(project, {
      checks: ['index_bloat', 'unused_index'],
      thresholds: { bloatMinBytes: 64 * 1024 },
    })
    const fixes = result.findings.filter((finding) => finding.subject === 'public.b_v').map((finding) => finding.fix)
    expect(fixes).toHaveLength(2)
    expect(fixes.filter(Boolean)).toEqual(['DROP INDEX CONCURRENTLY IF EXISTS "public"."b_v";'])
  })
})

describe('health sequences read by a role without access to every schema', () => {
  it('reads what it can instead of failing the check on a never-called sequence in a schema it cannot use', async () => {
    const project = await makeProject('postgres')
    const role = `dbops_seq_${Date.now()}`
    await exec(project, [
      `CREATE ROLE ${role} LOGIN`,
      'CREATE SCHEMA hidden',
      'CREATE SEQUENCE hidden.fresh',
      `GRANT SELECT ON SEQUENCE hidden.fresh TO ${role}`,
      'CREATE SEQUENCE public.used AS integer',
      "SELECT setval('public.used', 2147483000)",
      `GRANT SELECT ON SEQUENCE public.used TO ${role}`,
    ])
    try {
      const url = new URL(project.url)
      url.username = role
      const result = await health({ ...project, url: url.toString() }, { only: ['sequences'] })
      const finding = result.checks.find((entry) => entry.check === 'sequences')!
      expect(finding.severity).toBe('critical')
      expect(finding.message).toContain('public.used')
    } finally {
      await project.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`)
    }
  })
})

describe('health sequences that start inside their range', () => {
  it('counts from the start value, not from a MINVALUE the sequence never hands out', async () => {
    const { finding } = await sequences(`
      CREATE SEQUENCE signed AS integer MINVALUE -2147483648 START 1;
      SELECT setval('signed', 1000);`)
    expect(finding.severity).toBe('ok')
    expect(finding.values!.max_used_ratio).toBeLessThan(0.001)
  })
})
