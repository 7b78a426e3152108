import type { AuditRule } from '../rule.js'
import { withFix } from '../rule.js'

/** SQLite's planner statistics: sqlite_stat1 missing, or tables whose row count moved far from what it records. */
export const staleStatistics: AuditRule = {
  check: 'stale_statistics',
  description: "planner statistics (sqlite_stat1) missing, or far from the tables' current row counts",
  run({ snapshot, dialect, thresholds }) {
    if (snapshot.statisticsTable === undefined) return []
    // Small tables are cheap to read whatever the planner guesses: only tables of statisticsMinRowChange rows count.
    const big = (rows: number) => rows >= thresholds.statisticsMinRowChange
    const withRows = snapshot.tables.filter((table) => big(table.liveRows ?? 0))
    if (!snapshot.statisticsTable) {
      if (withRows.length === 0) return []
      return [
        withFix(
          {
            check: 'stale_statistics',
            severity: 'warn',
            subject: 'sqlite_stat1',
            message: `the database was never analyzed (no sqlite_stat1) and ${withRows.length} table(s) hold ${thresholds.statisticsMinRowChange} rows or more: the planner guesses index selectivity`,
            values: { tables: withRows.length },
          },
          dialect.analyze(),
        ),
      ]
    }
    return snapshot.tables.flatMap((table) => {
      const rows = table.liveRows ?? 0
      const recorded = table.analyzedRows
      const subject = dialect.subject(table.schema, table.name)
      let message: string | undefined
      if ((recorded === null || recorded === undefined) && big(rows)) {
        message = `${subject} holds ${rows > 1000 ? 'over 1000' : rows} rows but has no statistics in sqlite_stat1 (never analyzed while it had rows)`
      } else if (recorded !== null && recorded !== undefined) {
        const changed =
          Math.abs(rows - recorded) >= thresholds.statisticsMinRowChange &&
          (rows >= 2 * recorded || rows * 2 <= recorded)
        if (changed)
          message = `${subject} has ${rows >= 2 * recorded ? 'at least ' : ''}${rows} rows but sqlite_stat1 records ${recorded}: its statistics are stale`
      }
      if (!message) return []
      return [
        withFix(
          {
            check: 'stale_statistics',
            severity: 'warn',
            subject,
            message,
            values: { rows, ...(recorded != null && { recorded_rows: recorded }) },
          },
          dialect.analyze(table),
        ),
      ]
    })
  },
}
