import type { Target } from '../targets/target.js'
import type { SchemaCatalog } from './catalog.js'

/** A throwaway database beside a target (same server, or a temp file), reached as a Target of its own. */
export interface ScratchTarget {
  /** Shown to the user: `scratch database dbops_drift_3f2a...` or `scratch file /tmp/...`. */
  description: string
  target: Target
  /** Closes the connection and drops the database (removes the file); never throws. */
  drop(): Promise<void>
}

/**
 * The engine side of `dbops schema` and `dbops migrate test`: reading the catalog, dumping the schema as SQL, and
 * making scratch databases. Reached through `Backend.schemaEngine()`.
 */
export interface SchemaEngine {
  /** Every user object's definition, in a fixed number of catalog queries whatever the schema size. */
  readCatalog(): Promise<SchemaCatalog>
  /**
   * The catalog read as SQL to send after a migration in the same round trip (TransactionalUnit.followUp), or
   * undefined where a separate read costs no round trip or this session cannot take it yet: then `readCatalog`.
   */
  catalogFollowUp?(): string | undefined
  /** The catalog from what the follow-up returned; undefined when that is not it (then `readCatalog`). */
  catalogFromFollowUp?(results: unknown[]): SchemaCatalog | undefined
  /** The schema as SQL that recreates it in an empty database, normalised so that two dumps of one schema are byte-identical. */
  dump(target: Target, options: { signal?: AbortSignal }): Promise<string>
  /** The SQL expression for "now" in the ledger rows a dump ends with. */
  readonly nowExpression: string
  /** Creates an empty scratch database named `<prefix>_<random>` (PostgreSQL: with the target's encoding and locale). */
  scratch(target: Target, prefix: string): Promise<ScratchTarget>
}
