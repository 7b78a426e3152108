// Lints SQL written into a throwaway migrations folder, statically (no database).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll } from 'vitest'
import { lintMigrations, type LintOptions } from '../../../src/lint/lint.js'
import type { LintFinding, LintResult } from '../../../src/lint/types.js'
import { tempDir, tempTree } from '../../helpers/databases.js'

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

export interface LintCase {
  engine?: 'postgres' | 'sqlite'
  /** Directive options after "-- migrate:up", e.g. "transaction:false". */
  directive?: string
  lockTimeoutMs?: number
}

/** A throwaway project folder holding `files` (paths relative to it); removed after the test file. */
export const writeProject = (files: Record<string, string>): string => tempTree(files, 'dbops-lint')

/** Each entry of `files` becomes one migration (versions 1, 2, ...); returns the result. */
export async function lintFiles(files: string[], options: LintOptions & LintCase = {}): Promise<LintResult> {
  const dir = tempDir('dbops-lint')
  dirs.push(dir)
  mkdirSync(path.join(dir, 'migrations'))
  files.forEach((sql, index) => {
    const body = sql.startsWith('-- migrate:up')
      ? sql
      : `-- migrate:up${options.directive ? ` ${options.directive}` : ''}\n${sql}\n-- migrate:down\n`
    writeFileSync(path.join(dir, 'migrations', `${index + 1}_m${index + 1}.sql`), body)
  })
  const { engine, directive: _directive, lockTimeoutMs, ...lintOptions } = options
  return lintMigrations(
    {
      dir: path.join(dir, 'migrations'),
      engine: engine ?? 'postgres',
      ...(lockTimeoutMs !== undefined && { lockTimeoutMs }),
    },
    { cwd: dir, ...lintOptions },
  )
}

/** The findings of one file of SQL. */
export async function lint(sql: string, options: LintOptions & LintCase = {}): Promise<LintFinding[]> {
  return (await lintFiles([sql], options)).findings
}

export function rules(findings: LintFinding[]): string[] {
  return findings.map((finding) => finding.rule)
}
