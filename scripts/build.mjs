// Bundles the CLI and the library with esbuild, then emits type declarations with tsc.
// A bundle is what keeps `dbops migrate status` close to bare node start-up: kysely alone is ~400 ES modules
// unbundled (see ../shared/research/measurements.md). Code splitting keeps each command's imports lazy.
import { build } from 'esbuild'
import { execFileSync } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
rmSync('dist', { recursive: true, force: true })

await build({
  entryPoints: { 'cli/main': 'src/cli/main.ts', index: 'src/index.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  chunkNames: 'chunks/[name]-[hash]',
  // Native addons and optional peers stay outside the bundle.
  external: ['better-sqlite3', 'pg-native', 'esbuild', 'typescript'],
  // Bundled CommonJS (pg, cosmiconfig) calls require() for node built-ins.
  banner: { js: "import { createRequire as __dbopsCreateRequire } from 'node:module'; const require = __dbopsCreateRequire(import.meta.url);" },
  define: { __DBOPS_VERSION__: JSON.stringify(JSON.parse(readFileSync('package.json', 'utf8')).version) },
  sourcemap: 'linked',
  logLevel: 'warning',
})

execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
