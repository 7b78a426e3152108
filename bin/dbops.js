#!/usr/bin/env node
// CommonJS (see bin/package.json): Node 20's ES module loader would add ~12 ms to every command's start-up.
'use strict'
const { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } = require('node:fs')
const { basename, dirname, join } = require('node:path')

const dist = join(__dirname, '..', 'dist')
const entry = join(dist, 'cli', 'main.cjs')
if (!existsSync(entry)) {
  process.stderr.write(
    'error: dbops is not built: dist/ is missing (hint: run "npm install" or "npm run build" in the dbops folder)\n',
  )
  process.exit(2)
}
const writeCodeCache = process.env.DBOPS_WRITE_CODE_CACHE === '1'
useCodeCache(
  join(dist, 'code-cache', (writeCodeCache && process.env.DBOPS_CODE_CACHE_PROFILE) || cacheProfile(process.argv)),
  writeCodeCache,
)
const streams = onStdioStreams((stream) => {
  // `dbops ... | head` closes the pipe early: that ends the output, it is not a failure worth a stack trace.
  stream.on('error', (error) => {
    if (error.code !== 'EPIPE') throw error
    process.exit(process.exitCode ?? 0)
  })
})
// For ES module and TypeScript configs: code compiled through node:vm has no import() of its own.
globalThis[Symbol.for('dbops.import')] = (url) => import(url)
runMain().then(
  (code) => {
    process.exitCode = code
    // The command is done: exit now rather than when the event loop drains, which also spares tearing down the
    // heap (~5-10 ms). Output still queued for a slow pipe is left to drain first.
    if (streams.every((stream) => stream.writableLength === 0)) process.exit()
  },
  (error) => {
    process.stderr.write(
      `error: unexpected failure: ${error?.message ?? error} (hint: run again with --verbose for the stack trace)\n`,
    )
    if (process.argv.includes('--verbose')) process.stderr.write(`${error?.stack}\n`)
    process.exitCode = 2
  },
)

function runMain() {
  const { main } = require(entry)
  const runs = writeCodeCache && process.env.DBOPS_CODE_CACHE_RUNS
  if (!runs) return main(process.argv)
  // Making a cache (scripts/build.mjs): several commands in one process, so the cache holds the code of them all.
  return JSON.parse(runs).reduce(
    (previous, args) => previous.then(() => main([...process.argv.slice(0, 2), ...args]).catch(() => 2)),
    Promise.resolve(0),
  )
}

/**
 * Which code cache (a folder of dist/code-cache) a command compiles with: V8 reads and deserializes the whole cache,
 * so `--help` and `migrate status` each get one holding only the code they run (~2% of their start-up), the other
 * commands one made by running several. Any cache is correct for any command: V8 compiles what a cache lacks.
 */
function cacheProfile(argv) {
  const args = argv.slice(2)
  if (args.length === 0 || args.includes('--help') || args.includes('-h') || args[0] === 'help') return 'help'
  if (args.includes('migrate') && args.includes('status')) return 'status'
  if (args.includes('migrate') && args.includes('lint')) return 'lint'
  return 'all'
}

/**
 * Calls `setup` for process.stdout and process.stderr when something first uses them, and returns the ones in use.
 * Node creates them on first access, which for a pipe loads its net and stream modules (~5-15 ms): dbops writes to a
 * pipe or a file directly (src/output/stdio.ts), so most commands never create them.
 */
function onStdioStreams(setup) {
  const created = []
  for (const name of ['stdout', 'stderr']) {
    const descriptor = Object.getOwnPropertyDescriptor(process, name)
    if (!descriptor?.get || !descriptor.configurable) {
      setup(process[name]) // Not node's lazy getter (an embedder's streams): set it up now, as before.
      created.push(process[name])
      continue
    }
    Object.defineProperty(process, name, {
      ...descriptor,
      get() {
        const stream = descriptor.get.call(this)
        if (!created.includes(stream)) {
          created.push(stream)
          setup(stream)
        }
        return stream
      },
    })
  }
  return created
}

/**
 * Compiles dbops' bundles (dist/cli, dist/vendor) with V8 code caches made at build time (scripts/build.mjs runs a
 * few commands with DBOPS_WRITE_CODE_CACHE=1): parsing and compiling them is the largest part of start-up after
 * node's own, and Node 20 has no compile cache of its own (module.enableCompileCache came in Node 22). A cache from
 * another node version is rejected by V8 and the bundle is compiled as usual.
 */
function useCodeCache(cacheDir, write) {
  const Module = require('node:module')
  const vm = require('node:vm')
  const compiled = []
  const compile = Module.prototype._compile
  Module.prototype._compile = function (content, filename) {
    if (!filename.startsWith(dist) || !filename.endsWith('.cjs')) return compile.call(this, content, filename)
    const cacheFile = join(cacheDir, `${basename(dirname(filename))}-${basename(filename)}.v8`)
    let cachedData
    try {
      if (!write) cachedData = readFileSync(cacheFile)
    } catch {
      // No cache (a build that could not make one): compile as usual.
    }
    const script = new vm.Script(Module.wrap(content), {
      filename,
      ...(cachedData && { cachedData }),
    })
    if (write) compiled.push({ script, cacheFile })
    else if (process.env.DBOPS_DEBUG_CODE_CACHE === '1') {
      process.stderr.write(
        `code cache ${cacheFile}: ${cachedData ? (script.cachedDataRejected ? 'rejected' : 'used') : 'none'}\n`,
      )
    }
    const wrapper = script.runInThisContext({ displayErrors: true })
    return wrapper.call(this.exports, this.exports, Module.createRequire(filename), this, filename, dirname(filename))
  }
  if (write) {
    // V8 rejects a cache made under other flags than the loading process has: the commands run to make the caches
    // keep the defaults (the lint would turn the optimiser off and WebAssembly to baseline only).
    require('node:v8').setFlagsFromString = () => {}
    process.on('exit', () => {
      mkdirSync(cacheDir, { recursive: true })
      for (const { script, cacheFile } of compiled) {
        // Several commands are run to make the caches; keep the one that covers the most code.
        const data = script.createCachedData()
        let previous = 0
        try {
          previous = statSync(cacheFile).size
        } catch {}
        if (data.length > previous) writeFileSync(cacheFile, data)
      }
    })
  }
}
