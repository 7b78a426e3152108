import { readFileSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import { parseEnv } from 'node:util'
import { ConfigError } from '../errors.js'
import { interpolateEnv } from './interpolate.js'

/**
 * Reads a dotenv file into `env`, filling only variables that are not set already (the environment wins), as dbmate,
 * Prisma and most migration tools do: a project that keeps DATABASE_URL in `.env` migrates the database it names, not
 * the built-in `sqlite:./dev.db`. `file` true: `.env` in `dir`, skipped when there is none; a path (relative to
 * `cwd`) must exist. Parsed by node's own dotenv parser (util.parseEnv). Returns the file and the names it set.
 *
 * `${VAR}` and `${VAR:-default}` in a value are replaced from the environment and the lines above, as dbmate's and
 * Prisma's loaders do (`DATABASE_URL="postgres://${DB_USER}@${DB_HOST}/app"`): an unset VAR gives an empty string, as
 * there, and a single-quoted value is taken as written. By hand rather than dotenv-expand: that package now also runs
 * `$(...)` commands found in the file, which a database tool reading an application's `.env` must not do.
 */
export function loadEnvFile(
  env: NodeJS.ProcessEnv,
  file: true | string,
  dir: string,
  cwd: string,
): { path: string; names: string[] } | undefined {
  const path = file === true ? join(dir, '.env') : isAbsolute(file) ? file : resolve(cwd, file)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message
    if (file === true && code === 'ENOENT') return undefined
    throw new ConfigError([`cannot read the env file ${path}: ${code}`], {
      hint:
        file === true
          ? 'make .env a readable file, or pass --no-dotenv to ignore it'
          : 'fix the --dotenv path, or leave --dotenv out',
      cause: error,
    })
  }
  text = text.replace(/^\uFEFF/, '')
  const values = parseEnv(text)
  // In the file's order (parseEnv's object is sorted by name), so that a value can use the lines above it.
  const quotes = new Map(Array.from(text.matchAll(DEFINITION), (match) => [match[1]!, match[2]]))
  const names: string[] = []
  for (const name of new Set([...quotes.keys(), ...Object.keys(values)])) {
    const value = values[name]
    if (value === undefined || env[name] !== undefined) continue
    env[name] = quotes.get(name) === "'" || !value.includes('${') ? value : interpolateEnv(value, env, name, [])
    names.push(name)
  }
  return { path, names }
}

/** `NAME=` (optionally after `export`) and the quote its value starts with: single-quoted values are taken literally. */
const DEFINITION = /^[ \t]*(?:export[ \t]+)?([\w.-]+)[ \t]*=[ \t]*(['"`]?)/gm
