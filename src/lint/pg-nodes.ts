/**
 * Reading libpg-query's JSON parse tree (PostgreSQL's own node names: IndexStmt, AlterTableStmt, ...). Names in the
 * tree are as PostgreSQL sees them: unquoted identifiers already folded to lower case.
 */
import { displayQualified } from '../sql/query.js'
import type { ColumnType, PgNode } from './types.js'

/** The node's one key and its body: `{ IndexStmt: {...} }` → ['IndexStmt', {...}]. */
export function nodeOf(node: PgNode | undefined): [string, PgNode] | [undefined, undefined] {
  if (!node) return [undefined, undefined]
  const key = Object.keys(node)[0]
  return key === undefined ? [undefined, undefined] : [key, node[key] as PgNode]
}

export function body(node: PgNode | undefined, kind: string): PgNode | undefined {
  return node?.[kind] as PgNode | undefined
}

/** `schema.table` or `table` of a RangeVar. */
export function relationName(rangeVar: PgNode | undefined): string | undefined {
  if (!rangeVar?.relname) return undefined
  return rangeVar.schemaname ? `${rangeVar.schemaname}.${rangeVar.relname}` : String(rangeVar.relname)
}

/** A RangeVar as SQL must name it: `orders`, `"Order"`, `app."Order Items"` (quoted where folding would change it). */
export function relationSql(rangeVar: PgNode | undefined): string | undefined {
  if (!rangeVar?.relname) return undefined
  return displayQualified(rangeVar.schemaname as string | undefined, String(rangeVar.relname))
}

/** A dotted name from a list of String nodes (`DROP INDEX s.i` objects, type names). */
export function dottedName(list: PgNode | undefined): string | undefined {
  const items: PgNode[] = (list?.List?.items as PgNode[] | undefined) ?? (Array.isArray(list) ? (list as PgNode[]) : [])
  const parts = items.map((item) => item.String?.sval).filter((part): part is string => typeof part === 'string')
  return parts.length > 0 ? parts.join('.') : undefined
}

/** The ALTER TABLE commands of a statement node (none for other statements). */
export function alterTableCommands(node: PgNode | undefined): { table: string | undefined; commands: PgNode[] } {
  const statement = body(node, 'AlterTableStmt')
  if (!statement || (statement.objtype !== undefined && statement.objtype !== 'OBJECT_TABLE'))
    return { table: undefined, commands: [] }
  return {
    table: relationName(statement.relation),
    commands: ((statement.cmds as PgNode[] | undefined) ?? [])
      .map((command) => command.AlterTableCmd as PgNode)
      .filter(Boolean),
  }
}

/** The type's name without the pg_catalog prefix (`int4`, `varchar`, `timestamp`), and its modifiers. */
export function typeOf(typeName: PgNode | undefined): { name: string; modifiers: number; array: boolean } | undefined {
  const type = columnTypeOf(typeName)
  return type && { ...type, modifiers: type.modifiers.length }
}

/** A column's type with its modifiers' values (varchar(80): [80]); a modifier that is not a number counts as NaN. */
export function columnTypeOf(typeName: PgNode | undefined): ColumnType | undefined {
  if (!typeName) return undefined
  const names = ((typeName.names as PgNode[] | undefined) ?? []).map((item) => String(item.String?.sval ?? ''))
  const name = names[names.length - 1]
  if (!name) return undefined
  return {
    name,
    // The parser leaves zero out of its JSON: numeric(10,0) gives `ival: {}`.
    modifiers: ((typeName.typmods as PgNode[] | undefined) ?? []).map((item) =>
      item.A_Const?.ival ? Number(item.A_Const.ival.ival ?? 0) : NaN,
    ),
    array: Array.isArray(typeName.arrayBounds),
  }
}

/** Constraints of a column definition (`{ Constraint: {...} }` bodies). */
export function columnConstraints(column: PgNode | undefined): PgNode[] {
  return ((column?.constraints as PgNode[] | undefined) ?? [])
    .map((constraint) => constraint.Constraint as PgNode)
    .filter(Boolean)
}

/** Column definitions of CREATE TABLE and of ALTER TABLE ... ADD COLUMN, with their table. */
export function columnDefinitions(
  node: PgNode | undefined,
): { table: string | undefined; column: PgNode; added: boolean }[] {
  const create = body(node, 'CreateStmt')
  if (create) {
    const table = relationName(create.relation)
    return ((create.tableElts as PgNode[] | undefined) ?? [])
      .map((element) => element.ColumnDef as PgNode | undefined)
      .filter((column): column is PgNode => column !== undefined)
      .map((column) => ({ table, column, added: false }))
  }
  const { table, commands } = alterTableCommands(node)
  return commands
    .filter((command) => command.subtype === 'AT_AddColumn' && command.def?.ColumnDef)
    .map((command) => ({ table, column: command.def.ColumnDef as PgNode, added: true }))
}

/** Whether a DefElem list (VACUUM, REINDEX options) turns `name` on. */
export function optionOn(options: PgNode[] | undefined, name: string): boolean {
  return (options ?? []).some((option) => {
    const element = option.DefElem as PgNode | undefined
    if (element?.defname !== name) return false
    const value = element.arg
    if (value === undefined) return true
    const text = String(value.String?.sval ?? value.Boolean?.boolval ?? value.Integer?.ival ?? 'true').toLowerCase()
    return !['false', 'off', '0'].includes(text)
  })
}

/** The table's bare name: constraint and index names PostgreSQL generates use it. */
export function bareName(name: string): string {
  return name.slice(name.lastIndexOf('.') + 1)
}
