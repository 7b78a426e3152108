import { randomBytes } from 'node:crypto'
import { DbopsError } from '../../errors.js'
import { quoteLiteral } from '../../sql/query.js'

type Query = (text: string, parameters?: unknown[]) => Promise<Record<string, unknown>[]>

/**
 * Creates `<prefix>_<random>` on the server `query` talks to, with the current database's encoding and locale (text
 * that fits there must fit here; collations order the same), from template0 so nothing of template1 leaks in.
 * The one recipe for `schema drift`, `migrate test` and `backup verify --restore`; `failure` is their error when the
 * server refuses (usually: no CREATEDB privilege).
 */
export async function createScratchDatabase(
  query: Query,
  prefix: string,
  failure: { code: string; hint: string },
): Promise<{ name: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`
  const [settings] = await query(
    `SELECT pg_encoding_to_char(encoding) AS encoding, datcollate, datctype FROM pg_database WHERE datname = current_database()`,
  )
  try {
    await query(
      `CREATE DATABASE "${name}" TEMPLATE template0 ENCODING ${quoteLiteral(settings!.encoding)} LC_COLLATE ${quoteLiteral(settings!.datcollate)} LC_CTYPE ${quoteLiteral(settings!.datctype)}`,
    )
  } catch (error) {
    throw new DbopsError(failure.code, `cannot create the scratch database ${name}: ${(error as Error).message}`, {
      hint: failure.hint,
      cause: error,
    })
  }
  // Nothing in a scratch database needs to survive a crash: its commits need not wait for the disk.
  await query(`ALTER DATABASE "${name}" SET synchronous_commit = off`).catch(() => {})
  return {
    name,
    drop: async () => {
      await query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() =>
        query(`DROP DATABASE IF EXISTS "${name}"`),
      )
    },
  }
}

/** `url` pointing at database `name` on the same server, with the same user, password and parameters. */
export function urlWithDatabase(url: string, name: string): string {
  const parsed = new URL(url)
  parsed.pathname = `/${encodeURIComponent(name)}`
  return parsed.toString()
}
