import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { temporaryDir } from '../../src/temporary-dirs.js'

const parents: string[] = []
afterEach(() => {
  for (const dir of parents.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe('temporaryDir', () => {
  it('names the folder after its purpose, this pid namespace and this process', () => {
    const parent = mkdtempSync(join(tmpdir(), 'dbops-temporary-dirs-'))
    parents.push(parent)
    const dir = temporaryDir('verify-artifact', parent)
    expect(basename(dir)).toMatch(new RegExp(`^dbops-verify-artifact\\.[A-Za-z0-9]+\\.${process.pid}\\.\\w{6}$`))
    expect(readdirSync(dir)).toEqual([])
  })

  it('removes what a killed dbops left in this namespace, and nothing of a live process, another namespace or anyone else', () => {
    const parent = mkdtempSync(join(tmpdir(), 'dbops-temporary-dirs-'))
    parents.push(parent)
    const owner = basename(temporaryDir('probe', parent)).split('.')[1]!
    // A pid that ran and exited: no process has it now.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!
    const make = (name: string) => {
      mkdirSync(join(parent, name))
      writeFileSync(join(parent, name, 'scratch.db'), 'x')
      return name
    }
    const orphan = make(`dbops-backup.${owner}.${dead}.aB3dEf`)
    const live = make(`dbops-restore.${owner}.${process.pid}.gH4iJk`)
    const elsewhere = make(`dbops-backup.otherns1.${dead}.lM5nOp`)
    const users = make('dbops-backup-safety-qR6sTu')
    temporaryDir('backup', parent)
    expect(existsSync(join(parent, orphan))).toBe(false)
    for (const kept of [live, elsewhere, users]) expect(existsSync(join(parent, kept, 'scratch.db'))).toBe(true)
  })
})
