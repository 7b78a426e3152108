// A throwaway project folder (migrations/ plus an optional config) and a fresh database per engine, for tests that
// run the same scenario on PostgreSQL and SQLite.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, expect } from 'vitest'
import { DbopsError, openTarget, type Target } from '../../src/index.js'
import { createPgDatabase, pgQuery, tempDir } from './databases.js'
import Database from 'better-sqlite3'

export type EngineName = 'postgres' | 'sqlite'
export const ENGINES: EngineName[] = ['postgres', 'sqlite']

const cleanups: (() => Promise<void>)[] = []
afterAll(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup().catch(() => {})))
})

export interface Project {
  dir: string
  url: string
  engine: EngineName
  write(relativePath: string, text: string): void
  /** Runs a query against the project's database and returns the rows. */
  query(sql: string): Promise<Record<string, unknown>[]>
}

/** A fresh database plus a folder with `migrations/` holding `files`. */
export async function makeProject(
  engine: EngineName,
  files: Record<string, string> = {},
  config?: unknown,
): Promise<Project> {
  const dir = tempDir('dbops-project')
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
  let url: string
  if (engine === 'postgres') {
    const database = await createPgDatabase('dbops_it')
    cleanups.push(database.drop)
    url = database.url
  } else {
    url = `sqlite:${path.join(dir, 'app.db')}`
  }
  const project: Project = {
    dir,
    url,
    engine,
    write(relativePath, text) {
      const file = path.join(dir, relativePath)
      mkdirSync(path.dirname(file), { recursive: true })
      writeFileSync(file, text)
    },
    async query(sql) {
      if (engine === 'postgres') return pgQuery(url, sql)
      const database = new Database(url.slice('sqlite:'.length))
      try {
        const statement = database.prepare(sql)
        if (!statement.reader) {
          statement.run()
          return []
        }
        return statement.all() as Record<string, unknown>[]
      } finally {
        database.close()
      }
    },
  }
  mkdirSync(path.join(dir, 'migrations'), { recursive: true })
  for (const [name, text] of Object.entries(files)) project.write(path.join('migrations', name), text)
  if (config !== undefined) project.write('dbops.config.json', JSON.stringify(config))
  return project
}

/** A dbmate-format migration. */
export function migration(up: string, down?: string, upOptions = ''): string {
  return `-- migrate:up${upOptions ? ` ${upOptions}` : ''}\n${up}\n${down === undefined ? '' : `\n-- migrate:down\n${down}\n`}`
}

/** Names of the user tables in the database (ledger excluded). */
export async function tableNames(project: Project): Promise<string[]> {
  const rows =
    project.engine === 'postgres'
      ? await project.query(
          `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'dbops_migrations' ORDER BY 1`,
        )
      : await project.query(
          `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'dbops_migrations' ORDER BY 1`,
        )
  return rows.map((row) => String(row.name))
}

export async function ledgerVersions(project: Project, table = 'dbops_migrations'): Promise<string[]> {
  const rows = await project.query(`SELECT version FROM ${table} ORDER BY applied_seq`)
  return rows.map((row) => String(row.version))
}

/** Opens the project's database as a target for `fn`, and closes it afterwards. */
export async function withTarget<T>(project: Project, fn: (target: Target) => Promise<T>): Promise<T> {
  const target = await openTarget({ cwd: project.dir, url: project.url, env: {} })
  try {
    return await fn(target)
  } finally {
    await target.close()
  }
}

/** The DbopsError `promise` rejects with (the test fails if it resolves or rejects with something else). */
export async function failure(promise: Promise<unknown>): Promise<DbopsError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(DbopsError)
  return error as DbopsError
}

/** Runs statements one by one on the project's database. */
export async function exec(project: Project, statements: string[]): Promise<void> {
  for (const statement of statements) await project.query(statement)
}
