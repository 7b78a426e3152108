// restic's forget policy, reproduced on restic's own test list (internal/data/snapshot_policy_test.go) and checked
// against its golden files (internal/data/testdata/policy_keep_snapshots_<n>): same kept backups, same reasons.
import { describe, expect, it } from 'vitest'
import { applyRetention, isEmptyPolicy, type RetentionPolicy } from '../../../src/backup/retention.js'
import { isoWeek } from '../../../src/backup/retention.js'

const RESTIC_TIMES =
  `2014-09-01 10:20:30,2014-09-02 10:20:30,2014-09-05 10:20:30,2014-09-06 10:20:30,2014-09-08 10:20:30,
2014-09-09 10:20:30,2014-09-10 10:20:30,2014-09-11 10:20:30,2014-09-20 10:20:30,2014-09-22 10:20:30,2014-08-08 10:20:30,
2014-08-10 10:20:30,2014-08-12 10:20:30,2014-08-13 10:20:30,2014-08-13 10:20:30.1,2014-08-15 10:20:30,2014-08-18 10:20:30,
2014-08-20 10:20:30,2014-08-21 10:20:30,2014-08-22 10:20:30,2014-10-01 10:20:30,2014-10-02 10:20:30,2014-10-05 10:20:30,
2014-10-06 10:20:30,2014-10-08 10:20:30,2014-10-09 10:20:30,2014-10-10 10:20:30,2014-10-11 10:20:30,2014-10-20 10:20:30,
2014-10-22 10:20:30,2014-11-08 10:20:30,2014-11-10 10:20:30,2014-11-12 10:20:30,2014-11-13 10:20:30,2014-11-13 10:20:30.1,
2014-11-15 10:20:30,2014-11-18 10:20:30,2014-11-20 10:20:30,2014-11-21 10:20:30,2014-11-22 10:20:30,2015-09-01 10:20:30,
2015-09-02 10:20:30,2015-09-05 10:20:30,2015-09-06 10:20:30,2015-09-08 10:20:30,2015-09-09 10:20:30,2015-09-10 10:20:30,
2015-09-11 10:20:30,2015-09-20 10:20:30,2015-09-22 10:20:30,2015-08-08 10:20:30,2015-08-10 10:20:30,2015-08-12 10:20:30,
2015-08-13 10:20:30,2015-08-13 10:20:30.1,2015-08-15 10:20:30,2015-08-18 10:20:30,2015-08-20 10:20:30,2015-08-21 10:20:30,
2015-08-22 10:20:30,2015-10-01 10:20:30,2015-10-02 10:20:30,2015-10-05 10:20:30,2015-10-06 10:20:30,2015-10-08 10:20:30,
2015-10-09 10:20:30,2015-10-10 10:20:30,2015-10-11 10:20:30,2015-10-20 10:20:30,2015-10-22 10:20:30,2015-10-22 10:20:30,
2015-10-22 10:20:30,2015-10-22 10:20:30,2015-10-22 10:20:30,2015-11-08 10:20:30,2015-11-10 10:20:30,2015-11-12 10:20:30,
2015-11-13 10:20:30,2015-11-13 10:20:30.1,2015-11-15 10:20:30,2015-11-18 10:20:30,2015-11-20 10:20:30,2015-11-21 10:20:30,
2015-11-22 10:20:30,2016-01-01 01:02:03,2016-01-01 01:03:03,2016-01-01 07:08:03,2016-01-03 07:02:03,2016-01-04 10:23:03,
2016-01-04 11:23:03,2016-01-04 12:23:03,2016-01-04 12:24:03,2016-01-04 12:28:03,2016-01-04 12:30:03,2016-01-04 16:23:03,
2016-01-05 09:02:03,2016-01-06 08:02:03,2016-01-07 10:02:03,2016-01-08 20:02:03,2016-01-09 21:02:03,2016-01-12 21:02:03,
2016-01-12 21:08:03,2016-01-18 12:02:03`
    .split(',')
    .map((text) => text.trim())

const toDate = (text: string) => new Date(`${text.replace(' ', 'T').replace(/(\.\d)$/, '$100')}Z`)
const items = RESTIC_TIMES.map((time, index) => ({ index, at: toDate(time) }))
const DAY = 86_400_000

function kept(policy: RetentionPolicy): [string, string[]][] {
  return applyRetention(items, (item) => item.at, policy, new Date('2030-01-01T00:00:00Z'))
    .filter((decision) => decision.keep)
    .map((decision) => [decision.item.at.toISOString().replace('.000Z', 'Z'), decision.reasons])
}

describe("retention: restic's golden files", () => {
  const cases: { name: string; policy: RetentionPolicy; expected: [string, string[]][] }[] = [
    {
      name: 'policy_keep_snapshots_15: daily 2, weekly 2, monthly 6',
      policy: { keepDaily: 2, keepWeekly: 2, keepMonthly: 6 },
      expected: [
        ['2016-01-18T12:02:03Z', ['daily snapshot', 'weekly snapshot', 'monthly snapshot']],
        ['2016-01-12T21:08:03Z', ['daily snapshot', 'weekly snapshot']],
        ['2015-11-22T10:20:30Z', ['monthly snapshot']],
        ['2015-10-22T10:20:30Z', ['monthly snapshot']],
        ['2015-09-22T10:20:30Z', ['monthly snapshot']],
        ['2015-08-22T10:20:30Z', ['monthly snapshot']],
        ['2014-11-22T10:20:30Z', ['monthly snapshot']],
      ],
    },
    {
      name: 'policy_keep_snapshots_39: daily 3, weekly 2, monthly and yearly unlimited (oldest kept)',
      policy: { keepDaily: 3, keepWeekly: 2, keepMonthly: -1, keepYearly: -1 },
      expected: [
        ['2016-01-18T12:02:03Z', ['daily snapshot', 'weekly snapshot', 'monthly snapshot', 'yearly snapshot']],
        ['2016-01-12T21:08:03Z', ['daily snapshot', 'weekly snapshot']],
        ['2016-01-09T21:02:03Z', ['daily snapshot']],
        ['2015-11-22T10:20:30Z', ['monthly snapshot', 'yearly snapshot']],
        ['2015-10-22T10:20:30Z', ['monthly snapshot']],
        ['2015-09-22T10:20:30Z', ['monthly snapshot']],
        ['2015-08-22T10:20:30Z', ['monthly snapshot']],
        ['2014-11-22T10:20:30Z', ['monthly snapshot', 'yearly snapshot']],
        ['2014-10-22T10:20:30Z', ['monthly snapshot']],
        ['2014-09-22T10:20:30Z', ['monthly snapshot']],
        ['2014-08-22T10:20:30Z', ['monthly snapshot']],
        ['2014-08-08T10:20:30Z', ['oldest monthly snapshot', 'oldest yearly snapshot']],
      ],
    },
    {
      name: 'policy_keep_snapshots_23: within 7d of the newest backup',
      policy: { keepWithinMs: 7 * DAY },
      expected: [
        ['2016-01-18T12:02:03Z', ['within 7d']],
        ['2016-01-12T21:08:03Z', ['within 7d']],
        ['2016-01-12T21:02:03Z', ['within 7d']],
      ],
    },
  ]
  for (const { name, policy, expected } of cases) {
    it(name, () => {
      expect(kept(policy)).toEqual(expected)
    })
  }

  it('every backup gets exactly one decision, and only kept ones have reasons', () => {
    const decisions = applyRetention(items, (item) => item.at, { keepLast: 10, keepDaily: 3 })
    expect(decisions).toHaveLength(items.length)
    // The 3 daily backups (18th, 12th, 9th) are among the 10 newest: rules overlap, they do not add up.
    expect(decisions.filter((decision) => decision.keep)).toHaveLength(10)
    for (const decision of decisions) expect(decision.keep).toBe(decision.reasons.length > 0)
  })
})

describe('retention: calendar buckets in UTC', () => {
  const at = (iso: string) => ({ at: new Date(iso) })
  const keep = (list: { at: Date }[], policy: RetentionPolicy, now?: Date) =>
    applyRetention(list, (item) => item.at, policy, now).map((decision) => [
      decision.item.at.toISOString().slice(0, 16),
      decision.keep,
      decision.reasons.join('|'),
    ])

  it('ISO weeks: Sunday 2020-12-27 and Monday 2020-12-28 are different weeks; 2021-01-03 is still week 53 of 2020', () => {
    expect(isoWeek(new Date('2020-12-27T12:00:00Z'))).toBe(202052)
    expect(isoWeek(new Date('2020-12-28T00:00:00Z'))).toBe(202053)
    expect(isoWeek(new Date('2021-01-03T23:59:59Z'))).toBe(202053)
    expect(isoWeek(new Date('2021-01-04T00:00:00Z'))).toBe(202101)
    expect(isoWeek(new Date('2026-01-01T00:00:00Z'))).toBe(202601)
    const list = ['2020-12-27T12:00:00Z', '2020-12-28T08:00:00Z', '2021-01-03T20:00:00Z', '2021-01-04T01:00:00Z'].map(
      at,
    )
    expect(keep(list, { keepWeekly: 2 })).toEqual([
      ['2021-01-04T01:00', true, 'weekly snapshot'],
      ['2021-01-03T20:00', true, 'weekly snapshot'],
      ['2020-12-28T08:00', false, ''],
      ['2020-12-27T12:00', false, ''],
    ])
  })

  it('daily buckets follow UTC midnight, and the oldest is kept while count is left', () => {
    const list = ['2026-03-01T23:30:00Z', '2026-03-02T00:30:00Z', '2026-03-02T22:00:00Z'].map(at)
    expect(keep(list, { keepDaily: 5 })).toEqual([
      ['2026-03-02T22:00', true, 'daily snapshot'],
      ['2026-03-02T00:30', false, ''],
      ['2026-03-01T23:30', true, 'daily snapshot'],
    ])
  })

  it('hourly, monthly and yearly rules OR together; keep-last counts from the newest', () => {
    const list = [
      '2024-06-30T10:05:00Z',
      '2025-01-15T10:00:00Z',
      '2025-02-01T09:10:00Z',
      '2025-02-01T09:50:00Z',
      '2025-02-01T10:15:00Z',
    ].map(at)
    expect(keep(list, { keepLast: 1, keepHourly: 2, keepYearly: 1 })).toEqual([
      ['2025-02-01T10:15', true, 'last snapshot|hourly snapshot|yearly snapshot'],
      ['2025-02-01T09:50', true, 'hourly snapshot'],
      ['2025-02-01T09:10', false, ''],
      ['2025-01-15T10:00', false, ''],
      ['2024-06-30T10:05', false, ''],
    ])
  })

  it('keep-within counts from the newest backup that is not in the future', () => {
    const now = new Date('2026-01-10T00:00:00Z')
    const list = ['2026-01-01T00:00:00Z', '2026-01-08T00:00:00Z', '2026-01-09T00:00:00Z', '2027-01-01T00:00:00Z'].map(
      at,
    )
    expect(keep(list, { keepWithinMs: 2 * DAY }, now)).toEqual([
      ['2027-01-01T00:00', true, 'within 2d'],
      ['2026-01-09T00:00', true, 'within 2d'],
      ['2026-01-08T00:00', true, 'within 2d'],
      ['2026-01-01T00:00', false, ''],
    ])
  })

  it('an empty policy is recognised (prune refuses it)', () => {
    expect(isEmptyPolicy({})).toBe(true)
    expect(isEmptyPolicy({ keepLast: 0 })).toBe(true)
    expect(isEmptyPolicy({ keepLast: 1 })).toBe(false)
    expect(isEmptyPolicy({ keepWithinMs: 1000 })).toBe(false)
  })
})
