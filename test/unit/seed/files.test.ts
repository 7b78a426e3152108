import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { naturalCompare, readSeeds, selectSeeds, tableFor } from '../../../src/seed/files.js'
import { newSeed } from '../../../src/seed/new-seed.js'
import { DbopsError } from '../../../src/errors.js'
import { tempDir } from '../../helpers/databases.js'

let dir: string
beforeAll(() => {
  dir = tempDir('dbops-seed-files')
  for (const name of [
    '10_posts.json',
    '2_users.csv',
    '1_roles.sql',
    'audit.events.ndjson',
    'notes.txt',
    'README.md',
    '.gitkeep',
    'dev/05_demo.csv',
    'dev/extra.sql',
    'big/1_a.csv',
    'big/2_b.csv',
  ]) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    writeFileSync(path.join(dir, name), 'id\n1\n')
  }
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const seeds = (environments: Record<string, string[]> = {}, tables: Record<string, string> = {}) => ({
  dir,
  table: 'dbops_seeds',
  environments,
  tables,
})

describe('seed files', () => {
  it('orders numeric prefixes as numbers and lists only the top level by default', () => {
    const set = readSeeds(seeds(), undefined, dir)
    expect(set.seeds.map((seed) => seed.name)).toEqual([
      '1_roles.sql',
      '2_users.csv',
      '10_posts.json',
      'audit.events.ndjson',
    ])
    expect(set.ignored).toEqual(['notes.txt'])
    expect(naturalCompare('2_x', '10_y')).toBeLessThan(0)
    expect(naturalCompare('002_x', '2_x')).toBeGreaterThan(0)
  })

  it('names the table after the file: prefix stripped, schema.table, or the seeds.tables mapping', () => {
    expect(tableFor('01_roles.csv', {})).toEqual({ name: 'roles' })
    expect(tableFor('02-user-roles.csv', {})).toEqual({ name: 'user-roles' })
    expect(tableFor('audit.events.ndjson', {})).toEqual({ schema: 'audit', name: 'events' })
    expect(tableFor('dev/05_demo.csv', { '05_demo.csv': 'people' })).toEqual({ name: 'people' })
    const set = readSeeds(seeds({}, { '2_users.csv': 'app.accounts' }), undefined, dir)
    expect(set.seeds.find((seed) => seed.name === '2_users.csv')?.table).toEqual({ schema: 'app', name: 'accounts' })
  })

  it('selects environment folders and globs, ordered by prefix across folders', () => {
    expect(readSeeds(seeds({ top: ['.'] }), 'top', dir).seeds.map((seed) => seed.name)).toEqual([
      '1_roles.sql',
      '2_users.csv',
      '10_posts.json',
      'audit.events.ndjson',
    ])
    const set = readSeeds(seeds({ dev: ['dev', '1_roles.sql'], big: ['big/*.csv', '2_users.csv'] }), 'dev', dir)
    expect(set.seeds.map((seed) => seed.name)).toEqual(['1_roles.sql', 'dev/05_demo.csv', 'dev/extra.sql'])
    expect(readSeeds(seeds({ big: ['big/*.csv', '2_users.csv'] }), 'big', dir).seeds.map((seed) => seed.name)).toEqual([
      'big/1_a.csv',
      'big/2_b.csv',
      '2_users.csv',
    ])
    expect(readSeeds(seeds({ all: ['**/*.csv'] }), 'all', dir).seeds.map((seed) => seed.name)).toEqual([
      'big/1_a.csv',
      'big/2_b.csv',
      '2_users.csv',
      'dev/05_demo.csv',
    ])
  })

  it('refuses an unknown environment (listing the known ones) and an entry that matches nothing', () => {
    expect(() => readSeeds(seeds({ dev: ['dev'] }), 'prod', dir)).toThrow(
      /unknown seed environment "prod" \(known: dev\)/,
    )
    const error = (() => {
      try {
        readSeeds(seeds({ dev: ['nope/*.csv'] }), 'dev', dir)
      } catch (caught) {
        return caught as DbopsError
      }
    })()
    expect(error?.code).toBe('E_CONFIG')
    expect(error?.message).toMatch(/"nope\/\*\.csv" matches no folder or file/)
  })

  it('picks seeds by name with or without extension; an unknown name lists the known ones', () => {
    const set = readSeeds(seeds(), undefined, dir)
    expect(selectSeeds(set, ['users', '1_roles.sql']).map((seed) => seed.name)).toEqual(['1_roles.sql', '2_users.csv'])
    expect(selectSeeds(set, ['2_users']).map((seed) => seed.name)).toEqual(['2_users.csv'])
    expect(() => selectSeeds(set, ['nobody'])).toThrow(
      /unknown seed "nobody" \(known: 1_roles.sql, 2_users.csv, 10_posts.json, audit.events.ndjson\)/,
    )
  })

  it("seed new writes the next numeric prefix with the folder's padding", () => {
    const target = path.join(dir, 'new')
    mkdirSync(target, { recursive: true })
    writeFileSync(path.join(target, '007_a.csv'), 'id\n')
    const created = newSeed(target, 'people', 'csv')
    expect(path.basename(created.file)).toBe('008_people.csv')
    expect(path.basename(newSeed(target, 'more', 'ts').file)).toBe('009_more.ts')
    expect(() => newSeed(target, 'x', 'xml')).toThrow(/--format takes sql, csv, json, ts/)
  })
})
