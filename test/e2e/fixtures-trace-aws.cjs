// Preloaded with NODE_OPTIONS=--require by test/e2e/backup-s3.test.ts: reports on stderr when the AWS SDK is loaded.
const Module = require('node:module')
const load = Module._load
Module._load = function (request, ...rest) {
  if (request.includes('@aws-sdk/')) process.stderr.write(`loaded ${request}\n`)
  return load.call(this, request, ...rest)
}
