import { advice } from './type-advice.js'

export const preferTimestamptz = advice(
  'prefer-timestamptz',
  'timestamptz instead of timestamp (a timestamp without time zone drops the offset)',
  /\btimestamp\b/i,
  (column, type, table) => {
    if (type.name !== 'timestamp') return undefined
    return {
      table,
      message: `${table}.${column.colname} is timestamp without time zone: the value's offset is dropped, and readers in other time zones misread it`,
      safe: `${column.colname} timestamptz`,
    }
  },
)
