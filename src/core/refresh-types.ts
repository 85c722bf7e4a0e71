// The types the refresh coordinator and the renewals it runs share (the renewal is loaded on first use, so it
// cannot be where the coordinator reads them from, nor read them from the coordinator: no cycle, even of types).
import type { ClosedError } from '../errors/closed-error.js'
import type { LoginError } from '../errors/login-error.js'
import type { RefreshError } from '../errors/refresh-error.js'
import type { SessionExpiredError } from '../errors/session-expired-error.js'
import type { SessionRejectedError } from '../errors/session-rejected-error.js'
import type { leaseEnded } from './abort.js'
import type { ResolvedOptions } from './options.js'
import type { ProtocolContext } from './protocol.js'

/** How a refresh ended: there is a session now, or there is none. */
export type Outcome = 'renewed' | 'dead'

/**
 * Why a refresh is asked for: `0` the token entered its refresh window (a refresh-ahead: requests go on with it),
 * `1` it is inside its must-refresh margin or expired, or there is no session and `credentials` can log in (the
 * default), `2` a request with it was refused (a 401), `3` `refresh()` was called. Numbers, not names: they ride on
 * the request path. Instrumentation reads them (see `session-fetch/otel`).
 */
export type RefreshTrigger = 0 | 1 | 2 | 3

/** The counters the coordinator adds to (shared with the instance's `stats()`). */
export interface RefreshCounts {
  refreshes: number
  logins: number
}

/** What the coordinator needs from the resolved options. */
export type RefreshOptions<Credentials> = Pick<
  ResolvedOptions<Credentials>,
  | 'store'
  | 'protocol'
  | 'credentials'
  | 'refreshTimeoutMs'
  | 'fetch'
  | 'now'
  | 'loginBackoff'
  | 'issuer'
  | 'watchCall'
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

/**
 * The error classes a renewal throws and recognises, and the error of an ended lock lease: the coordinator hands
 * them over (they are the entry's own, so `instanceof` holds), since the renewal is loaded on first use and
 * imports nothing the entry imports (see `lazy`).
 */
export interface RefreshErrors {
  readonly ClosedError: typeof ClosedError
  readonly LoginError: typeof LoginError
  readonly RefreshError: typeof RefreshError
  readonly SessionExpiredError: typeof SessionExpiredError
  readonly SessionRejectedError: typeof SessionRejectedError
  readonly leaseEnded: typeof leaseEnded
}
