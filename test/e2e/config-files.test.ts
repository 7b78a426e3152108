// Config files as the built CLI loads them (CommonJS bundle, real import() for ES module and TypeScript configs).
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { REPO_ROOT, runCli, tempDir } from '../helpers/databases.js'

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

function project(files: Record<string, string>): string {
  const dir = tempDir('dbops-config-e2e')
  dirs.push(dir)
  // A project that installed dbops: `import { defineConfig } from 'dbops'` resolves to this repository.
  mkdirSync(path.join(dir, 'node_modules'))
  symlinkSync(REPO_ROOT, path.join(dir, 'node_modules', 'dbops'))
  mkdirSync(path.join(dir, 'migrations'))
  writeFileSync(path.join(dir, 'migrations', '001_a.sql'), '-- migrate:up\nCREATE TABLE a (id integer);\n')
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text)
  return dir
}

describe('config files through the CLI', () => {
  it('loads dbops.config.ts importing defineConfig from "dbops", with ${VAR:-default} and a relative import', async () => {
    const dir = project({
      'dbops.config.ts': `import { defineConfig } from 'dbops'
import { dataFile } from './paths'
const timeout: string = '7s'
export default defineConfig({ targets: { local: { url: \`sqlite:\${dataFile}\` } }, migrations: { lockTimeout: timeout, table: '\${LEDGER:-schema_history}' } })
`,
      'paths.ts': `export const dataFile: string = './data/app.db'\n`,
    })
    mkdirSync(path.join(dir, 'data'))
    const shown = await runCli(['config', 'show', '--json'], { cwd: dir, env: { LEDGER: undefined } })
    expect(shown.stderr).toBe('')
    const config = JSON.parse(shown.stdout)
    expect(config.file).toBe(path.join(dir, 'dbops.config.ts'))
    expect(config.targets.local).toMatchObject({ url: 'sqlite:./data/app.db', engine: 'sqlite' })
    expect(config.targets.local.migrations).toMatchObject({ lockTimeoutMs: 7000, table: 'schema_history' })

    const up = await runCli(['migrate', 'up', '--json'], { cwd: path.join(dir, 'migrations') })
    expect(up.code).toBe(0)
    expect(JSON.parse(up.stdout).migrations.map((m: { version: string }) => m.version)).toEqual(['001'])
  })

  it('loads an ES module config, and reports a broken one in one line with exit 3', async () => {
    const good = project({ 'dbops.config.mjs': `export default { targets: { db: { url: 'sqlite:./x.db' } } }\n` })
    expect((await runCli(['config', 'show'], { cwd: good })).stdout).toContain('url: sqlite:./x.db')

    const broken = project({ 'dbops.config.mjs': `export default { targets: { db: { url: 'sqlite:./x.db' } }\n` })
    const result = await runCli(['migrate', 'status'], { cwd: broken })
    expect(result.code).toBe(3)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toContain('dbops.config.mjs')
  })

  it('migrates the database named by DATABASE_URL in .env (as dbmate does), unless --no-dotenv or the environment says otherwise', async () => {
    const dir = project({ '.env': '# from the app\nDATABASE_URL="sqlite:./from-env.db"\n' })
    const env = { DATABASE_URL: undefined }
    const up = await runCli(['migrate', 'up'], { cwd: dir, env })
    expect(up.code, up.stderr).toBe(0)
    expect(up.stdout).toContain(path.join(dir, 'from-env.db'))
    expect(existsSync(path.join(dir, 'from-env.db'))).toBe(true)
    expect(existsSync(path.join(dir, 'dev.db'))).toBe(false)
    const ignored = await runCli(['--no-dotenv', 'migrate', 'status'], { cwd: dir, env })
    expect(ignored.stdout).toContain(path.join(dir, 'dev.db'))
    expect(ignored.stdout).toContain('0 applied, 1 pending')
    const overridden = await runCli(['migrate', 'status'], { cwd: dir, env: { DATABASE_URL: 'sqlite:./set.db' } })
    expect(overridden.stdout).toContain(path.join(dir, 'set.db'))
    const missing = await runCli(['--dotenv', 'nope.env', 'migrate', 'status'], { cwd: dir, env })
    expect(missing.code).toBe(3)
    expect(missing.stderr.trim()).toBe(
      `error: invalid configuration: cannot read the env file ${path.join(dir, 'nope.env')}: ENOENT (hint: fix the --dotenv path, or leave --dotenv out)`,
    )
  })
})
