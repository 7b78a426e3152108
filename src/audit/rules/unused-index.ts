import type { ForeignKeyInfo, IndexInfo } from '../snapshot.js'
import type { AuditRule } from '../rule.js'
import { formatBytes, formatDuration, formatTimestamp } from '../../output/format.js'
import { judgeable, supportsColumns, tableKey, withFix } from '../rule.js'
import { keepOrder } from './duplicate-index.js'

export const unusedIndex: AuditRule = {
  check: 'unused_index',
  description:
    'indexes never scanned since the statistics were reset (non-unique, not backing a constraint or the only index of a foreign key)',
  run({ snapshot, dialect, thresholds, skip, createdBy }) {
    const candidates = snapshot.indexes.filter(
      (index) =>
        judgeable(index) &&
        index.scans === 0 &&
        !index.unique &&
        !index.primary &&
        !index.exclusion &&
        !index.replicaIdentity &&
        index.backs.length === 0,
    )
    if (candidates.length === 0) return []
    const unused = new Set(candidates)
    const age = snapshot.statisticsAgeSeconds
    if (age === null && thresholds.minStatisticsAgeMs > 0) {
      skip(
        `${candidates.length} index(es) never scanned, but the statistics' age is unknown (${snapshot.statisticsSource}): not judged (--min-stats-age 0 judges them anyway)`,
      )
      return []
    }
    if (age !== null && age * 1000 < thresholds.minStatisticsAgeMs) {
      skip(
        `${candidates.length} index(es) never scanned, but the statistics are only ${formatDuration(age * 1000)} old (${snapshot.statisticsSource}): not judged before ${formatDuration(thresholds.minStatisticsAgeMs)}`,
      )
      return []
    }
    const byTable = new Map<string, IndexInfo[]>()
    for (const index of snapshot.indexes) {
      const key = tableKey(index.schema, index.table)
      byTable.set(key, [...(byTable.get(key) ?? []), index])
    }
    const foreignKeysByTable = new Map<string, ForeignKeyInfo[]>()
    for (const fk of snapshot.foreignKeys) {
      const key = tableKey(fk.schema, fk.table)
      foreignKeysByTable.set(key, [...(foreignKeysByTable.get(key) ?? []), fk])
    }
    return candidates.flatMap((index) => {
      const key = tableKey(index.schema, index.table)
      const siblings = byTable.get(key) ?? []
      // Deletes and updates of the referenced rows look up the referencing rows through it, without counting a scan.
      // Of unused twins behind one foreign key, one stays (the one duplicate_index keeps): never suggest dropping all.
      const keptForForeignKey = (foreignKeysByTable.get(key) ?? []).some((fk) => {
        if (!supportsColumns(index, fk.columnNumbers)) return false
        const supporters = siblings.filter((other) => supportsColumns(other, fk.columnNumbers))
        if (supporters.some((other) => !unused.has(other))) return false
        return supporters.sort(keepOrder(createdBy))[0] === index
      })
      if (keptForForeignKey || backsPartitionForeignKey(index, snapshot.indexes, byTable, foreignKeysByTable, unused))
        return []
      const subject = dialect.subject(index.schema, index.name)
      return [
        withFix(
          {
            check: 'unused_index',
            severity: 'warn',
            subject,
            message: `${subject} on ${dialect.subject(index.schema, index.table)} has not been scanned ${age === null ? 'since the statistics were last reset (their age is unknown)' : `in ${formatDuration(age * 1000)} (statistics since ${formatTimestamp(snapshot.statisticsSince!)})`}${index.bytes !== null ? `; it takes ${formatBytes(index.bytes)}` : ''}. Check replicas before dropping it: each keeps its own counts`,
            values: {
              scans: 0,
              ...(age !== null && { statistics_age_seconds: Math.round(age) }),
              ...(index.bytes !== null && { bytes: index.bytes }),
            },
            detail: {
              table: dialect.subject(index.schema, index.table),
              definition: index.definition,
              statisticsSince: snapshot.statisticsSince,
            },
          },
          dialect.dropIndex(index),
        ),
      ]
    })
  },
}

/**
 * Dropping a partitioned index drops its partitions' indexes too: keep it while one of them is the only index behind
 * a foreign key declared on its partition that would stay (a standalone twin reported unused does not count).
 */
function backsPartitionForeignKey(
  index: IndexInfo,
  all: IndexInfo[],
  byTable: Map<string, IndexInfo[]>,
  foreignKeysByTable: Map<string, ForeignKeyInfo[]>,
  unused: Set<IndexInfo>,
): boolean {
  if (!index.partitioned) return false
  const children = new Map<string, IndexInfo[]>()
  for (const child of all) {
    if (!child.parentIndex) continue
    const parent = tableKey(child.parentIndex.schema, child.parentIndex.name)
    children.set(parent, [...(children.get(parent) ?? []), child])
  }
  const pending = [...(children.get(tableKey(index.schema, index.name)) ?? [])]
  for (let child = pending.pop(); child; child = pending.pop()) {
    pending.push(...(children.get(tableKey(child.schema, child.name)) ?? []))
    const table = tableKey(child.schema, child.table)
    const siblings = byTable.get(table) ?? []
    const needed = (foreignKeysByTable.get(table) ?? []).some(
      (fk) =>
        supportsColumns(child!, fk.columnNumbers) &&
        !siblings.some((other) => other !== child && !unused.has(other) && supportsColumns(other, fk.columnNumbers)),
    )
    if (needed) return true
  }
  return false
}
