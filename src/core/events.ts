import { Listeners } from './listeners.js'
import type { Session } from './session.js'

/** Where a change came from: this instance, or another instance sharing the store. */
export type ChangeSource = 'local' | 'store'

/** The events of a session and what their listeners receive. */
export interface SessionEventMap {
  /** A login produced a session (`login()`, an unattended login with `credentials`, or another instance). */
  login: { session: Session; source: ChangeSource }
  /** A refresh replaced the session's tokens. */
  refresh: { session: Session; source: ChangeSource }
  /** The session was ended by `logout()`. */
  logout: { source: ChangeSource }
  /**
   * The session died, or an unattended login was refused. Fired once per failure (an unattended login is not
   * tried again before its backoff has passed).
   */
  expired: ExpiredEvent
  /**
   * A request was refused for a reason a new token from a refresh cannot fix: the caller gets the 401 as it is,
   * and this says what the user or the app must do (sign in again with these parameters, ask for the scope).
   */
  challenge: ChallengeEvent
}

/**
 * The payload of the `challenge` event: a `WWW-Authenticate` error from a resource server (RFC 6750 §3.1, RFC 9470,
 * claims challenges) that the session cannot answer itself. It carries no token.
 */
export interface ChallengeEvent {
  /**
   * `'insufficient_user_authentication'` (RFC 9470: sign the user in again, with `acrValues` or within `maxAge`),
   * `'insufficient_scope'` (RFC 6750: the token lacks `scope`), or `'insufficient_claims'` (a claims challenge the
   * one refresh with `claims` did not satisfy, or whose `claims` could not be read).
   */
  error: 'insufficient_user_authentication' | 'insufficient_scope' | 'insufficient_claims'
  /** The scope the resource server asks for (`scope`). */
  scope?: string
  /** The authentication context classes it asks for (`acr_values`), space-separated, as sent. */
  acrValues?: string
  /** How long ago, in seconds, the user may have signed in at most (`max_age`). */
  maxAge?: number
  /** The claims request it asks for (`claims`, decoded: a JSON text), for an `insufficient_claims` challenge. */
  claims?: string
  /** The URL of the refused request, without its query and fragment (a query may carry secrets). */
  url: string
}

/** Why the session is gone. */
export type ExpiredReason = 'refresh_rejected' | 'login_rejected'

/** The payload of the `expired` event. */
export interface ExpiredEvent {
  source: ChangeSource
  /**
   * `'refresh_rejected'`: the server refused the refresh token and no re-login was possible (no `credentials`,
   * or they could not complete). `'login_rejected'`: the unattended login with `credentials` was refused
   * (400/401/403): the credentials are wrong or the account is locked. Another instance's expiry (source
   * `'store'`) is reported as `'refresh_rejected'`.
   */
  reason: ExpiredReason
  /** What the calls that waited were told: the `LoginError` of a refused login, else a `SessionExpiredError`. */
  error?: Error
}

/** A session event's name. */
export type SessionEventName = keyof SessionEventMap

// Every event name, checked against the map: an event added there and not here fails the type check.
const NAMES = { login: true, refresh: true, logout: true, expired: true, challenge: true } satisfies Record<
  SessionEventName,
  true
>

/**
 * A minimal typed emitter. A throwing listener never breaks the session: its error is rethrown asynchronously.
 * A Map of its own (`clear`), its methods on one shared prototype: a client keeps one object, not four closures.
 */
export class Emitter extends Map<SessionEventName, Listeners<never>> {
  on<E extends SessionEventName>(event: E, listener: (payload: SessionEventMap[E]) => void): () => void {
    // A misspelt event would never fire: say so at once, as for a listener that is not a function.
    if (typeof event !== 'string' || !Object.hasOwn(NAMES, event)) {
      throw new TypeError(
        `on(${typeof event === 'string' ? JSON.stringify(event) : typeof event}): unknown event, expected one of ${Object.keys(NAMES).join(', ')}`,
      )
    }
    if (typeof listener !== 'function')
      throw new TypeError(`on(${JSON.stringify(event)}): listener must be a function`)
    let set = this.get(event)
    if (!set) {
      set = new Listeners()
      this.set(event, set)
    }
    return set.on(listener as (payload: never) => void)
  }

  emit<E extends SessionEventName>(event: E, payload: SessionEventMap[E]): void {
    this.get(event)?.emit(payload as never)
  }

  count(): number {
    let n = 0
    for (const set of this.values()) n += set.size
    return n
  }
}
