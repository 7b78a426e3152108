// `dbops audit` as CI runs it: exit codes per --fail-on, the --json document, a committed baseline (accepted, new,
// stale), and --fix writing a migration that validates, applies with `dbops migrate up` and rolls back.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli, type CliResult } from '../helpers/databases.js'
import { makeProject, type EngineName, type Project } from '../helpers/projects.js'

const audit = (project: Project, ...args: string[]): Promise<CliResult> =>
  runCli(['--url', project.url, 'audit', ...args], { cwd: project.dir })

function json(result: CliResult): any {
  return JSON.parse(result.stdout)
}

async function exec(project: Project, statements: string[]): Promise<void> {
  for (const statement of statements) await project.query(statement)
}

describe.each(['postgres', 'sqlite'] as EngineName[])('dbops audit on %s', (engine) => {
  it('exits 0 when clean, 1 on warnings, honours --fail-on, and prints one JSON document', async () => {
    const project = await makeProject(engine)
    await exec(project, [
      'CREATE TABLE p (id int PRIMARY KEY)',
      'CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p (id))',
      'CREATE INDEX c_p ON c (p_id)',
    ])
    const clean = await audit(project)
    expect(clean.stderr).not.toMatch(/error/)
    expect(clean.code).toBe(0)
    expect(clean.stdout).toMatch(/no new findings/)

    await exec(project, ['CREATE INDEX c_p_again ON c (p_id)'])
    const warned = await audit(project)
    expect(warned.code).toBe(1)
    expect(warned.stdout).toMatch(/duplicate_index\s+\S*c_p_again/)
    expect((await audit(project, '--fail-on', 'critical')).code).toBe(0)
    expect((await audit(project, '--fail-on', 'never')).code).toBe(0)

    const document = json(await audit(project, '--json'))
    expect(document).toMatchObject({
      ok: false,
      target: 'default',
      engine,
      accepted: [],
      stale: [],
      summary: { critical: 0, warn: 1 },
    })
    expect(document.findings).toEqual([
      expect.objectContaining({
        check: 'duplicate_index',
        severity: 'warn',
        subject: expect.stringContaining('c_p_again'),
        message: expect.any(String),
        fix: expect.stringMatching(/^DROP INDEX .*"c_p_again";$/),
      }),
    ])
    expect(document.queries).toBeGreaterThan(0)
  })

  it('fails only on findings not in the baseline, and reports stale entries', async () => {
    const project = await makeProject(engine)
    await exec(project, [
      'CREATE TABLE t (id int PRIMARY KEY, a int, b int)',
      'CREATE INDEX t_a ON t (a)',
      'CREATE INDEX t_a_b ON t (a, b)',
      'CREATE TABLE "Log Lines" (msg text)',
    ])
    const baseline = path.join(project.dir, 'audit-baseline.json')
    const written = await audit(project, '--write-baseline', baseline)
    expect(written.code).toBe(0)
    const file = JSON.parse(readFileSync(baseline, 'utf8'))
    expect(file.accepted.map((entry: any) => entry.check).sort()).toEqual(['redundant_index', 'table_without_pk'])
    expect(file.accepted.every((entry: any) => entry.reason.startsWith('TODO') && entry.target === 'default')).toBe(
      true,
    )
    // A reviewer writes the reason; writing the baseline again keeps it.
    file.accepted[0].reason = 'kept on purpose'
    writeFileSync(baseline, JSON.stringify(file))
    expect((await audit(project, '--write-baseline', baseline)).code).toBe(0)
    expect(JSON.parse(readFileSync(baseline, 'utf8')).accepted[0].reason).toBe('kept on purpose')

    const accepted = await audit(project, '--baseline', baseline)
    expect(accepted.code).toBe(0)
    expect(accepted.stdout).toMatch(/accepted: /)

    await exec(project, ['CREATE INDEX t_b ON t (b)', 'CREATE INDEX t_b_again ON t (b)', 'DROP INDEX t_a'])
    const result = await audit(project, '--baseline', baseline, '--json')
    expect(result.code).toBe(1)
    const document = json(result)
    expect(document.findings.map((finding: any) => finding.check)).toEqual(['duplicate_index'])
    expect(document.accepted.map((finding: any) => finding.check)).toEqual(['table_without_pk'])
    expect(document.stale.map((entry: any) => entry.check)).toEqual(['redundant_index'])
  })

  it('refuses bad input with one error line and exit 3', async () => {
    const project = await makeProject(engine)
    const unknown = await audit(project, '--checks', 'duplicate_index,nonsense')
    expect(unknown.code).toBe(3)
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1)
    expect(unknown.stderr).toMatch(/^error: unknown check "nonsense" \(hint: known checks: /)
    const missing = await audit(project, '--baseline', 'nope.json')
    expect(missing.code).toBe(3)
    expect(missing.stderr).toMatch(/baseline file nope.json does not exist .*--write-baseline/)
    expect((await audit(project, '--fail-on', 'sometimes')).code).toBe(3)
  })
})

describe('dbops audit --fix on postgres', () => {
  it('writes a migration that validates, applies with migrate up, clears the findings and rolls back', async () => {
    const project = await makeProject('postgres')
    await exec(project, [
      'CREATE TABLE "Parent" (id int PRIMARY KEY)',
      'CREATE TABLE kid (id int PRIMARY KEY, "Parent Id" int, v int)',
      'ALTER TABLE kid ADD CONSTRAINT kid_parent FOREIGN KEY ("Parent Id") REFERENCES "Parent" (id) NOT VALID',
      'CREATE INDEX kid_v ON kid (v)',
      'CREATE INDEX "kid v copy" ON kid (v)',
      'CREATE UNIQUE INDEX CONCURRENTLY kid_v_uq ON kid (v)',
    ])
    const before = json(await audit(project, '--json'))
    // kid_v_uq is kept (unique); both plain copies go.
    expect(before.findings.map((finding: any) => `${finding.check} ${finding.subject}`).sort()).toEqual([
      'duplicate_index public."kid v copy"',
      'duplicate_index public.kid_v',
      'fk_without_index public.kid.kid_parent',
      'not_valid_constraint public.kid.kid_parent',
    ])

    const fixed = await audit(project, '--fix', 'audit fixes')
    expect(fixed.code).toBe(1)
    const [file] = readdirSync(path.join(project.dir, 'migrations'))
    expect(file).toMatch(/^\d{14}_audit_fixes\.sql$/)
    const text = readFileSync(path.join(project.dir, 'migrations', file!), 'utf8')
    expect(text).toMatch(/^-- migrate:up transaction:false\n/)
    expect(text).toContain('DROP INDEX CONCURRENTLY IF EXISTS "public"."kid v copy";')
    expect(text).toContain(
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS "kid_Parent Id_idx" ON "public"."kid" ("Parent Id");',
    )
    expect(text).toContain('ALTER TABLE "public"."kid" VALIDATE CONSTRAINT "kid_parent";')
    expect(text).toMatch(/-- migrate:down transaction:false\n/)

    const cli = (...args: string[]) => runCli(['--url', project.url, ...args], { cwd: project.dir })
    const validate = await cli('migrate', 'validate')
    expect(validate.stderr).toBe('')
    expect(validate.code).toBe(0)
    const up = await cli('migrate', 'up')
    expect(up.code, up.stderr).toBe(0)
    expect((await audit(project)).code).toBe(0)

    const down = await cli('migrate', 'down')
    expect(down.code, down.stderr).toBe(0)
    const after = json(await audit(project, '--json'))
    // The down section recreates the dropped indexes and drops the new one; a validation stays done.
    expect(after.findings.map((finding: any) => finding.check).sort()).toEqual([
      'duplicate_index',
      'duplicate_index',
      'fk_without_index',
    ])
    expect(existsSync(path.join(project.dir, 'migrations', file!))).toBe(true)
  })
})
