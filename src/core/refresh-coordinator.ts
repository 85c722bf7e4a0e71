import { ClosedError } from '../errors/closed-error.js'
import { LoginError } from '../errors/login-error.js'
import { RefreshError } from '../errors/refresh-error.js'
import { SessionExpiredError } from '../errors/session-expired-error.js'
import { SessionRejectedError } from '../errors/session-rejected-error.js'
import { withDeadline } from './abort.js'
import { lazyQueue } from './lazy-queue.js'
import { createLoginGate } from './login-gate.js'
import type { ResolvedOptions } from './options.js'
import type { ProtocolContext } from './protocol.js'
import type { Grant, Session } from './session.js'
import type { ChangeReason, LockGrant, StoreSnapshot } from './store.js'
import type { StoreSync } from './store-sync.js'

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
 * One refresh at a time per instance (a p-queue of concurrency 1), coalesced per store version, under the
 * store's lock when it has one: the renewal of a session, by refresh token or unattended login.
 */
export interface RefreshCoordinator {
  /** The refresh queued or running now, if any. */
  readonly inflight: Promise<Outcome> | undefined
  /**
   * Whether requests must wait for the refresh in flight: it was started by a 401, `refresh()`, a token inside
   * its must-refresh margin or a login. A refresh-ahead (the token is still good) lets them go with it.
   */
  readonly urgent: boolean
  /**
   * Renew the session at `fromVersion`; callers asking for the same version share one refresh. `urgent: false`
   * for a refresh-ahead; an urgent caller makes a shared one urgent.
   */
  start(fromVersion: number, urgent?: boolean): Promise<Outcome>
  /** The snapshot moved to `version`: the renewal of another version stops retrying, and its grant is dropped. */
  supersede(version: number): void
  /**
   * A logout began: no renewal writes a session from now on (one that rotated the stored refresh token clears
   * the store). Resolves, once the renewals under way have settled, with the sessions they obtained (never
   * written: the logout ends them on the server) and the refresh tokens they saw rotated (which must not be
   * presented again).
   */
  stop(): Promise<{ orphans: Session[]; presented: ReadonlySet<string> }>
  /** A logout finished clearing: renewals may write again. */
  resume(): void
  /** Refreshes waiting in the queue or running now. */
  pending(): number
  /**
   * One session call through the protocol, bounded by `refreshTimeoutMs` and aborted with `outer`; `stop` ends
   * retries without abandoning a request already sent (its answer is not lost). Under a lock whose lease ends at
   * `until`, it starts only if it can end by then.
   */
  call<T>(
    outer: AbortSignal | undefined,
    run: (context: ProtocolContext) => Promise<T>,
    stop?: AbortSignal,
    until?: number,
  ): Promise<T>
  /** Whether the session can log in unattended now: `credentials` given, and no logout since the last login. */
  canLogIn(): boolean
  /** The error a call gets at once while unattended logins back off after a failure, else undefined. */
  loginBlocked(): LoginError | RefreshError | undefined
  /** An explicit login succeeded: unattended logins start over without a backoff. */
  loggedIn(): void
  /**
   * End `session` on the server (the protocol's logout). A refresh token this instance saw rotated (its refresh
   * brought a session back) is never sent again: such a session is ended with its access token only.
   */
  end(session: Session, outer: AbortSignal | undefined): Promise<void>
  /** {@link end} in the background, for a session this instance dropped (best effort, never awaited). */
  retire(session: Session): void
  /**
   * The client is closing: no session call starts from now on (they reject with ClosedError, and a wait for the
   * store's lock is given up), except the logouts that end sessions.
   */
  close(): void
  /** A logout under way, awaited by {@link drain}. */
  track<T>(logout: Promise<T>): Promise<T>
  /**
   * Resolves once the renewals under way (their calls sent, and the writes of what they obtained) and the logouts
   * have settled.
   */
  drain(): Promise<void>
}

export function createRefreshCoordinator<Credentials>(
  options: RefreshOptions<Credentials>,
  sync: StoreSync,
  counts: RefreshCounts,
): RefreshCoordinator {
  const { store, protocol, credentials, refreshTimeoutMs } = options
  const queue = lazyQueue()
  const gate = createLoginGate(options.loginBackoff, options.now)
  let inflight: { version: number; promise: Promise<Outcome>; urgent: boolean } | undefined
  let stopped = 0 // > 0 while a logout is clearing: renewals finish, but never write
  // The renewal under way: told to stop retrying as soon as the version it renews is replaced (login, logout,
  // another instance); a request it already sent is allowed to finish, so that its grant can be ended.
  let renewing: { version: number; stop: AbortController } | undefined
  let orphans: Session[] = []
  const presented = new Set<string>()
  // Aborted by close(): the waits for the store's lock end, and no refresh or login is sent after it.
  const closing = new AbortController()
  const closed = closing.signal
  const ending = new Set<Promise<unknown>>() // logouts under way (background ones too), drained by close()

  function call<T>(
    outer: AbortSignal | undefined,
    run: (context: ProtocolContext) => Promise<T>,
    stop?: AbortSignal,
    until?: number,
  ): Promise<T> {
    return closed.aborted ? Promise.reject(new ClosedError()) : send(outer, run, stop, until)
  }

  function send<T>(
    outer: AbortSignal | undefined,
    run: (context: ProtocolContext) => Promise<T>,
    stop?: AbortSignal,
    until = Number.POSITIVE_INFINITY,
  ): Promise<T> {
    // Past its lease another instance may hold the lock and present the same refresh token: a holder that was
    // frozen (a background tab) and resumes late sends nothing.
    if (Date.now() + refreshTimeoutMs > until) return Promise.reject(leaseEnded())
    return withDeadline(refreshTimeoutMs, outer, (signal, deadline) => {
      const context: ProtocolContext = { fetch: options.fetch, signal, deadline }
      if (stop) context.stop = stop
      return run(context)
    })
  }

  function canLogIn(): boolean {
    return credentials !== undefined && stopped === 0 && !sync.loggedOut
  }

  function outcomeNow(): Outcome {
    return sync.snapshot?.record ? 'renewed' : 'dead'
  }

  async function end(session: Session, outer: AbortSignal | undefined, mayRenew = true): Promise<void> {
    const logout = protocol.logout
    if (!logout) return
    const ended: Session = { ...session }
    if (session.refresh_token) {
      if (!mayRenew || presented.has(session.refresh_token)) delete ended.refresh_token
      else present(session.refresh_token) // a logout may renew with it once: it is spent after that
    }
    // Also once closed: a logout only ends a session, and one under way when close() was called completes.
    await send(outer, (context) => logout.call(protocol, ended, context))
  }

  // A session nobody will use (replaced by a login, or a grant whose write lost): end it on the server with its
  // access token only. Its refresh token is never presented: another instance may be refreshing with it right
  // now, outside any lock this instance holds, and presenting it twice would trip the server's reuse detection.
  function retire(session: Session): void {
    track(end(session, undefined, false)).catch(() => undefined)
  }

  function track<T>(promise: Promise<T>): Promise<T> {
    const settled = promise.catch(() => undefined)
    ending.add(settled)
    settled.then(() => ending.delete(settled))
    return promise
  }

  // Refresh tokens presented to the server whose answer was a session: the server rotated them, so they are never
  // presented again (a logout ends such a session with its access token only). A refresh that brought no session
  // back (an error status, a network error, a timeout) takes its token off the list: the client cannot tell an
  // answer that was lost from a request that never arrived, the next refresh presents that token again, and so
  // may a logout's renewal, which is then the only way to end the session on the server.
  function present(refreshToken: string): void {
    presented.add(refreshToken)
    if (presented.size > 32) presented.delete(presented.values().next().value as string)
  }

  function drop(grant: Grant): void {
    if (stopped > 0) orphans.push(grant.session)
    else retire(grant.session)
  }

  async function unattendedLogin(stop: AbortSignal, until: number | undefined): Promise<Grant> {
    const blocked = gate.blocked()
    if (blocked) throw blocked
    if (!credentials) throw new SessionRejectedError(undefined)
    // Not a failed login (no backoff for it): this instance's lock lease ended while it was suspended.
    if (until !== undefined && Date.now() + refreshTimeoutMs > until) throw leaseEnded()
    try {
      // The credentials callback counts against the same deadline: a hanging secret store cannot hold the lock.
      const grant = await call(
        undefined,
        async (context) => protocol.login(await credentials(), context),
        stop,
        until,
      )
      counts.logins++
      gate.reset()
      return grant
    } catch (error) {
      if (stop.aborted || error instanceof ClosedError) throw error // no failed login: no backoff
      throw gate.failed(error)
    }
  }

  function start(fromVersion: number, urgent = true): Promise<Outcome> {
    if (inflight?.version === fromVersion) {
      if (urgent) inflight.urgent = true
      return inflight.promise
    }
    if (closed.aborted) return Promise.reject(new ClosedError())
    const promise = queue.add(() => runRefresh(fromVersion))
    const entry = { version: fromVersion, promise, urgent }
    inflight = entry
    const settle = () => {
      if (inflight === entry) inflight = undefined
    }
    promise.then(settle, settle)
    return promise
  }

  async function runRefresh(fromVersion: number): Promise<Outcome> {
    // A queued trigger whose token is already stale does not call the server.
    const queued = sync.snapshot
    if (queued && queued.version !== fromVersion) return outcomeNow()
    if (stopped > 0) return 'dead'
    let until: number | undefined
    const underLock = async (grant?: LockGrant): Promise<Outcome> => {
      until = grant?.until
      // Another instance sharing the store may have renewed (or ended) the session already.
      sync.adopt(await store.read(), 'store', true)
      const latest = sync.snapshot
      if (!latest || latest.version !== fromVersion) return outcomeNow()
      return renew(latest, until)
    }
    try {
      if (!store.lock) return await underLock()
      const lock = store.lock.bind(store)
      const options = { leaseMs: refreshTimeoutMs * 2 + 1_000, signal: closed }
      try {
        return await lock(underLock, options)
      } catch (error) {
        // The lease ran out while this instance held the lock (its tab was frozen): another may have taken over
        // and renewed. Queue for the lock once more and look at the store again.
        if (until !== undefined && Date.now() >= until) return await lock(underLock, options)
        throw error
      }
    } catch (error) {
      // A store that failed (Redis unreachable) is a refresh that could not complete: the session is kept, and
      // a token that has not expired yet is still sent. A refused unattended login is the caller's answer.
      if (error instanceof RefreshError || error instanceof LoginError || error instanceof ClosedError)
        throw error
      throw new RefreshError(error)
    }
  }

  // Write what a renewal obtained, unless a logout began or another writer got there first: then end it.
  async function keep(grant: Grant, latest: StoreSnapshot, reason: ChangeReason): Promise<Outcome> {
    if (stopped > 0) {
      drop(grant) // the logout under way ends it on the server
      // The stored refresh token is spent: clear the store now, under the lock this renewal holds, so that a
      // sibling waiting for the lock does not present it (the logout clears the store anyway).
      if (reason === 'refresh') await sync.write(undefined, latest.version, 'logout').catch(() => false)
      return 'dead'
    }
    if (!(await sync.write(grant, latest.version, reason))) drop(grant)
    return outcomeNow()
  }

  async function renew(latest: StoreSnapshot, until: number | undefined): Promise<Outcome> {
    const record = latest.record
    const current = { version: latest.version, stop: new AbortController() }
    const stop = current.stop.signal
    renewing = current
    try {
      if (record?.session.refresh_token) {
        const refreshToken = record.session.refresh_token
        let grant: Grant
        const refresh = (context: ProtocolContext) => {
          counts.refreshes++ // a call that starts (not one refused for the lease)
          present(refreshToken)
          return protocol.refresh(record.session, context)
        }
        try {
          grant = await call(undefined, refresh, stop, until)
        } catch (error) {
          presented.delete(refreshToken) // no session came back for it (see present)
          if (!(error instanceof SessionRejectedError)) {
            if (stop.aborted) return stopped > 0 ? 'dead' : outcomeNow() // replaced meanwhile
            if (error instanceof ClosedError) throw error
            throw new RefreshError(error)
          }
          return await afterRejection(latest, stop, error, until)
        }
        return await keep(grant, latest, 'refresh')
      }
      if (canLogIn()) {
        // No session yet (or one that cannot be refreshed, e.g. client credentials): log in.
        return await loginFor(latest, stop, until)
      }
      // Nothing can renew it (no refresh token, no credentials): after a 401 the session is dead.
      if (record) return await afterRejection(latest, stop, undefined, until)
      return outcomeNow()
    } finally {
      if (renewing === current) renewing = undefined
    }
  }

  // An unattended login in place of `latest`; a refused one ends the session and fails the waiting calls.
  async function loginFor(
    latest: StoreSnapshot,
    stop: AbortSignal,
    until: number | undefined,
  ): Promise<Outcome> {
    let grant: Grant
    try {
      grant = await unattendedLogin(stop, until)
    } catch (error) {
      if (stop.aborted) return stopped > 0 ? 'dead' : outcomeNow()
      if (error instanceof LoginError) {
        // Refused credentials: the session (if any) is gone, and everyone is told once.
        if (!latest.record || !(await sync.write(undefined, latest.version, 'expired', expiry(error)))) {
          sync.announceExpired(expiry(error))
        }
      }
      throw error
    }
    return keep(grant, latest, 'login')
  }

  async function afterRejection(
    latest: StoreSnapshot,
    stop: AbortSignal,
    rejection: SessionRejectedError | undefined,
    until: number | undefined,
  ): Promise<Outcome> {
    // A sibling may have rotated the tokens while we presented the old refresh token: adopt its session.
    sync.adopt(await store.read(), 'store', true)
    const adopted = sync.snapshot
    if (!adopted || adopted.version !== latest.version || stopped > 0) return outcomeNow()
    if (latest.record && canLogIn()) {
      try {
        const grant = await unattendedLogin(stop, until)
        return await keep(grant, latest, 'login')
      } catch (error) {
        if (stop.aborted) return stopped > 0 ? 'dead' : outcomeNow()
        if (error instanceof LoginError) {
          await sync.write(undefined, latest.version, 'expired', expiry(error))
          throw error
        }
        // The refresh token is dead and the login could not complete: the session is gone all the same; the
        // next call logs in again once the backoff has passed.
        await sync.write(undefined, latest.version, 'expired', {
          reason: 'refresh_rejected',
          error: new SessionExpiredError('session_expired', { cause: rejection?.cause }),
        })
        throw error
      }
    }
    if (latest.record) {
      await sync.write(undefined, latest.version, 'expired', {
        reason: 'refresh_rejected',
        error: new SessionExpiredError('session_expired', { cause: rejection?.cause }),
      })
    }
    return outcomeNow()
  }

  return {
    get inflight() {
      return inflight?.promise
    },
    get urgent() {
      return inflight?.urgent === true
    },
    start,
    supersede(version) {
      if (renewing && renewing.version !== version) renewing.stop.abort()
    },
    async stop() {
      stopped++
      renewing?.stop.abort() // no more retries: a refresh or login under way finishes its request, then yields
      await queue.onIdle()
      const result = { orphans, presented: new Set(presented) }
      orphans = []
      return result
    },
    resume() {
      stopped--
    },
    pending: queue.count,
    call,
    canLogIn,
    loginBlocked: () => gate.blocked(),
    loggedIn: () => gate.reset(),
    end,
    retire,
    close() {
      closing.abort(new ClosedError())
    },
    track,
    async drain() {
      // What is queued gives up at once; the renewal under way (its call sent, or about to be refused) settles.
      await queue.onIdle()
      while (ending.size > 0) await Promise.allSettled(ending)
    },
  }
}

function expiry(error: LoginError) {
  return { reason: 'login_rejected' as const, error }
}

function leaseEnded(): DOMException {
  return new DOMException('The refresh lock lease has ended', 'TimeoutError')
}
