import { advice } from './type-advice.js'

export const preferText = advice(
  'prefer-text',
  'text (with a CHECK on length if needed) instead of varchar(n) or char(n)',
  /\b(?:varchar|char|character|bpchar)\b/i,
  (column, type, table) => {
    if (!((type.name === 'varchar' || type.name === 'bpchar') && type.modifiers > 0)) return undefined
    const written = type.name === 'bpchar' ? 'char(n)' : 'varchar(n)'
    return {
      table,
      message: `${table}.${column.colname} is ${written}: raising the limit later takes ACCESS EXCLUSIVE${type.name === 'bpchar' ? ', and char pads values with spaces' : ''}; a CHECK (length(...) <= n) can be changed with NOT VALID`,
      safe: `${column.colname} text CHECK (length(${column.colname}) <= n)`,
    }
  },
)
