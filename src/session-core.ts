import { abortable } from './abort.js'
import { createAuthorizer } from './authorizer.js'
import { LoginError } from './errors/login-error.js'
import { LogoutError } from './errors/logout-error.js'
import { RefreshError } from './errors/refresh-error.js'
import { ResponseError } from './errors/response-error.js'
import { SessionExpiredError } from './errors/session-expired-error.js'
import { SessionFetchError } from './errors/session-fetch-error.js'
import { SessionRejectedError } from './errors/session-rejected-error.js'
import { createEmitter, type SessionEventMap, type SessionEventName } from './events.js'
import type { ResolvedOptions } from './options.js'
import { createRefreshCoordinator } from './refresh-coordinator.js'
import { type Grant, refreshDueAt, type Session, type SessionRecord } from './session.js'
import type { StoreSnapshot } from './store.js'
import { createStoreSync } from './store-sync.js'

/** Counters of what an instance did, for reports and leak checks. */
export interface SessionStats {
  /** Refresh calls made to the server by this instance. */
  refreshes: number
  /** Logins made by this instance (explicit and unattended). */
  logins: number
  /** Requests replayed after a 401. */
  replays: number
  /** Refreshes waiting in the queue or running now. */
  pendingRefreshes: number
  /** Event listeners registered. */
  listeners: number
}

/** Per-call options of `login`, `refresh` and `logout`. */
export interface CallOptions {
  /** Aborts this caller's wait (and a login or logout call); never a shared refresh. */
  signal?: AbortSignal
}

/**
 * The one session core behind every door (the fetch wrapper, the axios interceptor, the undici dispatcher):
 * "the token to send now" and "this token was just refused", with one refresh queue per instance and the
 * store's lock across instances.
 */
export interface SessionCore<Credentials> {
  /** True when a request to this absolute URL should carry the access token. */
  authorizes(url: string, method: string): boolean
  /** Whether a response means "this access token was refused". */
  isUnauthorized(response: Response): boolean
  /** The token to send now (undefined: no session). A promise only when it has to wait (load, refresh). */
  token(signal?: AbortSignal): string | undefined | Promise<string | undefined>
  /**
   * A request sent with `token` was refused. Resolves with the token to replay with, or undefined when the
   * session is gone (give the caller its 401). Rejects with RefreshError when the refresh could not complete.
   */
  rejected(token: string, signal?: AbortSignal): Promise<string | undefined>
  /** Count a replay (for `stats()`). */
  noteReplay(): void
  login(credentials: Credentials, options?: CallOptions): Promise<Session>
  refresh(options?: CallOptions): Promise<Session>
  logout(options?: CallOptions): Promise<void>
  getSession(): Promise<Session | undefined>
  on<E extends SessionEventName>(event: E, listener: (payload: SessionEventMap[E]) => void): () => void
  stats(): SessionStats
  /** Stop listening to the store. */
  close(): void
}

export function createSessionCore<Credentials>(
  options: ResolvedOptions<Credentials>,
): SessionCore<Credentials> {
  const { store, protocol, now, refreshWindowMs } = options
  const emitter = createEmitter()
  const counts = { refreshes: 0, logins: 0, replays: 0 }
  const authorizes = createAuthorizer(options.allowedOrigins, protocol)
  // Each needs the other: the coordinator renews from the sync's snapshot, and the sync tells it when a new
  // version makes its session call pointless. `replaced` first runs after a load, when both exist.
  const sync = createStoreSync({
    store,
    now,
    emit: emitter.emit,
    replaced: (version) => refresher.supersede(version),
  })
  const refresher = createRefreshCoordinator(options, sync, counts)
  let ending: Promise<void> | undefined // logout() clearing the session

  function currentToken(): string | undefined {
    return sync.snapshot?.record?.session.access_token
  }

  // After a proactive refresh failed, a token that has not expired yet is still worth sending.
  function stillValid(token: string | undefined, error: unknown): string | undefined {
    const record = sync.snapshot?.record
    if (
      error instanceof RefreshError &&
      token !== undefined &&
      record?.session.access_token === token &&
      record.expiresAt !== undefined &&
      now() < record.expiresAt
    ) {
      return token
    }
    throw error
  }

  function waitThenToken(
    promise: Promise<unknown>,
    signal: AbortSignal | undefined,
    held: string | undefined,
  ) {
    return abortable(promise, signal).then(currentToken, (error: unknown) => {
      if (signal?.aborted && error === signal.reason) throw error
      return stillValid(held, error)
    })
  }

  // Clear first: whatever the server says, this instance (and those sharing the store) is logged out.
  async function clearSession(): Promise<SessionRecord | undefined> {
    await sync.load()
    sync.loggedOut = true
    refresher.stop()
    const ended = sync.snapshot?.record
    if (ended) await sync.overwrite(undefined, 'logout')
    return ended
  }

  function token(signal?: AbortSignal): string | undefined | Promise<string | undefined> {
    if (ending) return abortable(ending, signal).then(() => token(signal))
    const snap = sync.snapshot
    if (snap === undefined) return abortable(sync.load(), signal).then(() => token(signal))
    const inflight = refresher.inflight
    if (inflight) return waitThenToken(inflight, signal, currentToken())
    const record = snap.record
    if (!record) {
      if (!refresher.canLogIn()) return undefined
      return abortable(refresher.start(snap.version), signal).then(currentToken)
    }
    if (now() < refreshDueAt(record, refreshWindowMs)) return record.session.access_token
    // Nothing can renew this session before it expires (no refresh token, no credentials): send it as it is.
    if (!record.session.refresh_token && !refresher.canLogIn()) return record.session.access_token
    return waitThenToken(refresher.start(snap.version), signal, record.session.access_token)
  }

  async function rejected(sent: string, signal?: AbortSignal): Promise<string | undefined> {
    if (ending) await abortable(ending, signal)
    if (sync.snapshot === undefined) await abortable(sync.load(), signal)
    const inflight = refresher.inflight
    if (inflight) await abortable(inflight, signal)
    const snap = sync.snapshot
    const current = snap?.record
    if (!current) return undefined
    // A 401 for an older token: the current one has not been tried yet, so replay with it without refreshing,
    // unless it is itself due (then the replay waits for its refresh like any request made now).
    if (current.session.access_token !== sent) return token(signal)
    await abortable(refresher.start(snap?.version ?? 0), signal)
    return currentToken()
  }

  return {
    authorizes,
    isUnauthorized: options.isUnauthorized,
    token,
    rejected,
    noteReplay() {
      counts.replays++
    },
    async login(supplied, callOptions = {}) {
      await sync.load()
      let grant: Grant
      try {
        grant = await refresher.call(callOptions.signal, (context) => protocol.login(supplied, context))
      } catch (error) {
        throw toLoginError(error, callOptions.signal)
      }
      counts.logins++
      sync.loggedOut = false
      await sync.overwrite(grant, 'login')
      return grant.session
    },
    refresh(callOptions = {}) {
      // Registers the refresh synchronously when the session is loaded, so calls made right after wait for it.
      const begin = (): Promise<unknown> => {
        const inflight = refresher.inflight
        if (inflight) return inflight
        const current = sync.snapshot as StoreSnapshot
        if (!current.record && !refresher.canLogIn()) {
          return Promise.reject(new SessionExpiredError('no_session'))
        }
        return refresher.start(current.version)
      }
      const running = sync.snapshot ? begin() : sync.load().then(begin)
      return abortable(running, callOptions.signal).then(() => {
        const session = sync.snapshot?.record?.session
        if (!session) throw new SessionExpiredError('session_expired')
        return session
      })
    },
    async logout(callOptions = {}) {
      // Takes effect when called: calls made from now on wait for the clear, then go out without the token.
      const clearing = clearSession()
      const cleared = clearing.then(
        () => undefined,
        () => undefined,
      )
      ending = cleared
      let ended: SessionRecord | undefined
      try {
        ended = await clearing
      } finally {
        if (ending === cleared) ending = undefined
      }
      if (!ended || !protocol.logout) return
      const end = protocol.logout.bind(protocol)
      try {
        await refresher.call(callOptions.signal, (context) => end(ended.session, context))
      } catch (error) {
        if (callOptions.signal?.aborted && error === callOptions.signal.reason) throw error
        throw new LogoutError(error)
      }
    },
    async getSession() {
      await sync.load()
      return sync.snapshot?.record?.session
    },
    on: emitter.on,
    stats() {
      return { ...counts, pendingRefreshes: refresher.pending(), listeners: emitter.count() }
    },
    close: sync.close,
  }
}

function toLoginError(error: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted && error === signal.reason) return error
  if (error instanceof SessionFetchError && error.code === 'invalid_option') return error
  const cause = error instanceof SessionRejectedError ? error.cause : error
  const status = cause instanceof ResponseError ? cause.status : undefined
  return new LoginError(status, { cause })
}
