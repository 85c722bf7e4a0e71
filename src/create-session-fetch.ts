import { createFetchWrapper } from './adapters/fetch/fetch-wrapper.js'
import { registerPipeline } from './adapters/shared/pipeline-registry.js'
import type { SessionEventMap, SessionEventName } from './core/events.js'
import { type SessionFetchOptions as CoreOptions, resolveOptions } from './core/options.js'
import { createPipeline } from './core/pipeline.js'
import type { SessionProtocol } from './core/protocol.js'
import type { Session } from './core/session.js'
import { type CallOptions, createSessionCore, type SessionStats } from './core/session-core.js'
import { type PlantlyCredentials, plantlySessions } from './protocols/plantly/plantly-protocol.js'
import { memoryStore } from './stores/memory/memory-store.js'

/**
 * Options of {@link createSessionFetch}; only `baseURL` is required. Credentials default to Plantly's.
 * @interface
 */
export type SessionFetchOptions<Credentials = PlantlyCredentials> = CoreOptions<Credentials>

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
  /**
   * Shut the client down without losing the session: every call made from now on rejects with `ClosedError`
   * (nothing sent); the logins, refreshes and logouts already sent are answered and their results stored (so the
   * other processes sharing the store get the rotated tokens), bounded by `refreshTimeoutMs`; then it stops
   * listening to the store. Never rejects; calling it again returns the same promise. It does not close the store
   * you passed: close that after it (`await plantly.close(); await store.close()`).
   */
  close(): Promise<void>
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
  const resolved = resolveOptions(options, {
    store: memoryStore,
    protocol: (baseURL) =>
      plantlySessions({ baseURL: baseURL.href }) as unknown as SessionProtocol<Credentials>,
  })
  const core = createSessionCore(resolved)
  const pipeline = createPipeline(core, resolved.replayBufferBytes, resolved.protocol)
  const client: SessionFetch<Credentials> = {
    fetch: createFetchWrapper(pipeline, resolved.baseURL, resolved.fetch),
    login: core.login,
    refresh: core.refresh,
    getSession: core.getSession,
    logout: core.logout,
    on: core.on,
    stats: core.stats,
    close: core.close,
  }
  registerPipeline(client, pipeline) // the adapters (axios, undici) reach it through the client, privately
  return client
}
