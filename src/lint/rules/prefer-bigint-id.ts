import { advice, isKey } from './type-advice.js'

const INT = String.raw`(?:integer|int|int4|int2|smallint)`
export const preferBigintId = advice(
  'prefer-bigint-id',
  'integer and smallint ids run out (2^31); bigint costs 4 bytes more',
  // An id-like column of an integer type, an integer column with PRIMARY KEY, or a table-level PRIMARY KEY.
  new RegExp(String.raw`\b\w*id"?\s+${INT}\b|\b${INT}\b[^,()]*\bprimary\s+key|primary\s+key\s*\(`, 'i'),
  (column, type, table) => {
    // serial types get prefer-identity, whose safer form is a bigint identity already.
    const small = { int4: 'integer', int2: 'smallint' }[type.name]
    if (!small || !isKey(column)) return undefined
    return {
      table,
      message: `${table}.${column.colname} is ${small}: ids run out at ${small === 'smallint' ? '32767' : '2147483647'}, and widening later rewrites the table`,
      safe: `${column.colname} bigint`,
    }
  },
)
