// The one interrupt rule (README, Output and exit codes › Interrupts) for the commands not covered elsewhere: seed run,
// audit, health, schema dump, backup create and restore. Each is stopped with SIGINT once it is demonstrably at work
// (blocked on a lock this test holds), then must exit 2 with one "interrupted" line (or `ok: false` and
// E_INTERRUPTED with --json) and leave nothing half-done.
import { existsSync, readdirSync, statSync } from 'node:fs'
import type { ChildProcess } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { pgQuery, runCli, spawnCli, waitForExit, type CliResult } from '../helpers/databases.js'
import { makeProject, migration, type Project } from '../helpers/projects.js'

// Waits of a few seconds on the lock we hold must not end the command before the interrupt does.
const CONFIG = { migrations: { lockTimeout: '60s' } }
const FILES = {
  '001_items.sql': migration('CREATE TABLE items (id int PRIMARY KEY, name text);', 'DROP TABLE items;'),
}

const holders: pg.Client[] = []
afterEach(async () => {
  await Promise.all(holders.splice(0).map((client) => client.end().catch(() => {})))
})

/** Holds ACCESS EXCLUSIVE on `table` in an open transaction until `release()`. */
async function lockTable(project: Project, table: string): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: project.url })
  holders.push(client)
  await client.connect()
  await client.query(`BEGIN; LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`)
  return {
    async release() {
      await client.query('COMMIT')
    },
  }
}

/** Resolves once another session of the project's database waits for a lock (polls the server: an event, not a delay). */
async function blockedOnLock(project: Project, child: { exitCode: number | null }): Promise<void> {
  const database = new URL(project.url).pathname.slice(1)
  for (;;) {
    const rows = await pgQuery(
      project.url,
      `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
      [database],
    )
    if (rows.length > 0) return
    if (child.exitCode !== null) throw new Error('the command exited before it blocked on the lock')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * A TCP proxy to the test server that forwards the connection start-up, then holds the client's first query (a server
 * that has stopped answering) until `release()`. `stalled` resolves once a query is held: the command is at work.
 * Audit and health take no lock a test could hold for long (health sets a 1 s lock_timeout), hence the proxy.
 */
async function stallingProxy(url: string) {
  const upstream = new URL(url)
  let held: { socket: net.Socket; chunks: Buffer[] }[] = []
  let holding = true
  let onStalled!: () => void
  const stalled = new Promise<void>((resolve) => (onStalled = resolve))
  const server = net.createServer((client) => {
    const socket = net.connect(Number(upstream.port || 5432), upstream.hostname)
    const queue = { socket, chunks: [] as Buffer[] }
    let startedUp = false
    socket.on('data', (data) => client.write(data))
    socket.on('end', () => client.end())
    socket.on('error', () => client.destroy())
    client.on('end', () => socket.end())
    client.on('error', () => socket.destroy())
    client.on('data', (data: Buffer) => {
      // The start-up message has no type byte; after it, 'Q' (simple) or 'P' (extended) starts a query.
      const typed = startedUp
      startedUp = true
      if (holding && (queue.chunks.length > 0 || (typed && (data[0] === 0x51 || data[0] === 0x50)))) {
        if (queue.chunks.length === 0) held.push(queue)
        queue.chunks.push(data)
        onStalled()
        return
      }
      socket.write(data)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const proxied = new URL(url)
  proxied.hostname = '127.0.0.1'
  proxied.port = String((server.address() as net.AddressInfo).port)
  proxied.searchParams.set('sslmode', 'disable')
  proxies.push(server)
  return {
    url: proxied.toString(),
    stalled,
    async release() {
      holding = false
      for (const { socket, chunks } of held) for (const chunk of chunks) socket.write(chunk)
      held = []
    },
  }
}
const proxies: net.Server[] = []
afterEach(() => {
  for (const server of proxies.splice(0)) server.close()
})

/** Starts the CLI, waits until it blocks on the lock, sends SIGINT, waits for the acknowledgement, releases the lock. */
async function interruptWhileBlocked(
  project: Project,
  lock: { release(): Promise<void> },
  args: string[],
  stall?: { url: string; stalled: Promise<void> },
): Promise<CliResult> {
  const child = spawnCli(['--url', stall?.url ?? project.url, ...args], { cwd: project.dir })
  const exited = waitForExit(child)
  if (stall) await stall.stalled
  else await blockedOnLock(project, child)
  await interrupt(child)
  await lock.release()
  return exited
}

/** Sends SIGINT and resolves once the CLI says it is stopping (or has exited). */
function interrupt(child: ChildProcess): Promise<void> {
  const acknowledged = new Promise<void>((resolve) => {
    let seen = ''
    child.stderr!.on('data', (data: Buffer | string) => {
      seen += data.toString()
      if (/SIGINT: stopping at the next safe point/.test(seen)) resolve()
    })
    child.on('close', () => resolve())
  })
  child.kill('SIGINT')
  return acknowledged
}

/** The non-JSON run: exit 2 and exactly one error line saying it was interrupted, no stack. */
function expectOneInterruptedLine(result: CliResult): void {
  expect(result.code, result.stderr).toBe(2)
  const errors = result.stderr.split('\n').filter((line) => line.startsWith('error: '))
  expect(errors, result.stderr).toHaveLength(1)
  expect(errors[0]).toMatch(/interrupted/)
  expect(result.stderr).not.toMatch(/^ {4}at /m)
}

/** The --json run: exit 2, one document with ok:false and E_INTERRUPTED. */
function expectInterruptedDocument(result: CliResult): Record<string, any> {
  expect(result.code, result.stderr).toBe(2)
  const document = JSON.parse(result.stdout)
  expect(document).toMatchObject({ ok: false, error: { code: 'E_INTERRUPTED' } })
  return document
}

async function project(): Promise<Project> {
  const made = await makeProject('postgres', FILES, CONFIG)
  expect((await runCli(['--url', made.url, 'migrate', 'up'], { cwd: made.dir })).code).toBe(0)
  return made
}

describe('interrupts on PostgreSQL (SIGINT once the command is at work)', () => {
  it('seed run: the running seed file finishes, the next one never starts, exit 2', async () => {
    for (const json of [false, true]) {
      const made = await project()
      made.write('fixtures/001_first.sql', 'INSERT INTO items VALUES (1, $$one$$);\n')
      made.write('fixtures/002_second.sql', 'INSERT INTO items VALUES (2, $$two$$);\n')
      const lock = await lockTable(made, 'items')
      const result = await interruptWhileBlocked(made, lock, ['seed', 'run', ...(json ? ['--json'] : [])])
      if (json) expectInterruptedDocument(result)
      else expectOneInterruptedLine(result)
      expect(await made.query('SELECT id FROM items ORDER BY id')).toEqual([{ id: 1 }])
      const ledger = await made.query('SELECT name FROM dbops_seeds ORDER BY name')
      expect(ledger.map((row) => row.name)).toEqual(['001_first.sql'])
    }
  })

  it('audit: exit 2, reported as interrupted, never as a finished audit', async () => {
    for (const json of [false, true]) {
      const made = await project()
      const proxy = await stallingProxy(made.url)
      const result = await interruptWhileBlocked(made, proxy, ['audit', ...(json ? ['--json'] : [])], proxy)
      if (json) expectInterruptedDocument(result)
      else expectOneInterruptedLine(result)
    }
  })

  it('health: exit 2, reported as interrupted', async () => {
    for (const json of [false, true]) {
      const made = await project()
      const proxy = await stallingProxy(made.url)
      const result = await interruptWhileBlocked(made, proxy, ['health', ...(json ? ['--json'] : [])], proxy)
      if (json) expectInterruptedDocument(result)
      else expectOneInterruptedLine(result)
    }
  })

  it('audit --all: the whole run is reported as interrupted, once', async () => {
    for (const json of [false, true]) {
      const made = await project()
      const proxy = await stallingProxy(made.url)
      made.write('dbops.config.json', JSON.stringify({ targets: { one: { url: proxy.url }, two: { url: proxy.url } } }))
      const child = spawnCli(['audit', '--all', ...(json ? ['--json'] : [])], { cwd: made.dir })
      const exited = waitForExit(child)
      await proxy.stalled
      await interrupt(child)
      await proxy.release()
      const result = await exited
      if (json) {
        const document = expectInterruptedDocument(result)
        expect(document.targets.map((target: { target: string }) => target.target).sort()).toEqual(['one', 'two'])
      } else expectOneInterruptedLine(result)
    }
  })

  it('schema dump: pg_dump is stopped, no file is written, exit 2', async () => {
    for (const json of [false, true]) {
      const made = await project()
      const lock = await lockTable(made, 'items')
      const result = await interruptWhileBlocked(made, lock, [
        'schema',
        'dump',
        '--out',
        'schema.sql',
        ...(json ? ['--json'] : []),
      ])
      if (json) expectInterruptedDocument(result)
      else expectOneInterruptedLine(result)
      expect(readdirSync(made.dir).sort()).toEqual(['dbops.config.json', 'migrations'])
    }
  })

  it('backup create: pg_dump is stopped, nothing is published or left in the folder, exit 2', async () => {
    for (const json of [false, true]) {
      const made = await project()
      const lock = await lockTable(made, 'items')
      const result = await interruptWhileBlocked(made, lock, ['backup', 'create', ...(json ? ['--json'] : [])])
      if (json) expectInterruptedDocument(result)
      else expectOneInterruptedLine(result)
      const listed = await runCli(['--url', made.url, 'backup', 'list', '--json'], { cwd: made.dir })
      expect(JSON.parse(listed.stdout).backups).toEqual([])
      const folder = path.join(made.dir, 'backups')
      const left = existsSync(folder) ? readdirSync(folder, { recursive: true }).map(String) : []
      const files = left.filter((name) => statSync(path.join(folder, name)).isFile() && !name.endsWith('.lock'))
      expect(files).toEqual([])
    }
  })

  it('restore: pg_restore is stopped, exit 2', async () => {
    for (const json of [false, true]) {
      const made = await project()
      await made.query(`INSERT INTO items VALUES (1, 'one')`)
      const created = await runCli(['--url', made.url, 'backup', 'create', '--json'], { cwd: made.dir })
      expect(created.code, created.stderr).toBe(0)
      const id = JSON.parse(created.stdout).id ?? JSON.parse(created.stdout).backup?.id
      const lock = await lockTable(made, 'items')
      const result = await interruptWhileBlocked(made, lock, [
        'restore',
        String(id),
        '--clean',
        '--force',
        ...(json ? ['--json'] : []),
      ])
      if (json) expectInterruptedDocument(result)
      else expectOneInterruptedLine(result)
      expect(await made.query('SELECT id FROM items')).toEqual([{ id: 1 }])
    }
  })
})
