import { formatPrometheus, type MetricFamily } from '../output/prometheus.js'
import { writeFileAtomic } from '../output/atomic-write.js'
import { isVerified, listStoredBackups, verifyFailed } from './manifest.js'
import { openDestinations } from './destinations.js'
import type { ResolvedBackup } from '../config/resolve-config.js'

/**
 * node_exporter textfile-collector metrics of each target's newest complete backup, written atomically (the
 * collector may read the file at any moment). A target without backups gets no samples, so "absent" alerts fire.
 */
export async function writeBackupMetrics(
  path: string,
  targets: readonly { name: string; engine: string; backup: ResolvedBackup }[],
): Promise<void> {
  const families: MetricFamily[] = [
    {
      name: 'dbops_backup_last_success_timestamp_seconds',
      help: 'Unix time when the newest complete backup finished.',
      type: 'gauge',
      samples: [],
    },
    {
      name: 'dbops_backup_duration_seconds',
      help: 'How long the newest complete backup took.',
      type: 'gauge',
      samples: [],
    },
    { name: 'dbops_backup_size_bytes', help: 'Size of the newest complete backup.', type: 'gauge', samples: [] },
    {
      name: 'dbops_backup_last_verified_timestamp_seconds',
      help: 'Unix time when the newest verified backup was last verified.',
      type: 'gauge',
      samples: [],
    },
  ]
  for (const target of targets) {
    for (const destination of await openDestinations(target.backup)) {
      // Without a connection there is no database identity to ask for: the target's own backups are those it wrote
      // (a folder may be shared); one whose last verify failed is no success.
      const backups = (await listStoredBackups(destination.storage)).filter(
        (manifest) => manifest.target === target.name && !verifyFailed(manifest),
      )
      const newest = backups.at(-1)
      // One series per destination; `destination` is `default` for backup.dir alone.
      const labels = {
        target: target.name,
        engine: target.engine,
        ...(target.backup.destinations && { destination: destination.name }),
      }
      if (newest) {
        families[0]!.samples.push({ labels, value: Date.parse(newest.finishedAt) / 1000 })
        families[1]!.samples.push({ labels, value: newest.durationMs / 1000 })
        families[2]!.samples.push({ labels, value: newest.sizeBytes })
      }
      const verified = backups.filter(isVerified).at(-1)
      if (verified) families[3]!.samples.push({ labels, value: Date.parse(verified.verifiedAt!) / 1000 })
    }
  }
  writeFileAtomic(path, formatPrometheus(families))
}
