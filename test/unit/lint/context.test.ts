// What the linter adds around the rules: suppression with a record, the runner's context, positions, output formats.
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { formatGithub, formatSarif } from '../../../src/lint/formats.js'
import { fixMigration } from '../../../src/lint/fix.js'
import { RULE_IDS } from '../../../src/lint/rules/index.js'
import { SQUAWK_RULES } from '../../../src/lint/suppress.js'
import { lintMigrations } from '../../../src/lint/lint.js'
import { lint, lintFiles, rules, writeProject } from './lint-helpers.js'

describe('suppression', () => {
  it('an ignore with a reason silences its rule on the next statement, and the reason is kept on record', async () => {
    const result = await lintFiles([
      '-- dbops:lint-ignore drop-column the app stopped reading it in v42\nALTER TABLE orders DROP COLUMN legacy;',
    ])
    expect(result.findings).toEqual([])
    expect(result.suppressed).toEqual([
      { rule: 'drop-column', file: 'migrations/1_m1.sql', line: 3, reason: 'the app stopped reading it in v42' },
    ])
    expect(result.summary.suppressed).toBe(1)
  })

  it('a trailing ignore on the statement line and several rules at once', async () => {
    const result = await lintFiles([
      'ALTER TABLE orders DROP COLUMN a; -- dbops:lint-ignore drop-column,unused-ignore reviewed\nDROP TABLE orders;',
    ])
    expect(rules(result.findings)).toEqual(['drop-table'])
  })

  it('an ignore only covers its own statement and its own rules', async () => {
    const findings = await lint(
      '-- dbops:lint-ignore drop-table reviewed\nALTER TABLE orders DROP COLUMN legacy;\nDROP TABLE orders;',
    )
    expect(rules(findings)).toEqual(['unused-ignore', 'drop-column', 'drop-table'])
    expect(findings[0]!.message).toContain('suppresses nothing')
  })

  it('an ignore without a reason suppresses nothing and is reported; an unknown rule is reported', async () => {
    expect(rules(await lint('-- dbops:lint-ignore drop-column\nALTER TABLE orders DROP COLUMN legacy;'))).toEqual([
      'ignore-without-reason',
      'drop-column',
    ])
    const [unknown] = await lint('-- dbops:lint-ignore no-such-rule because\nSELECT 1;')
    expect(unknown).toMatchObject({ rule: 'unused-ignore', line: 2 })
    expect(unknown!.message).toContain('unknown rule (no-such-rule)')
  })

  it('config turns a rule off, and unused-ignore itself can be switched off', async () => {
    expect(await lint('ALTER TABLE orders DROP COLUMN legacy;', { rules: { 'drop-column': 'off' } })).toEqual([])
    expect(await lint('-- dbops:lint-ignore drop-table x\nSELECT 1;', { rules: { 'unused-ignore': 'off' } })).toEqual(
      [],
    )
  })
})

describe("squawk's ignore comments (a team moving from squawk)", () => {
  it('squawk-ignore silences the dbops rule for the same hazard on its statement, on record', async () => {
    const result = await lintFiles([
      '-- squawk-ignore ban-drop-column\nALTER TABLE orders DROP COLUMN legacy;\nALTER TABLE orders DROP COLUMN other;',
    ])
    expect(result.findings.map((finding) => `${finding.rule}:${finding.line}`)).toEqual(['drop-column:4'])
    expect(result.suppressed).toEqual([
      { rule: 'drop-column', file: 'migrations/1_m1.sql', line: 3, reason: 'squawk-ignore ban-drop-column' },
    ])
  })

  it('block comments, several names, a trailing remark, and a comment inside the statement', async () => {
    const result = await lintFiles([
      [
        '/* squawk-ignore require-concurrent-index-creation, prefer-robust-stmts */',
        'CREATE INDEX a_idx ON orders (a);',
        'ALTER TABLE orders',
        '  -- squawk-ignore constraint-missing-not-valid -- rows are checked by the app',
        '  ADD CONSTRAINT c CHECK (a > 0);',
        'CREATE INDEX b_idx ON orders (b); -- squawk-ignore require-concurrent-index-creation',
      ].join('\n'),
    ])
    expect(result.findings).toEqual([])
    expect(result.suppressed.map((entry) => `${entry.rule}:${entry.line} ${entry.reason}`)).toEqual([
      'create-index-without-concurrently:3 squawk-ignore require-concurrent-index-creation, prefer-robust-stmts',
      'check-without-not-valid:4 squawk-ignore constraint-missing-not-valid: rows are checked by the app',
      'create-index-without-concurrently:7 squawk-ignore require-concurrent-index-creation',
    ])
  })

  it('squawk-ignore-file covers the whole file: its rules, or every rule without names', async () => {
    const named = await lintFiles([
      'ALTER TABLE t RENAME TO u;\n-- squawk-ignore-file renaming-table, renaming-column\nALTER TABLE u RENAME COLUMN a TO b;\nDROP TABLE v;',
    ])
    expect(rules(named.findings)).toEqual(['drop-table'])
    expect(named.suppressed.map((entry) => entry.rule)).toEqual(['rename-table', 'rename-column'])
    const all = await lintFiles(['-- squawk-ignore-file\nDROP TABLE v;\nCREATE INDEX i ON w (a);', 'DROP TABLE x;'])
    expect(all.findings.map((finding) => `${finding.rule} ${finding.file}`)).toEqual(['drop-table migrations/2_m2.sql'])
    expect(all.summary.suppressed).toBe(2)
  })

  it('squawk-ignore-file above the first section mark still covers the file (convoy writes it there)', async () => {
    const dir = writeProject({
      'migrations/1_a.sql':
        '-- squawk-ignore-file ban-drop-column\n-- migrate:up\nALTER TABLE t DROP COLUMN a;\nDROP TABLE u;\n-- migrate:down\n',
      'migrations/2_b.sql':
        '-- squawk-ignore-file ban-drop-column\n-- +migrate Up\nALTER TABLE t DROP COLUMN b;\n-- +migrate Down\n',
    })
    const result = await lintMigrations({ dir: path.join(dir, 'migrations') }, { cwd: dir })
    expect(rules(result.findings)).toEqual(['drop-table'])
    expect(result.suppressed).toEqual([
      { rule: 'drop-column', file: 'migrations/1_a.sql', line: 3, reason: 'squawk-ignore-file ban-drop-column' },
      { rule: 'drop-column', file: 'migrations/2_b.sql', line: 3, reason: 'squawk-ignore-file ban-drop-column' },
    ])
  })

  it('every squawk rule maps to dbops rules that exist', () => {
    const targets = Object.values(SQUAWK_RULES).flat()
    expect(targets.filter((id) => !RULE_IDS.has(id))).toEqual([])
    expect(new Set(targets).size).toBeGreaterThan(25)
  })

  it('a wrong rule, a bare line ignore, or an ignore for a rule dbops lacks silences nothing and is not reported', async () => {
    expect(rules(await lint('-- squawk-ignore ban-drop-table\nALTER TABLE orders DROP COLUMN legacy;'))).toEqual([
      'drop-column',
    ])
    expect(rules(await lint('-- squawk-ignore\nALTER TABLE orders DROP COLUMN legacy;'))).toEqual(['drop-column'])
    expect(rules(await lint('-- squawk-ignore require-timeout-settings\nSELECT 1;'))).toEqual([])
    // Not a squawk ignore: a longer word that starts the same.
    expect(rules(await lint('-- squawk-ignored ban-drop-column\nALTER TABLE orders DROP COLUMN legacy;'))).toEqual([
      'drop-column',
    ])
  })
})

describe('files named on the command line', () => {
  it('any .sql file is linted on its own, as squawk lints any file, a folder of migrations as its files; a missing one is a usage error', async () => {
    const dir = writeProject({
      'change.sql': 'CREATE TABLE t (id bigint);\nCREATE INDEX i ON orders (a);\n',
      'marked.sql': '-- migrate:up transaction:false\nDROP INDEX CONCURRENTLY i;\n',
      'sql/1_a.sql': '-- migrate:up\nCREATE INDEX i ON orders (a);\n',
      'sql/2_b.sql': '-- migrate:up\nDROP TABLE orders;\n',
      'empty/README': '',
    })
    const lintOf = (...files: string[]) => lintMigrations({ dir: path.join(dir, 'migrations') }, { cwd: dir, files })
    const result = await lintOf('change.sql')
    expect(result.files).toEqual(['change.sql'])
    expect(result.findings.map((finding) => `${finding.file}:${finding.line} ${finding.rule}`)).toEqual([
      'change.sql:2 create-index-without-concurrently',
    ])
    // Its own markers are read: outside a transaction, DROP INDEX CONCURRENTLY is no finding.
    expect((await lintOf('marked.sql')).findings).toEqual([])
    await expect(lintOf('nothere.sql')).rejects.toThrow('nothere.sql: no such file')
    // A folder of migrations (not the configured one): all of them, each once.
    const folder = await lintOf('sql', path.join('sql', '2_b.sql'))
    expect(folder.files).toEqual([path.join('sql', '1_a.sql'), path.join('sql', '2_b.sql')])
    expect(rules(folder.findings)).toEqual(['create-index-without-concurrently', 'drop-table'])
    await expect(lintOf('empty')).rejects.toThrow('empty: no migrations in this folder')
  })
})

describe("the runner's context", () => {
  it('no lock_timeout noise while dbops sets one; one warning per file when the file or config turns it off', async () => {
    const sql = 'CREATE INDEX i ON orders (a);\nCREATE INDEX j ON orders (b);'
    expect(rules(await lint(sql))).toEqual(['create-index-without-concurrently', 'create-index-without-concurrently'])
    expect(rules(await lint(sql, { directive: 'lock_timeout:0' }))).toEqual([
      'create-index-without-concurrently',
      'lock-timeout-off',
      'create-index-without-concurrently',
    ])
    expect(rules(await lint(sql, { lockTimeoutMs: 0 }))).toContain('lock-timeout-off')
    expect(rules(await lint('DROP TABLE x;', { lockTimeoutMs: 0 }))).toEqual(['drop-table'])
  })

  it('a golang-migrate file holding one non-transactional statement, or managing its own transactions, runs outside a transaction, as up runs it', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs')
    const os = await import('node:os')
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dbops-lint-golang-'))
    try {
      mkdirSync(path.join(dir, 'migrations'))
      writeFileSync(path.join(dir, 'migrations', '1_idx.up.sql'), 'CREATE INDEX CONCURRENTLY i ON orders (a);\n')
      writeFileSync(
        path.join(dir, 'migrations', '2_two.up.sql'),
        'CREATE TABLE x (id bigint);\nCREATE INDEX CONCURRENTLY i ON orders (a);\n',
      )
      // Manages its own transactions: golang-migrate and up run it unwrapped, so its BEGINs are no finding.
      writeFileSync(
        path.join(dir, 'migrations', '3_blocks.up.sql'),
        'BEGIN;\nCREATE TABLE IF NOT EXISTS y (id bigint);\nCOMMIT;\nBEGIN;\nCREATE TABLE IF NOT EXISTS z (id bigint);\nCOMMIT;\n',
      )
      const { lintMigrations } = await import('../../../src/lint/lint.js')
      const result = await lintMigrations({ dir: path.join(dir, 'migrations') }, { cwd: dir })
      expect(result.findings.map((finding) => `${finding.file}:${finding.line} ${finding.rule}`)).toEqual([
        'migrations/2_two.up.sql:2 non-transactional-statement',
      ])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('positions count from the file, past the directive, and the down section is not linted', async () => {
    const findings = await lint(
      '-- migrate:up\n\nSELECT 1;\n  DROP TABLE a;\nDROP TABLE b;\n-- migrate:down\nDROP TABLE c;\n',
    )
    expect(findings.map((finding) => `${finding.line}:${finding.column} ${finding.table}`)).toEqual(['4:3 a', '5:1 b'])
  })
})

describe("advice in the file's own format", () => {
  /** The `safe` advice of each finding when `text` is the only migration, written as `name`. */
  async function advice(name: string, text: string): Promise<Record<string, string>> {
    const { mkdtempSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs')
    const os = await import('node:os')
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dbops-lint-format-'))
    try {
      mkdirSync(path.join(dir, 'migrations'))
      writeFileSync(path.join(dir, 'migrations', name), text)
      const { lintMigrations } = await import('../../../src/lint/lint.js')
      const result = await lintMigrations({ dir: path.join(dir, 'migrations') }, { cwd: dir })
      return Object.fromEntries(result.findings.map((finding) => [finding.rule, finding.safe ?? '']))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  const sql = 'CREATE INDEX i ON orders (a);\nREINDEX INDEX CONCURRENTLY j;\n'

  it('says how a new migration runs outside a transaction in dbmate, goose, sqlx, Flyway and golang-migrate terms', async () => {
    const cases: [string, string, string][] = [
      ['1_a.sql', `-- migrate:up\n${sql}`, 'add transaction:false to the "-- migrate:up" line of the new file'],
      ['1_a.sql', `-- +goose Up\n${sql}`, 'add "-- +goose NO TRANSACTION" above "-- +goose Up" in the new file'],
      ['1_a.sql', sql, 'make "-- no-transaction" the first line of the new file, as sqlx reads it'],
      ['V1__a.sql', sql, 'add a <new file>.conf holding "executeInTransaction=false", as Flyway reads it'],
      ['1_a.up.sql', sql, 'make "-- migrate:up transaction:false" the first line of the new file'],
    ]
    for (const [name, text, words] of cases) {
      const safe = await advice(name, text)
      expect(safe['non-transactional-statement'], name).toBe(`-- in a migration of its own (${words})`)
      expect(safe['create-index-without-concurrently'], name).toBe(
        `-- in a migration of its own (${words}):\nCREATE INDEX CONCURRENTLY i ON orders (a);`,
      )
    }
  })

  it('tells a goose file with COMMIT in it how that file runs outside a transaction', async () => {
    const goose = await advice('1_a.sql', '-- +goose Up\nSELECT 1;\nCOMMIT;\nSELECT 2;\n')
    expect(goose['transaction-control']).toBe(
      `-- remove it, or manage transactions yourself: add "-- +goose NO TRANSACTION" above "-- +goose Up" in ${path.join('migrations', '1_a.sql')}`,
    )
  })
})

describe('output formats', () => {
  it('github: one workflow command per finding, with file, line, col and escaped text', async () => {
    const result = await lintFiles(['CREATE INDEX i ON orders (a);'])
    const text = formatGithub(result)
    expect(text).toMatch(
      /^::warning file=migrations\/1_m1\.sql,line=2,col=1,title=dbops create-index-without-concurrently::CREATE INDEX takes SHARE on orders/,
    )
    expect(text.split('\n')).toHaveLength(1)
    expect(text).toContain('%0ASafer:%0A')
  })

  it('sarif: a 2.1.0 log with the rule and a located result', async () => {
    const result = await lintFiles(['CREATE INDEX i ON orders (a);'])
    const log = formatSarif(result) as any
    expect(log.version).toBe('2.1.0')
    expect(log.runs[0].tool.driver.rules).toEqual([
      expect.objectContaining({ id: 'create-index-without-concurrently' }),
    ])
    expect(log.runs[0].results[0]).toMatchObject({
      ruleId: 'create-index-without-concurrently',
      level: 'warning',
      locations: [
        {
          physicalLocation: {
            artifactLocation: { uri: 'migrations/1_m1.sql' },
            region: { startLine: 2, startColumn: 1 },
          },
        },
      ],
    })
  })
})

describe('--fix', () => {
  it('refuses a Flyway file, saying how its own format runs the index build outside a transaction', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs')
    const os = await import('node:os')
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dbops-lint-fix-flyway-'))
    try {
      mkdirSync(path.join(dir, 'migrations'))
      writeFileSync(path.join(dir, 'migrations', 'V1__idx.sql'), 'CREATE INDEX orders_total_idx ON orders (total);\n')
      const error = await fixMigration(path.join(dir, 'migrations'), 'migrations/V1__idx.sql', 'postgres', dir).then(
        () => undefined,
        (error: Error & { hint?: string }) => error,
      )
      expect(error?.hint).toContain(
        'in a file of its own (add a <new file>.conf holding "executeInTransaction=false", as Flyway reads it)',
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('a mixed file: indexes and the VALIDATE move to a follow-up migration, the foreign key gets NOT VALID', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs')
    const os = await import('node:os')
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dbops-lint-fix-'))
    try {
      mkdirSync(path.join(dir, 'migrations'))
      writeFileSync(
        path.join(dir, 'migrations', '20240101000000_orders.sql'),
        '-- migrate:up\nALTER TABLE orders ADD COLUMN user_id bigint;\nCREATE INDEX orders_user_idx ON orders (user_id);\nALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);\n-- migrate:down\nALTER TABLE orders DROP COLUMN user_id;\n',
      )
      writeFileSync(
        path.join(dir, 'migrations', '20240102000000_only_index.sql'),
        '-- migrate:up\nCREATE INDEX orders_total_idx ON orders (total);\n-- migrate:down\nDROP INDEX orders_total_idx;\n',
      )
      const mixed = await fixMigration(
        path.join(dir, 'migrations'),
        'migrations/20240101000000_orders.sql',
        'postgres',
        dir,
      )
      expect(mixed.written).toEqual([
        'migrations/20240101000000_orders.sql',
        'migrations/20240101000001_orders_follow_up.sql',
      ])
      expect(readFileSync(path.join(dir, 'migrations', '20240101000000_orders.sql'), 'utf8')).toBe(
        '-- migrate:up\nALTER TABLE orders ADD COLUMN user_id bigint;\n\nALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;\n-- migrate:down\nALTER TABLE orders DROP COLUMN user_id;\n',
      )
      const followUp = readFileSync(path.join(dir, 'migrations', '20240101000001_orders_follow_up.sql'), 'utf8')
      expect(followUp).toMatch(/^-- migrate:up transaction:false\n/)
      expect(followUp).toContain(
        'CREATE INDEX CONCURRENTLY orders_user_idx ON orders (user_id);\nALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk;',
      )
      const only = await fixMigration(
        path.join(dir, 'migrations'),
        'migrations/20240102000000_only_index.sql',
        'postgres',
        dir,
      )
      expect(only.written).toEqual(['migrations/20240102000000_only_index.sql'])
      expect(readFileSync(path.join(dir, 'migrations', '20240102000000_only_index.sql'), 'utf8')).toMatch(
        /^-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY orders_total_idx ON orders \(total\);\n/,
      )
      // What --fix wrote lints without the hazards it fixed.
      const { lintMigrations } = await import('../../../src/lint/lint.js')
      const after = await lintMigrations({ dir: path.join(dir, 'migrations') }, { cwd: dir })
      expect(rules(after.findings).filter((rule) => !rule.startsWith('prefer-'))).toEqual([])
      expect(readdirSync(path.join(dir, 'migrations'))).toHaveLength(3)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('quotes mixed-case names in the VALIDATE it writes (hatchet-dev/hatchet names its tables "Step", "Action")', async () => {
    const dir = writeProject({
      'migrations/20240101000000_step.sql':
        '-- migrate:up\nALTER TABLE app."Step" ADD CONSTRAINT "Step_actionId_fkey" FOREIGN KEY ("actionId") REFERENCES "Action" (id);\nALTER TABLE step ADD CONSTRAINT step_fk FOREIGN KEY (a) REFERENCES b (id);\n-- migrate:down\n',
    })
    await fixMigration(path.join(dir, 'migrations'), 'migrations/20240101000000_step.sql', 'postgres', dir)
    const followUp = readFileSync(path.join(dir, 'migrations', '20240101000001_step_follow_up.sql'), 'utf8')
    expect(followUp).toContain(
      'ALTER TABLE app."Step" VALIDATE CONSTRAINT "Step_actionId_fkey";\nALTER TABLE step VALIDATE CONSTRAINT step_fk;',
    )
  })
})

describe('the library', () => {
  it('lintMigrations is exported and returns what --json prints, for a target as for files', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs')
    const os = await import('node:os')
    const library = await import('../../../src/index.js')
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dbops-lint-library-'))
    try {
      mkdirSync(path.join(dir, 'migrations'))
      writeFileSync(
        path.join(dir, 'migrations', '1_a.sql'),
        '-- migrate:up\nCREATE TABLE a (id integer PRIMARY KEY);\n-- migrate:down\n',
      )
      writeFileSync(
        path.join(dir, 'migrations', '2_b.sql'),
        '-- migrate:up\nALTER TABLE a RENAME TO b;\n-- migrate:down\n',
      )
      const target = await library.openTarget({ url: `sqlite:${path.join(dir, 'app.db')}`, cwd: dir, create: false })
      try {
        const pending = await library.lintMigrations(target, { cwd: dir })
        expect(pending).toMatchObject({
          target: 'default',
          mode: 'pending',
          engine: 'sqlite',
          files: ['migrations/1_a.sql', 'migrations/2_b.sql'],
          findings: [],
        })
        const offline = await library.lintMigrations(target, { cwd: dir, offline: true })
        expect(offline.findings.map((finding) => finding.rule)).toEqual(['rename-table'])
      } finally {
        await target.close()
      }
      const { existsSync } = await import('node:fs')
      expect(existsSync(path.join(dir, 'app.db'))).toBe(false)
      const files = await library.lintMigrations(
        { dir: path.join(dir, 'migrations'), files: ['migrations/2_b.sql'], engine: 'sqlite' },
        { cwd: dir },
      )
      expect(files.files).toEqual(['migrations/2_b.sql'])
      expect(library.lintRules().map((rule) => rule.id)).toContain('create-index-without-concurrently')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('what migrate up lints', () => {
  it('with only the rules up runs, a section of new tables and their indexes is skipped, and anything else is not', async () => {
    const gate = {
      minSeverity: 'warn' as const,
      rules: {
        'non-transactional-statement': 'off' as const,
        'transaction-control': 'off' as const,
        'syntax-error': 'off' as const,
        'unused-ignore': 'off' as const,
      },
    }
    // Skipped (nothing to find), yet what it creates is new for the files after it... statically each file is alone,
    // so the index on t in the second file is still reported.
    const result = await lintFiles(
      [
        'CREATE TABLE t (id int PRIMARY KEY);\nCREATE INDEX t_id ON t (id);\nINSERT INTO t VALUES (1);',
        'CREATE INDEX t_n ON t (n);',
      ],
      gate,
    )
    expect(result.findings.map((finding) => `${finding.file} ${finding.rule}`)).toEqual([
      'migrations/2_m2.sql create-index-without-concurrently',
    ])
    expect(result.statements).toBe(1)
    // An index on a table this section does not create, an alarm word, a quoted name: looked at.
    expect(rules((await lintFiles(['CREATE TABLE t (id int);\nCREATE INDEX u_id ON u (id);'], gate)).findings)).toEqual(
      ['create-index-without-concurrently'],
    )
    expect(
      rules(
        (await lintFiles(['CREATE TABLE "T" (id int);\nCREATE INDEX t_id ON "T" (id);\nDROP TABLE x;'], gate)).findings,
      ),
    ).toEqual(['drop-table'])
    expect(rules((await lintFiles(['CREATE TABLE t (id int);\nUPDATE u SET a = 1;'], gate)).findings)).toEqual([
      'update-without-where',
    ])
  })
  it('each section is asked of every rule until one may find something, whichever said yes before', async () => {
    const gate = {
      minSeverity: 'warn' as const,
      rules: { 'non-transactional-statement': 'off' as const, 'transaction-control': 'off' as const },
    }
    // The rule that said yes for a section is asked first for the next: a section only another rule flags, one none
    // does and one with just an ignore comment are still told apart.
    const result = await lintFiles(
      [
        'DROP TABLE a;',
        'DROP TABLE b;',
        'UPDATE c SET x = 1;',
        'CREATE TABLE d (id int);',
        'DROP TABLE e;',
        '-- dbops:lint-ignore rename-table it was renamed\nSELECT 1;',
        'ALTER TABLE f DROP COLUMN g;',
      ],
      gate,
    )
    expect(result.findings.map((finding) => `${finding.file} ${finding.rule}`)).toEqual([
      'migrations/1_m1.sql drop-table',
      'migrations/2_m2.sql drop-table',
      'migrations/3_m3.sql update-without-where',
      'migrations/5_m5.sql drop-table',
      'migrations/6_m6.sql unused-ignore',
      'migrations/7_m7.sql drop-column',
    ])
    expect(result.statements).toBe(6)
  })
  it("on SQLite, a section with none of the rules' words is skipped after one scan, and any of them, in any case, is looked at", async () => {
    const gate = {
      engine: 'sqlite' as const,
      minSeverity: 'warn' as const,
      rules: { 'non-transactional-statement': 'off' as const, 'transaction-control': 'off' as const },
    }
    const plain = await lintFiles(
      ['CREATE TABLE t (id int);\nCREATE INDEX t_id ON t (id);\nINSERT INTO t VALUES (1);'],
      gate,
    )
    expect(plain.findings).toEqual([])
    expect(plain.statements).toBe(0)
    const cases: [string, string][] = [
      ['Alter Table orders Drop Column legacy;', 'drop-column'],
      ['alter table orders rename to purchases;', 'rename-table'],
      ['ALTER TABLE orders ALTER COLUMN a TYPE text;', 'sqlite-unsupported-alter'],
      ['Drop Table orders;', 'drop-table'],
      ["Update orders SET a = 'x';", 'update-without-where'],
      ['delete FROM orders;', 'delete-without-where'],
    ]
    for (const [sql, rule] of cases) expect(rules((await lintFiles([sql], gate)).findings)).toContain(rule)
    // An ignore comment is always looked at, even in a section no rule has a word for (the ignores name none).
    const ignores = await lintFiles(
      [
        '-- dbops:lint-ignore prefer-text\nCREATE TABLE t (id int);',
        '-- dbops:lint-ignore no-such-rule old\nSELECT 1;',
      ],
      gate,
    )
    expect(ignores.findings.map((finding) => `${finding.file} ${finding.rule}`)).toEqual([
      'migrations/1_m1.sql ignore-without-reason',
      'migrations/2_m2.sql unused-ignore',
    ])
  })
})

describe('DO blocks', () => {
  // A DO block runs its static SQL during the migration, with the same locks as if it were written out.
  it('the static SQL of a PL/pgSQL DO block is linted where it is written, even inside IF and loops', async () => {
    const findings = await lint(
      [
        'DO $$',
        'DECLARE n int;',
        'BEGIN',
        '  SELECT count(*) INTO n FROM orders;',
        '  IF n > 0 THEN',
        '      ALTER TABLE orders ADD COLUMN ref uuid NOT NULL DEFAULT gen_random_uuid();',
        '  END IF;',
        '  FOR i IN 1..2 LOOP UPDATE orders SET n = i; END LOOP;',
        'END $$;',
      ].join('\n'),
    )
    expect(findings.map((f) => [f.rule, f.line, f.column])).toEqual([
      ['add-column-rewrite', 7, 7],
      ['update-without-where', 9, 22],
    ])
  })

  it('DO LANGUAGE plpgsql, a quoted body, and an ignore above the block', async () => {
    expect(
      rules(
        await lint(
          "DO LANGUAGE plpgsql 'BEGIN CREATE INDEX i ON orders (note); UPDATE t SET a = ''x'' WHERE id = 1; END';",
        ),
      ),
    ).toEqual(['create-index-without-concurrently'])
    const result = await lintFiles([
      '-- dbops:lint-ignore create-index-without-concurrently orders is tiny\nDO $$ BEGIN CREATE INDEX i ON orders (a); END $$;',
    ])
    expect(result.findings).toEqual([])
    expect(rules(result.suppressed as never)).toEqual(['create-index-without-concurrently'])
  })

  it('stays quiet for tables the block creates, dynamic SQL, other languages and function bodies', async () => {
    for (const sql of [
      'DO $$ BEGIN CREATE TABLE t (a int); CREATE INDEX i ON t (a); END $$;',
      "DO $$ BEGIN EXECUTE 'CREATE INDEX i ON orders (a)'; END $$;",
      "DO LANGUAGE plv8 $$ plv8.execute('CREATE INDEX i ON orders (a)') $$;",
      'CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN CREATE INDEX i ON orders (a); END $$;',
      'DO $$ BEGIN UPDATE orders SET a = 1 WHERE id = 2; END $$;',
    ])
      expect(await lint(sql), sql).toEqual([])
  })
})
