import type { SessionEventMap, SessionEventName } from './events.js'
import type { Session } from './session.js'
import type { CallOptions, SessionStats } from './session-core.js'

/**
 * What `createSessionFetch` returns. Every method is bound: pass them around freely.
 *
 * Declared here, below the adapters, so that they can take a client by its type; `session-fetch` exports it with
 * Plantly's credentials as the default of `Credentials`.
 */
export interface SessionFetch<Credentials = unknown> {
  /** Same signature and semantics as `fetch`, with the session's Bearer token on requests to allowed origins. */
  fetch: typeof globalThis.fetch
  /** Log in (Plantly: `POST /auth/sessions`) and keep the session. Rejects with LoginError (`status`). */
  login(credentials: Credentials, options?: CallOptions): Promise<Session>
  /** Force one refresh now, shared with any refresh already running. Rejects with RefreshError or SessionExpiredError. */
  refresh(options?: CallOptions): Promise<Session>
  /**
   * A valid access token, for what does not go through `fetch` (a WebSocket handshake, gRPC metadata, a token
   * exchange). It makes the decision a request made now would make: a token inside the refresh window is returned
   * while the one shared refresh starts behind it, one inside the must-refresh margin (or expired) waits for that
   * refresh, and with no session it logs in from `credentials` when they are given. Concurrent calls share that one
   * refresh with each other and with requests. Rejects as `fetch` would: RefreshError or LoginError (the renewal
   * could not complete or was refused), SessionExpiredError (`no_session`: none and no `credentials`;
   * `session_expired`: it died, or its token expired and nothing can renew it), the signal's reason, ClosedError
   * after `close()`. A DPoP-bound token (`oauth2({ dpop })`) is useless without a proof: send those through `fetch`.
   */
  accessToken(options?: CallOptions): Promise<string>
  /** The current session, or undefined. */
  getSession(): Promise<Session | undefined>
  /** End the session on the server (`DELETE /auth/sessions`) and clear it locally, even if the server call fails. */
  logout(options?: CallOptions): Promise<void>
  /** Listen to `login`, `refresh`, `logout` or `expired`. Returns the unsubscribe function. */
  on<E extends SessionEventName>(event: E, listener: (payload: SessionEventMap[E]) => void): () => void
  /** Counters: refresh calls made, logins, replays, refreshes pending, listeners. */
  stats(): SessionStats
  /**
   * Shut the client down without losing the session: every call made from now on rejects with `ClosedError`
   * (nothing sent); the logins, refreshes and logouts already sent are answered and their results stored (so the
   * other processes sharing the store get the rotated tokens), bounded by `refreshTimeoutMs`; then it stops
   * listening to the store. Never rejects; calling it again returns the same promise. It does not close the store
   * you passed: close that after it (`await plantly.close(); await store.close()`).
   */
  close(): Promise<void>
}
