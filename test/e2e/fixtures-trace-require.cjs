// Preloaded with NODE_OPTIONS=--require by test/e2e/lint.test.ts: reports on stderr when libpg-query is loaded.
const Module = require('node:module')
const load = Module._load
Module._load = function (request, ...rest) {
  if (request === 'libpg-query') process.stderr.write('loaded libpg-query\n')
  return load.call(this, request, ...rest)
}
