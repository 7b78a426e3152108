// What the CLI prints for the trial's cases (issue 10 §1): `audit` suggests one DROP per index and never every twin;
// `health --format nagios` never says 100% of a sequence with values left.
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from '../helpers/databases.js'
import { makeProject } from '../helpers/projects.js'

describe('dbops audit fixes', () => {
  it('lists each DROP once and keeps one of a set of unused twins, in the output and in the --fix migration', async () => {
    const project = await makeProject('postgres')
    for (const statement of [
      'CREATE TABLE t (a int, b int)',
      'CREATE INDEX t_a_1 ON t (a)',
      'CREATE INDEX t_a_2 ON t (a)',
      'CREATE INDEX t_a_3 ON t (a)',
    ])
      await project.query(statement)
    const cli = (...args: string[]) => runCli(['--url', project.url, ...args], { cwd: project.dir })
    const report = await cli('audit', '--min-stats-age', '0')
    expect(report.code).toBe(1)
    const drops = report.stdout.split('\n').filter((line) => /^\s+DROP INDEX/.test(line))
    expect(drops.length).toBeGreaterThan(0)
    expect(new Set(drops).size).toBe(drops.length)
    const dropped = ['t_a_1', 't_a_2', 't_a_3'].filter((name) => drops.some((line) => line.includes(`"${name}"`)))
    expect(dropped).toEqual(['t_a_2', 't_a_3'])

    expect((await cli('audit', '--min-stats-age', '0', '--fix', 'tidy')).code).toBe(1)
    const file = readdirSync(path.join(project.dir, 'migrations')).find((name) => name.endsWith('_tidy.sql'))!
    const up = readFileSync(path.join(project.dir, 'migrations', file), 'utf8').split('-- migrate:down')[0]!
    const statements = up.split('\n').filter((line) => line.startsWith('DROP INDEX'))
    expect(statements.sort()).toEqual([
      'DROP INDEX CONCURRENTLY IF EXISTS "public"."t_a_2";',
      'DROP INDEX CONCURRENTLY IF EXISTS "public"."t_a_3";',
    ])
  })
})

describe('dbops health --format nagios', () => {
  it('prints a sequence with one value left below 100%, and an exhausted one at 100%', async () => {
    const project = await makeProject('postgres')
    await project.query("CREATE SEQUENCE nearly MAXVALUE 100000000; SELECT setval('nearly', 99999999)")
    const cli = (...args: string[]) => runCli(['--url', project.url, ...args], { cwd: project.dir })
    const nearly = await cli('health', '--only', 'sequences', '--format', 'nagios')
    expect(nearly.code).toBe(2)
    expect(nearly.stdout).not.toMatch(/100(\.0+)?%/)
    expect(nearly.stdout).toMatch(/sequences=99\.9999\d*%/)
    await project.query("SELECT setval('nearly', 100000000)")
    const spent = await cli('health', '--only', 'sequences', '--format', 'nagios')
    expect(spent.stdout).toContain('sequences=100%')
  })
})
