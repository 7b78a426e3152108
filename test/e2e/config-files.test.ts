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

  it('config show prints every section of each target, credentials in URLs and bucket locations hidden', async () => {
    const recipient = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p'
    const dir = project({
      'dbops.config.json': JSON.stringify({
        seeds: { dir: 'seed-data', environments: { dev: ['base', 'dev'] } },
        backup: { retention: { keepLast: 3, keepWithin: '7d' }, encrypt: { recipients: [recipient] } },
        health: { thresholds: { cache_hit_ratio: { warn: '95%', critical: '90%' } } },
        lint: { rules: { 'prefer-text': 'off' }, smallTable: '20MB' },
        schema: { file: 'db/{target}.sql', ignore: ['audit_*'] },
        targets: {
          app: {
            url: 'postgres://bob:${DBOPS_E2E_PW}@db:5432/app',
            backup: {
              destinations: [
                { name: 'local', dir: 'bk' },
                {
                  name: 'offsite',
                  dir: 's3://AKIAEXAMPLEKEYID:${DBOPS_E2E_PW}@my-bucket/pfx',
                  s3: { region: 'eu-west-1', endpoint: 'http://minio:9000' },
                },
              ],
            },
          },
        },
      }),
    })
    const env = { DBOPS_E2E_PW: 'Hunter2Secret' }
    const json = await runCli(['config', 'show', '--json'], { cwd: dir, env })
    expect(json.code, json.stderr).toBe(0)
    const app = JSON.parse(json.stdout).targets.app
    expect(app.seeds).toMatchObject({ dir: path.join(dir, 'seed-data'), environments: { dev: ['base', 'dev'] } })
    expect(app.backup.destinations).toEqual([
      { name: 'local', dir: path.join(dir, 'bk'), s3: null, retention: { keepLast: 3, keepWithinMs: 604_800_000 } },
      {
        name: 'offsite',
        dir: 's3://***@my-bucket/pfx',
        s3: { endpoint: 'http://minio:9000', region: 'eu-west-1', forcePathStyle: null },
        retention: { keepLast: 3, keepWithinMs: 604_800_000 },
      },
    ])
    expect(app.backup.encrypt).toEqual({ recipients: [recipient] })
    expect(app.health.thresholds).toEqual({ cache_hit_ratio: { warn: '95%', critical: '90%' } })
    expect(app.lint).toMatchObject({ rules: { 'prefer-text': 'off' }, smallTableBytes: 20 * 1024 ** 2 })
    expect(app.schema).toEqual({ file: path.join(dir, 'db', 'app.sql'), dumpAfterMigrate: false, ignore: ['audit_*'] })

    const human = await runCli(['config', 'show'], { cwd: dir, env })
    expect(human.code, human.stderr).toBe(0)
    for (const line of [
      `seeds.dir: ${path.join(dir, 'seed-data')}`,
      'seeds.environments.dev: base, dev',
      `backup.destinations.local.dir: ${path.join(dir, 'bk')}`,
      'backup.destinations.offsite.dir: s3://***@my-bucket/pfx',
      'backup.destinations.offsite.s3.region: eu-west-1',
      'backup.retention.keepWithin: 7d',
      `backup.encrypt.recipients: ${recipient}`,
      'health.thresholds.cache_hit_ratio.warn: 95%',
      'lint.rules.prefer-text: off',
      'lint.smallTable: 20 MB',
      `schema.file: ${path.join(dir, 'db', 'app.sql')}`,
    ])
      expect(human.stdout).toContain(`  ${line}\n`)
    const everything = human.stdout + human.stderr + json.stdout + json.stderr
    expect(everything).not.toContain('Hunter2Secret')
    expect(everything).not.toContain('AKIAEXAMPLEKEYID')
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
