import { readFileSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import { parseEnv } from 'node:util'
import { ConfigError } from '../errors.js'

/**
 * Reads a dotenv file into `env`, filling only variables that are not set already (the environment wins), as dbmate,
 * Prisma and most migration tools do: a project that keeps DATABASE_URL in `.env` migrates the database it names, not
 * the built-in `sqlite:./dev.db`. `file` true: `.env` in `dir`, skipped when there is none; a path (relative to
 * `cwd`) must exist. Parsed by node's own dotenv parser (util.parseEnv). Returns the file and the names it set.
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
  const names: string[] = []
  for (const [name, value] of Object.entries(parseEnv(text.replace(/^\uFEFF/, '')))) {
    if (env[name] !== undefined) continue
    env[name] = value
    names.push(name)
  }
  return { path, names }
}
