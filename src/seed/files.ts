import { readdirSync, statSync } from 'node:fs'
import { basename, extname, join, relative } from 'node:path'
import { ConfigError, DbopsError, UsageError } from '../errors.js'
import type { ResolvedSeeds } from '../config/resolve-config.js'
import type { DataFormat, SeedTableName } from './seeder.js'

export type SeedKind = 'data' | 'sql' | 'module'

export interface SeedFile {
  /** Path relative to the seeds folder, `/`-separated (`dev/01_users.csv`): the seed's name in the ledger. */
  name: string
  /** Absolute. */
  path: string
  /** How messages name the file: relative to the working directory when inside it. */
  display: string
  kind: SeedKind
  /** Data files only. */
  format?: DataFormat
  /** Data files only: the table it loads. */
  table?: SeedTableName
}

export interface SeedSet {
  dir: string
  exists: boolean
  seeds: SeedFile[]
  /** Files in the folder that are not seeds (unknown extension), reported as warnings. */
  ignored: string[]
}

const FORMATS: Record<string, { kind: SeedKind; format?: DataFormat }> = {
  '.csv': { kind: 'data', format: 'csv' },
  '.json': { kind: 'data', format: 'json' },
  '.ndjson': { kind: 'data', format: 'ndjson' },
  '.jsonl': { kind: 'data', format: 'ndjson' },
  '.sql': { kind: 'sql' },
  '.ts': { kind: 'module' },
  '.mts': { kind: 'module' },
  '.js': { kind: 'module' },
  '.mjs': { kind: 'module' },
}

/**
 * The seeds to consider, in run order: the top level of `seeds.dir`, or with an environment the folders and files
 * (globs allowed) it lists. Order is by file name with numbers compared as numbers (`2_x` before `10_y`), then by
 * path, so numeric prefixes order seeds across an environment's folders.
 */
export function readSeeds(seeds: ResolvedSeeds, env?: string, cwd: string = process.cwd()): SeedSet {
  const dir = seeds.dir
  const exists = seedsFolderExists(dir)
  const inside = !relative(cwd, dir).startsWith('..')
  const display = (name: string) => (inside ? relative(cwd, join(dir, name)) : join(basename(dir), name))
  const paths: string[] = []
  if (env === undefined) {
    if (exists) paths.push(...listFiles(dir, ''))
  } else {
    const entries = seeds.environments[env]
    if (entries === undefined) {
      const known = Object.keys(seeds.environments)
      throw new UsageError(
        `unknown seed environment "${env}" (${known.length > 0 ? `known: ${known.join(', ')}` : 'seeds.environments defines none'})`,
        'name one of seeds.environments in the config, or leave out --env to use the top level of the seeds folder',
      )
    }
    for (const entry of entries) {
      const clean = entry.replace(/\\/g, '/').replace(/^\.\//, '').replace(/\/+$/, '').replace(/^\.$/, '')
      const matched = isDirectory(join(dir, clean)) ? listFiles(dir, clean) : matchGlob(dir, clean)
      if (matched.length === 0) {
        throw new ConfigError([`seeds.environments.${env}: "${entry}" matches no folder or file in ${display('.')}`], {
          hint: 'fix the entry, or create the folder or file',
        })
      }
      for (const path of matched) if (!paths.includes(path)) paths.push(path)
    }
  }
  const ignored: string[] = []
  const files: SeedFile[] = []
  for (const name of paths) {
    const file = basename(name)
    if (file.startsWith('.') || /\.timestamp-[0-9a-z-]+\.mjs$/.test(file)) continue // dotfiles; TypeScript seeds being compiled
    const type = FORMATS[extname(file).toLowerCase()]
    if (!type || file.endsWith('.d.ts')) {
      if (!/^readme/i.test(file)) ignored.push(display(name))
      continue
    }
    const seed: SeedFile = { name, path: join(dir, name), display: display(name), kind: type.kind }
    if (type.format) {
      seed.format = type.format
      seed.table = tableFor(name, seeds.tables)
    }
    files.push(seed)
  }
  files.sort((a, b) => naturalCompare(basename(a.name), basename(b.name)) || naturalCompare(a.name, b.name))
  return { dir, exists, seeds: files, ignored }
}

/** `01_roles.csv` → roles, `audit.events.csv` → audit.events; `seeds.tables` (by file name or path) wins. */
export function tableFor(name: string, mapping: Record<string, string>): SeedTableName {
  const file = basename(name)
  const stem = file.slice(0, file.length - extname(file).length)
  const mapped = mapping[name] ?? mapping[file] ?? mapping[stem]
  const table = mapped ?? stem.replace(/^\d+[_-]/, '')
  const dot = mapped === undefined || !mapped.startsWith('"') ? table.indexOf('.') : -1
  return dot > 0 ? { schema: table.slice(0, dot), name: table.slice(dot + 1) } : { name: table }
}

/** Seeds picked by name on the command line: the path, the file name, or either without its extension. */
export function selectSeeds(set: SeedSet, names: readonly string[]): SeedFile[] {
  if (names.length === 0) return set.seeds
  const picked = new Set<SeedFile>()
  for (const wanted of names) {
    const clean = wanted.replace(/\\/g, '/')
    const matches = set.seeds.filter((seed) => {
      const file = basename(seed.name)
      const bare = stripExtension(file)
      return [seed.name, file, stripExtension(seed.name), bare, bare.replace(/^\d+[_-]/, '')].includes(clean)
    })
    if (matches.length === 0) {
      const known = set.seeds.map((seed) => seed.name)
      throw new UsageError(
        `unknown seed "${wanted}" (${known.length > 0 ? `known: ${known.join(', ')}` : `no seeds in ${set.dir}`})`,
        'name a seed file, with or without its extension; "dbops seed status" lists them',
      )
    }
    if (matches.length > 1) {
      throw new UsageError(
        `"${wanted}" names ${matches.length} seeds (${matches.map((seed) => seed.name).join(', ')})`,
        'name it with its extension or folder',
      )
    }
    picked.add(matches[0]!)
  }
  return set.seeds.filter((seed) => picked.has(seed))
}

function stripExtension(name: string): string {
  return name.slice(0, name.length - extname(name).length)
}

/** Compares names with runs of digits compared as numbers: `2_b` < `10_a`. */
export function naturalCompare(a: string, b: string): number {
  const x = a.match(/\d+|\D+/g) ?? []
  const y = b.match(/\d+|\D+/g) ?? []
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const p = x[i]!
    const q = y[i]!
    if (p === q) continue
    const pn = /^\d/.test(p)
    const qn = /^\d/.test(q)
    if (pn && qn) {
      const diff = BigInt(p) - BigInt(q)
      if (diff !== 0n) return diff < 0n ? -1 : 1
      return p.length - q.length
    }
    return p < q ? -1 : 1
  }
  return x.length - y.length
}

/** The seeds folder: false when nothing is there; something else in its place (a file) is an error, not "no seeds yet". */
function seedsFolderExists(path: string): boolean {
  let directory: boolean
  try {
    directory = statSync(path).isDirectory()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw error
  }
  if (!directory) {
    throw new DbopsError('E_SEEDS_DIR', `the seeds folder ${path} is a file, not a folder`, {
      hint: 'move the file away, or point seeds.dir at a folder',
      details: { path },
    })
  }
  return true
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

/** A file, or a symbolic link to one (large fixtures are often linked in from elsewhere). */
function isFileEntry(dir: string, sub: string, entry: import('node:fs').Dirent): boolean {
  if (entry.isFile()) return true
  // Dotfiles are never seeds; Emacs' lock files (.#name) are dangling links.
  if (!entry.isSymbolicLink() || entry.name.startsWith('.')) return false
  const path = join(dir, sub, entry.name)
  try {
    return statSync(path).isFile()
  } catch (error) {
    // Skipping it would hide a seed: `seed status --check` would pass while `seed run` loads less than meant.
    const code = (error as NodeJS.ErrnoException).code
    throw new DbopsError(
      'E_SEED_UNREADABLE',
      `seed ${path} is a symbolic link that cannot be followed (${code === 'ELOOP' ? 'a symlink loop' : code === 'ENOENT' ? 'its target does not exist' : (error as Error).message})`,
      {
        hint: 'fix the link, or remove it from the seeds folder',
        cause: error,
        details: { file: path, ...(code !== undefined && { errno: code }) },
      },
    )
  }
}

/** Files (not folders) directly in `dir/sub`, as paths relative to `dir`. */
function listFiles(dir: string, sub: string): string[] {
  let entries: import('node:fs').Dirent[]
  try {
    entries = readdirSync(join(dir, sub), { withFileTypes: true })
  } catch (error) {
    throw new DbopsError('E_SEEDS_DIR', `cannot read the seeds folder ${join(dir, sub)}: ${(error as Error).message}`)
  }
  return entries
    .filter((entry) => isFileEntry(dir, sub, entry))
    .map((entry) => (sub ? `${sub}/${entry.name}` : entry.name))
}

/** `*` and `?` match within a path segment, `**` across segments. */
function matchGlob(dir: string, pattern: string): string[] {
  if (!/[*?]/.test(pattern)) {
    try {
      return statSync(join(dir, pattern)).isFile() ? [pattern] : []
    } catch {
      return []
    }
  }
  let source = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === '*' && pattern[i + 1] === '*') {
      source += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*'
      i += pattern[i + 2] === '/' ? 2 : 1
    } else if (c === '*') source += '[^/]*'
    else if (c === '?') source += '[^/]'
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&')
  }
  const regex = new RegExp(`^${source}$`)
  return walk(dir, '').filter((path) => regex.test(path))
}

function walk(dir: string, sub: string): string[] {
  const out: string[] = []
  let entries: import('node:fs').Dirent[]
  try {
    entries = readdirSync(join(dir, sub), { withFileTypes: true })
  } catch {
    return out
  }
  for (const entry of entries) {
    const path = sub ? `${sub}/${entry.name}` : entry.name
    if (entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== 'node_modules')
      out.push(...walk(dir, path))
    else if (isFileEntry(dir, sub, entry)) out.push(path)
  }
  return out
}
