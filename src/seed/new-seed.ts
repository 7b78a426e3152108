import { existsSync, mkdirSync, readdirSync } from 'node:fs'
import { writeNewFile } from '../output/atomic-write.js'
import { join, relative } from 'node:path'
import { DbopsError, UsageError } from '../errors.js'

export type SeedFormat = 'sql' | 'csv' | 'json' | 'ts'
export const SEED_FORMATS: readonly SeedFormat[] = ['sql', 'csv', 'json', 'ts']

export interface NewSeedResult {
  file: string
  format: SeedFormat
}

const TEMPLATES: Record<SeedFormat, (table: string) => string> = {
  sql: (table) =>
    `-- Runs in one transaction together with its dbops_seeds row.\nINSERT INTO ${table} (id, name) VALUES (1, 'example');\n`,
  csv: () => 'id,name\n1,example\n',
  json: () => '[\n  { "id": 1, "name": "example" }\n]\n',
  ts: (table) => `import type { Kysely } from 'kysely'

/** Runs in one transaction together with its dbops_seeds row; return the number of rows written (optional). */
export async function seed(db: Kysely<any>): Promise<number | void> {
  await db.insertInto('${table}').values({ id: 1, name: 'example' }).execute()
  return 1
}
`,
}

/**
 * Creates `<dir>/<next prefix>_<name>.<format>`: the prefix is one more than the highest numeric prefix in the
 * folder, zero-padded like the others (at least two digits), so the new seed runs last.
 */
export function newSeed(dir: string, name: string, format: string = 'sql'): NewSeedResult {
  if (!SEED_FORMATS.includes(format as SeedFormat)) {
    throw new UsageError(`--format takes ${SEED_FORMATS.join(', ')}, not "${format}"`)
  }
  const slug = name
    .trim()
    .replace(/\.(sql|csv|json|ndjson|ts|js)$/i, '')
    .replace(/[^\p{L}\p{N}_.-]+/gu, '_')
    .replace(/^[_.-]+|[_.-]+$/g, '')
  if (!slug)
    throw new UsageError(
      `"${name}" is not usable as a seed name`,
      'use letters, digits and underscores; for data files, the table name (e.g. users)',
    )
  let highest = 0n
  let width = 2
  for (const entry of existsSync(dir) ? readdirSync(dir) : []) {
    const prefix = /^(\d+)[_-]/.exec(entry)?.[1]
    if (!prefix) continue
    if (BigInt(prefix) > highest) highest = BigInt(prefix)
    width = Math.max(width, prefix.length)
  }
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${String(highest + 1n).padStart(width, '0')}_${slug}.${format}`)
  if (existsSync(file)) throw new DbopsError('E_EXISTS', `${file} already exists`)
  writeNewFile(file, TEMPLATES[format as SeedFormat](slug.replace(/^.*\./, '')))
  return { file: relative(process.cwd(), file) || file, format: format as SeedFormat }
}
