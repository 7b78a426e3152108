import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DbopsError } from '../errors.js'
import type { Target } from '../targets/target.js'
import type { MigrationFile } from '../migrate/files.js'
import type { ScratchTarget } from './schema-engine.js'

export type SchemaEvent = { type: 'step'; target: string; message: string }

/**
 * Runs `fn` on a fresh scratch database beside `target` and drops it afterwards, whatever happens: success, failure,
 * or an interruption (the CLI turns Ctrl-C into `signal`, and `fn` stops at its next step).
 */
export async function withScratch<T>(target: Target, prefix: string, fn: (scratch: ScratchTarget) => Promise<T>, onEvent?: (event: SchemaEvent) => void): Promise<T> {
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

/** A temporary migrations folder holding copies of `migrations` only (their up and down files), for a scratch target. */
export function copyMigrations(dir: string, migrations: readonly MigrationFile[]): { dir: string; add(migration: MigrationFile): void; remove(): void } {
  const copy = mkdtempSync(join(tmpdir(), 'dbops-migrations-'))
  let names: string[] | undefined
  const add = (migration: MigrationFile) => {
    names ??= readdirSync(dir)
    // dbmate files and golang-migrate pairs alike: every file of that version.
    for (const name of names) if (name.startsWith(`${migration.version}_`)) copyFileSync(join(dir, name), join(copy, name))
  }
  for (const migration of migrations) add(migration)
  return { dir: copy, add, remove: () => rmSync(copy, { recursive: true, force: true }) }
}

export function checkInterrupted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new DbopsError('E_INTERRUPTED', `${what} was interrupted; the scratch database was dropped`, { hint: 'run it again' })
}
