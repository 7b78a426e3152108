// `dbops backup` against an S3-protocol server (moto on loopback) as cron runs it: the built CLI, real pg_dump, real
// signals and a store that goes away mid-upload. Covers create/list/verify --restore/check/prune/restore/health, a
// SIGKILL during the multipart upload, a store cut off mid-upload (alone, and beside a local destination), wrong
// credentials, two processes racing for the bucket lock, and the credentials staying out of argv, environments of
// pg_dump, output and manifests.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { ListMultipartUploadsCommand, ListObjectsV2Command, GetObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createPgItemsDatabase,
  pgQuery,
  runCli,
  spawnCli,
  tempDir,
  waitForExit,
  type PgDatabase,
} from '../helpers/databases.js'
import { startS3Server, TEST_AWS_ENV, type S3Server } from '../helpers/s3-server.js'

let server: S3Server
let client: S3Client
const dirs: string[] = []
const databases: PgDatabase[] = []

beforeAll(async () => {
  server = await startS3Server()
  client = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true })
}, 60_000)

afterAll(async () => {
  client?.destroy()
  await server?.stop()
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  for (const database of databases) await database.drop().catch(() => {})
})

/** A project folder whose config sends the target's backups to `backup`. */
function project(url: string, backup: Record<string, unknown>): string {
  const dir = tempDir('dbops-s3-e2e')
  dirs.push(dir)
  writeFileSync(path.join(dir, 'dbops.config.json'), JSON.stringify({ targets: { app: { url, backup } } }))
  return dir
}

// A plain dump of 400k rows (~30 MB) spans several multipart parts.
async function pgDatabase(rows: number): Promise<PgDatabase> {
  const database = await createPgItemsDatabase('dbops_s3', rows)
  databases.push(database)
  return database
}

const s3 = () => ({ endpoint: server.endpoint, forcePathStyle: true })

async function keys(bucket: string): Promise<string[]> {
  const page = await client.send(new ListObjectsV2Command({ Bucket: bucket }))
  return (page.Contents ?? []).map((object) => object.Key!).sort()
}

async function uploads(bucket: string): Promise<string[]> {
  const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))
  return (page.Uploads ?? []).map((upload) => upload.Key!)
}

/** Resolves once a multipart upload is open in the bucket: the backup is mid-upload. */
async function untilUploading(bucket: string, child: { exitCode: number | null }): Promise<void> {
  for (;;) {
    if ((await uploads(bucket)).length > 0) return
    if (child.exitCode !== null) throw new Error('the backup ended before its upload was seen')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** The pids of a process's children (from /proc). */
function childrenOf(pid: number): number[] {
  const found: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return found
}

/**
 * A TCP relay to the S3 server that the test can hold (the connections open now stop forwarding, so an upload in
 * flight stays in flight whatever the machine's speed; new connections still pass), release, or cut (every
 * connection reset, nothing listening any more).
 */
async function relay(to: string): Promise<{ endpoint: string; hold(): void; release(): void; cut(): void }> {
  const target = new URL(to)
  const pairs = new Set<[net.Socket, net.Socket]>()
  const proxy = net.createServer((socket) => {
    const upstream = net.connect(Number(target.port), target.hostname)
    pairs.add([socket, upstream])
    socket.pipe(upstream).pipe(socket)
    socket.on('error', () => upstream.destroy())
    upstream.on('error', () => socket.destroy())
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  const port = (proxy.address() as net.AddressInfo).port
  return {
    endpoint: `http://127.0.0.1:${port}`,
    hold() {
      for (const [socket, upstream] of pairs) {
        socket.unpipe(upstream).pause()
        upstream.unpipe(socket).pause()
      }
    },
    release() {
      for (const [socket, upstream] of pairs) socket.pipe(upstream).pipe(socket)
    },
    cut() {
      proxy.close()
      for (const pair of pairs) for (const socket of pair) socket.resetAndDestroy()
    },
  }
}

describe('dbops backup on a bucket', () => {
  it('create, list, verify --restore, check, health, prune and restore through the CLI; no credential anywhere', async () => {
    const database = await pgDatabase(2000)
    const bucket = await server.createBucket()
    const dir = project(database.url, { dir: `s3://${bucket}/nightly`, s3: s3() })
    const created = await runCli(['backup', 'create', '--json'], { cwd: dir })
    expect(created.code, created.stderr).toBe(0)
    const result = JSON.parse(created.stdout)
    const id = result.backup.id as string
    expect(result.destinations).toEqual([{ name: 'default', location: `s3://${bucket}/nightly`, ok: true }])
    expect(await keys(bucket)).toEqual([`nightly/${id}.dump`, `nightly/${id}.manifest.json`])

    const listed = await runCli(['backup', 'list'], { cwd: dir })
    expect(listed.code, listed.stderr).toBe(0)
    expect(listed.stdout).toContain(id)
    expect(listed.stdout).toContain(`s3://${bucket}/nightly`)

    const verified = await runCli(['backup', 'verify', '--restore'], { cwd: dir })
    expect(verified.code, verified.stderr).toBe(0)
    expect(verified.stdout).toMatch(/verified \(restore\)/)

    const check = await runCli(['backup', 'check', '--max-age', '1h'], { cwd: dir })
    expect(check.code, check.stdout + check.stderr).toBe(0)
    const health = await runCli(['health', '--json'], { cwd: dir })
    const backupAge = JSON.parse(health.stdout).checks.find((check: { check: string }) => check.check === 'backup_age')
    expect(backupAge).toMatchObject({ severity: 'ok', subject: `s3://${bucket}/nightly` })
    expect(backupAge.message).toMatch(new RegExp(`newest backup ${id} finished`))

    await pgQuery(database.url, 'DELETE FROM items WHERE id > 10')
    const restored = await runCli(['restore', id, '--clean'], { cwd: dir })
    expect(restored.code, restored.stderr).toBe(0)
    expect((await pgQuery(database.url, 'SELECT count(*)::int AS n FROM items'))[0]!.n).toBe(2000)

    const pruned = await runCli(['backup', 'prune', '--keep-last', '1', '--json'], { cwd: dir })
    expect(pruned.code, pruned.stderr).toBe(0)

    const manifest = await (
      await client.send(new GetObjectCommand({ Bucket: bucket, Key: `nightly/${id}.manifest.json` }))
    ).Body!.transformToString()
    for (const text of [created.stdout, created.stderr, listed.stdout, verified.stdout, manifest]) {
      expect(text).not.toContain(TEST_AWS_ENV.AWS_SECRET_ACCESS_KEY)
      expect(text).not.toContain(TEST_AWS_ENV.AWS_ACCESS_KEY_ID)
    }
  }, 120_000)

  it('SIGKILL mid-upload: no listed backup; the next run aborts the multipart upload and removes the litter', async () => {
    const database = await pgDatabase(800_000)
    const bucket = await server.createBucket()
    const link = await relay(server.endpoint)
    const dir = project(database.url, {
      dir: `s3://${bucket}/b`,
      s3: { endpoint: link.endpoint, forcePathStyle: true },
      format: 'plain',
      compress: 'none',
    })
    const child = spawnCli(['backup', 'create'], { cwd: dir })
    const exited = waitForExit(child, 90_000)
    await untilUploading(bucket, child)
    // The upload stalls here (and pg_dump behind it, once the part buffers are full): the kill lands mid-upload.
    link.hold()
    // pg_dump, the child doing the work, holds no cloud credential: neither in argv nor in its environment.
    const dumps = childrenOf(child.pid!).filter((pid) =>
      readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('pg_dump'),
    )
    expect(dumps.length).toBe(1)
    const cmdline = readFileSync(`/proc/${dumps[0]}/cmdline`, 'utf8')
    const environ = readFileSync(`/proc/${dumps[0]}/environ`, 'utf8')
    expect(cmdline).not.toContain(TEST_AWS_ENV.AWS_SECRET_ACCESS_KEY)
    expect(environ).not.toContain(TEST_AWS_ENV.AWS_SECRET_ACCESS_KEY)
    expect(environ).not.toMatch(/(^|\0)AWS_/)
    child.kill('SIGKILL')
    const killed = await exited
    expect(killed.signal).toBe('SIGKILL')
    // The kill left an open multipart upload (the fault happened mid-upload) and no backup.
    expect(await uploads(bucket)).toEqual([expect.stringMatching(/^b\/\d{8}T\d{6}Z-app\.sql$/)])
    expect((await keys(bucket)).filter((key) => key.endsWith('.manifest.json'))).toEqual([])
    const list = await runCli(['backup', 'list', '--json'], { cwd: dir })
    expect(JSON.parse(list.stdout).backups).toEqual([])

    link.release()
    const next = await runCli(['backup', 'create'], { cwd: dir, timeoutMs: 90_000 })
    expect(next.code, next.stderr).toBe(0)
    expect(next.stderr + next.stdout).toMatch(/removed 1 leftover\(s\) of an interrupted backup: .*unfinished upload/)
    expect(await uploads(bucket)).toEqual([])
    const manifests = (await keys(bucket)).filter((key) => key.endsWith('.manifest.json'))
    expect(manifests).toHaveLength(1)
  }, 180_000)

  it('the store cut off mid-upload: exit 2 and no manifest; beside a local destination, the local copy is complete and exit 1 names the lost one', async () => {
    const database = await pgDatabase(400_000)
    const bucket = await server.createBucket()
    const link = await relay(server.endpoint)
    const dir = project(database.url, {
      format: 'plain',
      destinations: [
        { name: 'local', dir: 'backups' },
        { name: 'offsite', dir: `s3://${bucket}/off`, s3: { endpoint: link.endpoint, forcePathStyle: true } },
      ],
    })
    const child = spawnCli(['backup', 'create'], { cwd: dir })
    const exited = waitForExit(child, 120_000)
    await untilUploading(bucket, child)
    link.hold()
    link.cut()
    const both = await exited
    expect(both.code, both.stderr).toBe(1)
    expect(both.stdout + both.stderr).toMatch(/did NOT arrive in offsite/)
    expect((await keys(bucket)).filter((key) => key.endsWith('.manifest.json'))).toEqual([])
    const local = await runCli(['backup', 'list', '--destination', 'local', '--json'], { cwd: dir })
    const [backup] = JSON.parse(local.stdout).backups
    expect(backup).toBeDefined()
    const verified = await runCli(['backup', 'verify', '--destination', 'local'], { cwd: dir })
    expect(verified.code, verified.stderr).toBe(0)

    // Alone: the run fails (exit 2) and publishes nothing.
    const alone = await relay(server.endpoint)
    const single = project(database.url, {
      format: 'plain',
      dir: `s3://${bucket}/alone`,
      s3: { endpoint: alone.endpoint, forcePathStyle: true },
    })
    const second = spawnCli(['backup', 'create'], { cwd: single })
    const done = waitForExit(second, 120_000)
    for (;;) {
      if ((await uploads(bucket)).some((key) => key.startsWith('alone/'))) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    alone.hold()
    alone.cut()
    const failed = await done
    expect(failed.code, failed.stderr).toBe(2)
    expect(failed.stderr).toMatch(/s3:\/\/.*alone/)
    // Nothing published; only the lock object of the dead run is left (the next run takes it over, its pid gone).
    expect((await keys(bucket)).filter((key) => key.startsWith('alone/'))).toEqual(['alone/.lock'])
  }, 240_000)

  it('two processes racing for the bucket lock: the second is told who holds it and exits 1', async () => {
    const database = await pgDatabase(800_000)
    const bucket = await server.createBucket()
    const link = await relay(server.endpoint)
    const dir = project(database.url, {
      dir: `s3://${bucket}/race`,
      s3: { endpoint: link.endpoint, forcePathStyle: true },
      format: 'plain',
      compress: 'none',
    })
    const first = spawnCli(['backup', 'create'], { cwd: dir })
    const firstDone = waitForExit(first, 120_000)
    await untilUploading(bucket, first)
    // The first run's upload stays in flight while the second runs (its own connections pass the relay).
    link.hold()
    const second = await runCli(['backup', 'create'], { cwd: dir })
    link.release()
    expect(second.code, second.stderr).toBe(1)
    expect(second.stderr).toMatch(
      new RegExp(`another dbops \\(pid ${first.pid} on .*"dbops backup create".*s3://${bucket}/race`),
    )
    expect((await firstDone).code).toBe(0)
    expect((await keys(bucket)).filter((key) => key.endsWith('.manifest.json'))).toHaveLength(1)
  }, 180_000)
})

describe('the AWS SDK loads only for a bucket', () => {
  it('not for --help, migrate status or a folder backup list; for a bucket backup list', async () => {
    const trace = { NODE_OPTIONS: `--require ${path.join(import.meta.dirname, 'fixtures-trace-aws.cjs')}` }
    const bucket = await server.createBucket()
    const dir = tempDir('dbops-s3-lazy')
    dirs.push(dir)
    const url = `sqlite:${path.join(dir, 'app.db')}`
    for (const args of [['--help'], ['--url', url, 'migrate', 'status'], ['--url', url, 'backup', 'list']]) {
      const result = await runCli(args, { cwd: dir, env: trace })
      expect(result.stderr, args.join(' ')).not.toContain('loaded')
    }
    const s3dir = project(url, { dir: `s3://${bucket}/lazy`, s3: s3() })
    const listed = await runCli(['backup', 'list'], { cwd: s3dir, env: trace })
    expect(listed.code, listed.stderr).toBe(0)
    expect(listed.stderr).toContain('loaded ../vendor/@aws-sdk/client-s3.cjs')
  }, 60_000)
})

describe('credentials the store refuses', () => {
  let strict: S3Server
  beforeAll(async () => {
    // One request without authentication (creating the bucket), then every request is checked against moto's IAM,
    // which knows no key: the test credentials are refused as wrong ones would be by AWS.
    strict = await startS3Server({ authAfter: 1 })
  }, 60_000)
  afterAll(async () => {
    await strict?.stop()
  })

  it('backup create fails with one line naming the bucket and the credential problem, never the secret', async () => {
    const bucket = await strict.createBucket()
    const dir = tempDir('dbops-s3-auth')
    dirs.push(dir)
    const file = path.join(dir, 'app.db')
    const { default: Database } = await import('better-sqlite3')
    const database = new Database(file)
    database.exec('CREATE TABLE t (x)')
    database.close()
    writeFileSync(
      path.join(dir, 'dbops.config.json'),
      JSON.stringify({
        targets: {
          app: {
            url: `sqlite:${file}`,
            backup: { dir: `s3://${bucket}/x`, s3: { endpoint: strict.endpoint, forcePathStyle: true } },
          },
        },
      }),
    )
    const result = await runCli(['backup', 'create'], { cwd: dir })
    expect(result.code).toBe(2)
    const lines = result.stderr.split('\n').filter((line) => line.trim() !== '')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(new RegExp(`^error: s3://${bucket}/x: could not .*refused the credentials`))
    expect(lines[0]).toMatch(/hint: check AWS_ACCESS_KEY_ID/)
    expect(result.stdout + result.stderr).not.toContain(TEST_AWS_ENV.AWS_SECRET_ACCESS_KEY)
    const listed = await runCli(['backup', 'list'], { cwd: dir })
    expect(listed.code).toBe(2)
    expect(listed.stderr).toMatch(/refused the credentials/)
  }, 60_000)
})
