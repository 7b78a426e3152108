// Eight `dbops migrate up` processes started together on a SQLite file that does not exist yet. When the first
// migration fails, no run may leave a file behind (before: an empty 4 KB file in about a third of the trials, as a run
// removed "its" empty file while others had opened it); when it succeeds, every migration is applied exactly once.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnCli, tempDir, waitForExit } from '../helpers/databases.js'
import { migrateUp, openTarget } from '../../src/index.js'
import { spawnSync } from 'node:child_process'

const PROCESSES = 8
const TRIALS = 8

async function runTogether(project: string, url: string): Promise<(number | null)[]> {
  const children = Array.from({ length: PROCESSES }, () => spawnCli(['migrate', 'up', '--url', url], { cwd: project }))
  const results = await Promise.all(children.map((child) => waitForExit(child)))
  return results.map((result) => result.code)
}

describe(`${PROCESSES} concurrent migrate up on a new SQLite file`, () => {
  let dir: string
  beforeAll(() => {
    dir = tempDir('dbops-create-race')
  })
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it(`leaves no file when the first migration fails (${TRIALS} trials)`, { timeout: 240_000 }, async () => {
    const project = path.join(dir, 'failing')
    mkdirSync(path.join(project, 'migrations'), { recursive: true })
    writeFileSync(
      path.join(project, 'migrations', '001_broken.sql'),
      '-- migrate:up\nCREATE TABLE broken (id INTEGER PRIMARY KEY,);\n',
    )
    for (let trial = 1; trial <= TRIALS; trial++) {
      const data = path.join(project, `data-${trial}`)
      mkdirSync(data)
      const codes = await runTogether(project, `sqlite:${path.join(data, 'app.db')}`)
      expect(codes, `trial ${trial}`).toEqual(new Array(PROCESSES).fill(2))
      expect(readdirSync(data), `trial ${trial}`).toEqual([])
    }
  })

  it('applies each migration once when they succeed, and the file is in WAL mode', { timeout: 120_000 }, async () => {
    const project = path.join(dir, 'working')
    mkdirSync(path.join(project, 'migrations'), { recursive: true })
    writeFileSync(
      path.join(project, 'migrations', '001_items.sql'),
      '-- migrate:up\nCREATE TABLE items (id INTEGER PRIMARY KEY);\n',
    )
    writeFileSync(
      path.join(project, 'migrations', '002_seed.sql'),
      '-- migrate:up\nINSERT INTO items (id) VALUES (1);\n',
    )
    for (let trial = 1; trial <= 3; trial++) {
      const data = path.join(project, `data-${trial}`)
      mkdirSync(data)
      const file = path.join(data, 'app.db')
      const codes = await runTogether(project, `sqlite:${file}`)
      expect(codes, `trial ${trial}`).toEqual(new Array(PROCESSES).fill(0))
      expect(existsSync(file)).toBe(true)
      expect(readdirSync(data).filter((name) => name.includes('dbops-new'))).toEqual([])
      const database = new Database(file, { readonly: true })
      try {
        expect(database.prepare('SELECT version FROM dbops_migrations ORDER BY version').all()).toEqual([
          { version: '001' },
          { version: '002' },
        ])
        expect(database.prepare('SELECT count(*) AS n FROM items').get()).toEqual({ n: 1 })
        expect(database.pragma('journal_mode', { simple: true })).toBe('wal')
      } finally {
        database.close()
      }
    }
  })

  it('a run that built the database aside and lost the race does its work in the file the other run created', async () => {
    const project = path.join(dir, 'lost-race')
    mkdirSync(path.join(project, 'migrations'), { recursive: true })
    writeFileSync(
      path.join(project, 'migrations', '001_items.sql'),
      '-- migrate:up\nCREATE TABLE items (id INTEGER PRIMARY KEY);\n',
    )
    writeFileSync(
      path.join(project, 'migrations', '002_more.sql'),
      '-- migrate:up\nINSERT INTO items (id) VALUES (1);\n',
    )
    const url = `sqlite:${path.join(project, 'app.db')}`
    const first = await openTarget({ url, cwd: project })
    const second = await openTarget({ url, cwd: project })
    try {
      // Both open before either commits: each builds its own copy beside app.db.
      await first.backend.ping()
      await second.backend.ping()
      expect(readdirSync(project).filter((name) => name.startsWith('app.db.dbops-new-'))).toHaveLength(2)
      expect((await migrateUp(first)).migrations.map((outcome) => outcome.status)).toEqual(['applied', 'applied'])
      expect((await migrateUp(second)).migrations.map((outcome) => outcome.status)).toEqual(['skipped', 'skipped'])
    } finally {
      await first.close()
      await second.close()
    }
    expect(readdirSync(project).filter((name) => name.startsWith('app.db'))).toEqual(['app.db'])
    const database = new Database(path.join(project, 'app.db'), { readonly: true })
    try {
      expect(database.prepare('SELECT version FROM dbops_migrations ORDER BY version').all()).toEqual([
        { version: '001' },
        { version: '002' },
      ])
      expect(database.prepare('SELECT count(*) AS n FROM items').get()).toEqual({ n: 1 })
    } finally {
      database.close()
    }
  })

  it("removes the half-built copy a killed run left, and nobody else's", async () => {
    const project = path.join(dir, 'leftover')
    mkdirSync(path.join(project, 'migrations'), { recursive: true })
    writeFileSync(
      path.join(project, 'migrations', '001_items.sql'),
      '-- migrate:up\nCREATE TABLE items (id INTEGER PRIMARY KEY);\n',
    )
    const dead = spawnSync(process.execPath, ['-e', '']).pid!
    const live = process.pid
    writeFileSync(path.join(project, `app.db.dbops-new-${dead}-0badc0de`), 'half a database')
    writeFileSync(path.join(project, `app.db.dbops-new-${dead}-0badc0de-journal`), 'its journal')
    writeFileSync(path.join(project, `app.db.dbops-new-${live}-5ca1ab1e`), 'a live run is building this one')
    const up = await waitForExit(
      spawnCli(['migrate', 'up', '--url', `sqlite:${path.join(project, 'app.db')}`], { cwd: project }),
    )
    expect(up.code, up.stderr).toBe(0)
    expect(
      readdirSync(project)
        .filter((name) => name.startsWith('app.db'))
        .sort(),
    ).toEqual(['app.db', `app.db.dbops-new-${live}-5ca1ab1e`])
  })
})
