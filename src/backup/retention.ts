import type { ResolvedRetention } from '../config/resolve-config.js'
import { formatDuration } from '../output/format.js'

/** `-1` keeps every bucket (restic's `unlimited`). */
export type RetentionPolicy = ResolvedRetention

export interface RetentionDecision<T> {
  item: T
  keep: boolean
  /** Why it is kept, in restic's words: "last snapshot", "daily snapshot", "oldest weekly snapshot", "within 7d". */
  reasons: string[]
}

export function isEmptyPolicy(policy: RetentionPolicy): boolean {
  return (
    (['keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly'] as const).every(
      (key) => !policy[key],
    ) && !policy.keepWithinMs
  )
}

/**
 * restic's `forget` policy (internal/data/snapshot_policy.go, ApplyPolicy), in UTC: newest first; keep-last keeps
 * the n newest; hourly/daily/weekly (ISO)/monthly/yearly keep the newest backup of each of the last n calendar
 * buckets that have one, and the oldest backup too while a bucket still has count left; keep-within keeps everything
 * newer than the newest backup (not in the future) minus the duration. Rules are OR-ed; one backup can fill a slot in
 * several buckets. `time` gives each item's time. Returns the decisions newest first.
 */
export function applyRetention<T>(
  items: readonly T[],
  time: (item: T) => Date,
  policy: RetentionPolicy,
  now: Date = new Date(),
): RetentionDecision<T>[] {
  // Stable sort, newest first, like sort.Stable in restic.
  const list = items
    .map((item, index) => ({ item, index, at: time(item) }))
    .sort((a, b) => b.at.getTime() - a.at.getTime() || a.index - b.index)
  const buckets = [
    { count: policy.keepLast ?? 0, bucket: (_: Date, nr: number) => nr, last: -1, reason: 'last snapshot' },
    { count: policy.keepHourly ?? 0, bucket: ymdh, last: -1, reason: 'hourly snapshot' },
    { count: policy.keepDaily ?? 0, bucket: ymd, last: -1, reason: 'daily snapshot' },
    { count: policy.keepWeekly ?? 0, bucket: isoWeek, last: -1, reason: 'weekly snapshot' },
    { count: policy.keepMonthly ?? 0, bucket: ym, last: -1, reason: 'monthly snapshot' },
    { count: policy.keepYearly ?? 0, bucket: (d: Date) => d.getUTCFullYear(), last: -1, reason: 'yearly snapshot' },
  ]
  let latest = 0
  for (const { at } of list) if (at.getTime() > latest && at.getTime() < now.getTime()) latest = at.getTime()

  return list.map(({ item, at }, nr) => {
    const reasons: string[] = []
    if (policy.keepWithinMs && at.getTime() > latest - policy.keepWithinMs)
      reasons.push(`within ${formatDuration(policy.keepWithinMs)}`)
    for (const bucket of buckets) {
      if (bucket.count > 0 || bucket.count === -1) {
        const value = bucket.bucket(at, nr)
        if (value !== bucket.last || nr === list.length - 1) {
          reasons.push(value === bucket.last ? `oldest ${bucket.reason}` : bucket.reason)
          bucket.last = value
          if (bucket.count > 0) bucket.count--
        }
      }
    }
    return { item, keep: reasons.length > 0, reasons }
  })
}

function ymdh(d: Date): number {
  return d.getUTCFullYear() * 1_000_000 + (d.getUTCMonth() + 1) * 10_000 + d.getUTCDate() * 100 + d.getUTCHours()
}

function ymd(d: Date): number {
  return d.getUTCFullYear() * 10_000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate()
}

function ym(d: Date): number {
  return d.getUTCFullYear() * 100 + d.getUTCMonth() + 1
}

/** ISO 8601 week as YYYYWW (weeks start on Monday; week 1 holds the year's first Thursday), like Go's ISOWeek. */
export function isoWeek(d: Date): number {
  const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate())
  const weekday = (new Date(day).getUTCDay() + 6) % 7 // Monday 0
  const thursday = new Date(day + (3 - weekday) * 86_400_000)
  const year = thursday.getUTCFullYear()
  const week = 1 + Math.floor((thursday.getTime() - Date.UTC(year, 0, 1)) / (7 * 86_400_000))
  return year * 100 + week
}
