import { ClosedError } from '../errors/closed-error.js'
import { RefreshError } from '../errors/refresh-error.js'
import { SessionExpiredError } from '../errors/session-expired-error.js'
import { abortable } from './abort.js'
import { createCoverage } from './coverage.js'
import { type ChallengeEvent, Emitter, type SessionEventMap, type SessionEventName } from './events.js'
import { createLogout } from './logout.js'
import type { ResolvedOptions } from './options.js'
import { createRefreshCoordinator, type RefreshCoordinator } from './refresh-coordinator.js'
import type { Outcome } from './refresh-types.js'
import { mustRefreshAt, refreshDueAt, type Session } from './session.js'
import { createSharedLogin } from './shared-login.js'
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
 * The one session core behind every adapter (the fetch wrapper, axios, undici and ofetch, through the request
 * pipeline): "the token to send now" and "this token was just refused", with one refresh queue per instance and
 * the store's lock across instances; and the session's own calls (login, refresh, logout).
 */
export interface SessionCore<Credentials> {
  /** True when the session covers a request to this absolute URL: it should carry the access token. */
  covers(url: string, method: string): boolean
  /** Whether a response means "this access token was refused". */
  isUnauthorized(response: Response): boolean
  /**
   * The token to send now (undefined: no session). A promise only when it has to wait (load, refresh).
   * `again`: asked again for a request that began before (its replay); only a new request is refused once closed.
   */
  token(signal?: AbortSignal, again?: boolean): string | undefined | Promise<string | undefined>
  /**
   * A request sent with `token` (undefined: without one) was refused. Resolves with the token to replay with,
   * or undefined when the session is gone (give the caller its 401). Rejects with RefreshError when the refresh
   * could not complete.
   */
  afterUnauthorized(
    token: string | undefined,
    signal?: AbortSignal,
    claims?: string,
  ): Promise<string | undefined>
  /** Tell the listeners of a challenge the session cannot answer (the `challenge` event). */
  challenged(event: ChallengeEvent): void
  /** The refresh coordinator, for instrumentation (`session-fetch/otel`): nothing else calls it from outside. */
  readonly refresher: RefreshCoordinator
  /** Count a replay (for `stats()`). */
  noteReplay(): void
  /** A replay sent with `token` was refused too. */
  noteRefused(token: string): void
  login(credentials: Credentials, options?: CallOptions): Promise<Session>
  refresh(options?: CallOptions): Promise<Session>
  /** A valid access token, as a request made now would send it (see SessionFetch). */
  accessToken(options?: CallOptions): Promise<string>
  logout(options?: CallOptions): Promise<void>
  getSession(): Promise<Session | undefined>
  on<E extends SessionEventName>(event: E, listener: (payload: SessionEventMap[E]) => void): () => void
  stats(): SessionStats
  /**
   * Refuse every new call (ClosedError), let the session calls already sent land and be stored (bounded by
   * `refreshTimeoutMs`), then stop listening to the store and drop the listeners. The same promise every time.
   */
  close(): Promise<void>
}

/**
 * A 401 for a token obtained less than this long ago, which was already refused once since, does not start
 * another refresh: the path refuses every token (a permissions problem, not an expired session), and asking
 * the server for new tokens on every call would only hammer it.
 */
const FRESH_TOKEN_MS = 5_000

/** After a refresh-ahead failed, requests inside the refresh window wait this long before starting another. */
const AHEAD_COOLDOWN_MS = 2_000

export function createSessionCore<Credentials>(
  options: ResolvedOptions<Credentials>,
): SessionCore<Credentials> {
  const { store, protocol, now, refreshWindowMs, mustRefreshMs, refreshTimeoutMs } = options
  const emitter = new Emitter()
  const counts = { refreshes: 0, logins: 0, replays: 0 }
  const covers = createCoverage(options.allowedOrigins, protocol)
  // Each needs the other: the coordinator renews from the sync's snapshot, and the sync tells it when a new
  // version makes its session call pointless. `replaced` first runs after a load, when both exist.
  const sync = createStoreSync({
    store,
    issuer: options.issuer,
    emitter,
    replaced: (version) => refresher.supersede(version),
  })
  const refresher = createRefreshCoordinator(options, sync, counts)
  // login() and logout() run one after the other, in the order they were called.
  let lifecycle: Promise<unknown> = Promise.resolve()
  const shared = createSharedLogin({
    protocol,
    sync,
    refresher,
    counts,
    now,
    issuer: options.issuer,
    inOrder,
    refuseForeign,
  })
  const logouts = createLogout({ store, refreshTimeoutMs, sync, refresher, inOrder, refuseForeign })
  // The last token refused by a replay (see FRESH_TOKEN_MS).
  let refused: string | undefined
  // After a refresh-ahead failed, the next one waits until then (a failing endpoint is not hammered).
  let aheadAgainAt = 0
  let closing: Promise<void> | undefined

  function currentToken(): string | undefined {
    refuseForeign()
    return sync.snapshot?.record?.session.access_token
  }

  // After a wait, the token to send is decided again: the session may have been replaced meanwhile (a login,
  // another instance) by one that is itself due. A bounded number of times, then the current one as it is.
  function tokenAfterWait(
    signal: AbortSignal | undefined,
    waits: number,
  ): string | undefined | Promise<string | undefined> {
    if (waits < 3) return token(signal, waits + 1)
    const clearing = logouts.clearing
    return clearing ? abortable(clearing, signal).then(currentToken) : currentToken()
  }

  // While the store holds another issuer's session, every call rejects (its tokens are not even in our snapshot).
  function refuseForeign(): void {
    const refused = sync.refusal()
    if (refused) throw refused
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
    waits: number,
  ) {
    return abortable(promise, signal).then(
      () => tokenAfterWait(signal, waits),
      (error: unknown) => {
        if (signal?.aborted && error === signal.reason) throw error
        return stillValid(held, error)
      },
    )
  }

  function inOrder<T>(step: () => Promise<T>): Promise<T> {
    const run = lifecycle.then(step, step)
    lifecycle = run.catch(() => undefined)
    return run
  }

  function token(signal?: AbortSignal, waits = 0): string | undefined | Promise<string | undefined> {
    const clearing = logouts.clearing
    if (clearing) return abortable(clearing, signal).then(() => token(signal, waits))
    const snap = sync.snapshot
    if (snap === undefined) return abortable(sync.load(), signal).then(() => token(signal, waits))
    const refusedStore = sync.refusal()
    if (refusedStore) return Promise.reject(refusedStore)
    const inflight = refresher.inflight
    if (inflight) {
      // A refresh-ahead runs while the token is still good: send it rather than wait.
      const held = snap.record
      if (!refresher.urgent && held && now() < mustRefreshAt(held, refreshWindowMs, mustRefreshMs)) {
        return held.session.access_token
      }
      return waitThenToken(inflight, signal, currentToken(), waits)
    }
    const record = snap.record
    if (!record) {
      if (!refresher.canLogIn()) return undefined
      const blocked = refresher.loginBlocked()
      if (blocked) return Promise.reject(blocked) // wrong credentials: fail at once, ask nobody
      return abortable(refresher.start(snap.version), signal).then(() => tokenAfterWait(signal, waits))
    }
    const at = now()
    if (at < refreshDueAt(record, refreshWindowMs)) return record.session.access_token
    // Nothing can renew this session before it expires (no refresh token, no credentials): send it as it is.
    if (!record.session.refresh_token && !refresher.canLogIn()) return record.session.access_token
    if (at < mustRefreshAt(record, refreshWindowMs, mustRefreshMs)) {
      // Refresh-ahead: the one shared refresh starts in the background, and this request goes now. A failed
      // one changes nothing while the token is good; the next request tries again after a short cooldown.
      if (at >= aheadAgainAt) {
        refresher.start(snap.version, 0).catch(() => {
          aheadAgainAt = now() + AHEAD_COOLDOWN_MS
        })
      }
      return record.session.access_token
    }
    return waitThenToken(refresher.start(snap.version), signal, record.session.access_token, waits)
  }

  // `claims`: a claims challenge's request, sent with the refresh it starts (a refresh already under way is joined).
  async function afterUnauthorized(
    sent: string | undefined,
    signal?: AbortSignal,
    claims?: string,
  ): Promise<string | undefined> {
    // Whatever runs now (a logout, the first load, a refresh) decides which token is current: wait for it.
    for (;;) {
      const clearing = logouts.clearing
      if (clearing) await abortable(clearing, signal)
      else if (sync.snapshot === undefined) await abortable(sync.load(), signal)
      else if (refresher.inflight) await abortable(refresher.inflight, signal)
      else break
    }
    refuseForeign()
    if (sent === undefined) {
      // Sent without a token because this instance knew of no session; another instance may have logged in
      // since, and its notice not arrived yet: ask the store once, and replay with what it holds.
      if (!sync.snapshot?.record)
        sync.adopt(await abortable(Promise.resolve(store.read()), signal), 'store', true)
      return sync.snapshot?.record ? token(signal) : undefined
    }
    const snap = sync.snapshot as StoreSnapshot
    const current = snap.record
    // The session is gone: with credentials, log in (or fail at once while logins back off) and replay.
    if (!current) return refresher.canLogIn() ? token(signal) : undefined
    // A 401 for an older token: the current one has not been tried yet, so replay with it without refreshing,
    // unless it is itself due (then the replay waits for its refresh like any request made now).
    if (current.session.access_token !== sent) return token(signal)
    // A token this session just obtained and that was refused already: the path refuses every token.
    if (refused === sent && now() - current.receivedAt < FRESH_TOKEN_MS) return undefined
    const outcome = await abortable(refresher.start(snap.version, 2, claims), signal)
    refuseForeign() // the refresh may have found another issuer's session in the store
    return outcome === 'dead' ? undefined : tokenAfterWait(signal, 0)
  }

  // Force one refresh now, shared with any refresh already running.
  function refresh(callOptions: CallOptions = {}): Promise<Session> {
    if (closing) return Promise.reject(new ClosedError())
    // Registers the refresh synchronously when the session is loaded, so calls made right after wait for it.
    const begin = (): Promise<Outcome> => {
      const inflight = refresher.inflight
      if (inflight) return inflight
      const refused = sync.refusal()
      if (refused) return Promise.reject(refused)
      const current = sync.snapshot as StoreSnapshot
      if (!current.record && !refresher.canLogIn()) {
        return Promise.reject(new SessionExpiredError('no_session'))
      }
      const blocked = current.record ? undefined : refresher.loginBlocked()
      if (blocked) return Promise.reject(blocked)
      return refresher.start(current.version, 3)
    }
    const clearing = logouts.clearing
    const running = clearing
      ? clearing.then(() => Promise.reject(new SessionExpiredError('no_session')))
      : sync.snapshot
        ? begin()
        : sync.load().then(begin)
    return abortable(running, callOptions.signal).then((outcome) => {
      refuseForeign()
      const session = sync.snapshot?.record?.session
      if (outcome === 'dead' || logouts.clearing || !session) throw new SessionExpiredError('session_expired')
      return session
    })
  }

  // The token a request made now would send, for what is not a request through this client. It never sends an
  // expired one: a session nothing can renew is over for it (the store keeps it; a request would meet the 401).
  async function accessToken({ signal }: CallOptions = {}): Promise<string> {
    if (closing) throw new ClosedError()
    signal?.throwIfAborted()
    const sent = await token(signal)
    const record = sync.snapshot?.record
    if (sent === undefined || (record?.expiresAt ?? Infinity) <= now()) {
      throw new SessionExpiredError(
        record || sync.snapshot?.reason === 'expired' ? 'session_expired' : 'no_session',
      )
    }
    return sent
  }

  // Takes effect when called (see Logout). No login() called before it is joined after it.
  function logout(callOptions: CallOptions = {}): Promise<void> {
    if (closing) return Promise.reject(new ClosedError())
    shared.forget()
    return refresher.track(logouts.logout(callOptions.signal))
  }

  // Drain, then let go of the store: what was sent lands and is stored, within the bound of a session call.
  async function drain(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, refreshTimeoutMs)
    })
    // Logins first: one that lands may still retire the session it replaced.
    const settled = lifecycle.then(refresher.drain).catch(() => undefined) // close() never rejects (p-queue could not load: nothing ran)
    await Promise.race([settled, bound])
    clearTimeout(timer)
    sync.close()
    emitter.clear()
  }

  return {
    covers,
    isUnauthorized: options.isUnauthorized,
    token: (signal, again) => (closing && !again ? Promise.reject(new ClosedError()) : token(signal)),
    afterUnauthorized,
    challenged: (event) => emitter.emit('challenge', event),
    refresher,
    noteReplay() {
      counts.replays++
    },
    noteRefused(token) {
      refused = token
    },
    login(credentials, callOptions = {}) {
      return closing ? Promise.reject(new ClosedError()) : shared.login(credentials, callOptions.signal)
    },
    refresh,
    accessToken,
    logout,
    async getSession() {
      if (closing) throw new ClosedError()
      // Read the store rather than trust the last notice: a sibling's change may still be on its way.
      if (sync.snapshot === undefined) await sync.load()
      else {
        try {
          sync.adopt(await store.read(), 'store', true)
        } catch {
          // The store is down: the session this instance holds (and still sends) is the answer.
        }
      }
      refuseForeign()
      return sync.snapshot?.record?.session
    },
    on(event, listener) {
      const off = emitter.on(event, listener)
      // An instance that only listens still hears the store (another tab's or process's logout): load now,
      // which subscribes. A store that cannot be read yet is tried again by the next call.
      if (sync.snapshot === undefined && !closing) sync.load().catch(() => undefined)
      return off
    },
    stats() {
      return { ...counts, pendingRefreshes: refresher.pending(), listeners: emitter.count() }
    },
    close() {
      if (!closing) {
        refresher.close() // what has not been sent yet is refused from now on
        closing = drain()
      }
      return closing
    },
  }
}
