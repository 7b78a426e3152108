// Preloaded with NODE_OPTIONS=--require by test/e2e/stdio.test.ts: reports on fd 2, at exit, which of node's
// process.stdout / process.stderr streams the command created (written with fs.writeSync, which creates neither).
const { writeSync } = require('node:fs')
const created = []
for (const name of ['stdout', 'stderr']) {
  const descriptor = Object.getOwnPropertyDescriptor(process, name)
  Object.defineProperty(process, name, {
    ...descriptor,
    get() {
      if (!created.includes(name)) created.push(name)
      return descriptor.get.call(this)
    },
  })
}
process.on('exit', () => writeSync(2, `created streams: ${created.join(' ') || 'none'}\n`))
