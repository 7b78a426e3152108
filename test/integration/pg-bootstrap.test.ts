// Exercises the global setup's fallback for real: with DBOPS_TEST_PG_URL pointing at a closed port it must start
// a throwaway cluster, provide its URL, and stop it and remove its directory on teardown.
import { existsSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import setup, { findPgBinDir, probePg, startThrowawayCluster } from '../helpers/global-setup.js'

const haveBinaries = findPgBinDir() !== undefined
if (!haveBinaries && process.env.CI !== 'true') {
  console.warn(
    'pg-bootstrap.test.ts: initdb/pg_ctl not found; the throwaway-cluster test is skipped (fails under CI=true)',
  )
}

describe('global setup: throwaway PostgreSQL cluster', () => {
  const savedUrl = process.env.DBOPS_TEST_PG_URL
  afterEach(() => {
    if (savedUrl === undefined) delete process.env.DBOPS_TEST_PG_URL
    else process.env.DBOPS_TEST_PG_URL = savedUrl
  })

  it.skipIf(!haveBinaries && process.env.CI !== 'true')(
    'starts a cluster when the configured server does not answer, and tears it down',
    async () => {
      const closed = 'postgres://postgres@127.0.0.1:1/postgres'
      process.env.DBOPS_TEST_PG_URL = closed
      const provided = new Map<string, unknown>()
      const teardown = await setup({ provide: ((key: string, value: unknown) => provided.set(key, value)) as any })
      let stopped = false
      try {
        const url = provided.get('pgUrl')
        expect(typeof url).toBe('string')
        expect(url).not.toBe(closed)
        expect(url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/)
        expect(process.env.DBOPS_TEST_PG_URL).toBe(url)
        expect(await probePg(url as string)).toBeUndefined()

        await teardown()
        stopped = true
        expect(await probePg(url as string, 2000)).toBeInstanceOf(Error)
      } finally {
        if (!stopped) await teardown()
      }
    },
    40_000,
  )

  it.skipIf(!haveBinaries && process.env.CI !== 'true')(
    'startThrowawayCluster() removes its directory on stop()',
    async () => {
      const server = await startThrowawayCluster()
      try {
        expect(server.started).toBe(true)
        expect(server.dir && existsSync(server.dir)).toBe(true)
      } finally {
        await server.stop()
      }
      expect(existsSync(server.dir!)).toBe(false)
      await server.stop() // idempotent
    },
    40_000,
  )
})
