import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { resolveConfig, selectTargets, type ResolvedConfig } from '../../../src/config/resolve-config.js'
import { ConfigError, UsageError } from '../../../src/errors.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** A temp project with a package.json (the search's upper bound) and the given files; `config` becomes .dbopsrc.json. */
function project(config?: unknown, files: Record<string, string> = {}): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'dbops-resolve-')))
  dirs.push(root)
  const all: Record<string, string> = { 'package.json': '{"name":"app"}', ...files }
  if (config !== undefined) all['.dbopsrc.json'] = JSON.stringify(config)
  for (const [path, content] of Object.entries(all)) {
    mkdirSync(dirname(join(root, path)), { recursive: true })
    writeFileSync(join(root, path), content)
  }
  mkdirSync(join(root, 'src/nested'), { recursive: true })
  return root
}

async function errorOf(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(ConfigError)
  return error as ConfigError
}

async function problemsOf(promise: Promise<unknown>): Promise<string[]> {
  return (await errorOf(promise)).problems
}

const defaults = {
  table: 'dbops_migrations',
  schema: 'public',
  lockTimeoutMs: 5_000,
  statementTimeoutMs: 0,
  lockWaitTimeoutMs: 60_000,
  allowOutOfOrder: false,
  ignoreOtherLedgers: false,
}

describe('resolveConfig without a config file', () => {
  it('falls back to sqlite:./dev.db in the working directory', async () => {
    const root = project()
    const config = await resolveConfig({ cwd: root, env: {} })
    expect(config).toEqual({
      source: 'default',
      baseDir: root,
      defaultTarget: 'default',
      targets: {
        default: {
          name: 'default',
          url: 'sqlite:./dev.db',
          redactedUrl: 'sqlite:./dev.db',
          database: join(root, 'dev.db'),
          location: { engine: 'sqlite', path: join(root, 'dev.db') },
          migrations: { dir: join(root, 'migrations'), ...defaults },
          protected: false,
          seeds: { dir: join(root, 'fixtures'), table: 'dbops_seeds', environments: {}, tables: {} },
          // Named after the database, so two --url databases never share a folder.
          backup: { dir: join(root, 'backups', 'dev'), retention: {} },
          health: { thresholds: {} },
        },
      },
      unresolved: {},
    })
  })

  it('uses DATABASE_URL, and --url over it', async () => {
    const root = project()
    const env = { DATABASE_URL: 'postgres://app:secret@db/app' }
    const fromEnv = await resolveConfig({ cwd: root, env })
    expect(fromEnv.source).toBe('env')
    expect(fromEnv.targets.default?.url).toBe('postgres://app:secret@db/app')
    expect(fromEnv.targets.default?.redactedUrl).toBe('postgres://app:***@db/app')

    const fromFlag = await resolveConfig({ cwd: root, env, url: 'sqlite::memory:' })
    expect(fromFlag.source).toBe('url-flag')
    expect(fromFlag.targets.default?.location).toEqual({ engine: 'sqlite', path: ':memory:' })
  })

  it('ignores an empty DATABASE_URL', async () => {
    const config = await resolveConfig({ cwd: project(), env: { DATABASE_URL: '' } })
    expect(config.source).toBe('default')
  })

  it("reports a bad --url (a usage error) or DATABASE_URL under that name, redacted, not as the file's fault", async () => {
    const root = project()
    await expect(resolveConfig({ cwd: root, env: {}, url: 'mysqlx://root:hunter2@db/app' })).rejects.toMatchObject({
      code: 'E_USAGE',
      message:
        '--url "mysqlx://root:***@db/app": unsupported scheme "mysqlx" (use postgres://, postgresql://, sqlite: or file:)',
    })
    const problems = await problemsOf(
      resolveConfig({ cwd: root, env: { DATABASE_URL: 'postgres://a:hunter2@db:x/app' } }),
    )
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(/^DATABASE_URL "postgres:\/\/a:\*\*\*@db:x\/app": invalid port/)
    expect(problems.join()).not.toContain('hunter2')
  })
})

describe('resolveConfig with a config file', () => {
  it('finds the file from a subdirectory and resolves paths against its directory', async () => {
    const root = project({ targets: { app: { url: 'sqlite:./data/app.db' } }, migrations: { dir: 'db/migrations' } })
    const config = await resolveConfig({ cwd: join(root, 'src/nested'), env: {} })
    expect(config.source).toBe('file')
    expect(config.file).toBe(join(root, '.dbopsrc.json'))
    expect(config.baseDir).toBe(root)
    expect(config.defaultTarget).toBe('app')
    expect(config.targets.app?.location).toEqual({ engine: 'sqlite', path: join(root, 'data/app.db') })
    expect(config.targets.app?.migrations.dir).toBe(join(root, 'db/migrations'))
  })

  it('merges migrations settings key by key: defaults, then top level, then the target', async () => {
    const root = project({
      defaultTarget: 'app',
      migrations: { table: 'schema_history', lockTimeout: '10s', allowOutOfOrder: true },
      targets: {
        app: { url: 'sqlite:app.db', migrations: { lockTimeout: '2s', schema: 'ops' } },
        analytics: { url: 'postgres://localhost/analytics', protected: true },
      },
    })
    const config = await resolveConfig({ cwd: root, env: {} })
    expect(Object.keys(config.targets)).toEqual(['app', 'analytics'])
    expect(config.targets.app?.migrations).toEqual({
      ...defaults,
      dir: join(root, 'migrations'),
      table: 'schema_history',
      schema: 'ops',
      lockTimeoutMs: 2_000,
      allowOutOfOrder: true,
    })
    expect(config.targets.analytics?.migrations).toEqual({
      ...defaults,
      dir: join(root, 'migrations'),
      table: 'schema_history',
      lockTimeoutMs: 10_000,
      allowOutOfOrder: true,
    })
    expect(config.targets.analytics?.protected).toBe(true)
    expect(config.targets.app?.protected).toBe(false)
  })

  it('replaces environment variables in strings', async () => {
    const root = project({
      defaultTarget: '${DBOPS_TARGET:-app}',
      targets: {
        app: { url: 'postgres://${DB_USER}:${DB_PASSWORD}@${DB_HOST:-localhost}/app' },
        other: { url: 'sqlite:${DATA_DIR:-data}/other.db' },
      },
      migrations: { statementTimeout: '${STATEMENT_TIMEOUT:-0}' },
    })
    const config = await resolveConfig({
      cwd: root,
      env: { DB_USER: 'me', DB_PASSWORD: 'pw', STATEMENT_TIMEOUT: '30s', DBOPS_TARGET: 'other' },
    })
    expect(config.defaultTarget).toBe('other')
    expect(config.targets.app?.url).toBe('postgres://me:pw@localhost/app')
    expect(config.targets.app?.redactedUrl).toBe('postgres://me:***@localhost/app')
    expect(config.targets.other?.location).toEqual({ engine: 'sqlite', path: join(root, 'data/other.db') })
    expect(config.targets.app?.migrations.statementTimeoutMs).toBe(30_000)
  })

  it('reports an unset variable in a target URL only when that target is selected', async () => {
    const root = project({
      defaultTarget: 'dev',
      targets: { dev: { url: 'sqlite:dev.db' }, prod: { url: 'postgres://app:${PROD_PASSWORD}@prod/app' } },
    })
    const config = await resolveConfig({ cwd: root, env: {} })
    expect(selectTargets(config, {}).map((target) => target.name)).toEqual(['dev'])
    expect(Object.keys(config.unresolved)).toEqual(['prod'])
    const problems = (selected: { target?: string; all?: boolean }) => {
      try {
        selectTargets(config, selected)
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError)
        return (error as ConfigError).problems
      }
      return []
    }
    expect(problems({ target: 'prod' })).toEqual([
      'targets.prod.url: environment variable PROD_PASSWORD is not set (set it, or write ${PROD_PASSWORD:-default})',
    ])
    expect(problems({ all: true })).toHaveLength(1)
  })

  it('lets --url replace the default target URL only, keeping its settings', async () => {
    const root = project({
      defaultTarget: 'app',
      targets: {
        app: { url: '${APP_URL}', migrations: { table: 'app_history' } },
        analytics: { url: 'sqlite:analytics.db' },
      },
    })
    const config = await resolveConfig({ cwd: root, env: {}, url: 'postgres://ci@localhost/app_test' })
    expect(config.source).toBe('file')
    expect(config.targets.app?.url).toBe('postgres://ci@localhost/app_test')
    expect(config.targets.app?.migrations.table).toBe('app_history')
    expect(config.targets.analytics?.url).toBe('sqlite:analytics.db')
  })

  it('applies --url to the target named with -t, keeping its settings; refuses --all and another target', async () => {
    const root = project({
      defaultTarget: 'app',
      targets: {
        app: { url: 'sqlite:app.db' },
        bench: {
          url: '${BENCH_URL}',
          protected: true,
          migrations: { table: 'bench_history' },
          backup: { dir: 'bench-backups' },
        },
      },
    })
    const config = await resolveConfig({ cwd: root, env: {}, url: 'sqlite:other.db', target: 'bench' })
    expect(config.urlTarget).toBe('bench')
    expect(config.targets.app?.url).toBe('sqlite:app.db')
    expect(config.targets.bench).toMatchObject({
      url: 'sqlite:other.db',
      database: join(root, 'other.db'),
      protected: true,
      migrations: { table: 'bench_history' },
      backup: { dir: join(root, 'bench-backups') },
    })
    expect(selectTargets(config, { target: 'bench' }).map((target) => target.database)).toEqual([
      join(root, 'other.db'),
    ])
    expect(() => selectTargets(config, { all: true })).toThrow(/--url names one database and cannot be used with --all/)
    expect(() => selectTargets(config, { target: 'app' })).toThrow(
      /--url was applied to target "bench", not to the selected target "app"/,
    )
  })

  it('does not consult DATABASE_URL when the file has targets', async () => {
    const root = project({ targets: { app: { url: 'sqlite:app.db' } } })
    const config = await resolveConfig({ cwd: root, env: { DATABASE_URL: 'postgres://localhost/other' } })
    expect(config.targets.app?.url).toBe('sqlite:app.db')
  })

  it('uses --url, DATABASE_URL or the default for a file without targets, with the file settings', async () => {
    const root = project({ migrations: { dir: 'sql' } })
    const config = await resolveConfig({ cwd: join(root, 'src'), env: { DATABASE_URL: 'sqlite:./x.db' } })
    expect(config.source).toBe('file')
    expect(config.defaultTarget).toBe('default')
    expect(config.targets.default?.location).toEqual({ engine: 'sqlite', path: join(root, 'x.db') })
    expect(config.targets.default?.migrations.dir).toBe(join(root, 'sql'))
  })

  it('loads the file given by configPath', async () => {
    const root = project(
      { targets: { found: { url: 'sqlite:found.db' } } },
      {
        'ops/staging.yaml': 'targets:\n  staging:\n    url: sqlite:staging.db\n',
      },
    )
    const config = await resolveConfig({ cwd: root, configPath: 'ops/staging.yaml', env: {} })
    expect(config.file).toBe(join(root, 'ops/staging.yaml'))
    expect(Object.keys(config.targets)).toEqual(['staging'])
    expect(config.targets.staging?.location).toEqual({ engine: 'sqlite', path: join(root, 'ops/staging.db') })
  })
})

describe('resolveConfig validation', () => {
  it('reports every problem at once, each with its path', async () => {
    const root = project({
      defaultTarget: 'app',
      migration: {},
      migrations: { lockWaitTimeout: 60, table: '' },
      targets: {
        app: {
          urll: 'postgres://localhost/app',
          protected: 'yes',
          migrations: { lockTimeout: '5', allowOutOfOrder: 'no', dirr: 'x' },
        },
        analytics: { url: 'mysqlx://root:hunter2@db/analytics' },
        'bad name': { url: 'sqlite:x.db' },
        reports: { url: 'postgres://${REPORTS_HOST}/reports', migrations: { statementTimeout: 'soon' } },
        broken: 'sqlite:broken.db',
      },
    })
    const problems = await problemsOf(resolveConfig({ cwd: root, env: {} }))
    expect(problems.sort()).toEqual(
      [
        'migration: unknown key (did you mean "migrations"?)',
        'migrations.lockWaitTimeout: must be a string (got number)',
        'migrations.table: must not be empty',
        'targets.app.urll: unknown key (did you mean "url"?)',
        'targets.app.migrations.dirr: unknown key (did you mean "dir"?)',
        'targets.app.url: required (e.g. postgres://user@localhost:5432/app)',
        'targets.app.migrations.lockTimeout: "5" needs a unit, e.g. 5s',
        'targets.app.migrations.allowOutOfOrder: must be true or false (got string)',
        'targets.app.protected: must be true or false (got string)',
        'targets.analytics.url: unsupported scheme "mysqlx" (use postgres://, postgresql://, sqlite: or file:)',
        'targets["bad name"]: target names may only use letters, digits, "_", "." and "-"',
        'targets.reports.url: environment variable REPORTS_HOST is not set (set it, or write ${REPORTS_HOST:-default})',
        'targets.reports.migrations.statementTimeout: "soon" is not a duration (use ms, s, m, h or d, e.g. 500ms, 5s, 1m30s)',
        'targets.broken: must be an object (got string)',
      ].sort(),
    )
  })

  it('names the file in the error and never a password', async () => {
    const root = project({
      targets: {
        a: { url: 'postgres://app:hunter2@db:port/app' },
        b: { url: 'mysql://app:hunter2@db/app' },
        c: { url: 'postgres://app:hun/ter2@db:5432/app' },
        d: { url: 'postgres://db/app?password=hunter2&sslmode=maybe' },
      },
    })
    const error = await errorOf(resolveConfig({ cwd: root, env: {} }))
    expect(error.message).toContain(join(root, '.dbopsrc.json'))
    expect(error.problems).toHaveLength(4)
    expect(JSON.stringify([error.message, error.problems, error.details])).not.toMatch(/hunter2|hun\b|ter2/)
  })

  it('requires defaultTarget with several targets only when neither --target nor --all picks, and checks that it exists', async () => {
    const root = project({ targets: { app: { url: 'sqlite:a.db' }, analytics: { url: 'sqlite:b.db' } } })
    const config = await resolveConfig({ cwd: root, env: {} })
    expect(selectTargets(config, { target: 'analytics' }).map((target) => target.name)).toEqual(['analytics'])
    expect(selectTargets(config, { all: true }).map((target) => target.name)).toEqual(['app', 'analytics'])
    expect(() => selectTargets(config, {})).toThrow(
      'defaultTarget: required to run without --target or --all when there are several targets (app, analytics)',
    )
    const other = project({ defaultTarget: 'ap', targets: { app: { url: 'sqlite:a.db' } } })
    expect(await problemsOf(resolveConfig({ cwd: other, env: {} }))).toEqual([
      'defaultTarget: unknown target "ap" (known: app)',
    ])
  })

  it('refuses empty targets and a config that is not an object', async () => {
    expect(await problemsOf(resolveConfig({ cwd: project({ targets: {} }), env: {} }))).toEqual([
      'targets: no targets (add one, or leave "targets" out to use --url or DATABASE_URL)',
    ])
    expect(await problemsOf(resolveConfig({ cwd: project(['x']), env: {} }))).toEqual([
      'the config: must be an object (got array)',
    ])
  })

  it('suggests nothing for a key far from every known one', async () => {
    const problems = await problemsOf(resolveConfig({ cwd: project({ colour: 'red' }), env: {} }))
    expect(problems).toEqual([
      'colour: unknown key (known keys: defaultTarget, targets, migrations, seeds, backup, health, lint, schema)',
    ])
  })
})

describe('selectTargets', () => {
  const config = (): ResolvedConfig => {
    const target = (name: string) => ({
      name,
      url: `sqlite:${name}.db`,
      redactedUrl: `sqlite:${name}.db`,
      database: `/p/${name}.db`,
      location: { engine: 'sqlite' as const, path: `/p/${name}.db` },
      migrations: { dir: '/p/migrations', ...defaults },
      protected: false,
      seeds: { dir: '/p/fixtures', table: 'dbops_seeds', environments: {}, tables: {} },
      backup: { dir: `/p/backups/${name}`, retention: {} },
      health: { thresholds: {} },
    })
    return {
      source: 'file',
      baseDir: '/p',
      defaultTarget: 'analytics',
      targets: { app: target('app'), analytics: target('analytics'), reports: target('reports') },
      unresolved: {},
    }
  }

  it('picks the default target when nothing is asked for', () => {
    expect(selectTargets(config(), {}).map((target) => target.name)).toEqual(['analytics'])
  })

  it('picks the named target', () => {
    expect(selectTargets(config(), { target: 'reports' }).map((target) => target.name)).toEqual(['reports'])
  })

  it('picks every target in config order with all', () => {
    expect(selectTargets(config(), { all: true }).map((target) => target.name)).toEqual(['app', 'analytics', 'reports'])
  })

  it('refuses an unknown target, listing the known ones', () => {
    expect(() => selectTargets(config(), { target: 'x' })).toThrow(UsageError)
    expect(() => selectTargets(config(), { target: 'x' })).toThrow(
      'unknown target "x" (known: app, analytics, reports)',
    )
  })

  it('refuses target and all together', () => {
    expect(() => selectTargets(config(), { target: 'app', all: true })).toThrow(UsageError)
  })
})

describe('resolveConfig: seeds, backup and health sections', () => {
  it('layers target settings over top-level ones and resolves paths against the config file', async () => {
    const root = project({
      defaultTarget: 'app',
      seeds: {
        dir: 'seed-data',
        environments: { dev: 'dev', test: ['base', 'test/*.csv'] },
        tables: { 'people.csv': 'users' },
      },
      backup: { dir: '/var/backups/dbops', format: 'directory', retention: { keepDaily: 7, keepWithin: '2d' } },
      health: { thresholds: { connections: { warn: '80%', critical: 95 } } },
      targets: {
        app: {
          url: 'sqlite:app.db',
          seeds: { environments: { dev: 'app-dev' } },
          backup: { jobs: 2, retention: { keepLast: 3 } },
        },
        other: {
          url: 'sqlite:other.db',
          backup: { dir: 'elsewhere' },
          health: { thresholds: { connections: { warn: 50 } } },
        },
      },
    })
    const config = await resolveConfig({ cwd: join(root, 'src/nested'), env: {} })
    const app = config.targets.app!
    const other = config.targets.other!
    expect(app.seeds).toEqual({
      dir: join(root, 'seed-data'),
      table: 'dbops_seeds',
      environments: { dev: ['app-dev'], test: ['base', 'test/*.csv'] },
      tables: { 'people.csv': 'users' },
    })
    // A target's retention replaces the top-level policy whole: mixing two policies rule by rule would surprise.
    expect(app.backup).toEqual({
      dir: '/var/backups/dbops/app',
      format: 'directory',
      jobs: 2,
      retention: { keepLast: 3 },
    })
    expect(other.backup).toEqual({
      dir: join(root, 'elsewhere'),
      format: 'directory',
      retention: { keepDaily: 7, keepWithinMs: 172_800_000 },
    })
    expect(app.health.thresholds).toEqual({ connections: { warn: '80%', critical: 95 } })
    expect(other.health.thresholds).toEqual({ connections: { warn: 50 } })
  })

  it('reports every problem in the new sections with its path', async () => {
    const root = project({
      seeds: { dirr: 'x', environments: { dev: 3 } },
      backup: { format: 'zip', jobs: 0, retention: { keepDaily: -1, keepWithin: '2' } },
      health: { thresholds: { connections: { warning: 1, critical: true } } },
      targets: { app: { url: 'sqlite:app.db', backup: 'daily' } },
    })
    const problems = await problemsOf(resolveConfig({ cwd: root, env: {} }))
    expect(problems.sort()).toEqual(
      [
        'seeds.dirr: unknown key (did you mean "dir"?)',
        'seeds.environments.dev: must be a string (got number)',
        'backup.format: must be one of custom, directory, plain (got "zip")',
        'backup.jobs: must be a whole number of at least 1 (got 0)',
        'backup.retention.keepDaily: must be a whole number of at least 0 (got -1)',
        'backup.retention.keepWithin: "2" needs a unit, e.g. 2s',
        'health.thresholds.connections.warning: unknown key (known keys: warn, critical)',
        'health.thresholds.connections.critical: must be a number or a string such as "80%" or "5m"',
        'targets.app.backup: must be an object (got string)',
      ].sort(),
    )
  })

  it('reads backup.encrypt, compress and compressLevel, a target overriding the top level', async () => {
    const recipient = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p'
    const root = project({
      backup: { encrypt: { recipients: [recipient] }, compress: 'gzip' },
      targets: {
        app: { url: 'sqlite:app.db', backup: { compress: 'none', compressLevel: 6 } },
        other: { url: 'sqlite:other.db' },
      },
      defaultTarget: 'app',
    })
    const config = await resolveConfig({ cwd: root, env: {} })
    expect(config.targets.app!.backup).toMatchObject({
      encrypt: { recipients: [recipient] },
      compress: 'none',
      compressLevel: 6,
    })
    expect(config.targets.other!.backup).toMatchObject({ encrypt: { recipients: [recipient] }, compress: 'gzip' })
    expect(config.targets.other!.backup.compressLevel).toBeUndefined()
  })

  it('reports every encryption and compression problem at once, never echoing a private key', async () => {
    const secret = 'AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ'
    const root = project({
      backup: { encrypt: { recipients: [secret, 'ssh-ed25519 AAAA'] }, compress: 'xz', compressLevel: 30 },
      targets: { app: { url: 'sqlite:app.db', backup: { encrypt: { recipients: [] } } } },
    })
    const error = await errorOf(resolveConfig({ cwd: root, env: {} }))
    expect(error.problems.sort()).toEqual(
      [
        'backup.encrypt.recipients[0]: this is a private identity, not a public key; give its public key (age-keygen -y)',
        'backup.encrypt.recipients[1]: not an age public key (age1...)',
        'backup.compress: must be one of auto, zstd, gzip, none (got "xz")',
        'backup.compressLevel: must be a whole number from 0 to 19 (zstd 1-19, gzip and pg_dump 0-9; got 30)',
        'targets.app.backup.encrypt.recipients: required, a list of age public keys (age-keygen -y key.txt)',
      ].sort(),
    )
    expect(error.message).not.toContain(secret)
  })
})

describe('resolveConfig with a dotenv file (envFile)', () => {
  it('takes DATABASE_URL from .env beside the config file, also from a subdirectory; set variables win', async () => {
    const root = project(
      { migrations: { table: '${LEDGER:-fallback}' } },
      { '.env': 'export DATABASE_URL=sqlite:./from-env.db\nLEDGER="from_env"\n' },
    )
    const fromEnv = await resolveConfig({ cwd: join(root, 'src/nested'), env: {}, envFile: true })
    expect(fromEnv.targets.default!.url).toBe('sqlite:./from-env.db')
    expect(fromEnv.targets.default!.database).toBe(join(root, 'from-env.db'))
    expect(fromEnv.targets.default!.migrations.table).toBe('from_env')
    expect(fromEnv.envFile).toEqual({ path: join(root, '.env'), names: ['DATABASE_URL', 'LEDGER'] })
    const env = { DATABASE_URL: 'sqlite:./set.db' }
    const set = await resolveConfig({ cwd: root, env, envFile: true })
    expect(set.targets.default!.url).toBe('sqlite:./set.db')
    expect(env).toEqual({ DATABASE_URL: 'sqlite:./set.db', LEDGER: 'from_env' })
    // Without envFile (the library's default) the file is not read.
    expect((await resolveConfig({ cwd: root, env: {} })).targets.default!.url).toBe('sqlite:./dev.db')
  })

  it('reads an explicit file relative to the working directory, and names one it cannot read', async () => {
    const root = project(undefined, { 'config/test.env': 'DATABASE_URL=sqlite:./other.db\n' })
    const config = await resolveConfig({ cwd: root, env: {}, envFile: 'config/test.env' })
    expect(config.targets.default!.url).toBe('sqlite:./other.db')
    const [problem] = await problemsOf(resolveConfig({ cwd: root, env: {}, envFile: 'missing.env' }))
    expect(problem).toBe(`cannot read the env file ${join(root, 'missing.env')}: ENOENT`)
    const [directory] = await problemsOf(resolveConfig({ cwd: root, env: {}, envFile: 'config' }))
    expect(directory).toBe(`cannot read the env file ${join(root, 'config')}: EISDIR`)
    // The default .env is optional.
    expect((await resolveConfig({ cwd: root, env: {}, envFile: true })).targets.default!.url).toBe('sqlite:./dev.db')
  })

  it('replaces ${VAR} in .env values from the environment and earlier lines, not in single-quoted ones', async () => {
    const root = project(undefined, {
      '.env': [
        'DB_USER=app',
        'DATABASE_URL="postgres://${DB_USER}:${DB_PASSWORD}@${DB_HOST:-localhost}:${DB_PORT}/shop"',
        "LITERAL='pa${ss'",
        'UNSET=x${NOT_SET}y',
        '',
      ].join('\n'),
    })
    const env: NodeJS.ProcessEnv = { DB_PASSWORD: 's3cret', DB_PORT: '6543' }
    const config = await resolveConfig({ cwd: root, env, envFile: true })
    expect(config.targets.default!.url).toBe('postgres://app:s3cret@localhost:6543/shop')
    expect(env.LITERAL).toBe('pa${ss')
    // As dbmate's and Prisma's loaders do: an unset variable gives an empty string.
    expect(env.UNSET).toBe('xy')
  })
})

describe("resolveConfig's default migrations folder", () => {
  it("is dbmate's db/migrations in a project that has it and no migrations/ folder", async () => {
    const dbmate = project(undefined, { 'db/migrations/20240101000000_a.sql': '-- migrate:up\n' })
    expect((await resolveConfig({ cwd: dbmate, env: {} })).targets.default!.migrations.dir).toBe(
      join(dbmate, 'db', 'migrations'),
    )
    const both = project(undefined, { 'db/migrations/1_a.sql': '', 'migrations/1_a.sql': '' })
    expect((await resolveConfig({ cwd: both, env: {} })).targets.default!.migrations.dir).toBe(join(both, 'migrations'))
    const prisma = project(undefined, { 'prisma/migrations/20230101000000_init/migration.sql': '' })
    expect((await resolveConfig({ cwd: prisma, env: {} })).targets.default!.migrations.dir).toBe(
      join(prisma, 'prisma', 'migrations'),
    )
    const configured = project({ migrations: { dir: 'sql' } }, { 'db/migrations/1_a.sql': '' })
    expect((await resolveConfig({ cwd: configured, env: {} })).targets.default!.migrations.dir).toBe(
      join(configured, 'sql'),
    )
  })
})
