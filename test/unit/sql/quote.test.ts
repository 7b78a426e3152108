import { describe, expect, it } from 'vitest'
import {
  displayIdentifier,
  displayQualified,
  quoteIdentifier,
  quoteLiteral,
  quoteQualified,
} from '../../../src/sql/query.js'

describe('identifier and literal quoting (src/sql/query.ts, the one place)', () => {
  it('quotes identifiers always, doubling embedded quotes', () => {
    expect(quoteIdentifier('Order "Items"')).toBe('"Order ""Items"""')
    expect(quoteQualified('public', 'we"ird')).toBe('"public"."we""ird"')
    expect(quoteQualified(undefined, 'users')).toBe('"users"')
    expect(quoteQualified('', 'users')).toBe('"users"')
  })

  it('quotes literals, doubling embedded single quotes', () => {
    expect(quoteLiteral("it's")).toBe("'it''s'")
    expect(quoteLiteral('en_US.UTF-8')).toBe("'en_US.UTF-8'")
    expect(quoteLiteral(42)).toBe("'42'")
  })

  it('shows plain lower-case names bare and quotes the rest', () => {
    expect(displayIdentifier('orders_placed_at_idx')).toBe('orders_placed_at_idx')
    expect(displayIdentifier('Orders')).toBe('"Orders"')
    expect(displayIdentifier('order items')).toBe('"order items"')
    // A reserved word is no bare name (SET order = 1 does not parse); a non-reserved keyword is.
    expect(displayIdentifier('order')).toBe('"order"')
    expect(displayIdentifier('user')).toBe('"user"')
    expect(displayIdentifier('left')).toBe('"left"')
    expect(displayIdentifier('status')).toBe('status')
    expect(displayIdentifier('name')).toBe('name')
    expect(displayQualified('public', 'Order "Items"')).toBe('public."Order ""Items"""')
    expect(displayQualified(null, 'users')).toBe('users')
  })

  it('leaves control characters to the output layer, so --json keeps the real name', () => {
    expect(displayIdentifier('\u001b[2J')).toBe('"\u001b[2J"')
  })
})
