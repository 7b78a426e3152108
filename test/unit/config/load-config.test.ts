import { mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../../../src/config/load-config.js'
import { ConfigError } from '../../../src/errors.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** A temp project: a package.json at its root bounds the search, like a real project. */
function project(files: Record<string, string>, { packageJson = true } = {}): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'dbops-config-')))
  dirs.push(root)
  if (packageJson && files['package.json'] === undefined) files = { 'package.json': '{"name":"app"}', ...files }
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true })
    writeFileSync(join(root, path), content)
  }
  mkdirSync(join(root, 'src/deep/er'), { recursive: true })
  return root
}

/** node_modules/dbops as an installed dbops would look to a TS config. */
const fakeDbops = {
  'node_modules/dbops/package.json': JSON.stringify({
    name: 'dbops',
    type: 'module',
    exports: { '.': { import: './index.js' } },
  }),
  'node_modules/dbops/index.js':
    'export function defineConfig(config) { return { ...config, viaDefineConfig: true } }\n',
}

async function errorOf(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(ConfigError)
  return error as ConfigError
}

describe('loadConfig: finding the file from a nested subdirectory', () => {
  it.each([
    ['.dbopsrc.json', '{"defaultTarget":"app"}'],
    ['.dbopsrc', 'defaultTarget: app\n'],
    ['.dbopsrc.yaml', 'defaultTarget: app\n'],
    ['.dbopsrc.yml', 'defaultTarget: app\n'],
    ['dbops.config.json', '{"defaultTarget":"app"}'],
    ['dbops.config.mjs', 'export default { defaultTarget: "app" }\n'],
    ['.dbopsrc.mjs', 'export default { defaultTarget: "app" }\n'],
    ['dbops.config.cjs', 'module.exports = { defaultTarget: "app" }\n'],
    ['dbops.config.ts', 'const name: string = "app"\nexport default { defaultTarget: name }\n'],
    ['dbops.config.mts', 'export default { defaultTarget: "app" as string }\n'],
    ['.dbopsrc.ts', 'export default { defaultTarget: "app" satisfies string }\n'],
  ])('finds %s', async (file, content) => {
    const root = project({ [file]: content })
    const loaded = await loadConfig({ cwd: join(root, 'src/deep/er') })
    expect(loaded).toEqual({ file: join(root, file), config: { defaultTarget: 'app' } })
  })

  it('reads the "dbops" key of package.json', async () => {
    const root = project({ 'package.json': JSON.stringify({ name: 'app', dbops: { defaultTarget: 'app' } }) })
    expect(await loadConfig({ cwd: join(root, 'src/deep') })).toEqual({
      file: join(root, 'package.json'),
      config: { defaultTarget: 'app' },
    })
  })

  it('skips a package.json without a "dbops" key and keeps looking in that directory', async () => {
    const root = project({ 'dbops.config.json': '{"defaultTarget":"app"}' })
    expect((await loadConfig({ cwd: root }))?.file).toBe(join(root, 'dbops.config.json'))
  })

  it('prefers the nearest directory', async () => {
    const root = project({
      '.dbopsrc.json': '{"defaultTarget":"root"}',
      'src/.dbopsrc.json': '{"defaultTarget":"src"}',
    })
    expect((await loadConfig({ cwd: join(root, 'src/deep/er') }))?.config).toEqual({ defaultTarget: 'src' })
  })

  it('stops at the project root (the first package.json) and returns null when nothing is found', async () => {
    const root = project({ '.dbopsrc.json': '{"defaultTarget":"outside"}', 'app/package.json': '{"name":"app"}' })
    mkdirSync(join(root, 'app/src'), { recursive: true })
    expect(await loadConfig({ cwd: join(root, 'app/src') })).toBeNull()
  })

  it('treats an empty config file as an empty config', async () => {
    const root = project({ '.dbopsrc': '' })
    expect(await loadConfig({ cwd: root })).toEqual({ file: join(root, '.dbopsrc'), config: {} })
  })
})

describe('loadConfig: TypeScript configs', () => {
  it('bundles relative .ts imports, resolves packages next to the config, and removes the compiled file', async () => {
    const root = project({
      ...fakeDbops,
      'dbops.config.ts': [
        "import { defineConfig } from 'dbops'",
        "import { targets } from './config/targets.ts'",
        'export default defineConfig({ targets, migrations: { dir: import.meta.dirname } })',
      ].join('\n'),
      'config/targets.ts': [
        'interface Target { url: string }',
        "export const targets: Record<string, Target> = { app: { url: 'sqlite:./app.db' } }",
      ].join('\n'),
    })
    const loaded = await loadConfig({ cwd: join(root, 'src/deep') })
    expect(loaded?.config).toEqual({
      targets: { app: { url: 'sqlite:./app.db' } },
      migrations: { dir: root },
      viaDefineConfig: true,
    })
    expect(readdirSync(root).filter((name) => name.includes('timestamp'))).toEqual([])
  })

  it('reports a syntax error as a one-line ConfigError naming the file', async () => {
    const root = project({ 'dbops.config.ts': 'export default { targets: {\n' })
    const error = await errorOf(loadConfig({ cwd: root }))
    expect(error.message).toContain(join(root, 'dbops.config.ts'))
    expect(error.problems).toHaveLength(1)
    expect(error.problems[0]).not.toContain('\n')
    expect(readdirSync(root).filter((name) => name.includes('timestamp'))).toEqual([])
  })

  it('names the config file, not the compiled one, when an import fails', async () => {
    const root = project({
      'dbops.config.ts': "import { nothing } from 'no-such-package'\nexport default { nothing }\n",
    })
    const error = await errorOf(loadConfig({ cwd: root }))
    expect(error.message).toContain('no-such-package')
    expect(error.message).not.toContain('timestamp')
    expect(readdirSync(root).filter((name) => name.includes('timestamp'))).toEqual([])
  })

  it('refuses a module without a default export', async () => {
    for (const file of ['dbops.config.ts', 'dbops.config.mjs']) {
      const root = project({ [file]: 'export const config = {}\n' })
      const error = await errorOf(loadConfig({ cwd: root }))
      expect(error.message).toMatch(/has no default export/)
    }
  })
})

describe('loadConfig: --config', () => {
  it('loads exactly the given file, relative to cwd, whatever the search would find', async () => {
    const root = project({
      '.dbopsrc.json': '{"defaultTarget":"found"}',
      'ops/dbops.staging.json': '{"defaultTarget":"given"}',
    })
    expect(await loadConfig({ cwd: root, configPath: 'ops/dbops.staging.json' })).toEqual({
      file: join(root, 'ops/dbops.staging.json'),
      config: { defaultTarget: 'given' },
    })
  })

  it('loads a .cts file', async () => {
    const root = project({ 'db.cts': 'export default { defaultTarget: "app" as string }\n' })
    expect((await loadConfig({ cwd: root, configPath: 'db.cts' }))?.config).toEqual({ defaultTarget: 'app' })
  })

  it('names a missing file', async () => {
    const root = project({})
    const error = await errorOf(loadConfig({ cwd: root, configPath: 'nope.json' }))
    expect(error.message).toContain(join(root, 'nope.json'))
    expect(error.message).toMatch(/does not exist/)
  })

  it('refuses a directory', async () => {
    const root = project({})
    const error = await errorOf(loadConfig({ cwd: root, configPath: 'src' }))
    expect(error.message).toMatch(/is a directory/)
  })
})

describe('loadConfig: broken files', () => {
  it('reports invalid JSON in one line without echoing the file', async () => {
    const root = project({
      '.dbopsrc.json': '{\n  "targets": { "app": { "url": postgres://app:hunter2@db/app } }\n}\n',
    })
    const error = await errorOf(loadConfig({ cwd: root }))
    expect(error.message).toContain(join(root, '.dbopsrc.json'))
    expect(error.message).toMatch(/Unexpected token 'p' in JSON/)
    expect(error.message).not.toMatch(/hunter2|postgres/)
    expect(error.message).not.toContain('\n')
  })

  it('turns a JSON error position into a line and column', async () => {
    const root = project({ '.dbopsrc.json': '{\n  "defaultTarget": "app",\n}\n' })
    const error = await errorOf(loadConfig({ cwd: root }))
    expect(error.message).toMatch(/at line 3 column 1$/)
  })

  it('reports invalid YAML in one line without echoing the file', async () => {
    const root = project({ '.dbopsrc.yaml': 'targets:\n  app:\n    url: postgres://app:hunter2@db/app\n   bad: [\n' })
    const error = await errorOf(loadConfig({ cwd: root }))
    expect(error.message).toContain(join(root, '.dbopsrc.yaml'))
    expect(error.message).not.toContain('hunter2')
    expect(error.message).not.toContain('\n')
  })
})
