// Vitest global setup: every test and every dbops process they start must remove its temporary files (issue 10 §4c).
// The run gets a private TMPDIR (workers and spawned CLIs inherit it, so os.tmpdir() points there); at teardown
// anything left in it fails the run, named. A private folder rather than a before/after listing of /tmp: other runs
// on the same machine must neither hide a leftover nor be blamed for one.
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/** The entries `run()` left in `dir`; removes them either way. */
export function leftoversOf(dir: string): string[] {
  const left = readdirSync(dir).sort()
  rmSync(dir, { recursive: true, force: true })
  return left
}

export default function setup(): (() => void) | undefined {
  // Both projects list this file; the first one to run owns the folder and checks it.
  if (process.env.DBOPS_TEST_TMPDIR) return undefined
  const outer = process.env.TMPDIR
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dbops-suite-tmp-'))
  chmodSync(dir, 0o1777) // like /tmp: a throwaway cluster runs as the postgres user, some tests as nobody
  process.env.DBOPS_TEST_TMPDIR = dir
  process.env.TMPDIR = dir
  return () => {
    if (outer === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = outer
    delete process.env.DBOPS_TEST_TMPDIR
    const left = leftoversOf(dir)
    if (left.length > 0) {
      // vitest only logs an error thrown here: set the exit code so the run fails.
      console.error(
        `\n[dbops test teardown] the tests left ${left.length} temporary entr${left.length === 1 ? 'y' : 'ies'} behind: ` +
          `${left.join(', ')} (each test removes what it creates: use tempDir() from test/helpers/databases.ts)\n`,
      )
      process.exitCode = 1
    }
  }
}
