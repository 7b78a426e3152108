import { copyFileSync, cpSync, mkdirSync, readdirSync, rmSync, statfsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { DbopsError } from '../errors.js'
import type { Target } from '../targets/target.js'
import type { MigrationFile } from '../migrate/files.js'
import type { ScratchTarget } from './schema-engine.js'
import { temporaryDir } from '../temporary-dirs.js'

export type SchemaEvent = { type: 'step'; target: string; message: string }

/**
 * Runs `fn` on a fresh scratch database beside `target` and drops it afterwards, whatever happens: success, failure,
 * or an interruption (the CLI turns Ctrl-C into `signal`, and `fn` stops at its next step).
 */
export async function withScratch<T>(
  target: Target,
  prefix: string,
  fn: (scratch: ScratchTarget) => Promise<T>,
  onEvent?: (event: SchemaEvent) => void,
): Promise<T> {
  const engine = await target.backend.schemaEngine()
  const scratch = await engine.scratch(target, prefix)
  onEvent?.({ type: 'step', target: target.name, message: `created ${scratch.description}` })
  try {
    return await fn(scratch)
  } finally {
    await scratch.drop()
    onEvent?.({ type: 'step', target: target.name, message: `dropped ${scratch.description}` })
  }
}

/**
 * A temporary migrations folder (named like the real one, so messages still read `migrations/<file>`) holding
 * copies of some migrations' files (up and down, any format; a folder migration's whole folder), for a scratch target.
 * An Atlas directory's atlas.sum comes along: without it Atlas's files would be read as another format.
 */
export function copyMigrations(
  dir: string,
  migrations: readonly MigrationFile[],
): { dir: string; add(migration: MigrationFile): void; remove(): void } {
  const root = temporaryDir('migrations', scratchDir())
  const copy = join(root, basename(dir))
  mkdirSync(copy)
  const names = new Set(readdirSync(dir))
  const add = (migration: MigrationFile) => {
    if (migration.format === 'folder' || migration.format === 'prisma') {
      cpSync(join(dir, migration.id), join(copy, migration.id), { recursive: true })
      return
    }
    // The migration's own files (a golang-migrate pair's two, Flyway's V and U), and a Flyway file's .conf beside it.
    for (const file of new Set([migration.file, migration.down?.file])) {
      if (file === undefined) continue
      for (const name of [basename(file), `${basename(file)}.conf`])
        if (names.has(name)) copyFileSync(join(dir, name), join(copy, name))
    }
  }
  if (names.has('atlas.sum')) copyFileSync(join(dir, 'atlas.sum'), join(copy, 'atlas.sum'))
  for (const migration of migrations) add(migration)
  return {
    dir: copy,
    add,
    remove: () => rmSync(root, { recursive: true, force: true }),
  }
}

export function checkInterrupted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted)
    throw new DbopsError('E_INTERRUPTED', `${what} was interrupted; the scratch database was dropped`, {
      hint: 'run it again',
    })
}

/**
 * Where scratch files go: memory-backed /dev/shm when it has at least 1 GiB free (a scratch database needs no
 * durability, and on a busy disk every fsync and unlink of `migrate test` waits), else the temp folder.
 */
export function scratchDir(): string {
  try {
    const stats = statfsSync('/dev/shm')
    if (stats.bavail * stats.bsize >= 1024 ** 3) return '/dev/shm'
  } catch {
    // Not Linux, or no /dev/shm.
  }
  return tmpdir()
}
