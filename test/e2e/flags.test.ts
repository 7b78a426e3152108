// Number and duration flags through the built CLI: every command parses them with src/cli/flags.ts, so a bad value is
// a usage error (exit 3) naming the flag and what it accepts, before anything touches the database.
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli, tempDir } from '../helpers/databases.js'

function errorLine(stderr: string): string {
  return stderr.split('\n').find((line) => line.startsWith('error: ')) ?? stderr
}

describe('whole-number and duration flags', () => {
  it('refuses fractions, exponents and out-of-range counts with exit 3 and the accepted range', async () => {
    const dir = tempDir('dbops-flags-e2e')
    const url = `sqlite:${path.join(dir, 'x.db')}`
    const cases: [string[], string][] = [
      [['--all', '--concurrency', '1e3', 'migrate', 'status'], '--concurrency takes a whole number from 1 to 100'],
      [['--all', '--concurrency', '1.5', 'migrate', 'status'], '--concurrency takes a whole number from 1 to 100'],
      [['migrate', 'up', '--steps', '1e3'], '--steps takes a whole number from 1 to 1000000, not "1e3"'],
      [['migrate', 'down', '--steps', '1.5'], '--steps takes a whole number from 1 to 1000000, not "1.5"'],
      [['backup', 'create', '--jobs', '0x10'], '--jobs takes a whole number from 1 to 64, not "0x10"'],
      [
        ['backup', 'prune', '--keep-last', '2.0'],
        '--keep-last takes a whole number from 0 to 1000000 or "unlimited", not "2.0"',
      ],
      [['migrate', 'lint', '--pg-version', '1e1'], '--pg-version takes a whole number from 9 to 99, not "1e1"'],
    ]
    for (const [args, message] of cases) {
      const result = await runCli(['--url', url, ...args], { cwd: dir })
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(3)
      expect(errorLine(result.stderr)).toContain(message)
    }
  })

  it('names a duration flag once in its error', async () => {
    const dir = tempDir('dbops-flags-e2e')
    const url = `sqlite:${path.join(dir, 'x.db')}`
    for (const [args, flag] of [
      [['migrate', 'up', '--lock-timeout', 'soon'], '--lock-timeout'],
      [['wait', '--timeout', 'soon'], '--timeout'],
      [['maintain', '--budget', 'soon'], '--budget'],
    ] as const) {
      const result = await runCli(['--url', url, ...args], { cwd: dir })
      expect(result.code, result.stderr).toBe(3)
      const message = errorLine(result.stderr).split(' (hint: ')[0]!
      expect(message).toContain(`${flag}: "soon" is not a duration`)
      expect(message.split(flag).length - 1, message).toBe(1)
    }
  })
})
