import { withoutWhere } from './update-without-where.js'

export const deleteWithoutWhere = withoutWhere('DELETE')
