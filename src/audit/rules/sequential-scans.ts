import type { AuditRule } from '../rule.js'

export const sequentialScans: AuditRule = {
  check: 'seq_scan_heavy',
  description: 'large tables read mostly by sequential scans of many rows (a missing index, usually)',
  run({ snapshot, dialect, thresholds }) {
    return snapshot.tables.flatMap((table) => {
      const { liveRows, seqScans, seqRowsRead, indexScans } = table
      if (liveRows === null || seqScans === null || seqRowsRead === null) return []
      const index = indexScans ?? 0
      if (liveRows < thresholds.seqScanMinRows || seqScans + index < thresholds.seqScanMinScans || seqScans <= index)
        return []
      const rowsPerScan = seqRowsRead / seqScans
      if (rowsPerScan < thresholds.seqScanMinRowsPerScan) return []
      const subject = dialect.subject(table.schema, table.name)
      const share = seqScans / (seqScans + index)
      return [
        {
          check: 'seq_scan_heavy',
          severity: 'warn' as const,
          subject,
          message: `${subject} (${liveRows} rows) was read by ${seqScans} sequential scans (${Math.round(share * 100)}% of its scans, ${Math.round(rowsPerScan)} rows each on average): look for a missing index (pg_stat_statements, EXPLAIN)`,
          values: {
            seq_scans: seqScans,
            index_scans: index,
            rows: liveRows,
            rows_per_seq_scan: Math.round(rowsPerScan),
            seq_scan_ratio: share,
          },
        },
      ]
    })
  },
}
