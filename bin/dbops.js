#!/usr/bin/env node
import { existsSync } from 'node:fs'

const entry = new URL('../dist/cli/main.js', import.meta.url)
if (!existsSync(entry)) {
  process.stderr.write('error: dbops is not built: dist/ is missing (hint: run "npm install" or "npm run build" in the dbops folder)\n')
  process.exit(2)
}
const { main } = await import(entry.href)
try {
  process.exitCode = await main(process.argv)
} catch (error) {
  process.stderr.write(`error: unexpected failure: ${error?.message ?? error} (hint: run again with --verbose for the stack trace)\n`)
  if (process.argv.includes('--verbose')) process.stderr.write(`${error?.stack}\n`)
  process.exitCode = 2
}
