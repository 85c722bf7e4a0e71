// The types the refresh coordinator and the renewals it runs share (the renewal is loaded on first use, so it
// cannot be where the coordinator reads them from, nor read them from the coordinator: no cycle, even of types).
import type { ResolvedOptions } from './options.js'
import type { ProtocolContext } from './protocol.js'

/** How a refresh ended: there is a session now, or there is none. */
export type Outcome = 'renewed' | 'dead'

/** The counters the coordinator adds to (shared with the instance's `stats()`). */
export interface RefreshCounts {
  refreshes: number
  logins: number
}

/** What the coordinator needs from the resolved options. */
export type RefreshOptions<Credentials> = Pick<
  ResolvedOptions<Credentials>,
  'store' | 'protocol' | 'credentials' | 'refreshTimeoutMs' | 'fetch' | 'now' | 'loginBackoff'
>

/**
 * One session call through the protocol, bounded by `refreshTimeoutMs` and aborted with `outer`; `stop` ends
 * retries without abandoning a request already sent (its answer is not lost). Under a lock whose lease ends at
 * `until`, it starts only if it can end by then.
 */
export type SessionCallRunner = <T>(
  outer: AbortSignal | undefined,
  run: (context: ProtocolContext) => Promise<T>,
  stop?: AbortSignal,
  until?: number,
) => Promise<T>
