import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it, onTestFinished } from 'vitest'
import { indexName } from '../../../src/audit/names.js'
import { displayIdentifier, quoteQualified } from '../../../src/sql/query.js'
import { parseIndexSql } from '../../../src/backends/sqlite/sqlite-introspect.js'
import { expectedBtreeBytes } from '../../../src/backends/postgres/postgres-introspect.js'
import { readBaseline, writeBaseline } from '../../../src/audit/baseline.js'
import { writeFixMigration } from '../../../src/audit/fix-migration.js'
import { auditExitCode } from '../../../src/audit/exit-code.js'
import { duplicateIndex } from '../../../src/audit/rules/duplicate-index.js'
import { redundantIndex } from '../../../src/audit/rules/redundant-index.js'
import { unusedIndex } from '../../../src/audit/rules/unused-index.js'
import { DEFAULT_AUDIT_THRESHOLDS, type RuleContext } from '../../../src/audit/rule.js'
import type { IndexInfo, IndexKey, SchemaSnapshot } from '../../../src/audit/snapshot.js'
import type { FixDialect } from '../../../src/audit/auditor.js'
import { readMigrations } from '../../../src/migrate/files.js'
import { prepareSection } from '../../../src/migrate/prepare.js'

describe('identifier quoting and new index names', () => {
  it('quotes always in SQL and only where needed for display', () => {
    expect(quoteQualified('my "schema"', 'Tab')).toBe('"my ""schema"""."Tab"')
    expect(displayIdentifier('plain_name1')).toBe('plain_name1')
    expect(displayIdentifier('Mixed')).toBe('"Mixed"')
    expect(displayIdentifier('ü')).toBe('"ü"')
  })

  it('keeps new index names within the byte limit, unique, and never cut inside a character', () => {
    const long = 'ü'.repeat(40)
    const name = indexName(long, ['parent_id'], new Set(), 63)
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(63)
    expect(name).toMatch(/^ü+_[0-9a-f]{8}$/)
    const taken = new Set(['t_a_idx'])
    expect(indexName('t', ['a'], taken, 63)).toBe('t_a_idx1')
    expect(indexName(long, ['a'], new Set(), 63)).not.toBe(indexName(long, ['b'], new Set(), 63))
  })
})

describe('SQLite index SQL parsing', () => {
  it('finds the key terms and the WHERE clause, ignoring parentheses and commas inside quotes', () => {
    expect(
      parseIndexSql('CREATE INDEX "a(b" ON "t,(x" (lower(name), "we(ird", b DESC) WHERE b > 0 AND "c)" IS NULL'),
    ).toEqual({
      terms: ['lower(name)', ' "we(ird"', ' b DESC'],
      predicate: 'b > 0 and "c)" is null',
    })
    expect(parseIndexSql('CREATE INDEX i ON t (a)')).toEqual({ terms: ['a'], predicate: null })
    expect(parseIndexSql(null)).toEqual({ terms: [], predicate: null })
  })
})

describe('b-tree size estimate', () => {
  it('matches the page layout of a fresh int4 index', () => {
    // 100,000 int4 keys: 20 bytes each with the line pointer, ~366 per 90%-full leaf page → ~274 leaves.
    const bytes = expectedBtreeBytes(100_000, 4, 8192, 90)
    expect(bytes / 8192).toBeGreaterThan(270)
    expect(bytes / 8192).toBeLessThan(285)
    expect(expectedBtreeBytes(0, 4, 8192, 90)).toBe(3 * 8192)
  })
})

describe('baseline files', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dbops-baseline-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('refuses a missing, broken or malformed file with a usage error naming it', () => {
    expect(() => readBaseline(path.join(dir, 'none.json'))).toThrow(/does not exist/)
    writeFileSync(path.join(dir, 'bad.json'), '{')
    expect(() => readBaseline(path.join(dir, 'bad.json'))).toThrow(/not valid JSON/)
    writeFileSync(path.join(dir, 'shape.json'), JSON.stringify({ accepted: [{ check: 'x' }] }))
    expect(() => readBaseline(path.join(dir, 'shape.json'))).toThrow(
      /accepted\[0\]\.subject must be a non-empty string/,
    )
  })

  it("replaces one target's entries, keeps other targets and written reasons, and serialises concurrent writes", async () => {
    const file = path.join(dir, 'b.json')
    writeFileSync(
      file,
      JSON.stringify({
        version: 1,
        accepted: [
          { target: 'other', check: 'c', subject: 's', reason: 'theirs' },
          { target: 'mine', check: 'a', subject: 'x', reason: 'because' },
        ],
      }),
    )
    await Promise.all([
      writeBaseline(file, 'mine', [
        { check: 'a', subject: 'x', severity: 'warn', message: '' },
        { check: 'b', subject: 'y', severity: 'warn', message: '' },
      ]),
      writeBaseline(file, 'third', [{ check: 'z', subject: 'q', severity: 'warn', message: '' }]),
    ])
    const written = JSON.parse(readFileSync(file, 'utf8'))
    expect(written.accepted.map((entry: any) => `${entry.target} ${entry.check} ${entry.reason}`).sort()).toEqual([
      'mine a because',
      'mine b TODO: say why this finding is accepted',
      'other c theirs',
      'third z TODO: say why this finding is accepted',
    ])
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([])
    // With --checks, entries of the checks that did not run are kept.
    await writeBaseline(file, 'mine', [], ['b'])
    expect(
      JSON.parse(readFileSync(file, 'utf8'))
        .accepted.filter((entry: any) => entry.target === 'mine')
        .map((entry: any) => entry.check),
    ).toEqual(['a'])
  })
})

describe('fix migrations', () => {
  it('runs outside a transaction when a fix is CONCURRENTLY, reverses undos, and keeps names with line breaks inside comments', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dbops-fix-'))
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
    const evil = 'x\rDROP TABLE users; --'
    const written = writeFixMigration(
      dir,
      'fixes',
      [
        {
          check: 'duplicate_index',
          severity: 'warn',
          subject: `public."${evil}"`,
          message: `index ${evil} duplicates`,
          fix: 'DROP INDEX CONCURRENTLY IF EXISTS "public"."a";',
          detail: { undo: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "a" ON "public"."t" USING btree (a);' },
        },
        {
          check: 'fk_without_index',
          severity: 'warn',
          subject: 'public.t.fk',
          message: 'fk',
          fix: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "b" ON "public"."t" ("b");',
          detail: { undo: 'DROP INDEX CONCURRENTLY IF EXISTS "public"."b";' },
        },
        { check: 'table_without_pk', severity: 'warn', subject: 'public.t', message: 'no pk' },
      ],
      'header',
    )!
    expect(written.statements).toBe(2)
    const [migration] = readMigrations(dir).migrations
    const up = prepareSection(migration!, 'up', 'postgres')
    expect(up.transactional).toBe(false)
    expect(up.statements.map((statement) => statement.text)).toEqual([
      expect.stringMatching(/DROP INDEX CONCURRENTLY IF EXISTS "public"\."a"$/),
      expect.stringMatching(/CREATE INDEX CONCURRENTLY IF NOT EXISTS "b" ON "public"\."t" \("b"\)$/),
    ])
    expect(up.statements.some((statement) => /^\s*DROP TABLE/m.test(statement.text))).toBe(false)
    const down = prepareSection(migration!, 'down', 'postgres')
    expect(down.statements.map((statement) => statement.text.trim())).toEqual([
      'DROP INDEX CONCURRENTLY IF EXISTS "public"."b"',
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS "a" ON "public"."t" USING btree (a)',
    ])
    expect(
      writeFixMigration(dir, 'none', [{ check: 'table_without_pk', severity: 'warn', subject: 't', message: '' }], 'h'),
    ).toBeUndefined()
  })
})

describe('exit codes', () => {
  it('follow --fail-on', () => {
    const warn = { findings: [{ severity: 'warn' as const }] }
    const critical = { findings: [{ severity: 'warn' as const }, { severity: 'critical' as const }] }
    expect(auditExitCode({ findings: [] })).toBe(0)
    expect(auditExitCode(warn)).toBe(1)
    expect(auditExitCode(critical)).toBe(2)
    expect(auditExitCode(warn, 'critical')).toBe(0)
    expect(auditExitCode(critical, 'critical')).toBe(2)
    expect(auditExitCode(critical, 'never')).toBe(0)
  })
})

describe('index rules over a hand-built snapshot', () => {
  const key = (text: string, extra: Partial<IndexKey> = {}): IndexKey => ({
    text,
    expression: false,
    descending: false,
    nullsFirst: false,
    collation: '100',
    opclass: '1978',
    column: text.charCodeAt(0),
    ...extra,
  })
  const index = (name: string, keys: IndexKey[], extra: Partial<IndexInfo> = {}): IndexInfo => ({
    schema: 'public',
    table: 't',
    name,
    method: 'btree',
    unique: false,
    primary: false,
    keys,
    include: [],
    predicate: null,
    valid: true,
    building: false,
    backs: [],
    scans: 0,
    bytes: 8192,
    definition: '',
    partitioned: false,
    attached: false,
    replicaIdentity: false,
    exclusion: false,
    ...extra,
  })
  const dialect: FixDialect = {
    subject: (schema, name) => `${schema}.${name}`,
    dropIndex: (i) => ({ up: `DROP ${i.name}` }),
    rebuildIndex: (i) => ({ up: `REINDEX ${i.name}` }),
    createIndex: (_t, columns, name) => ({ up: `CREATE ${name} ${columns}` }),
    validateConstraint: (c) => ({ up: `VALIDATE ${c.name}` }),
    analyze: () => ({ up: 'ANALYZE' }),
    maxIdentifierBytes: 63,
  }
  const context = (indexes: IndexInfo[], extra: Partial<SchemaSnapshot> = {}): RuleContext & { skipped: string[] } => {
    const skipped: string[] = []
    return {
      snapshot: {
        engine: 'postgres',
        tables: [],
        indexes,
        foreignKeys: [],
        unvalidated: [],
        statisticsSince: '2020-01-01T00:00:00.000Z',
        statisticsSource: 'test',
        statisticsAgeSeconds: 30 * 86400,
        bloat: { estimates: [], skipped: [] },
        queries: 0,
        ...extra,
      },
      dialect,
      thresholds: DEFAULT_AUDIT_THRESHOLDS,
      skip: (reason) => skipped.push(reason),
      skipped,
    }
  }

  it('duplicates need the same direction, nulls order, opclass, collation, predicate and INCLUDE list', () => {
    const indexes = [
      index('ab', [key('a'), key('b')]),
      index('ab_copy', [key('a'), key('b')]),
      index('a_desc_b', [key('a', { descending: true }), key('b')]),
      index('ab_nulls', [key('a', { nullsFirst: true }), key('b')]),
      index('ab_ops', [key('a', { opclass: '3128' }), key('b')]),
      index('ab_c', [key('a', { collation: '950' }), key('b')]),
      index('ab_partial', [key('a'), key('b')], { predicate: 'a > 0' }),
      index('ab_incl', [key('a'), key('b')], { include: ['c'] }),
      index('ab_hash', [key('a'), key('b')], { method: 'hash' }),
      index('ab_invalid', [key('a'), key('b')], { valid: false }),
    ]
    expect(duplicateIndex.run(context(indexes)).map((finding) => finding.subject)).toEqual(['public.ab_copy'])
  })

  it('a unique index is never redundant, an INCLUDE must be covered, and only b-trees have left prefixes', () => {
    const indexes = [
      index('wide', [key('a'), key('b')]),
      index('a_unique', [key('a')], { unique: true }),
      index('a_plain', [key('a')]),
      index('a_incl_z', [key('a')], { include: ['z'] }),
      index('a_incl_b', [key('a')], { include: ['b'] }),
      index('g', [key('a')], { method: 'gin' }),
    ]
    expect(
      redundantIndex
        .run(context(indexes))
        .map((finding) => finding.subject)
        .sort(),
    ).toEqual(['public.a_incl_b', 'public.a_plain'])
  })

  it('unused: skipped with a reason while statistics are young; keeps the only index of a foreign key', () => {
    const fkIndex = index('fk_only', [key('p')])
    const plain = index('plain', [key('v')])
    const young = context([fkIndex, plain], { statisticsAgeSeconds: 3600 })
    expect(unusedIndex.run(young)).toEqual([])
    expect(young.skipped[0]).toMatch(/only 1h old .* not judged before 7d/)
    const old = context([fkIndex, plain], {
      foreignKeys: [
        {
          schema: 'public',
          table: 't',
          name: 'fk',
          columns: ['p'],
          columnNumbers: ['p'.charCodeAt(0)],
          refSchema: 'public',
          refTable: 'p',
          refColumns: ['id'],
        },
      ],
    })
    expect(unusedIndex.run(old).map((finding) => finding.subject)).toEqual(['public.plain'])
    expect(
      unusedIndex.run(context([index('used', [key('v')], { scans: 3 }), index('uq', [key('w')], { unique: true })])),
    ).toEqual([])
  })
})
