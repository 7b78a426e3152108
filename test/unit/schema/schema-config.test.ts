import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { resolveConfig } from '../../../src/config/resolve-config.js'
import { ConfigError } from '../../../src/errors.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function project(config: unknown): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'dbops-schema-config-')))
  dirs.push(root)
  writeFileSync(join(root, 'package.json'), '{"name":"app"}')
  writeFileSync(join(root, '.dbopsrc.json'), JSON.stringify(config))
  return root
}

describe('the schema section of the config', () => {
  it('layers target settings over top-level ones, resolves the file per target and adds the ignore lists', async () => {
    const root = project({
      schema: { file: 'db/{target}.sql', ignore: 'legacy_*' },
      targets: {
        a: { url: 'sqlite:a.db', schema: { dumpAfterMigrate: true, ignore: ['tmp_*'] } },
        b: { url: 'sqlite:b.db' },
      },
      defaultTarget: 'a',
    })
    const config = await resolveConfig({ cwd: root, env: {} })
    expect(config.targets.a!.schema).toEqual({
      file: join(root, 'db/a.sql'),
      dumpAfterMigrate: true,
      ignore: ['legacy_*', 'tmp_*'],
    })
    expect(config.targets.b!.schema).toEqual({
      file: join(root, 'db/b.sql'),
      dumpAfterMigrate: false,
      ignore: ['legacy_*'],
    })
  })

  it('reports dumpAfterMigrate without a file, unknown keys and wrong types, each with its path', async () => {
    const root = project({
      schema: { dumpAfterMigrate: 'yes', ignore: [1], fil: 'x.sql' },
      targets: { a: { url: 'sqlite:a.db', schema: { dumpAfterMigrate: true } } },
    })
    const error = await resolveConfig({ cwd: root, env: {} }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as ConfigError).problems).toEqual([
      'schema.fil: unknown key (did you mean "file"?)',
      'schema.dumpAfterMigrate: must be true or false (got string)',
      'schema.ignore[0]: must be a string (got number)',
      "targets.a.schema.dumpAfterMigrate: needs schema.file (where to write the dump, e.g. 'db/schema.sql')",
    ])
  })
})
