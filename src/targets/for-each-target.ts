/** The outcome of running one command on one target: `--all` prints one of these per target. */
export type TargetOutcome<T> = { target: string; ok: true; result: T } | { target: string; ok: false; error: unknown }

/**
 * Runs `fn` on every target with at most `concurrency` at once. One target failing does not stop the others;
 * results come back in the order of `targets`. `inOrder` sees each outcome in that order too, as soon as it and every
 * one before it are done (a slow first target holds back the output of the rest, never reorders it).
 */
export async function forEachTarget<T, Item extends { name: string }>(
  targets: readonly Item[],
  concurrency: number,
  fn: (target: Item) => Promise<T>,
  inOrder?: (outcome: TargetOutcome<T>) => void,
): Promise<TargetOutcome<T>[]> {
  const outcomes: TargetOutcome<T>[] = new Array(targets.length)
  let next = 0
  let reported = 0
  const worker = async () => {
    while (next < targets.length) {
      const index = next++
      const target = targets[index]!
      try {
        outcomes[index] = { target: target.name, ok: true, result: await fn(target) }
      } catch (error) {
        outcomes[index] = { target: target.name, ok: false, error }
      }
      for (; reported < targets.length && outcomes[reported]; reported++) inOrder?.(outcomes[reported]!)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, targets.length)) }, worker))
  return outcomes
}
