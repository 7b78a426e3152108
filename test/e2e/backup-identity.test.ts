// A backup belongs to one database (issue 9 §1) and a failed verification counts (§3), as a user meets them: the
// built CLI against real SQLite files and real PostgreSQL databases.
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import {
  canBindMount,
  createPgDatabase,
  pgQuery,
  runCli,
  tempDir,
  type CliResult,
  type PgDatabase,
} from '../helpers/databases.js'

const dirs: string[] = []
const databases: PgDatabase[] = []
afterAll(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  for (const database of databases) await database.drop().catch(() => {})
})

function workspace(): string {
  const dir = tempDir('dbops-identity-e2e')
  dirs.push(dir)
  return dir
}

function sqliteFile(dir: string, name: string, table: string): string {
  const database = new Database(path.join(dir, name))
  database.exec(`CREATE TABLE ${table} (x INTEGER); INSERT INTO ${table} VALUES (1), (2)`)
  database.close()
  return `sqlite:./${name}`
}

function tables(file: string): string[] {
  const database = new Database(file, { readonly: true })
  try {
    return (
      database
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .all() as { name: string }[]
    ).map((row) => row.name)
  } finally {
    database.close()
  }
}

/** Targets a (a.db, holding table `aTable`) and b (b.db, table b), both backing up into the folder shared/. */
function sharedFolderTargets(aTable: string): string {
  const dir = workspace()
  sqliteFile(dir, 'a.db', aTable)
  sqliteFile(dir, 'b.db', 'b')
  writeFileSync(
    path.join(dir, 'dbops.config.json'),
    JSON.stringify({
      defaultTarget: 'a',
      targets: {
        a: { url: 'sqlite:./a.db', backup: { dir: 'shared' } },
        b: { url: 'sqlite:./b.db', backup: { dir: 'shared' } },
      },
    }),
  )
  return dir
}

function json(result: CliResult): any {
  expect(result.stdout, result.stderr).not.toBe('')
  return JSON.parse(result.stdout)
}

function manifests(dir: string): any[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.manifest.json'))
    .map((name) => JSON.parse(readFileSync(path.join(dir, name), 'utf8')))
}

describe('a backup belongs to one database', () => {
  it("the issue's reproduction: two --url SQLite files get their own folders; list and prune see only their own", async () => {
    const dir = workspace()
    const a = sqliteFile(dir, 'a.db', 'a')
    const b = sqliteFile(dir, 'b.db', 'b')
    expect((await runCli(['backup', 'create', '--url', a], { cwd: dir })).code).toBe(0)
    expect((await runCli(['backup', 'create', '--url', b], { cwd: dir })).code).toBe(0)
    expect(readdirSync(path.join(dir, 'backups')).sort()).toEqual(['a', 'b'])
    const listed = json(await runCli(['backup', 'list', '--url', a, '--json'], { cwd: dir }))
    expect(listed.backups).toHaveLength(1)
    expect(listed.backups[0].database.key).toBe(`sqlite:${path.join(dir, 'a.db')}`)
    const pruned = json(
      await runCli(['backup', 'prune', '--keep-last', '1', '--url', a, '--dry-run', '--json'], { cwd: dir }),
    )
    expect(pruned.removed).toEqual([])
    expect(pruned.kept).toHaveLength(1)
  })

  it("two targets sharing one folder: list, check, verify --latest and prune each see only their own; restore of the other's is refused unless --from names it", async () => {
    const dir = sharedFolderTargets('a')
    expect((await runCli(['backup', 'create', '-t', 'a'], { cwd: dir })).code).toBe(0)
    const bId = json(await runCli(['backup', 'create', '-t', 'b', '--json'], { cwd: dir })).backup.id
    const shared = path.join(dir, 'shared')
    expect(manifests(shared)).toHaveLength(2)

    const listA = json(await runCli(['backup', 'list', '-t', 'a', '--json'], { cwd: dir }))
    expect(listA.backups.map((backup: any) => backup.target)).toEqual(['a'])
    expect(listA.otherDatabases).toBe(1)
    const human = await runCli(['backup', 'list', '-t', 'a'], { cwd: dir })
    expect(human.stdout).toContain(`a (${path.join(dir, 'a.db')}): 1 backup(s) in`)
    expect(human.stdout).not.toContain(bId)

    const checkA = json(await runCli(['backup', 'check', '-t', 'a', '--json'], { cwd: dir }))
    expect(checkA.newest.id).not.toBe(bId)
    const verifyA = json(await runCli(['backup', 'verify', '--latest', '-t', 'a', '--json'], { cwd: dir }))
    expect(verifyA.id).toBe(listA.backups[0].id)
    expect(json(await runCli(['backup', 'verify', bId, '-t', 'a', '--json'], { cwd: dir })).error.code).toBe(
      'E_BACKUP_NOT_FOUND',
    )

    // b's only backup survives a prune for a.
    expect((await runCli(['backup', 'create', '-t', 'a'], { cwd: dir })).code).toBe(0)
    expect((await runCli(['backup', 'verify', '--latest', '-t', 'a'], { cwd: dir })).code).toBe(0)
    const pruneA = json(await runCli(['backup', 'prune', '-t', 'a', '--keep-last', '1', '--json'], { cwd: dir }))
    expect(pruneA.removed).toHaveLength(1)
    expect(pruneA.removed[0].id).not.toBe(bId)
    expect(existsSync(path.join(shared, `${bId}.manifest.json`))).toBe(true)

    const refused = await runCli(['restore', bId, '-t', 'a', '--force'], { cwd: dir })
    expect(refused.code).toBe(3)
    expect(refused.stderr).toContain(`was taken from ${path.join(dir, 'b.db')}, not from ${path.join(dir, 'a.db')}`)
    expect(refused.stderr).toContain('--from')
    expect(tables(path.join(dir, 'a.db'))).toEqual(['a'])

    const wrongFrom = await runCli(['restore', bId, '-t', 'a', '--force', '--from', 'a'], { cwd: dir })
    expect(wrongFrom.code).toBe(3)
    const cloned = await runCli(['restore', bId, '-t', 'a', '--force', '--from', 'b'], { cwd: dir })
    expect(cloned.code, cloned.stderr).toBe(0)
    expect(cloned.stdout).toContain(`a (${path.join(dir, 'a.db')}): restored ${bId} of ${path.join(dir, 'b.db')}`)
    expect(tables(path.join(dir, 'a.db'))).toEqual(['b'])
  })

  it("restore --latest takes the newest backup of the target's own database, passing over one whose verify failed", async () => {
    const dir = sharedFolderTargets('a1')
    const create = async (target: string) =>
      json(await runCli(['backup', 'create', '-t', target, '--json'], { cwd: dir })).backup
    const first = await create('a')
    sqliteFile(dir, 'a.db', 'a2')
    const second = await create('a')
    sqliteFile(dir, 'a.db', 'a3')
    await create('b') // The newest in the folder, but of b.

    expect((await runCli(['restore', '--latest', '-t', 'a', '--force'], { cwd: dir })).stdout).toContain(
      `restored ${second.id} of ${path.join(dir, 'a.db')}`,
    )
    expect(tables(path.join(dir, 'a.db'))).toEqual(['a1', 'a2'])

    // The newest rots and its verify fails: --latest restores the one before it.
    const artifact = path.join(dir, 'shared', second.artifact)
    const bytes = readFileSync(artifact)
    bytes[bytes.length - 100]! ^= 0xff
    writeFileSync(artifact, bytes)
    expect((await runCli(['backup', 'verify', second.id, '-t', 'a'], { cwd: dir })).code).toBe(2)
    const restored = json(await runCli(['restore', '--latest', '-t', 'a', '--force', '--json'], { cwd: dir }))
    expect(restored).toMatchObject({ id: first.id, source: path.join(dir, 'a.db') })
    expect(tables(path.join(dir, 'a.db'))).toEqual(['a1'])

    // With --from, the newest backup of that database, into this one.
    const cloned = await runCli(['restore', '--latest', '-t', 'a', '--force', '--from', 'b'], { cwd: dir })
    expect(cloned.code, cloned.stderr).toBe(0)
    expect(tables(path.join(dir, 'a.db'))).toEqual(['b'])

    for (const args of [['restore'], ['restore', first.id, '--latest']]) {
      const usage = await runCli([...args, '-t', 'a', '--force'], { cwd: dir })
      expect(usage.code).toBe(3)
      expect(usage.stderr).toMatch(/^error: restore: (which backup\?|give .+ or --latest, not both)/)
    }
  })

  it("old manifests without an identity are listed for the folder's target, and a prune for another URL never deletes them", async () => {
    const dir = workspace()
    const a = sqliteFile(dir, 'a.db', 'a')
    const b = sqliteFile(dir, 'b.db', 'b')
    writeFileSync(path.join(dir, 'dbops.config.json'), JSON.stringify({ backup: { dir: 'one' } }))
    const created = json(await runCli(['backup', 'create', '--url', b, '--json'], { cwd: dir })).backup
    // As main wrote it before identities: no "database", and (no config targets) the shared folder backups/default.
    const legacyDir = path.join(dir, 'one', 'a')
    mkdirSync(legacyDir, { recursive: true })
    const { database: _database, ...legacy } = created
    copyFileSync(path.join(dir, 'one', 'b', created.artifact), path.join(legacyDir, created.artifact))
    writeFileSync(path.join(legacyDir, `${created.id}.manifest.json`), JSON.stringify(legacy))
    expect((await runCli(['backup', 'create', '--url', a], { cwd: dir })).code).toBe(0)
    const listed = json(await runCli(['backup', 'list', '--url', a, '--json'], { cwd: dir }))
    expect(listed.backups.map((backup: any) => backup.id)).toContain(created.id)
    const pruned = json(await runCli(['backup', 'prune', '--url', a, '--keep-last', '1', '--json'], { cwd: dir }))
    expect(pruned.removed).toEqual([])
    expect(pruned.kept.find((entry: any) => entry.id === created.id).reasons[0]).toContain('no database identity')
    expect(existsSync(path.join(legacyDir, `${created.id}.manifest.json`))).toBe(true)
  })

  it('after the upgrade, each --url database still sees (never prunes) its own older backups in the shared backups/default', async () => {
    const dir = workspace()
    const a = sqliteFile(dir, 'a.db', 'a')
    const b = sqliteFile(dir, 'b.db', 'b')
    // backups/default as the old code left it: a's and b's backups side by side, no identities.
    const shared = path.join(dir, 'backups', 'default')
    mkdirSync(shared, { recursive: true })
    const old: Record<string, string> = {}
    for (const [url, name] of [
      [a, 'a'],
      [b, 'b'],
    ] as const) {
      const created = json(await runCli(['backup', 'create', '--url', url, '--json'], { cwd: dir })).backup
      const { database: _database, ...legacy } = created
      // Both were "default" backups: distinct ids, as one shared folder gave them.
      const id = `${created.id}-${name}`
      copyFileSync(path.join(dir, 'backups', name, created.artifact), path.join(shared, `${id}.sqlite`))
      writeFileSync(
        path.join(shared, `${id}.manifest.json`),
        JSON.stringify({ ...legacy, id, artifact: `${id}.sqlite` }),
      )
      rmSync(path.join(dir, 'backups', name), { recursive: true })
      old[name] = id
    }
    const listA = json(await runCli(['backup', 'list', '--url', a, '--json'], { cwd: dir }))
    expect(listA.backups.map((backup: any) => backup.id)).toEqual([old.a])
    expect(listA.older).toEqual({ dir: shared, ids: [old.a] })
    expect((await runCli(['backup', 'check', '--url', a], { cwd: dir })).code).toBe(0)
    // Restorable by id, as before, into the database it came from (and b's is not a's).
    new Database(path.join(dir, 'a.db')).exec('DROP TABLE a')
    const restored = await runCli(['restore', old.a!, '--url', a, '--force'], { cwd: dir })
    expect(restored.code, restored.stderr).toBe(0)
    expect(tables(path.join(dir, 'a.db'))).toEqual(['a'])
    expect((await runCli(['restore', old.b!, '--url', a, '--force'], { cwd: dir })).code).toBe(3)
    // A prune for a works in backups/a only.
    expect((await runCli(['backup', 'create', '--url', a], { cwd: dir })).code).toBe(0)
    expect((await runCli(['backup', 'create', '--url', a], { cwd: dir })).code).toBe(0)
    const pruned = json(await runCli(['backup', 'prune', '--url', a, '--keep-last', '1', '--json'], { cwd: dir }))
    expect(pruned.removed).toHaveLength(1)
    expect(
      manifests(shared)
        .map((manifest) => manifest.id)
        .sort(),
    ).toEqual([old.a, old.b].sort())
  })

  it("PostgreSQL: a backup of database B restored into A by path is refused (exit 3, naming both); --from B's URL clones it on purpose", async () => {
    const dir = workspace()
    const a = await createPgDatabase('dbops_ida')
    const b = await createPgDatabase('dbops_idb')
    databases.push(a, b)
    await pgQuery(a.url, 'CREATE TABLE only_in_a (id int)')
    await pgQuery(b.url, 'CREATE TABLE only_in_b (id int); INSERT INTO only_in_b VALUES (1)')
    const created = json(await runCli(['--url', b.url, 'backup', 'create', '--json'], { cwd: dir })).backup
    const { rows } = { rows: await pgQuery(b.url, 'SELECT system_identifier::text AS id FROM pg_control_system()') }
    expect(created.database.key).toBe(`postgres:${rows[0]!.id}/${b.name}`)
    const manifest = path.join(dir, 'backups', b.name, `${created.id}.manifest.json`)
    const refused = await runCli(['--url', a.url, 'restore', manifest, '--clean', '--force'], { cwd: dir })
    expect(refused.code).toBe(3)
    expect(refused.stderr).toMatch(
      new RegExp(`was taken from 127\\.0\\.0\\.1:5432/${b.name}, not from 127\\.0\\.0\\.1:5432/${a.name}`),
    )
    expect(await pgQuery(a.url, `SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'only_in_b'`)).toEqual([
      { n: 0 },
    ])
    const wrong = await runCli(['--url', a.url, 'restore', manifest, '--clean', '--force', '--from', a.url], {
      cwd: dir,
    })
    expect(wrong.code).toBe(3)
    const cloned = await runCli(['--url', a.url, 'restore', manifest, '--clean', '--force', '--from', b.url], {
      cwd: dir,
    })
    expect(cloned.code, cloned.stderr).toBe(0)
    expect(await pgQuery(a.url, 'SELECT count(*)::int AS n FROM only_in_b')).toEqual([{ n: 1 }])
    const allowed = await runCli(
      ['--url', a.url, 'restore', manifest, '--clean', '--force', '--allow-other-database'],
      { cwd: dir },
    )
    expect(allowed.code, allowed.stderr).toBe(0)
  })
})

describe('restore --url <B> --from <configured target A>', () => {
  /** A config with one target, `prod`; --url then replaces its URL, but --from prod still means prod as configured. */
  function onePlaceConfig(dir: string, url: string): void {
    writeFileSync(path.join(dir, 'dbops.config.json'), JSON.stringify({ targets: { prod: { url } } }))
  }

  it('SQLite: restores the backups of prod as configured into the --url database; without --from it is refused', async () => {
    const dir = workspace()
    onePlaceConfig(dir, sqliteFile(dir, 'prod.db', 'only_in_prod'))
    const copy = sqliteFile(dir, 'copy.db', 'only_in_copy')
    const id = json(await runCli(['backup', 'create', '--json'], { cwd: dir })).backup.id

    const refused = await runCli(['--url', copy, 'restore', id, '--force'], { cwd: dir })
    expect(refused.code, refused.stderr).toBe(3)
    expect(refused.stderr).toContain(`was taken from ${path.join(dir, 'prod.db')}`)
    expect(tables(path.join(dir, 'copy.db'))).toEqual(['only_in_copy'])

    const restored = await runCli(['--url', copy, 'restore', '--latest', '--from', 'prod', '--force'], { cwd: dir })
    expect(restored.code, restored.stderr).toBe(0)
    // Both databases named: where into and where from.
    expect(restored.stdout).toContain(
      `prod (${path.join(dir, 'copy.db')}): restored ${id} of ${path.join(dir, 'prod.db')}`,
    )
    expect(tables(path.join(dir, 'copy.db'))).toEqual(['only_in_prod'])
    const rows = new Database(path.join(dir, 'copy.db'), { readonly: true })
    expect(rows.prepare('SELECT count(*) AS n FROM only_in_prod').get()).toEqual({ n: 2 })
    rows.close()
    expect(tables(path.join(dir, 'prod.db'))).toEqual(['only_in_prod'])
  })

  it('PostgreSQL: the same, and -t other --url <B> --from prod keeps working', async () => {
    const dir = workspace()
    const prod = await createPgDatabase('dbops_from_a')
    const copy = await createPgDatabase('dbops_from_b')
    databases.push(prod, copy)
    await pgQuery(prod.url, 'CREATE TABLE only_in_prod (id int); INSERT INTO only_in_prod VALUES (1), (2)')
    await pgQuery(copy.url, 'CREATE TABLE only_in_copy (id int)')
    onePlaceConfig(dir, prod.url)
    const id = json(await runCli(['backup', 'create', '--json'], { cwd: dir })).backup.id

    const refused = await runCli(['--url', copy.url, 'restore', id, '--clean', '--force'], { cwd: dir })
    expect(refused.code, refused.stderr).toBe(3)
    expect(
      await pgQuery(copy.url, "SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'only_in_prod'"),
    ).toEqual([{ n: 0 }])

    const restored = await runCli(
      ['--url', copy.url, 'restore', '--latest', '--from', 'prod', '--clean', '--force', '--json'],
      { cwd: dir },
    )
    expect(restored.code, restored.stderr).toBe(0)
    const document = json(restored)
    expect(document.id).toBe(id)
    expect(document.source).toBe(`127.0.0.1:5432/${prod.name}`)
    expect(document.database).toContain(copy.name)
    expect(await pgQuery(copy.url, 'SELECT count(*)::int AS n FROM only_in_prod')).toEqual([{ n: 2 }])
    expect(await pgQuery(prod.url, 'SELECT count(*)::int AS n FROM only_in_prod')).toEqual([{ n: 2 }])

    // A second target that --url replaces, restoring prod's backup: the form that worked before.
    writeFileSync(
      path.join(dir, 'dbops.config.json'),
      JSON.stringify({ defaultTarget: 'prod', targets: { prod: { url: prod.url }, other: { url: copy.url } } }),
    )
    await pgQuery(copy.url, 'DROP TABLE only_in_prod')
    const other = await runCli(
      ['-t', 'other', '--url', copy.url, 'restore', '--latest', '--from', 'prod', '--clean', '--force'],
      { cwd: dir },
    )
    expect(other.code, other.stderr).toBe(0)
    expect(await pgQuery(copy.url, 'SELECT count(*)::int AS n FROM only_in_prod')).toEqual([{ n: 2 }])
  })
})

describe('verification that counts', () => {
  it('a failed verify is recorded; check, prune, list and restore honour it', async () => {
    const dir = workspace()
    const url = sqliteFile(dir, 'app.db', 'items')
    const first = json(await runCli(['--url', url, 'backup', 'create', '--json'], { cwd: dir })).backup.id
    expect((await runCli(['--url', url, 'backup', 'verify', first], { cwd: dir })).code).toBe(0)
    const second = json(await runCli(['--url', url, 'backup', 'create', '--json'], { cwd: dir })).backup
    expect((await runCli(['--url', url, 'backup', 'verify', second.id], { cwd: dir })).code).toBe(0)
    const folder = json(await runCli(['--url', url, 'backup', 'list', '--json'], { cwd: dir })).dir
    // The newest backup rots after it was verified once.
    const artifact = path.join(folder, second.artifact)
    const bytes = readFileSync(artifact)
    bytes[bytes.length - 100]! ^= 0xff
    writeFileSync(artifact, bytes)
    const failed = await runCli(['--url', url, 'backup', 'verify', second.id], { cwd: dir })
    expect(failed.code).toBe(2)
    const recorded = JSON.parse(readFileSync(path.join(folder, `${second.id}.manifest.json`), 'utf8'))
    expect(recorded.verifyFailure).toMatchObject({ by: 'checksum', code: 'E_BACKUP_CORRUPT' })
    expect(recorded.verifyFailure.message).toContain('is corrupt')
    expect(Date.parse(recorded.verifyFailure.at)).toBeGreaterThan(Date.parse(recorded.verifiedAt))

    const listed = await runCli(['--url', url, 'backup', 'list'], { cwd: dir })
    expect(listed.stdout).toMatch(new RegExp(`${second.id} .+ FAILED `))
    const check = await runCli(['--url', url, 'backup', 'check', '--json'], { cwd: dir })
    expect(check.code).toBe(2)
    expect(json(check).findings.find((finding: any) => finding.check === 'backup_verify').message).toContain(
      `backup ${second.id} failed verification`,
    )
    const pruned = json(
      await runCli(['--url', url, 'backup', 'prune', '--keep-last', '1', '--dry-run', '--json'], { cwd: dir }),
    )
    expect(pruned.removed).toEqual([])
    expect(pruned.kept.find((entry: any) => entry.id === first).reasons).toEqual(['newest verified backup'])

    new Database(path.join(dir, 'app.db')).exec('DROP TABLE items')
    const restore = await runCli(['--url', url, 'restore', second.id], { cwd: dir })
    expect(restore.code).toBe(2)
    expect(restore.stderr).toContain(`backup ${second.id} failed "backup verify"`)
    expect(restore.stderr).toContain('--force')
    expect(tables(path.join(dir, 'app.db'))).toEqual([])
  })

  const canMount = canBindMount()

  it.skipIf(!canMount)(
    'verify on read-only storage: the verdict stands (exit 0) with a warning that it was not recorded',
    async () => {
      const dir = workspace()
      const url = sqliteFile(dir, 'app.db', 'items')
      const id = json(await runCli(['--url', url, 'backup', 'create', '--json'], { cwd: dir })).backup.id
      const folder = json(await runCli(['--url', url, 'backup', 'list', '--json'], { cwd: dir })).dir
      execFileSync('mount', ['--bind', folder, folder])
      try {
        execFileSync('mount', ['-o', 'remount,bind,ro', folder])
        expect(() => writeFileSync(path.join(folder, 'probe'), 'x')).toThrow(/EROFS/)
        const verified = await runCli(['--url', url, 'backup', 'verify', id], { cwd: dir })
        expect(verified.code, verified.stderr).toBe(0)
        expect(verified.stdout).toContain(`default (${path.join(dir, 'app.db')}): backup ${id} verified`)
        expect(verified.stderr).toMatch(/warning: the result could not be recorded in .+ \(EROFS\)/)
        expect(verified.stderr).not.toContain('unexpected failure')
        const document = json(await runCli(['--url', url, 'backup', 'verify', id, '--json'], { cwd: dir }))
        expect(document).toMatchObject({ ok: true, recorded: false })
      } finally {
        execFileSync('umount', [folder])
      }
      expect(JSON.parse(readFileSync(path.join(folder, `${id}.manifest.json`), 'utf8')).verifiedAt).toBeNull()
    },
  )
})
