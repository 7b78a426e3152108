// A demanding new user's command lines: flags that contradict each other, bad URLs, Ctrl-C at awkward moments.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli, tempDir } from '../helpers/databases.js'

function twoTargets(): string {
  const dir = tempDir('dbops-trial-cli')
  writeFileSync(
    path.join(dir, 'dbops.config.mjs'),
    "export default { defaultTarget: 'dev', targets: { dev: { url: 'sqlite:./dev.db' }, ci: { url: 'sqlite:./ci.db' } } }\n",
  )
  return dir
}

describe('config show (trial)', () => {
  it('--url with --all is a usage error, as for every other command', async () => {
    const dir = twoTargets()
    const result = await runCli(['config', 'show', '--url', 'sqlite:./other.db', '--all', '--json'], { cwd: dir })
    expect(result.code).toBe(3)
    expect(JSON.parse(result.stdout).error).toMatchObject({
      code: 'E_USAGE',
      message: expect.stringContaining('cannot be used with --all'),
    })
  })

  it('-t shows that target only; --all shows every target', async () => {
    const dir = twoTargets()
    const one = await runCli(['config', 'show', '-t', 'ci', '--json'], { cwd: dir })
    expect(one.code, one.stderr).toBe(0)
    expect(Object.keys(JSON.parse(one.stdout).targets)).toEqual(['ci'])
    const all = await runCli(['config', 'show', '--all', '--json'], { cwd: dir })
    expect(Object.keys(JSON.parse(all.stdout).targets)).toEqual(['dev', 'ci'])
  })
})
