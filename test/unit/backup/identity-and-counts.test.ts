import { describe, expect, it } from 'vitest'
import { CopyRowCounter } from '../../../src/backends/postgres/postgres-backup.js'
import { databaseFolderName } from '../../../src/config/database-url.js'
import { resolveConfig } from '../../../src/config/resolve-config.js'
import { tempDir } from '../../helpers/databases.js'
import { rmSync } from 'node:fs'
import path from 'node:path'

describe('databaseFolderName (the default backup folder without a config file)', () => {
  it('is the SQLite file stem or the PostgreSQL database name, safe as a folder name', () => {
    expect(databaseFolderName({ engine: 'sqlite', path: '/srv/data/app.db' })).toBe('app')
    expect(databaseFolderName({ engine: 'sqlite', path: '/srv/data/my store.sqlite3' })).toBe('my_store')
    expect(databaseFolderName({ engine: 'postgres', url: 'postgres://u:secret@db:5432/shop?sslmode=require' })).toBe(
      'shop',
    )
    expect(databaseFolderName({ engine: 'postgres', url: 'postgres://u@db/../etc' })).not.toContain('/')
  })

  it('gives two --url databases two folders', async () => {
    const cwd = tempDir('dbops-folder-name')
    try {
      const a = await resolveConfig({ cwd, url: 'sqlite:./a.db', env: {} })
      const b = await resolveConfig({ cwd, url: 'sqlite:./b.db', env: {} })
      expect(a.targets.default!.backup.dir).toBe(path.join(cwd, 'backups', 'a'))
      expect(b.targets.default!.backup.dir).toBe(path.join(cwd, 'backups', 'b'))
    } finally {
      rmSync(cwd, { recursive: true, force: true })
    }
  })
})

describe('CopyRowCounter (rows per table from pg_dump SQL output)', () => {
  it('counts each COPY block, across chunk boundaries, with quoted names', () => {
    const script = [
      'SET statement_timeout = 0;',
      'COPY public.plain (id, note) FROM stdin;',
      '1\ta\\nb',
      '2\t\\N',
      '\\.',
      '',
      'COPY "Sales Ü"."Order ""Items""" (id, "Name") FROM stdin;',
      '1\tx',
      '\\.',
      'COPY public.empty (id) FROM stdin;',
      '\\.',
      '-- PostgreSQL database dump complete',
      '',
    ].join('\n')
    const bytes = Buffer.from(script)
    for (const size of [1, 3, 7, bytes.length]) {
      const counter = new CopyRowCounter()
      for (let i = 0; i < bytes.length; i += size) counter.push(bytes.subarray(i, i + size))
      expect(counter.counts).toEqual({ 'public.plain': 2, '"Sales Ü"."Order ""Items"""': 1, 'public.empty': 0 })
    }
  })
})
