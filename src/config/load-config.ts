import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { BuildFailure } from 'esbuild'
import { ConfigError } from '../errors.js'
import { redactSecrets } from './database-url.js'

/** Where dbops looks for its config, in this order, in each directory from the working directory upwards. */
export const CONFIG_SEARCH_PLACES = [
  'package.json',
  '.dbopsrc',
  '.dbopsrc.json',
  '.dbopsrc.yaml',
  '.dbopsrc.yml',
  '.dbopsrc.js',
  '.dbopsrc.mjs',
  '.dbopsrc.ts',
  'dbops.config.ts',
  'dbops.config.mts',
  'dbops.config.js',
  'dbops.config.mjs',
  'dbops.config.cjs',
  'dbops.config.json',
]

export interface LoadedConfig {
  /** Absolute path of the file the config came from. */
  file: string
  /** The file's content or default export, not yet validated. `{}` for an empty file. */
  config: unknown
}

export interface LoadConfigOptions {
  /** Where the search starts, default `process.cwd()`. */
  cwd?: string
  /** Load exactly this file (the `--config` flag), relative to `cwd`. */
  configPath?: string
}

/**
 * Finds and loads the config file, or returns null when there is none.
 *
 * The search is cosmiconfig's `project` strategy: it starts in `cwd` and walks up to the first directory that
 * holds a package.json (the project root), or to the filesystem root outside any package. The `global` strategy
 * would keep going up to the home directory and then read ~/.config/dbops: a database URL picked up from outside
 * the project is how migrations end up on the wrong database. In a monorepo, a package with its own package.json
 * stops the search there; put the config in that package or pass --config. dbops walks the directories itself with a
 * few stat calls (findConfigFile) and has cosmiconfig load what it found: cosmiconfig's own asynchronous search cost
 * ~20 ms of every command's start-up.
 *
 * TypeScript configs (.ts, .mts, .cts) load without the `typescript` package: see loadTypeScript.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig | null> {
  const cwd = resolve(options.cwd ?? process.cwd())
  const found = options.configPath === undefined ? findConfigFile(cwd) : resolve(cwd, options.configPath)
  if (found === undefined) return null
  // Imported here, not at the top: `dbops --help` must not pay for cosmiconfig (start-up time).
  const cosmiconfigModule = await import('cosmiconfig')
  // Bundled, the CommonJS module's exports arrive under `default`.
  const cosmiconfig = cosmiconfigModule.cosmiconfig ?? (cosmiconfigModule as unknown as { default: typeof cosmiconfigModule }).default.cosmiconfig
  const explorer = cosmiconfig('dbops', {
    searchPlaces: CONFIG_SEARCH_PLACES,
    // An empty config file still counts as found ("all defaults") instead of silently letting the search go on.
    ignoreEmptySearchPlaces: false,
    cache: false,
    loaders: {
      '.json': (_filepath, content) => parseJson(content),
      '.js': loadModule,
      '.mjs': loadModule,
      '.cjs': loadModule,
      '.ts': loadTypeScript,
      '.mts': loadTypeScript,
      '.cts': loadTypeScript,
    },
  })

  if (options.configPath !== undefined) {
    const kind = kindOf(found)
    if (kind !== 'file') {
      throw new ConfigError([`config file ${found} ${kind === 'missing' ? 'does not exist' : 'is a directory'}`], {
        hint: 'check the --config path',
      })
    }
  }
  const result = await explorer.load(found).catch((error: unknown) => {
    throw loadError(found, error)
  })
  if (result === null) throw new ConfigError([`no "dbops" key in ${basename(found)}`], { file: found })
  return { file: found, config: result.config ?? {} }
}

/**
 * Whether the search could find anything: a few stat calls, so a project without a config file (the quick start)
 * does not load cosmiconfig at all. Walks the same directories as the `project` search strategy.
 */
function kindOf(file: string): 'file' | 'directory' | 'missing' {
  try {
    return statSync(file).isDirectory() ? 'directory' : 'file'
  } catch {
    return 'missing'
  }
}

/** The first search place that exists, directory by directory up to the project root (see loadConfig). */
function findConfigFile(cwd: string): string | undefined {
  for (let dir = cwd; ; dir = dirname(dir)) {
    for (const place of CONFIG_SEARCH_PLACES) {
      const file = join(dir, place)
      if (existsSync(file) && (place !== 'package.json' || packageHasKey(file))) return file
    }
    if (existsSync(join(dir, 'package.json')) || dirname(dir) === dir) return undefined
  }
}

function packageHasKey(file: string): boolean {
  try {
    return Object.hasOwn(JSON.parse(readFileSync(file, 'utf8')) as object, 'dbops')
  } catch {
    return true // Let cosmiconfig report what is wrong with it.
  }
}

// Instead of cosmiconfig's parse-json: its code frame would print the file, passwords included. V8 quotes a snippet
// of the text too ('Unexpected token 'p', "{"url": pos"... is not valid JSON'), so that part goes as well.
function parseJson(content: string): unknown {
  try {
    return JSON.parse(content) as unknown
  } catch (error) {
    const message = (error as Error).message
      .replace(/, (\.\.\.)?".*"(\.\.\.)? is not valid JSON$/s, ' in JSON')
      .replace(/at position (\d+)/, (_, position: string) => {
        const before = content.slice(0, Number(position)).split('\n')
        return `at line ${before.length} column ${(before.at(-1)?.length ?? 0) + 1}`
      })
    throw new Error(message)
  }
}

function loadError(file: string | undefined, error: unknown): ConfigError {
  const raw = error instanceof Error ? error.message : String(error)
  // cosmiconfig's YAML loader prefixes "YAML Error in <file>:" and appends a code frame; keep the one line between.
  const line =
    raw
      .split('\n')
      .map((text) => text.trim())
      .find((text) => text !== '' && !/^(JSON|YAML) Error in /.test(text)) ?? 'could not be loaded'
  return new ConfigError([`cannot load: ${redactSecrets(line)}`], file === undefined ? {} : { file })
}

/**
 * Loads a TypeScript config on Node 20 without the `typescript` package. esbuild bundles the config with its
 * relative imports (.ts included) and leaves packages external, so `import { defineConfig } from 'dbops'` resolves
 * from the project's node_modules. The output is written next to the config, not to a temp directory, so that
 * package resolution and `import.meta.dirname` match the original file (vite loads vite.config.ts the same way).
 * Known limit: `import.meta.url` inside a relatively imported file names the bundle, not that file.
 */
async function loadTypeScript(filepath: string): Promise<unknown> {
  return defaultExport(await importTypeScript(filepath))
}

/** A JavaScript or TypeScript module's exports (TypeScript compiled as for configs, see loadTypeScript). */
export async function importScript(filepath: string): Promise<Record<string, unknown>> {
  if (/\.[cm]?ts$/.test(filepath)) return importTypeScript(filepath)
  return (await importUrl(pathToFileURL(filepath).href)) as Record<string, unknown>
}

async function importTypeScript(filepath: string): Promise<Record<string, unknown>> {
  const { build } = await import('esbuild')
  let code: string
  try {
    const result = await build({
      entryPoints: [filepath],
      bundle: true,
      packages: 'external',
      platform: 'node',
      format: 'esm',
      target: 'node20',
      write: false,
      logLevel: 'silent',
      // Error locations relative to the config's directory: "dbops.config.ts:3:7: ...".
      absWorkingDir: dirname(filepath),
    })
    code = result.outputFiles[0]?.text ?? ''
  } catch (error) {
    const first = (error as Partial<BuildFailure>).errors?.[0]
    if (!first) throw error
    const where = first.location ? `${first.location.file}:${first.location.line}:${first.location.column + 1}: ` : ''
    throw new Error(`${where}${first.text}`)
  }

  const compiled = `${filepath}.timestamp-${Date.now()}-${process.pid.toString(36)}${Math.random().toString(36).slice(2, 8)}.mjs`
  writeFileSync(compiled, code)
  try {
    return (await importUrl(pathToFileURL(compiled).href)) as Record<string, unknown>
  } catch (error) {
    // Error messages should name the user's file, not the short-lived bundle.
    if (error instanceof Error) error.message = error.message.split(compiled).join(filepath)
    throw error
  } finally {
    rmSync(compiled, { force: true })
  }
}

/**
 * Imports a JavaScript config and returns its default export. Not cosmiconfig's loader: when import() fails it
 * retries with require(), and on Node 20.19 (require of ES modules) that second error replaces the useful first one.
 */
async function loadModule(filepath: string): Promise<unknown> {
  return defaultExport((await importUrl(pathToFileURL(filepath).href)) as Record<string, unknown>)
}

function defaultExport(module: { default?: unknown }): unknown {
  if (module.default === undefined) {
    throw new Error('has no default export (write: export default defineConfig({ ... }))')
  }
  return module.default
}

/**
 * The CLI is bundled as CommonJS (faster start-up), where esbuild turns import() into require(), and require()
 * cannot load an ES module config on Node 20: there, a real import() is kept out of the bundler's sight.
 */
const importUrl: (url: string) => Promise<unknown> =
  typeof __DBOPS_COMMONJS__ !== 'undefined' && __DBOPS_COMMONJS__
    ? (new Function('url', 'return import(url)') as (url: string) => Promise<unknown>)
    : (url) => import(url)

declare const __DBOPS_COMMONJS__: boolean | undefined
