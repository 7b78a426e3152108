import { describe, expect, it } from 'vitest'
import { oneLine } from '../../../src/output/format.js'
import { identifier, quoteIdentifier, render } from '../../../src/sql/query.js'

describe('oneLine', () => {
  it('puts a multi-line server message on one line', () => {
    expect(oneLine('Key (id)=(1)\n  already exists.\r\n')).toBe('Key (id)=(1) already exists.')
  })

  it('cuts to the given length with an ellipsis, and reads null as empty', () => {
    expect(oneLine('select   *\n\tfrom t where x = 1', 12)).toBe('select * fr…')
    expect(oneLine(null)).toBe('')
  })
})

describe('quoteIdentifier', () => {
  it('always quotes and doubles embedded quotes, as identifier() renders them', () => {
    expect(quoteIdentifier('we"ird name')).toBe('"we""ird name"')
    expect(render(identifier('public', 'we"ird name'), () => '?').sql).toBe('"public"."we""ird name"')
  })
})
