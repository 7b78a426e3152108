/**
 * `dbops migrate lint` and the check before `migrate up`: migration hazards judged in the context dbops has and a
 * static linter lacks (what the run creates, each file's transaction mode, the lock_timeout dbops sets, the server's
 * version, live table sizes). Statements no active rule wants are never parsed, so linting a run of plain
 * CREATE TABLE / INSERT migrations costs a split and a few words per statement.
 */
import { statSync } from 'node:fs'
import { basename, dirname, join, relative, resolve, sep } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import type { Backend, Engine } from '../backends/backend.js'
import type { ResolvedLint } from '../config/resolve-config.js'
import { DbopsError, UsageError } from '../errors.js'
import { formatBytes, oneLine } from '../output/format.js'
import type { Target } from '../targets/target.js'
import { migrationsFolderOf, readLooseFile, readMigrations, type MigrationFile } from '../migrate/files.js'
import { Ledger } from '../migrate/ledger.js'
import { migrationStates } from '../migrate/plan.js'
import { transactionPlan } from '../migrate/prepare.js'
import { leadingWords, splitStatements, type SqlStatement } from '../sql/split-statements.js'
import { LINT_RULES, META_RULES, RULE_IDS } from './rules/index.js'
import { LEADING_WORDS } from './rule-helpers.js'
import { hasIgnores, parseIgnores, type LintIgnore } from './suppress.js'
import type {
  ColumnType,
  LintDialect,
  LintFinding,
  LintResult,
  LintRule,
  LintSetting,
  LintSeverity,
  LintStatement,
  LintSuppression,
  PgNode,
  RuleContext,
  RuleFinding,
  SectionScope,
} from './types.js'

/** The newest PostgreSQL major the version-dependent rules know: assumed when neither the server nor --pg-version says. */
export const NEWEST_PG_MAJOR = 18
export const DEFAULT_SMALL_TABLE_BYTES = 10 * 1024 * 1024
export const DEFAULT_LARGE_TABLE_BYTES = 1024 * 1024 * 1024
const DEFAULT_LOCK_TIMEOUT_MS = 5_000

export interface LintOptions {
  /** With a target: every file, not only the pending ones (pending files still count as one run). */
  all?: boolean
  /** Lint statically even when a target is reachable: every file, no sizes, no server version. */
  offline?: boolean
  /** Only these migration files (paths relative to `cwd`). */
  files?: string[]
  /** The PostgreSQL major version to assume (overrides the server's). */
  pgVersion?: number
  /** Rule id → off | info | warn | error (over the config's `lint.rules`). */
  rules?: Record<string, LintSetting>
  /** Hazards on tables smaller than this drop to info (default 10 MB, config `lint.smallTable`). */
  smallTableBytes?: number
  /** Rewrites of tables at least this large rise to error (default 1 GB, config `lint.largeTable`). */
  largeTableBytes?: number
  /** Leave out rules below this severity (`migrate up` passes warn: it shows no advice). */
  minSeverity?: LintSeverity
  /**
   * Parse every statement, to report syntax errors everywhere (PostgreSQL). By default only statements some rule
   * looks at are parsed; the server reports the others' syntax errors, with their position, when they run.
   */
  checkSyntax?: boolean
  cwd?: string
}

/** Files to lint without a target: a migrations folder or files, and the engine to judge them for. */
export interface LintSource {
  /** Migrations folder (default `migrations`). */
  dir?: string
  files?: string[]
  /** Default postgres. */
  engine?: Engine
  lockTimeoutMs?: number
  /** The config's `lint` section (rules, thresholds). */
  lint?: ResolvedLint
  /** The target's name, when these are its files (reported; nothing is connected). */
  name?: string
}

const RANK: Record<LintSeverity, number> = { info: 0, warn: 1, error: 2 }

function isTarget(source: Target | LintSource): source is Target {
  return (source as Target).backend !== undefined
}

/**
 * Lints migrations and returns what `dbops migrate lint --json` prints. With a target (not `offline`): its pending
 * migrations as one run, in the server's context (version, sizes); a target that cannot be reached is linted
 * offline, with a warning in the result. Without one: every file, statically.
 */
export async function lintMigrations(source: Target | LintSource, options: LintOptions = {}): Promise<LintResult> {
  const cwd = options.cwd ?? process.cwd()
  if (optimisingOnlyLong()) setFlagsFromString('--no-opt')
  // A lint run almost always parses something: the parser's WebAssembly compiles in the background meanwhile (awaited
  // until its compile has started: reading the files next is synchronous, and would hold it back).
  if ((isTarget(source) ? source.backend.engine : (source.engine ?? 'postgres')) === 'postgres') await warmParser()
  if (!isTarget(source)) {
    const dir = resolve(cwd, source.dir ?? 'migrations')
    const migrations = selectFiles(
      readMigrationsAround(dir, source.files ?? options.files, cwd),
      source.files ?? options.files,
      cwd,
    )
    optimiseIfLong(migrations)
    return lintRun({
      engine: source.engine ?? 'postgres',
      targetName: source.name ?? null,
      backend: undefined,
      mode: 'offline',
      files: migrations.map((migration) => ({ migration, inRun: false })),
      lockTimeoutMs: source.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
      settings: settingsOf(source.lint, options),
      warnings: [],
    })
  }
  const target = source
  const settings = settingsOf(target.resolved?.lint, options)
  const set = readMigrationsAround(target.migrations.dir, options.files, cwd)
  const selected = selectFiles(set, options.files, cwd)
  optimiseIfLong(selected)
  const base = {
    engine: target.backend.engine,
    targetName: target.name,
    lockTimeoutMs: target.migrations.lockTimeoutMs,
    settings,
  }
  if (options.offline) {
    return lintRun({
      ...base,
      backend: undefined,
      mode: 'offline',
      files: selected.map((migration) => ({ migration, inRun: false })),
      warnings: [],
    })
  }
  let rows
  try {
    rows = (await new Ledger(target.backend, target.migrations).read()) ?? []
  } catch (error) {
    const reason = error instanceof DbopsError ? error.message : (error as Error).message
    return lintRun({
      ...base,
      backend: undefined,
      mode: 'offline',
      files: selected.map((migration) => ({ migration, inRun: false })),
      warnings: [`could not read ${target.name}'s migration state (${reason}): linted every file statically`],
    })
  }
  const pending = new Set(
    migrationStates(set, rows)
      .filter((entry) => entry.state === 'pending')
      .map((entry) => entry.version),
  )
  const chosen =
    options.all || options.files ? selected : selected.filter((migration) => pending.has(migration.version))
  return lintRun({
    ...base,
    backend: target.backend,
    mode: options.all || options.files ? 'all' : 'pending',
    files: chosen.map((migration) => ({ migration, inRun: pending.has(migration.version) })),
    warnings: [],
  })
}

/**
 * Up-section SQL (UTF-16 units) from which a CLI lint turns V8's optimising compiler back on (see cli/context.ts
 * optimiseOnlyLongLints). Measured on sets like bench/lint.mjs' (~430 characters a file), CPU without it against with
 * it: 1000 files -25%, 3000 -15%, 5000 -5% (wall time even), 10000 +10%.
 */
const LONG_LINT_SQL = 1_500_000

function optimisingOnlyLong(): boolean {
  return (globalThis as Record<symbol, unknown>)[Symbol.for('dbops.optimiseOnlyLongLints')] === true
}

function optimiseIfLong(migrations: readonly MigrationFile[]): void {
  if (!optimisingOnlyLong()) return
  let length = 0
  for (const migration of migrations) length += migration.up.sql.length
  if (length >= LONG_LINT_SQL) setFlagsFromString('--opt')
}

async function warmParser(): Promise<void> {
  try {
    const { lintDialect } = await import('../backends/index.js')
    const loading = (await lintDialect('postgres')).load()
    loading.catch(() => {}) // Reported where the parser is needed, if it is.
    await Promise.race([loading, new Promise((resolve) => setImmediate(resolve))])
  } catch {
    // As above.
  }
}

/**
 * Lints the migrations `migrate up` is about to run, as one run, with the target's context; rules below warn are
 * left out. The caller decides what errors mean (up stops before anything runs).
 */
export async function lintPlanned(target: Target, migrations: readonly MigrationFile[]): Promise<LintResult> {
  return lintRun({
    engine: target.backend.engine,
    targetName: target.name,
    backend: target.backend,
    mode: 'pending',
    files: migrations.map((migration) => ({ migration, inRun: true })),
    lockTimeoutMs: target.migrations.lockTimeoutMs,
    // up refuses these itself (with their own error codes), the server reports syntax errors with their position, and
    // an ignore for a table the run creates is unused only in this run.
    settings: settingsOf(target.resolved?.lint, {
      minSeverity: 'warn',
      rules: {
        ...target.resolved?.lint?.rules,
        'non-transactional-statement': 'off',
        'transaction-control': 'off',
        'syntax-error': 'off',
        'unused-ignore': 'off',
      },
    }),
    warnings: [],
  })
}

interface Settings {
  rules: Record<string, LintSetting>
  smallTableBytes: number
  largeTableBytes: number
  pgVersion: number | undefined
  minSeverity: LintSeverity
  checkSyntax: boolean
}

function settingsOf(config: ResolvedLint | undefined, options: LintOptions): Settings {
  const rules = { ...config?.rules, ...options.rules }
  const unknown = Object.keys(rules).filter((id) => !RULE_IDS.has(id))
  if (unknown.length > 0) {
    throw new UsageError(
      `unknown lint rule${unknown.length > 1 ? 's' : ''} ${unknown.map((id) => `"${id}"`).join(', ')}`,
      'see "dbops migrate lint --list-rules" for the rule ids',
    )
  }
  return {
    rules,
    smallTableBytes: options.smallTableBytes ?? config?.smallTableBytes ?? DEFAULT_SMALL_TABLE_BYTES,
    largeTableBytes: options.largeTableBytes ?? config?.largeTableBytes ?? DEFAULT_LARGE_TABLE_BYTES,
    pgVersion: options.pgVersion,
    minSeverity: options.minSeverity ?? 'info',
    checkSyntax: options.checkSyntax === true,
  }
}

/** Reads the migrations folder; explicit files elsewhere are read from their own folder. */
function readMigrationsAround(dir: string, files: string[] | undefined, cwd: string): MigrationFile[] {
  const dirs = new Set([
    dir,
    ...(files ?? []).map((file) => {
      const path = resolve(cwd, file)
      return isMigrationsFolder(path) ? path : migrationsFolderOf(path)
    }),
  ])
  // One folder (the usual case) has no file twice: no path to resolve per file.
  if (dirs.size === 1) return readMigrations(dir, cwd).migrations
  const all: MigrationFile[] = []
  const seen = new Set<string>()
  for (const folder of dirs) {
    const set = readMigrations(folder, cwd)
    if (!set.exists && folder !== dir) throw new UsageError(`${relative(cwd, folder) || folder}: no such folder`)
    for (const migration of set.migrations) {
      const path = resolve(cwd, migration.file)
      if (!seen.has(path)) all.push(migration)
      seen.add(path)
    }
  }
  return all
}

/** A folder named on the command line that is not one migration's own (no up.sql or migration.sql in it). */
function isMigrationsFolder(path: string): boolean {
  if (!statSync(path, { throwIfNoEntry: false })?.isDirectory()) return false
  return !['up.sql', 'migration.sql'].some((name) => statSync(join(path, name), { throwIfNoEntry: false })?.isFile())
}

function selectFiles(migrations: MigrationFile[], files: string[] | undefined, cwd: string): MigrationFile[] {
  if (!files || files.length === 0) return migrations
  const selected = files.flatMap((file) => {
    const path = resolve(cwd, file)
    // A migrations folder: every migration in it.
    if (isMigrationsFolder(path)) {
      const inside = migrations.filter((migration) => resolve(cwd, migration.file).startsWith(path + sep))
      if (inside.length === 0)
        throw new UsageError(`${file}: no migrations in this folder`, 'name a folder of migration files, or the files')
      return inside
    }
    const found = migrations.find(
      (migration) =>
        resolve(cwd, migration.file) === path ||
        (migration.down !== undefined && resolve(cwd, migration.down.file) === path) ||
        // A folder migration is also named by its folder.
        (migration.id === basename(path) && resolve(cwd, dirname(migration.file)) === path),
    )
    if (found) return [found]
    const stat = statSync(path, { throwIfNoEntry: false })
    if (!stat) throw new UsageError(`${file}: no such file`, 'check the path: it is taken from the current folder')
    // Any SQL file, as squawk lints any: a file the folder's migrations do not include is linted on its own.
    if (file.endsWith('.sql') && stat.isFile()) return [readLooseFile(path, file)]
    throw new UsageError(
      `${file} is not a migration file`,
      'name files like 20240101120000_add_users.sql (dbmate) or 1_add_users.up.sql (golang-migrate)',
    )
  })
  return [...new Set(selected)]
}

interface Run {
  engine: Engine
  targetName: string | null
  backend: Backend | undefined
  mode: LintResult['mode']
  /** `inRun`: the file is part of the run (pending): what it creates is fresh for the files after it. */
  files: { migration: MigrationFile; inRun: boolean }[]
  lockTimeoutMs: number
  settings: Settings
  warnings: string[]
}

interface Raw extends RuleFinding {
  rule: LintRule | (typeof META_RULES)[number]
  file: string
  migration: string
  line: number
  column: number
  statement: string
  /** Index into the file's ignores that may suppress it: statement start offset in the section. */
  statementStart: number
}

async function lintRun(run: Run): Promise<LintResult> {
  const { engine, settings } = run
  const { lintDialect } = await import('../backends/index.js')
  const dialect = await lintDialect(engine)
  const setting = (rule: { id: string; severity: LintSeverity }): LintSeverity | 'off' =>
    settings.rules[rule.id] ?? rule.severity
  const active = LINT_RULES.filter((rule) => {
    const level = setting(rule)
    return rule.engines.includes(engine) && level !== 'off' && RANK[level] >= RANK[settings.minSeverity]
  })
  // Rules that never report on a table created earlier in the run: a statement on such a table skips them.
  const freshProof = active.filter((rule) => !rule.reportsOnFresh)

  let pgMajor: { major: number; source: 'server' | 'flag' | 'assumed' } | null = null
  let parserReady = false
  const prepareParser = async (): Promise<void> => {
    if (parserReady) return
    await dialect.load()
    parserReady = true
  }
  if (engine === 'postgres') {
    if (settings.pgVersion !== undefined) pgMajor = { major: settings.pgVersion, source: 'flag' }
    else if (run.backend) {
      const major = await dialect.serverMajor(run.backend)
      pgMajor = major === undefined ? { major: NEWEST_PG_MAJOR, source: 'assumed' } : { major, source: 'server' }
    } else pgMajor = { major: NEWEST_PG_MAJOR, source: 'assumed' }
  }

  // CREATE TABLE IF NOT EXISTS creates nothing when the table is there already: with a target, a table it names that
  // exists now is not new. (Statically the file's intent is taken: it creates the table.)
  const existing = new Set<string>()
  // Only PostgreSQL's dialect knows live tables (SQLite's sizes are always empty): elsewhere there is nothing to ask.
  if (run.backend && engine === 'postgres') {
    const conditional = run.files.flatMap(({ migration }) =>
      (mentions(migration.up, 'exists') ? [...migration.up.sql.matchAll(CONDITIONAL_CREATE)] : []).map((match) =>
        unquoteName(match[1]!),
      ),
    )
    if (conditional.length > 0)
      for (const name of (await dialect.sizes(run.backend, conditional)).keys()) existing.add(bare(name))
  }
  const raws: Raw[] = []
  const suppressible: { ignores: LintIgnore[]; file: string; statementStarts: number[] }[] = []
  const fresh = new Set<string>()
  // Sections skipped unsplit whose new tables are not in `fresh` yet: taken out of their text only when `fresh` is next
  // read (most runs of plain migrations never read it).
  const unrecorded: MigrationFile['up'][] = []
  const freshNow = (): Set<string> => {
    for (const section of unrecorded) for (const name of createdTables(section, existing)) fresh.add(name)
    unrecorded.length = 0
    return fresh
  }
  const noTables = (): ReadonlySet<string> => new Set()
  const state = new Map<string, unknown>()
  let statementCount = 0
  const isFresh = (table: string): boolean => fresh.has(bare(table))

  const skippable = !settings.checkSyntax && active.every((rule) => rule.mayFind !== undefined)
  // When every active rule names the words its mayFind needs (SQLite's do), one regex scan for any of them (and
  // "lint", for ignores) settles a section that has none: no call per rule, no search per word.
  const gate =
    skippable && active.every((rule) => rule.mayFindWords !== undefined)
      ? new RegExp(
          `\\b(?:${[...new Set(['lint', ...active.flatMap((rule) => rule.mayFindWords!)])].join('|')})\\b`,
          'i',
        )
      : undefined
  // The rules in the order nothingToFind asks them; it moves the one that said yes to the front. Any yes settles a
  // section, and the rule that found something in one section usually does in the next: asked in list order, a set
  // of non-transactional files asked some 30 rules, most of them scanning the text, before the one that said yes.
  const probeOrder = [...active]
  const { split, forget } = splitter(run.files, engine, (statement) =>
    parserReady && dialect.inner ? dialect.inner(statement) : [],
  )
  // Parse results by statement, filled a batch at a time (see parseAhead), each taken once.
  const parsed = new Map<SqlStatement, ReturnType<LintDialect['parse']>>()
  /** Files parseAhead found that some rule may find something in (see there). */
  const mayFindSomething = new Set<number>()
  /** Whether the loop below parses this statement, `freshTables` being the tables created before it in the run. */
  const mayParse = (statement: SqlStatement, words: readonly string[], freshTables: ReadonlySet<string>): boolean => {
    if (settings.checkSyntax || dialect.created(words, undefined, statement.text) === undefined) return true
    const quick = dialect.quickTable(words)
    const onFresh = quick !== undefined && freshTables.has(bare(quick))
    return wantingOf(statement, words).some((rule) => rule.needsAst && !(onFresh && !rule.reportsOnFresh))
  }
  /** The active rules that want a statement, asked once: the look-ahead asks before the loop does. */
  const wanted = new Map<SqlStatement, LintRule[]>()
  const wantingOf = (statement: SqlStatement, words: readonly string[]): LintRule[] => {
    let wanting = wanted.get(statement)
    if (wanting === undefined) {
      wanting = active.filter((rule) => rule.wants(words, statement.text))
      wanted.set(statement, wanting)
    }
    return wanting
  }
  /**
   * Parses `statement` together with the statements after it, in this file and the next ones, that the loop below
   * may parse too (files no rule can flag are left out as it leaves them out, judged without what earlier files
   * create): one parser call instead of one per statement. Which statements are parsed and what they give is the same.
   * The tables created along the way are followed from the words as the loop follows them, so a statement on a table
   * created just before it (an index on a new table: most of a migration set) is not parsed for rules it skips. A
   * table only the parse tree names is missed here: that statement is then left to a later batch, not parsed twice.
   */
  const parseAhead = (statement: SqlStatement, fileIndex: number): void => {
    const batch = [statement]
    let freshAhead = new Set(fresh)
    for (let j = fileIndex; j < run.files.length && batch.length < PARSE_BATCH; j++) {
      if (j > fileIndex) {
        if (!run.files[j]!.inRun) freshAhead = new Set()
        if (skippable) {
          const nothing = nothingToFind(run.files[j]!.migration.up, probeOrder, gate, noTables, existing)
          // A file outside the run is judged with no fresh tables here as in the loop: it need not judge it again.
          if (!run.files[j]!.inRun && !nothing) mayFindSomething.add(j)
          if (nothing) continue
        }
      }
      const { statements, words } = split(j)
      for (let k = 0; k < statements.length && batch.length < PARSE_BATCH; k++) {
        const next = statements[k]!
        if (j === fileIndex && next.start < statement.start) continue
        if (next !== statement && !parsed.has(next) && mayParse(next, words[k]!, freshAhead)) batch.push(next)
        for (const name of dialect.created(words[k]!, undefined, next.text) ?? [])
          if (!existing.has(bare(name))) freshAhead.add(bare(name))
      }
    }
    const texts = batch.map((entry) => entry.text)
    const results = dialect.parseMany?.(texts) ?? texts.map((text) => dialect.parse(text))
    batch.forEach((entry, i) => parsed.set(entry, results[i]!))
  }
  for (const [fileIndex, { migration, inRun }] of run.files.entries()) {
    if (fileIndex > 0) {
      for (const done of forget(fileIndex - 1)) {
        parsed.delete(done)
        wanted.delete(done)
      }
    }
    if (!inRun) {
      fresh.clear()
      unrecorded.length = 0
    }
    const section = migration.up
    if (skippable && !mayFindSomething.has(fileIndex) && nothingToFind(section, probeOrder, gate, freshNow, existing)) {
      unrecorded.push(section)
      continue
    }
    freshNow()
    let split0 = split(fileIndex)
    // The statements a DO block runs are read with the parser (see splitter): split again once it is loaded.
    if (dialect.inner && !parserReady && split0.words.some((leading) => leading[0] === 'DO')) {
      await prepareParser()
      forget(fileIndex)
      split0 = split(fileIndex)
    }
    const { statements, words, outer } = split0
    const { transactional, from, to } = transactionPlan(section, statements, engine)
    const lockTimeoutMs = section.options.lockTimeoutMs ?? run.lockTimeoutMs
    const fileRaws: Raw[] = []
    for (let index = from; index < to; index++) {
      const statement = statements[index]!
      const statementWords = words[index]!
      statementCount++
      const position = positionOf(section, statement)
      const context = new StatementContext(
        engine,
        pgMajor?.major ?? NEWEST_PG_MAJOR,
        transactional,
        lockTimeoutMs,
        migration.file,
        migration.format,
        isFresh,
        state,
        words,
        index,
        to,
        outer,
        statements,
      )
      let wanting = wantingOf(statement, statementWords)
      const quick = dialect.quickTable(statementWords)
      if (quick !== undefined && fresh.has(bare(quick))) wanting = wanting.filter((rule) => !freshProof.includes(rule))
      let created = dialect.created(statementWords, undefined, statement.text)
      let nodes: (PgNode | undefined)[] = [undefined]
      if (dialect.parses && (settings.checkSyntax || wanting.some((rule) => rule.needsAst) || created === undefined)) {
        await prepareParser()
        if (!parsed.has(statement)) parseAhead(statement, fileIndex)
        const result = parsed.get(statement)!
        parsed.delete(statement)
        if ('error' in result) {
          const level = setting(META_RULES[0]!)
          if (level !== 'off') {
            fileRaws.push({
              rule: META_RULES[0]!,
              message: `syntax error: ${result.error}`,
              file: migration.file,
              migration: migration.id,
              ...positionOf(section, statement, result.offset),
              statement: oneLine(statement.text, 120),
              statementStart: (outer.get(statement) ?? statement).start,
              evenIfFresh: true,
            })
          }
          nodes = []
          created = created ?? []
        } else {
          nodes = result.nodes
          created = nodes.flatMap((node) => dialect.created(statementWords, node, statement.text) ?? [])
        }
      }
      let short: string | undefined // the statement as findings show it, made once for all of them
      for (const node of nodes) {
        const lintStatement: LintStatement = { text: statement.text, words: statementWords, ast: node }
        for (const rule of wanting) rule.observe?.(lintStatement, context)
        for (const rule of wanting) {
          for (const finding of rule.check(lintStatement, context)) {
            if (finding.table !== undefined && !finding.evenIfFresh && fresh.has(bare(finding.table))) continue
            fileRaws.push({
              ...finding,
              rule,
              file: migration.file,
              migration: migration.id,
              ...position,
              statement: (short ??= oneLine(statement.text, 120)),
              statementStart: (outer.get(statement) ?? statement).start,
            })
          }
        }
      }
      for (const name of created ?? []) if (!existing.has(bare(name))) fresh.add(bare(name))
    }
    // dbops sets lock_timeout for every migration: only a file (or config) that turns it off gets this warning.
    const lockTimeoutRule = META_RULES[1]!
    if (engine === 'postgres' && lockTimeoutMs === 0 && setting(lockTimeoutRule) !== 'off') {
      const first = fileRaws.find(
        (raw) => raw.lock !== undefined && (raw.rule.kind === 'lock' || raw.rule.kind === 'rewrite'),
      )
      if (first) {
        fileRaws.push({
          ...first,
          rule: lockTimeoutRule,
          message: `${first.lock} waits for every running query on ${first.table ?? 'the table'}, and with lock_timeout off every later query queues behind it: the table is blocked until then`,
          safe: '-- drop lock_timeout:0 from the directive (dbops then sets migrations.lockTimeout, 5s by default), or set one: -- migrate:up lock_timeout:5s',
          lock: undefined,
          table: undefined,
        } as Raw)
      }
    }
    raws.push(...fileRaws)
    if (hasIgnores(section.sql, migration.preamble)) {
      suppressible.push({
        ignores: parseIgnores(section, statements, migration.preamble),
        file: migration.file,
        statementStarts: statements.map((statement) => statement.start),
      })
    }
  }

  // An ALTER COLUMN TYPE the engine may make in place is settled by the column's type before it (RuleFinding.retype).
  if (dialect.retypesInPlace && raws.some((raw) => raw.retype !== undefined)) {
    await prepareParser()
    const kept = await withoutInPlaceRetypes(raws, run, dialect)
    raws.splice(0, raws.length, ...kept)
  }

  // Live sizes: one catalog query for every table a hazard names.
  let sizes = new Map<string, { bytes: number; rows: number }>()
  const sized = [
    ...new Set(
      raws
        .filter((raw) => raw.table !== undefined && raw.rule.kind !== 'advice' && raw.rule.kind !== 'breaking')
        .map((raw) => raw.table!),
    ),
  ]
  if (run.backend && sized.length > 0) sizes = await dialect.sizes(run.backend, sized)

  const findings: (LintFinding & { statementStart: number })[] = []
  for (const raw of raws) {
    const configured = settings.rules[raw.rule.id]
    if (configured === 'off') continue
    let severity: LintSeverity = configured ?? raw.severity ?? raw.rule.severity
    let note: string | undefined
    const size = raw.table !== undefined ? sizes.get(raw.table) : undefined
    let message = raw.message
    if (size) {
      message += ` (${raw.table}: ${describeSize(size)})`
      if (configured === undefined) {
        if ((raw.rule.kind === 'lock' || raw.rule.kind === 'rewrite') && size.bytes < settings.smallTableBytes) {
          severity = 'info'
          note = `${raw.table} is smaller than lint.smallTable (${formatBytes(settings.smallTableBytes)}): over quickly`
        } else if (raw.rule.kind === 'rewrite' && size.bytes >= settings.largeTableBytes) {
          severity = 'error'
          note = `rewrites a table of at least lint.largeTable (${formatBytes(settings.largeTableBytes)})`
        } else if (raw.rule.id === 'add-column-not-null-without-default' && size.rows > 0) {
          severity = 'error'
          note = `${raw.table} has rows: this fails`
        }
      }
    }
    if (RANK[severity] < RANK[settings.minSeverity]) continue
    findings.push({
      rule: raw.rule.id,
      severity,
      file: raw.file,
      line: raw.line,
      column: raw.column,
      migration: raw.migration,
      message,
      ...(raw.lock !== undefined && { lock: raw.lock }),
      ...(raw.table !== undefined && { table: raw.table }),
      ...(size && { size }),
      ...(raw.safe !== undefined && { safe: raw.safe }),
      ...(note !== undefined && { note }),
      statement: raw.statement,
      statementStart: raw.statementStart,
    })
  }

  // Suppressions: each ignore silences its rules on its statement; one that silences nothing is itself reported.
  const suppressed: LintSuppression[] = []
  const kept: (LintFinding & { statementStart: number })[] = []
  const used = new Set<LintIgnore>()
  for (const finding of findings) {
    const ignore = suppressible
      .find((entry) => entry.file === finding.file)
      ?.ignores.find(
        (candidate) =>
          (candidate.wholeFile || candidate.statementStart === finding.statementStart) &&
          (candidate.allRules || candidate.rules.includes(finding.rule)) &&
          candidate.reason !== '',
      )
    if (ignore) {
      used.add(ignore)
      suppressed.push({ rule: finding.rule, file: finding.file, line: finding.line, reason: ignore.reason })
    } else {
      kept.push(finding)
    }
  }
  for (const { ignores, file } of suppressible) {
    const migration = run.files.find((entry) => entry.migration.file === file)!.migration.id
    for (const ignore of ignores) {
      if (ignore.origin === 'squawk') continue // see LintIgnore.origin
      const unknown = ignore.rules.filter((id) => !RULE_IDS.has(id))
      const base = {
        file,
        migration,
        line: ignore.line,
        column: ignore.column,
        statement: ignore.comment,
        statementStart: -1,
      }
      if (ignore.reason === '' && setting(META_RULES[3]!) !== 'off') {
        kept.push({
          ...base,
          rule: 'ignore-without-reason',
          severity: setting(META_RULES[3]!) as LintSeverity,
          message: `this ignore has no reason, so it suppresses nothing: write "-- dbops:lint-ignore ${ignore.rules.join(',')} <why it is safe here>"`,
        })
      } else if (!used.has(ignore) && setting(META_RULES[2]!) !== 'off') {
        const what =
          unknown.length > 0
            ? `names an unknown rule (${unknown.join(', ')})`
            : `suppresses nothing: no ${ignore.rules.join(' or ')} finding on ${ignore.statementStart < 0 ? 'a statement after it' : 'its statement'}`
        kept.push({
          ...base,
          rule: 'unused-ignore',
          severity: setting(META_RULES[2]!) as LintSeverity,
          message: `this ignore ${what}; remove it`,
        })
      }
    }
  }

  const order = new Map(run.files.map((entry, index) => [entry.migration.file, index]))
  kept.sort((a, b) => order.get(a.file)! - order.get(b.file)! || a.line - b.line || a.column - b.column)
  const clean = kept.map(({ statementStart: _statementStart, ...finding }) => finding)
  const count = (severity: LintSeverity) => clean.filter((finding) => finding.severity === severity).length
  return {
    target: run.targetName,
    engine,
    mode: run.mode,
    pgVersion: pgMajor,
    sizes: run.backend !== undefined && engine === 'postgres',
    files: run.files.map((entry) => entry.migration.file),
    statements: statementCount,
    findings: clean,
    suppressed,
    summary: { error: count('error'), warn: count('warn'), info: count('info'), suppressed: suppressed.length },
    warnings: run.warnings,
  }
}

/** `raws` less the ALTER COLUMN TYPE findings that change nothing on disk, by the type each column had before. */
async function withoutInPlaceRetypes(raws: Raw[], run: Run, dialect: LintDialect): Promise<Raw[]> {
  const before = new Map<Raw, ColumnType>()
  const unknown: Raw[] = []
  for (const raw of raws) {
    if (raw.retype === undefined || raw.table === undefined) continue
    const type = typeEarlierInRun(raw, run, dialect)
    if (type) before.set(raw, type)
    else unknown.push(raw)
  }
  // Not set in the run: the server's column, when there is one.
  if (unknown.length > 0 && run.backend && dialect.columnTypes) {
    const live = await dialect.columnTypes(
      run.backend,
      unknown.map((raw) => ({ table: raw.table!, column: raw.retype!.column })),
    )
    for (const raw of unknown) {
      const type = live.get(`${raw.table}.${raw.retype!.column}`)
      if (type) before.set(raw, type)
    }
  }
  return raws.flatMap((raw) => {
    if (raw.retype === undefined) return [raw]
    const from = before.get(raw)
    if (from) return dialect.retypesInPlace!(from, raw.retype.to) ? [] : [raw]
    // Not known: say which types it would be no rewrite from.
    const inPlace = dialect.inPlaceFrom?.(raw.retype.to)
    if (!inPlace) return [raw]
    const note = ` (no rewrite if ${raw.retype.column} is ${inPlace} already: then ignore this with a reason)`
    return [{ ...raw, message: raw.message + note }]
  })
}

/**
 * The type a finding's column had just before its statement, from the statements before it in the run, following
 * renames of the table and of the column back to where it was created.
 */
function typeEarlierInRun(raw: Raw, run: Run, dialect: LintDialect): ColumnType | undefined {
  let { table } = raw
  let { column } = raw.retype!
  const last = run.files.findIndex(({ migration }) => migration.file === raw.file)
  // A cheap look before the parser's: the column's name, or a rename mentioning the table.
  const mentioned = (text: string) => {
    const lower = text.toLowerCase()
    return lower.includes(column.toLowerCase()) || (lower.includes('rename') && lower.includes(bare(table!)))
  }
  for (let j = last; j >= 0; j--) {
    const sql = run.files[j]!.migration.up.sql
    if (!mentioned(sql)) continue
    const statements = splitStatements(sql, run.engine)
    for (let k = statements.length - 1; k >= 0; k--) {
      const statement = statements[k]!
      if (j === last && statement.start >= raw.statementStart) continue
      if (!/^(?:create|alter)\b/i.test(statement.text) || !mentioned(statement.text)) continue
      const history = dialect.columnHistory?.(statement.text, table!, column)
      if (history && 'type' in history) return history.type
      if (history) ({ table, column } = history.before)
    }
  }
  return undefined
}

/**
 * A statement's RuleContext. A class, not an object literal: a literal with a getter is built by a runtime call, once
 * per statement of the run.
 */
class StatementContext implements RuleContext {
  constructor(
    readonly engine: Engine,
    readonly pgMajor: number,
    readonly transactional: boolean,
    readonly lockTimeoutMs: number,
    readonly file: string,
    readonly format: MigrationFile['format'],
    readonly isFresh: (table: string) => boolean,
    readonly state: Map<string, unknown>,
    private readonly words: readonly (readonly string[])[],
    private readonly index: number,
    private readonly to: number,
    private readonly outer: Map<SqlStatement, SqlStatement>,
    private readonly statements: readonly SqlStatement[],
  ) {}

  /** A getter: slicing for every statement would be quadratic in a file of thousands (a schema dump). */
  get following(): readonly (readonly string[])[] {
    return this.words.slice(this.index + 1, this.to)
  }

  get followingBlock(): readonly (readonly string[])[] {
    const block = this.outer.get(this.statements[this.index]!)
    let end = this.index + 1
    if (block) while (end < this.to && this.outer.get(this.statements[end]!) === block) end++
    return this.words.slice(end, this.to)
  }
}

/** file line:column of a statement (or of an offset inside it), as `locate` in migrate/prepare.ts counts. */
function positionOf(
  section: MigrationFile['up'],
  statement: SqlStatement,
  offset = 0,
): { line: number; column: number } {
  let line = statement.line
  let column = statement.column
  for (let i = statement.start; i < statement.start + offset && i < section.sql.length; i++) {
    if (section.sql[i] === '\n') {
      line++
      column = 1
    } else column++
  }
  return { line: section.line + line - 1, column: line === 1 ? section.column + column - 1 : column }
}

const CREATE_TABLE =
  /\bcreate\s+(?:(?:global|local)\s+)?(?:(?:temp|temporary|unlogged)\s+)?table\s+(?:if\s+not\s+exists\s+)?(?:[\w$]+\s*\.\s*)?([\w$]+)/gi

const wordPatterns = new Map<string, RegExp>()

/**
 * The last section lower-cased: its words are asked in a row (each rule's mayFind), then the next section's. Only
 * one copy is kept: a copy for every section of the run (a WeakMap keyed by sections the migration set keeps alive
 * for the whole command) outlived the young generation and cost `migrate up` an old-space collection.
 */
let lowerSection: MigrationFile['up'] | undefined
let lowerText = ''

function lowerOf(section: MigrationFile['up']): string {
  if (section !== lowerSection) {
    lowerText = section.sql.toLowerCase()
    lowerSection = section
  }
  return lowerText
}

/** SectionScope.mentions: a substring search on the lower-cased text, then the word test where it is found. */
function mentions(section: MigrationFile['up'], word: string): boolean {
  if (!lowerOf(section).includes(word)) return false
  let pattern = wordPatterns.get(word)
  if (!pattern) wordPatterns.set(word, (pattern = new RegExp(`\\b${word}\\b`, 'i')))
  return pattern.test(section.sql)
}

/** The tables a section's CREATE TABLEs name (lower-cased), leaving out those in `existing`. */
function createdTables(section: MigrationFile['up'], existing: ReadonlySet<string>): string[] {
  if (!mentions(section, 'table')) return []
  const names: string[] = []
  for (const match of section.sql.matchAll(CREATE_TABLE)) {
    const name = match[1]!.toLowerCase()
    if (!existing.has(name)) names.push(name)
  }
  return names
}

/**
 * Whether no active rule may find anything in a section (each rule's mayFind, on the raw text): then it is skipped
 * unsplit (the caller records the tables it creates as new, as the full pass would). Sections with an ignore comment
 * are always looked at, so an ignore that suppresses nothing is still reported. `fresh` is called only when a rule
 * asks about a table. `gate`: the words some active rule's mayFind needs, with "lint" (see lintRun). `rules` is
 * reordered in place: the rule that says yes moves to the front (see probeOrder in lintRun).
 */
function nothingToFind(
  section: MigrationFile['up'],
  rules: LintRule[],
  gate: RegExp | undefined,
  fresh: () => ReadonlySet<string>,
  existing: ReadonlySet<string>,
): boolean {
  const sql = section.sql
  if (gate !== undefined && !gate.test(sql)) return true
  if (sql.includes('dbops:lint-ignore')) return false
  let created: string[] | undefined
  const scope: SectionScope = {
    transactional: section.options.transaction !== false,
    isFresh: (table: string) => fresh().has(table) || (created ??= createdTables(section, existing)).includes(table),
    mentions: (word) => mentions(section, word),
  }
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!
    if (rule.mayFind!(sql, scope)) {
      if (i > 0) {
        rules.copyWithin(1, 0, i)
        rules[0] = rule
      }
      return false
    }
  }
  return true
}

/**
 * A file's up statements (psql meta-commands left out) and their leading words, split once per run; `forget` lets a
 * file the loop is done with go (with what was parsed ahead for it), so a large run does not keep every file's pieces.
 */
function splitter(
  files: Run['files'],
  engine: Engine,
  inner: (statement: SqlStatement) => SqlStatement[],
): {
  split(index: number): Split
  forget(index: number): SqlStatement[]
} {
  const cache = new Map<number, Split>()
  return {
    split(index) {
      let entry = cache.get(index)
      if (!entry) {
        const statements: SqlStatement[] = []
        const words: string[][] = []
        const outer = new Map<SqlStatement, SqlStatement>()
        for (const statement of splitStatements(files[index]!.migration.up.sql, engine)) {
          if (statement.text.startsWith('\\')) continue
          statements.push(statement)
          words.push(leadingWords(statement.text, LEADING_WORDS, engine))
          if (words[words.length - 1]![0] !== 'DO') continue
          for (const run of inner(statement)) {
            statements.push(run)
            words.push(leadingWords(run.text, LEADING_WORDS, engine))
            outer.set(run, statement)
          }
        }
        entry = { statements, words, outer }
        cache.set(index, entry)
      }
      return entry
    },
    forget(index) {
      const entry = cache.get(index)
      cache.delete(index)
      return entry?.statements ?? []
    },
  }
}

/**
 * A file's statements with their leading words. A DO block is followed by the statements it runs (LintDialect.inner):
 * `outer` maps each to the block, whose start is where ignores and findings are anchored.
 */
interface Split {
  statements: SqlStatement[]
  words: string[][]
  outer: Map<SqlStatement, SqlStatement>
}

/** Statements parsed per parser call at most (the call's result is one JSON text). */
const PARSE_BATCH = 200

const CONDITIONAL_CREATE =
  /\bcreate\s+(?:(?:global|local)\s+)?(?:(?:temp|temporary|unlogged)\s+)?table\s+if\s+not\s+exists\s+((?:"[^"]+"|[\w$]+)(?:\s*\.\s*(?:"[^"]+"|[\w$]+))?)/gi

/** `"Foo".bar` → `Foo.bar`, as PostgreSQL names it (unquoted parts fold to lower case). */
function unquoteName(name: string): string {
  return name
    .split(/\s*\.\s*/)
    .map((part) => (part.startsWith('"') ? part.slice(1, -1) : part.toLowerCase()))
    .join('.')
}

function bare(name: string): string {
  return name.slice(name.lastIndexOf('.') + 1).toLowerCase()
}

function describeSize(size: { bytes: number; rows: number }): string {
  return size.rows >= 0 ? `${formatBytes(size.bytes)}, ~${formatCount(size.rows)} rows` : formatBytes(size.bytes)
}

/** 120000000 → "120M". */
export function formatCount(count: number): string {
  if (count >= 1e9) return `${(count / 1e9).toFixed(count >= 1e10 ? 0 : 1)}B`
  if (count >= 1e6) return `${(count / 1e6).toFixed(count >= 1e7 ? 0 : 1)}M`
  if (count >= 1e3) return `${(count / 1e3).toFixed(count >= 1e4 ? 0 : 1)}k`
  return String(count)
}

/** Every rule with its defaults, for `--list-rules` and the README. */
export function lintRules(): {
  id: string
  engines: readonly Engine[]
  severity: LintSeverity
  kind: string
  description: string
}[] {
  return [...LINT_RULES, ...META_RULES].map(({ id, engines, severity, kind, description }) => ({
    id,
    engines,
    severity,
    kind,
    description,
  }))
}
