/**
 * Whether a process with this id exists on this host (signal 0 checks without sending anything). EPERM means it
 * exists under another user. Ids below 1 never name one process: 0 and -1 would signal whole groups.
 */
export function processExists(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
