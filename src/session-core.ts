import PQueue from 'p-queue'
import { abortable, withDeadline } from './abort.js'
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
import type { ProtocolContext } from './protocol.js'
import { type Grant, refreshDueAt, type Session, type SessionRecord, toRecord } from './session.js'
import type { ChangeReason, StoreSnapshot } from './store.js'

type Outcome = 'renewed' | 'dead'

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
  const { store, protocol, now, credentials, refreshWindowMs, refreshTimeoutMs } = options
  const writer = Math.random().toString(36).slice(2)
  const queue = new PQueue({ concurrency: 1 })
  const emitter = createEmitter()
  const counts = { refreshes: 0, logins: 0, replays: 0 }
  const authorizes = createAuthorizer(options.allowedOrigins, protocol)

  let snap: StoreSnapshot | undefined
  let loading: Promise<void> | undefined
  let inflight: { version: number; promise: Promise<Outcome> } | undefined
  let unsubscribe: (() => void) | undefined
  let loggedOut = false // after logout(), no unattended login until login() is called again
  let epoch = 0 // bumped by logout: a refresh that started before never writes after
  // The session call renewing `version`: aborted as soon as that version is replaced (login, logout, another
  // instance), so that its retries never present tokens the client already knows are stale.
  let renewing: { version: number; controller: AbortController } | undefined
  let ending: Promise<void> | undefined // logout() clearing the session

  // Resolves with the latest snapshot (not the first one read): callers act on what is current.
  async function load(): Promise<StoreSnapshot> {
    if (snap) return snap
    loading ??= (async () => {
      const first = await store.read()
      adopt(first, 'local')
      unsubscribe ??= store.subscribe?.((next) => adopt(next, 'store'))
    })().catch((error: unknown) => {
      loading = undefined
      throw error
    })
    await loading
    return snap as unknown as StoreSnapshot
  }

  // Take a snapshot if it is newer than ours; announce changes other instances made. A fresh read of the store
  // (the refresh path) below our version but not empty means the store lost its data (Redis restarted without
  // persistence) and a sibling wrote since: that session is the live one, and ours may hold rotated-out tokens.
  function adopt(next: StoreSnapshot, source: 'local' | 'store', freshRead = false): void {
    const rewritten = freshRead && snap !== undefined && next.version > 0 && next.version < snap.version
    if (snap !== undefined && next.version <= snap.version && !rewritten) return
    const hadSnapshot = snap !== undefined
    snap = next
    if (renewing && renewing.version !== next.version) renewing.controller.abort()
    if (next.writer !== writer) {
      // Another instance's logout ends unattended logins here too, until a login anywhere (issue 6) - also when
      // this instance first reads it (it had not loaded yet when the other logged out).
      if (next.reason === 'logout') loggedOut = true
      else if (next.reason === 'login') loggedOut = false
    }
    if (source === 'store' && hadSnapshot && next.reason && next.writer !== writer) {
      announce(next.reason, next, 'store')
    }
  }

  function announce(reason: ChangeReason, next: StoreSnapshot, source: 'local' | 'store'): void {
    if (reason === 'login' || reason === 'refresh') {
      if (next.record) emitter.emit(reason, { session: next.record.session, source })
    } else emitter.emit(reason, { source })
  }

  async function write(
    grantOrNothing: Grant | undefined,
    expected: number,
    reason: ChangeReason,
  ): Promise<boolean> {
    const change = { record: grantOrNothing && toRecord(grantOrNothing, now()), reason, writer }
    let written = await store.write(change, expected)
    if (!written) {
      const current = await store.read()
      if (current.version >= expected) {
        adopt(current, 'store')
        return false
      }
      // Below a version it already had: the store lost its data (a restart without persistence, cleared site
      // data). What we write is the newest session there is, so write it over what is there now, once.
      written = await store.write(change, current.version)
      snap = written ?? (await store.read()) // the reset store is the truth now, even below our old version
      if (!written) return false
    } else adopt(written, 'local')
    announce(reason, written, 'local')
    return true
  }

  // Login and logout win over whatever was written meanwhile, so they retry the compare-and-set (a bounded
  // number of times: a store whose reads never catch up with its writes is broken, and we say so).
  async function overwrite(grant: Grant | undefined, reason: ChangeReason): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const current = snap ?? (await load())
      if (await write(grant, current.version, reason)) return
    }
    throw new Error(`The session store kept refusing the ${reason} write (compare-and-set never matched)`)
  }

  function context(signal: AbortSignal, deadline: number): ProtocolContext {
    return { fetch: options.fetch, signal, deadline }
  }

  async function unattendedLogin(superseded?: AbortSignal): Promise<Grant> {
    if (!credentials) throw new SessionRejectedError(undefined)
    // The credentials callback counts against the same deadline: a hanging secret store cannot hold the lock.
    const grant = await withDeadline(refreshTimeoutMs, superseded, async (signal, deadline) =>
      protocol.login(await credentials(), context(signal, deadline)),
    )
    counts.logins++
    return grant
  }

  function outcomeNow(): Outcome {
    return snap?.record ? 'renewed' : 'dead'
  }

  function startRefresh(fromVersion: number): Promise<Outcome> {
    if (inflight?.version === fromVersion) return inflight.promise
    const promise = queue.add(() => runRefresh(fromVersion))
    const entry = { version: fromVersion, promise }
    inflight = entry
    const settle = () => {
      if (inflight === entry) inflight = undefined
    }
    promise.then(settle, settle)
    return promise
  }

  async function runRefresh(fromVersion: number): Promise<Outcome> {
    // A queued trigger whose token is already stale does not call the server.
    if (snap && snap.version !== fromVersion) return outcomeNow()
    const startEpoch = epoch
    const underLock = async (): Promise<Outcome> => {
      // Another instance sharing the store may have renewed (or ended) the session already.
      adopt(await store.read(), 'store', true)
      if (!snap || snap.version !== fromVersion) return outcomeNow()
      return renew(snap, startEpoch)
    }
    try {
      if (!store.lock) return await underLock()
      return await store.lock(underLock, { leaseMs: refreshTimeoutMs * 2 + 1_000 })
    } catch (error) {
      // A store that failed (Redis unreachable) is a refresh that could not complete: the session is kept, and
      // a token that has not expired yet is still sent.
      throw error instanceof RefreshError ? error : new RefreshError(error)
    }
  }

  async function renew(latest: StoreSnapshot, startEpoch: number): Promise<Outcome> {
    const record = latest.record
    let grant: Grant
    let reason: ChangeReason = 'refresh'
    const current = { version: latest.version, controller: new AbortController() }
    const superseded = current.controller.signal
    renewing = current
    try {
      if (record?.session.refresh_token) {
        counts.refreshes++
        grant = await withDeadline(refreshTimeoutMs, superseded, (signal, deadline) =>
          protocol.refresh(record.session, context(signal, deadline)),
        )
      } else if (credentials && !loggedOut) {
        // No session yet (or one that cannot be refreshed, e.g. client credentials): log in.
        grant = await unattendedLogin(superseded)
        reason = 'login'
      } else if (record) {
        // Nothing can renew it (no refresh token, no credentials): after a 401 the session is dead.
        return await afterRejection(latest, startEpoch, superseded)
      } else return outcomeNow()
    } catch (error) {
      if (superseded.aborted) return outcomeNow() // the session was replaced meanwhile: that is the outcome
      if (!(error instanceof SessionRejectedError)) throw new RefreshError(error)
      return await afterRejection(latest, startEpoch, superseded) // still `renewing`: a logout aborts its login
    } finally {
      if (renewing === current) renewing = undefined
    }
    if (epoch !== startEpoch) return outcomeNow() // logout began meanwhile: never bring the session back
    await write(grant, latest.version, reason)
    return outcomeNow()
  }

  async function afterRejection(
    latest: StoreSnapshot,
    startEpoch: number,
    superseded: AbortSignal,
  ): Promise<Outcome> {
    // A sibling may have rotated the tokens while we presented the old refresh token: adopt its session.
    adopt(await store.read(), 'store', true)
    if (!snap || snap.version !== latest.version || epoch !== startEpoch) return outcomeNow()
    if (latest.record && credentials && !loggedOut) {
      try {
        const grant = await unattendedLogin(superseded)
        if (epoch !== startEpoch) return outcomeNow()
        await write(grant, latest.version, 'login')
        return outcomeNow()
      } catch (error) {
        if (superseded.aborted) return outcomeNow()
        if (!(error instanceof SessionRejectedError)) throw new RefreshError(error)
      }
    }
    if (latest.record) await write(undefined, latest.version, 'expired')
    return outcomeNow()
  }

  function currentToken(): string | undefined {
    return snap?.record?.session.access_token
  }

  // After a proactive refresh failed, a token that has not expired yet is still worth sending.
  function stillValid(token: string | undefined, error: unknown): string | undefined {
    const record = snap?.record
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
    await load()
    epoch++
    loggedOut = true
    renewing?.controller.abort() // a refresh or unattended login under way stops retrying: it would only be dropped
    const ended = snap?.record
    if (ended) await overwrite(undefined, 'logout')
    return ended
  }

  function token(signal?: AbortSignal): string | undefined | Promise<string | undefined> {
    if (ending) return abortable(ending, signal).then(() => token(signal))
    if (snap === undefined) return abortable(load(), signal).then(() => token(signal))
    if (inflight) return waitThenToken(inflight.promise, signal, currentToken())
    const record = snap.record
    if (!record) {
      if (!credentials || loggedOut) return undefined
      return abortable(startRefresh(snap.version), signal).then(currentToken)
    }
    if (now() < refreshDueAt(record, refreshWindowMs)) return record.session.access_token
    // Nothing can renew this session before it expires (no refresh token, no credentials): send it as it is.
    if (!record.session.refresh_token && !(credentials && !loggedOut)) return record.session.access_token
    return waitThenToken(startRefresh(snap.version), signal, record.session.access_token)
  }

  async function rejected(sent: string, signal?: AbortSignal): Promise<string | undefined> {
    if (ending) await abortable(ending, signal)
    if (snap === undefined) await abortable(load(), signal)
    if (inflight) await abortable(inflight.promise, signal)
    const current = snap?.record
    if (!current) return undefined
    // A 401 for an older token: the current one has not been tried yet, so replay with it without refreshing,
    // unless it is itself due (then the replay waits for its refresh like any request made now).
    if (current.session.access_token !== sent) return token(signal)
    await abortable(startRefresh(snap?.version ?? 0), signal)
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
      await load()
      let grant: Grant
      try {
        grant = await withDeadline(refreshTimeoutMs, callOptions.signal, (signal, deadline) =>
          protocol.login(supplied, context(signal, deadline)),
        )
      } catch (error) {
        throw toLoginError(error, callOptions.signal)
      }
      counts.logins++
      loggedOut = false
      await overwrite(grant, 'login')
      return grant.session
    },
    refresh(callOptions = {}) {
      // Registers the refresh synchronously when the session is loaded, so calls made right after wait for it.
      const begin = (): Promise<unknown> => {
        if (inflight) return inflight.promise
        const current = snap as StoreSnapshot
        if (!current.record && !(credentials && !loggedOut)) {
          return Promise.reject(new SessionExpiredError('no_session'))
        }
        return startRefresh(current.version)
      }
      const running = snap ? begin() : load().then(begin)
      return abortable(running, callOptions.signal).then(() => {
        const session = snap?.record?.session
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
        await withDeadline(refreshTimeoutMs, callOptions.signal, (signal, deadline) =>
          end(ended.session, context(signal, deadline)),
        )
      } catch (error) {
        if (callOptions.signal?.aborted && error === callOptions.signal.reason) throw error
        throw new LogoutError(error)
      }
    },
    async getSession() {
      await load()
      return snap?.record?.session
    },
    on: emitter.on,
    stats() {
      return { ...counts, pendingRefreshes: queue.size + queue.pending, listeners: emitter.count() }
    },
    close() {
      unsubscribe?.()
      unsubscribe = undefined
    },
  }
}

function toLoginError(error: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted && error === signal.reason) return error
  if (error instanceof SessionFetchError && error.code === 'invalid_option') return error
  const cause = error instanceof SessionRejectedError ? error.cause : error
  const status = cause instanceof ResponseError ? cause.status : undefined
  return new LoginError(status, { cause })
}
