/**
 * Statement classification on leading words only (see leadingWords): cheap, and never fooled by strings or
 * comments. Both functions expect one statement as returned by splitStatements.
 */
import { leadingWords, type SqlDialect } from './split-statements.js'

/**
 * Why this statement cannot run inside a transaction block (e.g. 'CREATE INDEX CONCURRENTLY'); undefined when it
 * can. Sources: the "cannot be executed inside a transaction block" notes of the PostgreSQL reference pages, and
 * SQLite's pragma and VACUUM documentation.
 *
 * PostgreSQL: CREATE [UNIQUE] INDEX CONCURRENTLY, DROP INDEX CONCURRENTLY, REINDEX ... CONCURRENTLY (also the
 * `REINDEX (CONCURRENTLY) ...` option form), REINDEX SCHEMA|DATABASE|SYSTEM, ALTER TABLE ... DETACH PARTITION ...
 * CONCURRENTLY, VACUUM, CREATE|DROP DATABASE, ALTER DATABASE ... SET TABLESPACE, CREATE|DROP TABLESPACE, ALTER
 * SYSTEM, DISCARD ALL, CLUSTER without a table, COMMIT|ROLLBACK PREPARED, CREATE SUBSCRIPTION unless its WITH list
 * says `create_slot = false` or `connect = false` (connect = false implies no slot), DROP SUBSCRIPTION (always:
 * whether the subscription has a slot is not in the text, and running it outside a transaction is always valid),
 * ALTER SUBSCRIPTION ... REFRESH PUBLICATION, ALTER SUBSCRIPTION ... SET|ADD|DROP PUBLICATION unless
 * `refresh = false`, ALTER SUBSCRIPTION ... SET (failover | two_phase) (PG 17+). Not flagged: ALTER TYPE ... ADD
 * VALUE (allowed in a transaction since PG 12), REFRESH MATERIALIZED VIEW CONCURRENTLY (allowed), and the cases
 * that depend on the catalog rather than the text (REINDEX or CLUSTER of a partitioned table): the server reports
 * those.
 *
 * SQLite (checked against SQLite 3.53): VACUUM (also VACUUM INTO); setting PRAGMA synchronous or temp_store (an
 * error); setting PRAGMA journal_mode or foreign_keys (silently ignored inside a transaction, worse than an error);
 * DETACH (fails with "database is locked" once the transaction has used the attached database, which is the usual
 * reason to attach it). Reading a pragma is fine; ATTACH works inside a transaction and is not flagged.
 */
export function nonTransactionalReason(statementText: string, dialect: SqlDialect): string | undefined {
  const words = leadingWords(statementText, 24, dialect)
  if (dialect === 'sqlite') return sqliteReason(words)
  if (words[1] === 'SUBSCRIPTION') return subscriptionReason(leadingWords(statementText, Infinity, dialect))
  return postgresReason(words)
}

/**
 * The transaction-control command this statement is, e.g. 'BEGIN', 'COMMIT', 'START TRANSACTION'; undefined
 * otherwise. dbops wraps transactional migrations itself, so these inside one are an error.
 *
 * PostgreSQL: BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, ABORT, PREPARE TRANSACTION (it ends the current
 * transaction). SQLite: BEGIN [DEFERRED|IMMEDIATE|EXCLUSIVE] [TRANSACTION], COMMIT, END, ROLLBACK. The command word
 * is returned as written (END, not COMMIT) so messages quote the user's SQL.
 * Not transaction control: SAVEPOINT, RELEASE [SAVEPOINT] and ROLLBACK [WORK|TRANSACTION] TO [SAVEPOINT] work
 * inside the migration's transaction; COMMIT|ROLLBACK PREPARED finish another, prepared transaction and are
 * reported by nonTransactionalReason instead.
 */
export function transactionControl(statementText: string, dialect: SqlDialect): string | undefined {
  const [first, second, third] = leadingWords(statementText, 3, dialect)
  const pg = dialect === 'postgres'
  switch (first) {
    case 'BEGIN':
      return 'BEGIN'
    case 'COMMIT':
    case 'END':
      return second === 'PREPARED' ? undefined : first
    case 'ROLLBACK': {
      const toSavepoint = second === 'TO' || ((second === 'WORK' || second === 'TRANSACTION') && third === 'TO')
      return toSavepoint || second === 'PREPARED' ? undefined : 'ROLLBACK'
    }
    case 'START':
      return pg && second === 'TRANSACTION' ? 'START TRANSACTION' : undefined
    case 'ABORT':
      return pg ? 'ABORT' : undefined
    case 'PREPARE':
      return pg && second === 'TRANSACTION' ? 'PREPARE TRANSACTION' : undefined
    default:
      return undefined
  }
}

function postgresReason(words: string[]): string | undefined {
  const [first, second, third] = words
  switch (first) {
    case 'VACUUM':
      return 'VACUUM'
    case 'CREATE': {
      const index = second === 'UNIQUE' ? 2 : 1
      if (words[index] === 'INDEX' && words[index + 1] === 'CONCURRENTLY') return 'CREATE INDEX CONCURRENTLY'
      if (second === 'DATABASE' || second === 'TABLESPACE') return `CREATE ${second}`
      return undefined
    }
    case 'DROP':
      if (second === 'INDEX' && third === 'CONCURRENTLY') return 'DROP INDEX CONCURRENTLY'
      if (second === 'DATABASE' || second === 'TABLESPACE') return `DROP ${second}`
      return undefined
    case 'REINDEX':
      return reindexReason(words)
    case 'ALTER':
      if (second === 'SYSTEM') return 'ALTER SYSTEM'
      if (second === 'DATABASE' && words[3] === 'SET' && words[4] === 'TABLESPACE') {
        return 'ALTER DATABASE ... SET TABLESPACE'
      }
      // CONCURRENTLY is reserved (never an unquoted name) and DETACH PARTITION cannot be combined with other actions.
      if (second === 'TABLE' && words.includes('DETACH') && words.includes('CONCURRENTLY')) {
        return 'ALTER TABLE ... DETACH PARTITION CONCURRENTLY'
      }
      return undefined
    case 'CLUSTER': {
      // CLUSTER [VERBOSE] and CLUSTER (options) with nothing after re-cluster every table.
      let k = 1
      if (words[k] === 'VERBOSE') k++
      else if (words[k] === '(') k = optionList(words, k).next
      return words[k] === undefined ? 'CLUSTER without a table name' : undefined
    }
    case 'DISCARD':
      return second === 'ALL' ? 'DISCARD ALL' : undefined
    case 'COMMIT':
    case 'ROLLBACK':
      return second === 'PREPARED' ? `${first} PREPARED` : undefined
    default:
      return undefined
  }
}

function reindexReason(words: string[]): string | undefined {
  // REINDEX [ ( option [, ...] ) ] { INDEX | TABLE | SCHEMA | DATABASE | SYSTEM } [ CONCURRENTLY ] [ name ]
  let k = 1
  let concurrently = false
  if (words[k] === '(') {
    const list = optionList(words, k)
    const option = list.options.get('CONCURRENTLY')
    concurrently = option !== undefined && isTrue(option)
    k = list.next
  }
  const target = words[k]
  if (target === 'SCHEMA' || target === 'DATABASE' || target === 'SYSTEM') return `REINDEX ${target}`
  return concurrently || words[k + 1] === 'CONCURRENTLY' ? 'REINDEX CONCURRENTLY' : undefined
}

function subscriptionReason(words: string[]): string | undefined {
  const [first, , , fourth, fifth] = words
  if (first === 'DROP') return 'DROP SUBSCRIPTION (when the subscription has a replication slot)'
  const withList = (): Map<string, string> => {
    const k = words.lastIndexOf('WITH')
    return k > 0 && words[k + 1] === '(' ? optionList(words, k + 1).options : new Map<string, string>()
  }
  if (first === 'CREATE') {
    const options = withList()
    const off = (name: string): boolean => {
      const value = options.get(name)
      return value !== undefined && !isTrue(value)
    }
    return off('CREATE_SLOT') || off('CONNECT') ? undefined : 'CREATE SUBSCRIPTION (creates a replication slot)'
  }
  if (first !== 'ALTER') return undefined
  // ALTER SUBSCRIPTION name ...
  if (fourth === 'REFRESH' && fifth === 'PUBLICATION') return 'ALTER SUBSCRIPTION ... REFRESH PUBLICATION'
  if ((fourth === 'SET' || fourth === 'ADD' || fourth === 'DROP') && fifth === 'PUBLICATION') {
    const refresh = withList().get('REFRESH')
    if (refresh === undefined || isTrue(refresh)) return `ALTER SUBSCRIPTION ... ${fourth} PUBLICATION (with refresh)`
  }
  if (fourth === 'SET' && fifth === '(') {
    const options = optionList(words, 4).options
    if (options.has('FAILOVER')) return 'ALTER SUBSCRIPTION ... SET (failover)'
    if (options.has('TWO_PHASE')) return 'ALTER SUBSCRIPTION ... SET (two_phase)'
  }
  return undefined
}

function sqliteReason(words: string[]): string | undefined {
  const [first, second, third] = words
  if (first === 'VACUUM') return 'VACUUM'
  if (first === 'DETACH') return 'DETACH (the database is locked once the transaction has used it)'
  if (first !== 'PRAGMA') return undefined
  // PRAGMA [schema.]name = value | PRAGMA [schema.]name(value); a bare name only reads it.
  const k = third === '.' ? 3 : 1
  const name = k === 3 ? words[3] : second
  const sets = words[k + 1] === '=' || words[k + 1] === '('
  if (!sets) return undefined
  switch (name) {
    case 'SYNCHRONOUS':
    case 'TEMP_STORE':
      return `PRAGMA ${name.toLowerCase()}`
    case 'JOURNAL_MODE':
    case 'FOREIGN_KEYS':
      return `PRAGMA ${name.toLowerCase()} (a silent no-op inside a transaction)`
    default:
      return undefined
  }
}

/**
 * For a statement nonTransactionalReason refuses that sets what the file's other statements run under on this
 * connection (SQLite's PRAGMA foreign_keys, step 1 of its table rebuild): what the file needs besides running outside a
 * transaction, and why a migration of its own would not do. undefined for the others.
 */
export function fileSettingAdvice(statementText: string, dialect: SqlDialect): string | undefined {
  if (dialect !== 'sqlite') return undefined
  const words = leadingWords(statementText, 6, dialect)
  const name = words[2] === '.' ? words[3] : words[1]
  if (words[0] !== 'PRAGMA' || name !== 'FOREIGN_KEYS') return undefined
  return 'and wrap its statements in a transaction of its own after the PRAGMA: PRAGMA foreign_keys=OFF; BEGIN; ... PRAGMA foreign_key_check; COMMIT (a migration of its own would not do: dbops turns foreign keys back on before each migration)'
}

/**
 * Parses `( name [=] [value] , ... )` starting at the '(' at `k`: option name to its last value token ('TRUE' when
 * the option has no value, as PostgreSQL reads a bare boolean option). `next` is the index after the ')'.
 */
function optionList(words: string[], k: number): { options: Map<string, string>; next: number } {
  const options = new Map<string, string>()
  let entry: string[] = []
  for (k++; k < words.length; k++) {
    const word = words[k] as string
    if (word === ',' || word === ')') {
      const [name, ...rest] = entry.filter((token) => token !== '=')
      if (name !== undefined) options.set(name, rest.at(-1) ?? 'TRUE')
      entry = []
      if (word === ')') return { options, next: k + 1 }
    } else {
      entry.push(word)
    }
  }
  return { options, next: k }
}

/** Unknown values (a quoted 'off', a parameter) count as true: flagging a statement is the safe mistake. */
function isTrue(value: string): boolean {
  return value !== 'FALSE' && value !== 'OFF' && value !== '0'
}
