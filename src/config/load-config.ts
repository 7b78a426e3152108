import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, extname, join, resolve } from 'node:path'
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
  if (options.configPath !== undefined) {
    const kind = kindOf(found)
    if (kind !== 'file') {
      throw new ConfigError([`config file ${found} ${kind === 'missing' ? 'does not exist' : 'is a directory'}`], {
        hint: 'check the --config path',
      })
    }
  }
  const extension = extname(found)
  if (extension === '.json' || Object.hasOwn(MODULE_LOADERS, extension)) {
    // JSON and modules need nothing of cosmiconfig but its loaders, which are dbops' own: skip loading it (~5 ms).
    const config = await loadDirectly(found, extension).catch((error: unknown) => {
      throw error instanceof ConfigError ? error : loadError(found, error)
    })
    return { file: found, config: config ?? {} }
  }
  // YAML and the extensionless .dbopsrc (JSON or YAML): cosmiconfig. Imported here: `dbops --help` must not pay for it.
  const cosmiconfigModule = await import('cosmiconfig')
  // Bundled, the CommonJS module's exports arrive under `default`.
  const cosmiconfig =
    cosmiconfigModule.cosmiconfig ??
    (cosmiconfigModule as unknown as { default: typeof cosmiconfigModule }).default.cosmiconfig
  const explorer = cosmiconfig('dbops', {
    searchPlaces: CONFIG_SEARCH_PLACES,
    // An empty config file still counts as found ("all defaults") instead of silently letting the search go on.
    ignoreEmptySearchPlaces: false,
    cache: false,
    loaders: {
      '.json': (_filepath, content) => parseJson(content),
      ...MODULE_LOADERS,
    },
  })

  const result = await explorer.load(found).catch((error: unknown) => {
    throw loadError(found, error)
  })
  if (result === null) throw new ConfigError([`no "dbops" key in ${basename(found)}`], { file: found })
  return { file: found, config: result.config ?? {} }
}

const MODULE_LOADERS: Record<string, (file: string) => Promise<unknown>> = {
  '.js': (file) => loadModule(file),
  '.mjs': (file) => loadModule(file),
  '.cjs': (file) => loadModule(file),
  '.ts': (file) => loadTypeScript(file),
  '.mts': (file) => loadTypeScript(file),
  '.cts': (file) => loadTypeScript(file),
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A config file that is JSON (package.json: its "dbops" key) or a module, loaded as cosmiconfig would. */
async function loadDirectly(file: string, extension: string): Promise<unknown> {
  if (extension !== '.json') return MODULE_LOADERS[extension]!(file)
  const content = readFileSync(file, 'utf8')
  // An empty file is a config with every default, as cosmiconfig treats it (ignoreEmptySearchPlaces: false).
  if (content.trim() === '') return {}
  const parsed = parseJson(content)
  if (basename(file) !== 'package.json') return parsed
  if (!isRecord(parsed) || !Object.hasOwn(parsed, 'dbops'))
    throw new ConfigError([`no "dbops" key in ${basename(file)}`], { file })
  return parsed.dbops
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
    return Object.hasOwn(JSON.parse(readFileSync(file, 'utf8').replace(/^\uFEFF/, '')) as object, 'dbops')
  } catch {
    return true // Let cosmiconfig report what is wrong with it.
  }
}

// Instead of cosmiconfig's parse-json: its code frame would print the file, passwords included. V8 quotes a snippet
// of the text too ('Unexpected token 'p', "{"url": pos"... is not valid JSON'), so that part goes as well.
function parseJson(content: string): unknown {
  // Windows editors save JSON with a byte order mark, which JSON.parse takes for an (invisible) unexpected token.
  content = content.replace(/^\uFEFF/, '')
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
  // The README's `import { defineConfig } from 'dbops'` needs dbops installed in the project, not just run by npx.
  const hint = /Cannot find (package|module) 'dbops'/.test(raw)
    ? 'install dbops in the project (npm install --save-dev dbops), or drop the import and export the object itself'
    : undefined
  return new ConfigError([`cannot load: ${redactSecrets(line)}`], {
    ...(file !== undefined && { file }),
    ...(hint && { hint }),
  })
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
 * cannot load an ES module config on Node 20: there, a real import() is kept out of the bundler's sight. bin/dbops.js
 * lends its own import(): the bundle is compiled through node:vm (for its code cache), where import() has no loader.
 */
const importUrl = (url: string): Promise<unknown> => {
  const lent = (globalThis as Record<symbol, unknown>)[Symbol.for('dbops.import')] as
    ((url: string) => Promise<unknown>) | undefined
  if (lent) return lent(url)
  if (typeof __DBOPS_COMMONJS__ !== 'undefined' && __DBOPS_COMMONJS__)
    return (new Function('url', 'return import(url)') as (url: string) => Promise<unknown>)(url)
  return import(url)
}

declare const __DBOPS_COMMONJS__: boolean | undefined
