import { nonTransactionalReason } from '../../sql/non-transactional.js'

type Query = (text: string, parameters: unknown[]) => Promise<Record<string, unknown>[]>

const IDENTIFIER = `(?:"(?:[^"]|"")+"|[\\w$]+)`
const CREATE_INDEX = new RegExp(
  `^\\s*CREATE\\s+(?:UNIQUE\\s+)?INDEX\\s+CONCURRENTLY\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?(${IDENTIFIER}\\s+)?ON\\s+(?:ONLY\\s+)?(${IDENTIFIER}(?:\\s*\\.\\s*${IDENTIFIER})?)`,
  'i',
)

function unquote(name: string): string {
  return name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name.toLowerCase()
}

/**
 * What a failed concurrent index build left behind, looked up in pg_index rather than assumed: a build that fails
 * before its catalog entry exists (no such table, a syntax error, a name already taken) leaves nothing. Undefined
 * when nothing is left or the statement is not such a build.
 */
export async function leftBehindAfter(statement: string, query: Query): Promise<string | undefined> {
  const reason = nonTransactionalReason(statement, 'postgres')
  try {
    if (reason === 'CREATE INDEX CONCURRENTLY') {
      const match = CREATE_INDEX.exec(statement)
      if (!match) return undefined
      const [row] = await query(
        `SELECT i.relname AS name FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
          WHERE x.indrelid = to_regclass($1) AND NOT x.indisvalid AND ($2::text IS NULL OR i.relname = $2) LIMIT 1`,
        [match[2]!.trim(), match[1] ? unquote(match[1].trim()) : null],
      )
      if (!row) return undefined
      return `the failed CREATE INDEX CONCURRENTLY left an INVALID index behind, ${String(row.name)} (drop it with DROP INDEX CONCURRENTLY before running it again; "dbops audit" lists invalid indexes)`
    }
    if (reason === 'REINDEX CONCURRENTLY') {
      const [row] = await query(
        `SELECT i.relname AS name FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE NOT x.indisvalid AND i.relname ~ '_ccnew[0-9]*$' LIMIT 1`,
        [],
      )
      if (!row) return undefined
      return `the failed REINDEX CONCURRENTLY left an INVALID *_ccnew index behind, ${String(row.name)} ("dbops maintain reindex" drops it)`
    }
  } catch {
    // A name to_regclass cannot parse, or a connection gone: say nothing rather than guess.
  }
  return undefined
}
