import type { CatalogKind, CatalogObject, SchemaCatalog } from './catalog.js'

/** One way two catalogs differ. `expected` is what migrations build; `actual` what is there. */
export interface SchemaDifference {
  kind: CatalogKind
  /** The object as reports name it (PostgreSQL's `public.` left out). */
  object: string
  /** extra: only in `actual`; missing: only in `expected`; changed: in both, `attribute` differs. */
  change: 'extra' | 'missing' | 'changed'
  attribute?: string
  expected?: string | boolean | null
  actual?: string | boolean | null
}

export interface CompareOptions {
  /**
   * Names or globs (`*`, `?`) of objects to leave out, matched against the object's name with and without its
   * schema; `kind:glob` (e.g. `index:tmp_*`) limits an entry to one kind. Ignoring a table ignores its parts.
   */
  ignore?: readonly string[]
  /** Tables left out with their parts (dbops' own ledgers). */
  exclude?: readonly string[]
}

/** Compares two catalogs object by object; differences come sorted by kind and name, so reports are stable. */
export function compareCatalogs(
  expected: SchemaCatalog,
  actual: SchemaCatalog,
  options: CompareOptions = {},
): SchemaDifference[] {
  // The same text is the same objects (whatever is ignored or excluded, nothing differs).
  if (expected.text !== undefined && expected.text === actual.text) return []
  if (sameObjects(expected, actual)) return []
  const skip = skipper(options)
  const index = (catalog: SchemaCatalog) => {
    const map = new Map<string, CatalogObject>()
    for (const object of catalog.objects) if (!skip(object)) map.set(`${object.kind}\u0000${object.name}`, object)
    return map
  }
  const want = index(expected)
  const have = index(actual)
  const differences: SchemaDifference[] = []
  const sources = new Map<SchemaDifference, CatalogObject>()
  const add = (difference: SchemaDifference, object: CatalogObject) => {
    differences.push(difference)
    sources.set(difference, object)
  }
  // A table that is missing or extra as a whole is reported once, not once more per column, index and constraint.
  const onlyIn = (a: Map<string, CatalogObject>, b: Map<string, CatalogObject>) => {
    const names = new Set<string>()
    for (const [key, object] of a) if (RELATIONS.has(object.kind) && !b.has(key)) names.add(object.name)
    return names
  }
  const missingTables = onlyIn(want, have)
  const extraTables = onlyIn(have, want)
  for (const [key, object] of want) {
    if (have.has(key) || (object.table !== undefined && missingTables.has(object.table))) continue
    add({ kind: object.kind, object: displayName(object.name), change: 'missing' }, object)
  }
  for (const [key, object] of have) {
    if (want.has(key) || (object.table !== undefined && extraTables.has(object.table))) continue
    add({ kind: object.kind, object: displayName(object.name), change: 'extra' }, object)
  }
  // Every attribute of either side, each once (migrate test compares hundreds of objects three times per
  // migration: no per-object arrays or sets).
  const compareAttribute = (object: CatalogObject, other: CatalogObject, attribute: string) => {
    const wanted = object.attributes[attribute] ?? null
    const found = other.attributes[attribute] ?? null
    if (wanted === found) return
    add(
      {
        kind: object.kind,
        object: displayName(object.name),
        change: 'changed',
        attribute,
        expected: wanted,
        actual: found,
      },
      object,
    )
  }
  for (const [key, object] of want) {
    const other = have.get(key)
    if (!other) continue
    for (const attribute in object.attributes) compareAttribute(object, other, attribute)
    for (const attribute in other.attributes)
      if (!Object.hasOwn(object.attributes, attribute)) compareAttribute(object, other, attribute)
  }
  // A table's whole definition (SQLite keeps some properties only in its CREATE text: generated expressions,
  // collations, conflict clauses) speaks only when nothing more precise about that table or its parts did.
  const wholeTable = (difference: SchemaDifference) =>
    difference.kind === 'table' && difference.attribute === 'definition'
  const touched = new Set<string>()
  for (const [difference, object] of sources) if (!wholeTable(difference)) touched.add(object.table ?? object.name)
  const precise = differences.filter(
    (difference) => !(wholeTable(difference) && touched.has(sources.get(difference)!.name)),
  )
  return precise.sort(
    (a, b) =>
      KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) ||
      ordinal(a.object, b.object) ||
      ordinal(a.attribute ?? '', b.attribute ?? ''),
  )
}

/**
 * Whether two catalogs list the same objects, attribute for attribute, in the same order: then they do not differ,
 * whatever is ignored. The usual answer in migrate test (three comparisons per migration), found without building
 * indexes; a catalog read in a stable order (PostgreSQL's is sorted) makes it the common case.
 */
function sameObjects(expected: SchemaCatalog, actual: SchemaCatalog): boolean {
  if (expected.objects.length !== actual.objects.length) return false
  for (let i = 0; i < expected.objects.length; i++) {
    const a = expected.objects[i]!
    const b = actual.objects[i]!
    if (a.kind !== b.kind || a.name !== b.name || a.table !== b.table) return false
    // As below: a missing attribute equals null.
    for (const attribute in a.attributes)
      if ((a.attributes[attribute] ?? null) !== (b.attributes[attribute] ?? null)) return false
    for (const attribute in b.attributes)
      if (!Object.hasOwn(a.attributes, attribute) && (b.attributes[attribute] ?? null) !== null) return false
  }
  return true
}

/** Code-point order: the same report whatever the machine's locale. */
function ordinal(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Objects that own parts (columns, indexes, triggers...). */
const RELATIONS = new Set<CatalogKind>(['table', 'view', 'materialized view'])

const KIND_ORDER: CatalogKind[] = [
  'extension',
  'schema',
  'enum',
  'domain',
  'composite type',
  'range type',
  'sequence',
  'table',
  'column',
  'constraint',
  'index',
  'view',
  'materialized view',
  'function',
  'procedure',
  'aggregate',
  'trigger',
  'policy',
]

/** `public.users` reads as `users`: most schemas live in public, and the messages are for people. */
export function displayName(name: string): string {
  return name.startsWith('public.') ? name.slice('public.'.length) : name
}

function skipper(options: CompareOptions): (object: CatalogObject) => boolean {
  const excluded = new Set(options.exclude ?? [])
  const rules = (options.ignore ?? []).map((entry) => {
    const colon = entry.indexOf(':')
    const kind = colon > 0 && !/[*?]/.test(entry.slice(0, colon)) ? entry.slice(0, colon).toLowerCase() : undefined
    return { kind, pattern: globPattern(kind === undefined ? entry : entry.slice(colon + 1)) }
  })
  const matches = (name: string, kind?: string) =>
    rules.some(
      (rule) =>
        (rule.kind === undefined || rule.kind === kind) &&
        (rule.pattern.test(name) || rule.pattern.test(displayName(name))),
    )
  return (object) => {
    if (excluded.has(object.name) || (object.table !== undefined && excluded.has(object.table))) return true
    // Parts are also matched by their own short name (`users.nickname` as well as `public.users.nickname`).
    return matches(object.name, object.kind) || (object.table !== undefined && matches(object.table, 'table'))
  }
}

function globPattern(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${body}$`, 'i')
}

/** Where two long texts (function bodies, view definitions) first differ: `line 3: "a" vs "b"`. */
export function firstDifference(expected: string, actual: string): string {
  const a = expected.split('\n')
  const b = actual.split('\n')
  for (let line = 0; line < Math.max(a.length, b.length); line++) {
    if (a[line] === b[line]) continue
    const show = (text: string | undefined) =>
      text === undefined ? '(nothing)' : JSON.stringify(text.trim().slice(0, 120))
    return `line ${line + 1}: ${show(b[line])} vs ${show(a[line])}`
  }
  return ''
}

/** A value as a sentence shows it. */
export function showValue(value: string | boolean | null | undefined): string {
  if (value === null || value === undefined || value === '') return 'none'
  if (value === true) return 'yes'
  if (value === false) return 'no'
  return value
}

/** Whether a value is too long or multi-line to quote inline in a message. */
export function isLong(value: string | boolean | null | undefined): boolean {
  return typeof value === 'string' && (value.length > 200 || value.includes('\n'))
}

/**
 * A difference in plain words. `sides` says where `actual` and `expected` come from, e.g. "in the database" and "in the
 * migrations": "column users.nickname is text in the database, varchar(50) in the migrations".
 */
export function describeDifference(
  difference: SchemaDifference,
  sides: { actual: string; expected: string; extra: string; missing: string },
): string {
  const subject = `${difference.kind} ${difference.object}`
  if (difference.change === 'extra') return `${subject} ${sides.extra}`
  if (difference.change === 'missing') return `${subject} ${sides.missing}`
  const { attribute, expected, actual } = difference
  if (isLong(expected) || isLong(actual)) {
    const where =
      typeof expected === 'string' && typeof actual === 'string' ? ` (${firstDifference(expected, actual)})` : ''
    return `${subject} has a different ${attribute} ${sides.actual} than ${sides.expected}${where}`
  }
  if (attribute === 'type')
    return `${subject} is ${showValue(actual)} ${sides.actual}, ${showValue(expected)} ${sides.expected}`
  return `${subject}: ${attribute} is ${showValue(actual)} ${sides.actual}, ${showValue(expected)} ${sides.expected}`
}
