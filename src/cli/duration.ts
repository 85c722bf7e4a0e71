/**
 * A duration as the command line prints it: `59s`, `1m 0s`, `2h 5m`. Whole seconds are counted down (floor), so a
 * token that has 59.6 s left "expires in 59s", never in more time than it has, and each unit only appears once
 * the one below it is full.
 */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000))
  if (seconds < 60) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`
}

/** Matches every string {@link formatDuration} prints (for tests and scripts that read `status`). */
export const DURATION_PATTERN = String.raw`(?:\d+s|\d+m \d+s|\d+h \d+m)`
