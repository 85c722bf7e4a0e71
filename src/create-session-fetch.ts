import type { SessionEventMap, SessionEventName } from './core/events.js'
import { resolveOptions, type SessionFetchOptions } from './core/options.js'
import type { PlantlyCredentials } from './core/protocol.js'
import type { Session } from './core/session.js'
import {
  type CallOptions,
  createSessionCore,
  type SessionCore,
  type SessionStats,
} from './core/session-core.js'
import { createFetchWrapper } from './doors/fetch/fetch-wrapper.js'

/** What `createSessionFetch` returns. Every method is bound: pass them around freely. */
export interface SessionFetch<Credentials = PlantlyCredentials> {
  /** Same signature and semantics as `fetch`, with the session's Bearer token on requests to allowed origins. */
  fetch: typeof globalThis.fetch
  /** Log in (Plantly: `POST /auth/sessions`) and keep the session. Rejects with LoginError (`status`). */
  login(credentials: Credentials, options?: CallOptions): Promise<Session>
  /** Force one refresh now, shared with any refresh already running. Rejects with RefreshError or SessionExpiredError. */
  refresh(options?: CallOptions): Promise<Session>
  /** The current session, or undefined. */
  getSession(): Promise<Session | undefined>
  /** End the session on the server (`DELETE /auth/sessions`) and clear it locally, even if the server call fails. */
  logout(options?: CallOptions): Promise<void>
  /** Listen to `login`, `refresh`, `logout` or `expired`. Returns the unsubscribe function. */
  on<E extends SessionEventName>(event: E, listener: (payload: SessionEventMap[E]) => void): () => void
  /** Counters: refresh calls made, logins, replays, refreshes pending, listeners. */
  stats(): SessionStats
  /** Stop listening to the store (needed only for stores shared with other, longer-lived instances). */
  close(): void
  /** The session core, for adapters (axios, undici, ofetch): the token to send, and what to do after a 401. */
  readonly core: SessionCore<Credentials>
}

/**
 * Create a fetch that keeps an API session alive: it injects the Bearer access token, refreshes it before it
 * expires and after a 401, makes one refresh call however many requests need it, and replays what waited.
 *
 * @example
 * const plantly = createSessionFetch({ baseURL: 'https://api.plantly.gr4vy.app' })
 * await plantly.login({ email_address: 'me@example.com', password: 'secret' })
 * const buyers = await plantly.fetch('/buyers').then((r) => r.json())
 */
export function createSessionFetch<Credentials = PlantlyCredentials>(
  options: SessionFetchOptions<Credentials>,
): SessionFetch<Credentials> {
  const resolved = resolveOptions(options)
  const core = createSessionCore(resolved)
  return {
    fetch: createFetchWrapper(core, resolved.baseURL, resolved.fetch),
    login: core.login,
    refresh: core.refresh,
    getSession: core.getSession,
    logout: core.logout,
    on: core.on,
    stats: core.stats,
    close: core.close,
    core,
  }
}
