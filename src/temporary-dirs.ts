import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { processExists } from './processes.js'

/**
 * Who owns a folder: the pid namespace on Linux (containers sharing one /tmp each have their own, and a pid is only
 * meaningful inside it), else the host name.
 */
let owner: string | undefined
function ownerTag(): string {
  if (owner === undefined) {
    try {
      owner = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? hostname()
    } catch {
      owner = hostname()
    }
    owner = owner.replace(/[^A-Za-z0-9]/g, '')
  }
  return owner
}

const NAME = /^dbops-[a-z-]+\.([A-Za-z0-9]+)\.(\d+)\./

/**
 * A new private temporary folder for `purpose` (`dbops-<purpose>.<owner>.<pid>.XXXXXX`), in `parent` (default the
 * system's temporary folder). Folders that a dbops process killed before it could clean up (SIGKILL, a power cut)
 * left there are removed first: their pid no longer runs in this pid namespace.
 */
export function temporaryDir(purpose: string, parent: string = tmpdir()): string {
  removeOrphans(parent)
  return mkdtempSync(join(parent, `dbops-${purpose}.${ownerTag()}.${process.pid}.`))
}

function removeOrphans(parent: string): void {
  let names: string[]
  try {
    names = readdirSync(parent)
  } catch {
    return // mkdtempSync says what is wrong with the folder.
  }
  for (const name of names) {
    if (!name.startsWith('dbops-')) continue
    const match = NAME.exec(name)
    if (!match || match[1] !== ownerTag() || processExists(Number(match[2]))) continue
    try {
      rmSync(join(parent, name), { recursive: true, force: true })
    } catch {
      // Not ours to remove (another user's), or already gone.
    }
  }
}
