import { describe, expect, it } from 'vitest'
import { parseQualifiedName, resolveNames } from '../../../src/maintain/table-names.js'

describe('maintain table names', () => {
  it('parses quoted, dotted and plain names', () => {
    expect(parseQualifiedName('public.t')).toEqual({ schema: 'public', name: 't', quoted: [false, false] })
    expect(parseQualifiedName('"My Schema"."Odd.Name"""')).toEqual({
      schema: 'My Schema',
      name: 'Odd.Name"',
      quoted: [true, true],
    })
    expect(() => parseQualifiedName('a.b.c')).toThrow(/not a table or index name/)
    expect(() => parseQualifiedName('"open')).toThrow(/not a table or index name/)
  })

  it('matches exactly, then case-insensitively for unquoted names, and reports every unknown or ambiguous one', () => {
    const known = [
      { schema: 'public', name: 'Users' },
      { schema: 'a', name: 'log' },
      { schema: 'b', name: 'log' },
    ]
    expect(resolveNames(['users'], known, 'table')).toEqual([known[0]])
    expect(() => resolveNames(['"users"'], known, 'table')).toThrow(/no table matches "users"/)
    expect(() => resolveNames(['log', 'nope'], known, 'table')).toThrow(
      /log matches 2 tables .*; no table matches nope/,
    )
    expect(resolveNames(['b.log'], known, 'table')).toEqual([known[2]])
  })
})
