#!/usr/bin/env node
// CommonJS (see bin/package.json): Node 20's ES module loader would add ~12 ms to every command's start-up.
'use strict'
const { existsSync } = require('node:fs')
const { join } = require('node:path')

const entry = join(__dirname, '..', 'dist', 'cli', 'main.cjs')
if (!existsSync(entry)) {
  process.stderr.write('error: dbops is not built: dist/ is missing (hint: run "npm install" or "npm run build" in the dbops folder)\n')
  process.exit(2)
}
require(entry)
  .main(process.argv)
  .then(
    (code) => {
      process.exitCode = code
    },
    (error) => {
      process.stderr.write(`error: unexpected failure: ${error?.message ?? error} (hint: run again with --verbose for the stack trace)\n`)
      if (process.argv.includes('--verbose')) process.stderr.write(`${error?.stack}\n`)
      process.exitCode = 2
    },
  )
