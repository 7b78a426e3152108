import type { LintRule } from '../types.js'
import { body, optionOn, relationName } from '../pg-nodes.js'

export const vacuumFullOrCluster: LintRule = {
  id: 'vacuum-full-or-cluster',
  engines: ['postgres'],
  severity: 'warn',
  kind: 'rewrite',
  description: 'VACUUM FULL and CLUSTER rewrite the table under ACCESS EXCLUSIVE',
  mayFind: (sql) => /\b(?:full|cluster)\b/i.test(sql),
  wants: (w) => (w[0] === 'VACUUM' && w.includes('FULL')) || w[0] === 'CLUSTER',
  needsAst: true,
  check({ ast }) {
    const vacuum = body(ast, 'VacuumStmt')
    const cluster = body(ast, 'ClusterStmt')
    const safe = '-- pg_repack or pg_squeeze rebuild a table without the long lock; run them outside migrations'
    if (vacuum && vacuum.is_vacuumcmd && optionOn(vacuum.options, 'full')) {
      const tables = ((vacuum.rels as { VacuumRelation: { relation: unknown } }[] | undefined) ?? []).map((rel) =>
        relationName(rel.VacuumRelation.relation as never)!,
      )
      if (tables.length === 0)
        return [
          {
            lock: 'ACCESS EXCLUSIVE',
            message:
              'VACUUM FULL rewrites every table of the database, each under ACCESS EXCLUSIVE: blocks every read and write of each while it is rewritten',
            safe,
          },
        ]
      return tables.map((table) => ({
        table,
        lock: 'ACCESS EXCLUSIVE',
        message: `VACUUM FULL rewrites ${table} under ACCESS EXCLUSIVE: blocks every read and write of it for the whole rewrite`,
        safe,
      }))
    }
    if (cluster) {
      const table = relationName(cluster.relation)
      if (!table)
        return [
          { lock: 'ACCESS EXCLUSIVE', message: 'CLUSTER rewrites every clustered table under ACCESS EXCLUSIVE', safe },
        ]
      return [
        {
          table,
          lock: 'ACCESS EXCLUSIVE',
          message: `CLUSTER rewrites ${table} under ACCESS EXCLUSIVE: blocks every read and write of it for the whole rewrite`,
          safe,
        },
      ]
    }
    return []
  },
}
