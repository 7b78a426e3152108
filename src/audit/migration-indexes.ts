import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const NAME = `("(?:[^"]|"")+"|[\\w$]+)`
const CREATE_INDEX = new RegExp(
  `CREATE\\s+(?:UNIQUE\\s+)?INDEX\\s+(?:CONCURRENTLY\\s+)?(?:IF\\s+NOT\\s+EXISTS\\s+)?(?:${NAME}\\s*\\.\\s*)?${NAME}`,
  'gi',
)
const RENAME_INDEX = new RegExp(
  `ALTER\\s+INDEX\\s+(?:IF\\s+EXISTS\\s+)?(?:${NAME}\\s*\\.\\s*)?${NAME}\\s+RENAME\\s+TO\\s+${NAME}`,
  'gi',
)

function unquote(name: string): string {
  return name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name.toLowerCase()
}

/**
 * Index names the up sections of the migration files create (CREATE INDEX, ALTER INDEX ... RENAME TO), each with the
 * first file that does: of two identical indexes, the one the migrations make is the one every environment has. A
 * text search, not a parse: the migration parser rejects files this only needs to read, and an unreadable folder
 * means no index is known to come from a migration.
 */
export function indexesCreatedByMigrations(dir: string): Map<string, string> {
  const created = new Map<string, string>()
  let files: string[]
  try {
    // A migration folder's up file (diesel's up.sql, Prisma's migration.sql) is one of them too.
    files = readdirSync(dir)
      .flatMap((file) =>
        file.endsWith('.sql')
          ? file.endsWith('.down.sql')
            ? []
            : [file]
          : /^\d+(?:-\d+)*_/.test(file)
            ? [join(file, 'up.sql'), join(file, 'migration.sql')]
            : [],
      )
      .sort()
  } catch {
    return created
  }
  for (const file of files) {
    let text: string
    try {
      text = readFileSync(join(dir, file), 'utf8')
    } catch {
      continue // Unreadable, or a folder's up file it does not have.
    }
    // dbmate files: only what the up sections run (a down section may recreate what its up dropped).
    const up = text
      .split(/^--\s*migrate:(?=up|down)/m)
      .filter((part, i) => i === 0 || part.startsWith('up'))
      .join('\n')
    for (const match of up.matchAll(CREATE_INDEX))
      if (!created.has(unquote(match[2]!))) created.set(unquote(match[2]!), file)
    for (const match of up.matchAll(RENAME_INDEX))
      if (!created.has(unquote(match[3]!))) created.set(unquote(match[3]!), file)
  }
  return created
}
