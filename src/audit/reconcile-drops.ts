import type { Finding } from '../findings.js'
import type { IndexInfo } from './snapshot.js'
import { usable, type RuleContext } from './rule.js'
import { identical, keepOrder } from './rules/duplicate-index.js'

/** A finding whose fix drops an index, and the index that must stay for the drop to be safe (its twin or cover). */
interface Drop {
  finding: Finding
  index: IndexInfo
  kind: 'duplicate' | 'redundant' | 'other'
  referent?: IndexInfo
}

/**
 * Rules judge one index at a time; together their fixes could drop an index and the one that made dropping it safe
 * (a duplicate and its kept twin when that twin is unused too, a prefix and its unused cover, every one of a set of
 * twins), or drop one index twice, or rebuild one they drop. Returns the findings with those fixes taken off, each saying why.
 */
export function reconcileDrops(
  findings: readonly Finding[],
  indexBySubject: ReadonlyMap<string, IndexInfo>,
  createdBy: RuleContext['createdBy'],
): Finding[] {
  const drops: Drop[] = []
  for (const finding of findings) {
    const index = indexBySubject.get(finding.subject)
    if (!index || !finding.fix || !/^DROP INDEX [^;]*;$/i.test(finding.fix)) continue
    const kind =
      finding.check === 'duplicate_index' ? 'duplicate' : finding.check === 'redundant_index' ? 'redundant' : 'other'
    const reference = kind === 'duplicate' ? finding.detail?.duplicateOf : finding.detail?.coveredBy
    const referent = kind === 'other' ? undefined : indexBySubject.get(String(reference))
    drops.push({ finding, index, kind, ...(referent && { referent }) })
  }
  const kept = new Map<Finding, string>()
  const live = () => drops.filter((drop) => !kept.has(drop.finding))
  const keep = (drop: Drop, why: string) => kept.set(drop.finding, why)
  const name = (index: IndexInfo) => index.name

  // A duplicate is dropped because its twin stays: that twin's own "unused" drop goes.
  for (const drop of live().filter((candidate) => candidate.kind === 'duplicate' && candidate.referent)) {
    for (const other of live().filter((candidate) => candidate.index === drop.referent && candidate.kind === 'other'))
      keep(other, `its twin ${name(drop.index)} is dropped as a duplicate of it`)
  }
  // A prefix is dropped because its cover stays: not when that cover is dropped as unused.
  for (const drop of live().filter((candidate) => candidate.kind === 'redundant' && candidate.referent)) {
    if (live().some((other) => other.index === drop.referent && other.kind === 'other'))
      keep(drop, `${name(drop.referent!)}, which covers it, is dropped as unused`)
  }
  // Never every one of a set of twins, unless an index that covers them all stays.
  const dropped = new Set(live().map((drop) => drop.index))
  const done = new Set<IndexInfo>()
  for (const index of dropped) {
    if (done.has(index)) continue
    const twins = [...indexBySubject.values()].filter(
      (other) => other === index || (usable(other) && identical(index, other)),
    )
    twins.forEach((twin) => done.add(twin))
    if (twins.length < 2 || !twins.every((twin) => dropped.has(twin))) continue
    if (live().some((drop) => twins.includes(drop.index) && drop.kind === 'redundant')) continue
    const keeper = [...twins].sort(keepOrder(createdBy))[0]!
    for (const drop of live().filter((candidate) => candidate.index === keeper))
      keep(
        drop,
        `the fixes drop its twins ${twins
          .filter((twin) => twin !== keeper)
          .map(name)
          .join(', ')}; one of them stays`,
      )
  }
  // One DROP per index: the first finding (in rule order) carries it.
  const first = new Map<IndexInfo, Drop>()
  for (const drop of live()) {
    const earlier = first.get(drop.index)
    if (earlier) keep(drop, `the ${earlier.finding.check} fix drops it`)
    else first.set(drop.index, drop)
  }
  // Rebuilding an index the fixes drop is wasted work (a bloated index that is also unused).
  for (const finding of findings) {
    const index = indexBySubject.get(finding.subject)
    const drop = index && first.get(index)
    if (drop && finding.fix && /^REINDEX /i.test(finding.fix))
      kept.set(finding, `the ${drop.finding.check} fix drops it`)
  }
  return findings.map((finding) => {
    const why = kept.get(finding)
    if (why === undefined) return finding
    const { fix: _fix, ...rest } = finding
    const { undo: _undo, ...detail } = finding.detail ?? {}
    return { ...rest, message: `${finding.message} (no fix here: ${why})`, detail: { ...detail, noFix: why } }
  })
}
