// Bundles the CLI and the library with esbuild, then emits type declarations with tsc.
//
// Start-up time is a product feature (`dbops migrate status` should cost little more than starting node), so:
// - The CLI is CommonJS: Node 20's ES module loader alone costs ~12 ms before any code runs, and CommonJS files load
//   synchronously. dbops' own code and commander are one file, dist/cli/main.cjs.
// - Heavy libraries are each one file in dist/vendor/, required only when a command needs them: pg, kysely,
//   cosmiconfig, ora, chalk, better-sqlite3. Unbundled, kysely alone is ~400 modules (see ../shared/research/measurements.md).
// - better-sqlite3's JavaScript is bundled too (dist/vendor/better-sqlite3.cjs); its compiled addon and esbuild (a
//   native binary, for TypeScript configs) stay in node_modules.
// The library (dist/index.js) is ES modules with code splitting, as library users import it.
import { build } from 'esbuild'
import { execFileSync } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { version } = JSON.parse(readFileSync('package.json', 'utf8'))
rmSync('dist', { recursive: true, force: true })

const VENDOR = [
  'pg',
  'kysely',
  'cosmiconfig',
  'ora',
  'chalk',
  'better-sqlite3',
  'execa',
  'pg-copy-streams',
  // The AWS SDK (a few MB): loaded only by commands whose backup destination is a bucket.
  '@aws-sdk/client-s3',
  // age encryption (and its ciphers): loaded only when a backup is encrypted or decrypted.
  'age-encryption',
]
// The addon itself (better_sqlite3.node) stays in node_modules; its JavaScript is bundled like the rest.
// libpg-query loads its WebAssembly file from its own folder at run time: it stays in node_modules too.
const NATIVE = ['pg-native', 'esbuild', 'typescript', 'libpg-query']

/**
 * Start-up patches to dependencies, applied at bundle time. Each replaces exact text and fails the build when the
 * text is gone, so a dependency update cannot silently drop one.
 */
function patch(name, file, replacements) {
  return {
    name,
    setup(build) {
      build.onLoad({ filter: file }, async ({ path }) => {
        let source = readFileSync(path, 'utf8')
        for (const [from, to] of replacements) {
          if (!source.includes(from)) throw new Error(`${path} changed: review the ${name} build patch`)
          source = source.replace(from, to)
        }
        return { contents: source, loader: 'js' }
      })
    },
  }
}

/** `require(module)` (optionally a property path of it) on first property access. */
const lazy = (target) =>
  `new Proxy({}, { get: (_, key) => { const object = ${target}; const value = object[key]; return typeof value === 'function' ? value.bind(object) : value } })`

// pg probes for Cloudflare Workers when it loads by constructing a fetch Response, which on Node 20 loads undici:
// ~40 ms of every PostgreSQL command's start-up. dbops runs on Node only.
const pgOnNode = patch('pg-on-node', /[\\/]pg[\\/]lib[\\/]stream\.js$/, [
  ['function isCloudflareRuntime() {', 'function isCloudflareRuntime() {\n  return false'],
])

// pg's password hashing (SCRAM, md5) requires node:crypto (~7-10 ms to load) when pg loads; most connections never
// hash anything (trust, peer, certificates) and the rest load it when they do.
const pgLazyCrypto = patch('pg-lazy-crypto', /[\\/]pg[\\/]lib[\\/]crypto[\\/]utils\.js$/, [
  ["const nodeCrypto = require('crypto')", `const nodeCrypto = ${lazy("require('crypto')")}`],
  [
    'const webCrypto = nodeCrypto.webcrypto || globalThis.crypto',
    `const webCrypto = ${lazy("require('crypto').webcrypto || globalThis.crypto")}`,
  ],
  [
    'const subtleCrypto = webCrypto.subtle',
    `const subtleCrypto = ${lazy("(require('crypto').webcrypto || globalThis.crypto).subtle")}`,
  ],
])

// sslmode=prefer against a server without TLS: libpq goes on in plaintext on the same connection when the server
// answers the SSLRequest with 'N'; node-postgres gives up, and a second connection costs every command a round trip.
// dbops marks its prefer options (PLAINTEXT_IF_REFUSED in postgres-connection.ts); without the patch it still retries.
const pgPreferPlaintext = patch('pg-prefer-plaintext', /[\\/]pg[\\/]lib[\\/]connection\.js$/, [
  [
    "case 'N': // Server does not support SSL connections\n",
    "case 'N': // Server does not support SSL connections\n          if (self.ssl && self.ssl.dbopsPlaintextIfRefused) {\n            self.ssl = false\n            self.attachListeners(self.stream)\n            return self.emit('sslconnect')\n          }\n",
  ],
])

// pg requires dns when it loads, for pg-native's connection strings only (dbops uses the JavaScript client).
const pgLazyDns = patch('pg-lazy-dns', /[\\/]pg[\\/]lib[\\/]connection-parameters\.js$/, [
  ["const dns = require('dns')", `const dns = ${lazy("require('dns')")}`],
])

// cosmiconfig's loaders require node:crypto (~7 ms) only to name temporary files for TypeScript configs, which dbops
// loads with its own loader.
const cosmiconfigLazyCrypto = patch('cosmiconfig-lazy-crypto', /[\\/]cosmiconfig[\\/]dist[\\/]loaders\.js$/, [
  ['const crypto_1 = require("crypto");', `const crypto_1 = ${lazy('require("crypto")')};`],
])

// commander requires node:child_process (~5 ms) for executable subcommands, which dbops does not use.
const commanderLazyChildProcess = patch('commander-lazy-child-process', /[\\/]commander[\\/]lib[\\/]command\.js$/, [
  [
    "const childProcess = require('node:child_process');",
    `const childProcess = ${lazy("require('node:child_process')")};`,
  ],
])

// The CLI requires vendor libraries from dist/vendor/ instead of bundling them into main.cjs.
const vendorFiles = {
  name: 'vendor-files',
  setup(build) {
    build.onResolve({ filter: new RegExp(`^(${VENDOR.join('|')})$`) }, ({ path }) => ({
      path: `../vendor/${path}.cjs`,
      external: true,
    }))
  },
}

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20.19',
  define: { __DBOPS_VERSION__: JSON.stringify(version) },
  sourcemap: 'linked',
  logLevel: 'warning',
}

await build({
  ...common,
  entryPoints: Object.fromEntries(VENDOR.map((name) => [name, `vendor:${name}`])),
  outdir: 'dist/vendor',
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  external: NATIVE,
  plugins: [
    pgOnNode,
    pgPreferPlaintext,
    pgLazyCrypto,
    pgLazyDns,
    cosmiconfigLazyCrypto,
    {
      name: 'vendor-entries',
      setup(build) {
        build.onResolve({ filter: /^vendor:/ }, ({ path }) => ({
          path: path.slice('vendor:'.length),
          namespace: 'vendor',
        }))
        build.onLoad({ filter: /.*/, namespace: 'vendor' }, ({ path }) => ({
          contents: `module.exports = require(${JSON.stringify(path)})`,
          resolveDir: '.',
          loader: 'js',
        }))
      },
    },
  ],
})

await build({
  ...common,
  entryPoints: { main: 'src/cli/main.ts' },
  outdir: 'dist/cli',
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  external: NATIVE,
  plugins: [vendorFiles, commanderLazyChildProcess],
  // Start-up reads and compiles the whole file: a third smaller without whitespace. Names stay, for stack traces.
  minifyWhitespace: true,
  minifySyntax: true,
  // import.meta.url has no CommonJS equivalent; createRequire() only needs this file's location.
  define: { ...common.define, 'import.meta.url': '__dbopsFileUrl', __DBOPS_COMMONJS__: 'true' },
  // import() of a vendor file becomes require(): import() would start the ES module loader for a CommonJS file.
  supported: { 'dynamic-import': false },
  banner: { js: "const __dbopsFileUrl = require('node:url').pathToFileURL(__filename).href;" },
})

await build({
  ...common,
  entryPoints: { index: 'src/index.ts' },
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  format: 'esm',
  splitting: true,
  external: [...NATIVE, 'better-sqlite3'],
  plugins: [pgOnNode, pgPreferPlaintext],
  // Bundled CommonJS (pg, cosmiconfig) calls require() for node built-ins.
  banner: {
    js: "import { createRequire as __dbopsCreateRequire } from 'node:module'; const require = __dbopsCreateRequire(import.meta.url);",
  },
})

execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
  stdio: 'inherit',
})

// V8 code caches for the CLI's bundles (see bin/dbops.js): made by running the commands whose start-up matters,
// against a throwaway SQLite project and an address where no PostgreSQL listens (pg is loaded and tried, no more).
{
  const { mkdtempSync, mkdirSync: makeDir, writeFileSync: write } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const project = mkdtempSync(join(tmpdir(), 'dbops-code-cache-'))
  makeDir(join(project, 'migrations'))
  write(
    join(project, 'migrations', '1_example.sql'),
    '-- migrate:up\nCREATE TABLE example (id integer PRIMARY KEY);\n-- migrate:down\nDROP TABLE example;\n',
  )
  write(join(project, 'dbops.config.json'), '{}\n')
  const bin = join(process.cwd(), 'bin', 'dbops.js')
  // One process per cache (see cacheProfile in bin/dbops.js), running its commands in turn so it holds them all.
  const makeCache = (profile, runs) => {
    try {
      execFileSync(process.execPath, [bin], {
        cwd: project,
        stdio: 'ignore',
        env: {
          ...process.env,
          DBOPS_WRITE_CODE_CACHE: '1',
          DBOPS_CODE_CACHE_PROFILE: profile,
          DBOPS_CODE_CACHE_RUNS: JSON.stringify(runs),
          NO_COLOR: '1',
        },
        timeout: 30_000,
      })
    } catch {
      // Failing commands (no server) still compile what they ran.
    }
  }
  const sqliteStatus = ['--url', 'sqlite:./example.db', 'migrate', 'status']
  const postgresStatus = ['--url', 'postgres://dbops@127.0.0.1:1/none', 'migrate', 'status']
  makeCache('all', [['--help'], ['--url', 'sqlite:./example.db', 'migrate', 'up'], sqliteStatus, postgresStatus])
  makeCache('status', [sqliteStatus, postgresStatus])
  // migrate lint, offline, over a few statements of the kinds most files hold.
  write(
    join(project, 'migrations', '2_lint.sql'),
    "-- migrate:up\nCREATE TABLE orders (id serial PRIMARY KEY, note varchar(20), at timestamp);\nCREATE INDEX orders_at ON example (id);\nALTER TABLE example ADD COLUMN note text NOT NULL DEFAULT '';\nALTER TABLE example ADD CONSTRAINT fk FOREIGN KEY (id) REFERENCES orders (id);\nINSERT INTO orders (note) VALUES ('a');\nUPDATE example SET note = 'b';\n-- migrate:down\nDROP TABLE orders;\n",
  )
  const lint = ['--url', 'postgres://dbops@127.0.0.1:1/none', 'migrate', 'lint', '--offline']
  makeCache('lint', [lint, [...lint, '--json']])
  makeCache('help', [['--help']])
  rmSync(project, { recursive: true, force: true })
}
