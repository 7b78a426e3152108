import { describe, expect, it } from 'vitest'
import { compareCatalogs, describeDifference } from '../../../src/schema/compare.js'
import type { CatalogObject, SchemaCatalog } from '../../../src/schema/catalog.js'
import { catalogFromText } from '../../../src/backends/postgres/postgres-schema.js'

const catalog = (objects: CatalogObject[]): SchemaCatalog => ({ engine: 'postgres', objects, queries: 1 })
const table = (name: string): CatalogObject => ({ kind: 'table', name, attributes: { kind: 'table' } })
const column = (tableName: string, name: string, type: string): CatalogObject => ({
  kind: 'column',
  name: `${tableName}.${name}`,
  table: tableName,
  attributes: { type, 'not null': false },
})
const index = (tableName: string, name: string, definition: string): CatalogObject => ({
  kind: 'index',
  name,
  table: tableName,
  attributes: { definition },
})
const SIDES = {
  actual: 'in the database',
  expected: 'in the migrations',
  extra: 'exists in the database but no migration creates it',
  missing: 'is missing from the database',
}
const messages = (expected: SchemaCatalog, actual: SchemaCatalog, ignore: string[] = []) =>
  compareCatalogs(expected, actual, { ignore, exclude: ['public.dbops_migrations'] }).map((difference) =>
    describeDifference(difference, SIDES),
  )

describe('compareCatalogs', () => {
  const base = [
    table('public.users'),
    column('public.users', 'id', 'bigint'),
    column('public.users', 'nickname', 'varchar(50)'),
  ]

  it('finds nothing between equal catalogs', () => {
    expect(messages(catalog(base), catalog([...base].reverse()))).toEqual([])
  })

  it('compares catalogs in the same order attribute by attribute: a missing attribute is null, any other change counts', () => {
    const withNull = { ...base[1]!, attributes: { ...base[1]!.attributes, default: null } }
    expect(messages(catalog(base), catalog([base[0]!, withNull, base[2]!]))).toEqual([])
    expect(messages(catalog([base[0]!, withNull, base[2]!]), catalog(base))).toEqual([])
    const withDefault = { ...base[1]!, attributes: { ...base[1]!.attributes, default: '0' } }
    expect(messages(catalog(base), catalog([base[0]!, withDefault, base[2]!]))).toEqual([
      'column users.id: default is 0 in the database, none in the migrations',
    ])
    expect(messages(catalog([base[0]!, withDefault, base[2]!]), catalog(base))).toEqual([
      'column users.id: default is none in the database, 0 in the migrations',
    ])
  })

  it('names extra, missing and changed objects with both sides', () => {
    const actual = [
      table('public.users'),
      column('public.users', 'id', 'bigint'),
      column('public.users', 'nickname', 'text'),
      index('public.users', 'public.orders_created_at_idx', 'CREATE INDEX ...'),
    ]
    const expected = [...base, column('public.users', 'email', 'text')]
    expect(messages(catalog(expected), catalog(actual))).toEqual([
      'column users.email is missing from the database',
      'column users.nickname is text in the database, varchar(50) in the migrations',
      'index orders_created_at_idx exists in the database but no migration creates it',
    ])
  })

  it('reports a whole extra or missing table once, not each of its parts', () => {
    const extra = [
      table('public.audit'),
      column('public.audit', 'id', 'int'),
      index('public.audit', 'public.audit_idx', 'x'),
    ]
    expect(messages(catalog(base), catalog([...base, ...extra]))).toEqual([
      'table audit exists in the database but no migration creates it',
    ])
    expect(messages(catalog([...base, ...extra]), catalog(base))).toEqual(['table audit is missing from the database'])
  })

  it('leaves out ignored names and globs (with or without schema, kind:glob) and the parts of ignored tables', () => {
    const actual = [
      ...base,
      table('public.legacy_a'),
      column('public.users', 'legacy_flag', 'int'),
      index('public.users', 'public.tmp_idx', 'x'),
      table('public.tmp_idx_table'),
    ]
    expect(messages(catalog(base), catalog(actual), ['legacy_*', 'users.legacy_flag', 'index:tmp_*'])).toEqual([
      'table tmp_idx_table exists in the database but no migration creates it',
    ])
    expect(messages(catalog(base), catalog([...base, column('public.users', 'x', 'int')]), ['public.users'])).toEqual(
      [],
    )
  })

  it("never reports dbops' own ledger tables", () => {
    const ledger = [table('public.dbops_migrations'), column('public.dbops_migrations', 'version', 'text')]
    expect(messages(catalog(base), catalog([...base, ...ledger]))).toEqual([])
  })

  it('takes two catalogs read as the same text for equal without looking at their objects, and parses them otherwise', () => {
    const unread = (text: string): SchemaCatalog =>
      Object.defineProperty(
        {
          engine: 'postgres',
          get objects(): CatalogObject[] {
            throw new Error('objects read')
          },
          queries: 1,
        },
        'text',
        { value: text },
      ) as SchemaCatalog
    expect(compareCatalogs(unread('[same]'), unread('[same]'))).toEqual([])
    expect(() => compareCatalogs(unread('[one]'), unread('[other]'))).toThrow('objects read')
    const text = JSON.stringify([['table', 'public.users', null, { kind: 'table' }]])
    const users = catalogFromText(text)
    expect(users.objects).toEqual([table('public.users')])
    expect(JSON.parse(JSON.stringify(users))).toEqual({
      engine: 'postgres',
      objects: [table('public.users')],
      queries: 1,
    })
    expect(messages(catalog([]), catalogFromText(text))).toEqual([
      'table users exists in the database but no migration creates it',
    ])
  })

  it('points at the first differing line of long definitions', () => {
    const body = (value: string) => ({
      kind: 'function' as const,
      name: 'public.f()',
      attributes: { definition: `CREATE FUNCTION public.f()\n RETURNS integer\nAS $$ SELECT ${value} $$` },
    })
    expect(messages(catalog([body('1')]), catalog([body('2')]))).toEqual([
      'function f() has a different definition in the database than in the migrations (line 3: "AS $$ SELECT 2 $$" vs "AS $$ SELECT 1 $$")',
    ])
  })
})
