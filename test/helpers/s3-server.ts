// A real S3-protocol server for tests: moto_server (Python moto) on a free loopback port, started and stopped by
// the test file that needs it, the way global-setup provides PostgreSQL. With no moto the tests fail, never skip.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { freePort } from './global-setup.js'

export interface S3Server {
  endpoint: string
  /** Creates a uniquely named bucket and returns its name. */
  createBucket(): Promise<string>
  stop(): Promise<void>
}

/** moto_server on PATH, else `python3 -m moto.server`; undefined when neither exists. */
function motoCommand(): [string, string[]] | undefined {
  if (spawnSync('moto_server', ['--help'], { stdio: 'ignore' }).status === 0) return ['moto_server', []]
  if (spawnSync('python3', ['-c', 'import moto.server'], { stdio: 'ignore' }).status === 0)
    return ['python3', ['-m', 'moto.server']]
  return undefined
}

/** Test credentials: moto accepts any; they are set in this process so the SDK's default chain finds them. */
export const TEST_AWS_ENV = {
  AWS_ACCESS_KEY_ID: 'dbopstestkey',
  AWS_SECRET_ACCESS_KEY: 'dbops-test-secret-4f1c9a',
  AWS_REGION: 'us-east-1',
}

/**
 * `authAfter`: moto checks credentials (IAM) after this many requests (INITIAL_NO_AUTH_ACTION_COUNT); without it
 * moto accepts any key. With it, every key is unknown to moto's IAM, so a test can see a refused credential.
 */
export async function startS3Server(options: { authAfter?: number } = {}): Promise<S3Server> {
  const command = motoCommand()
  if (!command) {
    throw new Error(
      `No S3 test server${process.env.CI === 'true' ? ' (CI=true: tests needing S3 must not be skipped)' : ''}: install Python moto with its server extra (pip install "moto[server]") so moto_server is on PATH`,
    )
  }
  Object.assign(process.env, TEST_AWS_ENV)
  const port = await freePort()
  const endpoint = `http://127.0.0.1:${port}`
  const child: ChildProcess = spawn(command[0], [...command[1], '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      ...(options.authAfter !== undefined && { INITIAL_NO_AUTH_ACTION_COUNT: String(options.authAfter) }),
    },
  })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}: ${stderr.slice(-2000)}`)
    try {
      const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) })
      if (response.status < 500) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`moto_server did not answer on ${endpoint} within 30 s: ${stderr.slice(-2000)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    endpoint,
    async createBucket() {
      const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3')
      const name = `dbops-test-${randomBytes(4).toString('hex')}`
      const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true })
      await client.send(new CreateBucketCommand({ Bucket: name }))
      client.destroy()
      return name
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
        await exited
        clearTimeout(timer)
      }
    },
  }
}
