// Bundles the CLI and the library with esbuild, then emits type declarations with tsc.
// A bundle is what keeps `dbops migrate status` close to bare node start-up: unbundled, kysely alone is ~400 ES
// modules and every module file costs a resolve and a read (see ../shared/research/measurements.md). dbops' own code
// is bundled statically; drivers and heavy libraries sit behind dynamic imports, so each becomes one chunk that
// loads only when a command needs it.
import { build } from 'esbuild'
import { execFileSync } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { version } = JSON.parse(readFileSync('package.json', 'utf8'))
rmSync('dist', { recursive: true, force: true })

// pg probes for Cloudflare Workers when it loads (pg/lib/stream.js) by constructing a fetch Response, which on Node
// 20 loads undici: ~40 ms of every PostgreSQL command's start-up. dbops runs on Node only.
const pgOnNode = {
  name: 'pg-on-node',
  setup(build) {
    build.onLoad({ filter: /[\\/]pg[\\/]lib[\\/]stream\.js$/ }, async ({ path }) => {
      const source = readFileSync(path, 'utf8')
      const patched = source.replace('function isCloudflareRuntime() {', 'function isCloudflareRuntime() {\n  return false')
      if (patched === source) throw new Error('pg/lib/stream.js changed: review the pg-on-node build patch')
      return { contents: patched, loader: 'js' }
    })
  },
}

const common = {
  plugins: [pgOnNode],
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  // Native addons and optional peers stay outside the bundle.
  external: ['better-sqlite3', 'pg-native', 'esbuild', 'typescript'],
  // Bundled CommonJS (pg, cosmiconfig) calls require() for node built-ins.
  banner: { js: "import { createRequire as __dbopsCreateRequire } from 'node:module'; const require = __dbopsCreateRequire(import.meta.url);" },
  define: { __DBOPS_VERSION__: JSON.stringify(version) },
  sourcemap: 'linked',
  logLevel: 'warning',
}

// Two builds, so the CLI's chunks are not cut along the library's export surface (fewer files to load).
await build({ ...common, entryPoints: { main: 'src/cli/main.ts' }, outdir: 'dist/cli', chunkNames: 'chunks/[name]-[hash]' })
await build({ ...common, entryPoints: { index: 'src/index.ts' }, outdir: 'dist', chunkNames: 'chunks/[name]-[hash]' })

execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
