import { ClosedError } from '../errors/closed-error.js'
import { LoginError } from '../errors/login-error.js'
import { RefreshError } from '../errors/refresh-error.js'
import { SessionExpiredError } from '../errors/session-expired-error.js'
import { SessionRejectedError } from '../errors/session-rejected-error.js'
import { leaseEnded, withDeadline } from './abort.js'
import { lazy, preload } from './lazy.js'
import { type LazyQueue, lazyQueue, preloadQueue } from './lazy-queue.js'
import { createLoginGate, type LoginGate } from './login-gate.js'
import type { ProtocolContext } from './protocol.js'
import type {
  Outcome,
  RefreshCounts,
  RefreshErrors,
  RefreshOptions,
  RefreshTrigger,
  SessionCallRunner,
} from './refresh-types.js'
import type { Renewal, RenewalState } from './renewal.js'
import type { Session } from './session.js'
import type { EndingContext } from './session-ending.js'
import { preloadLogin } from './shared-login.js'
import type { StoreSync } from './store-sync.js'

/**
 * One refresh at a time per instance (a p-queue of concurrency 1), coalesced per store version, under the
 * store's lock when it has one: the renewal of a session, by refresh token or unattended login (`renewal.ts`),
 * and the session calls that end sessions (`session-ending.ts`). Both are loaded on first use, like p-queue.
 */
export interface RefreshCoordinator {
  /** The refresh queued or running now, if any. */
  readonly inflight: Promise<Outcome> | undefined
  /**
   * Whether requests must wait for the refresh in flight: it was started by a 401, `refresh()`, a token inside
   * its must-refresh margin or a login. A refresh-ahead (the token is still good) lets them go with it. Read it
   * only while `inflight` is set: it keeps the last refresh's value.
   */
  readonly urgent: boolean
  /**
   * Renew the session at `fromVersion`; callers asking for the same version share one refresh. `trigger` says why
   * (see {@link RefreshTrigger}): every trigger but a refresh-ahead is urgent, and an urgent caller makes a shared
   * refresh urgent. `claims`: a claims challenge's request, sent with the refresh this call starts (one it joins
   * goes as it was started).
   */
  start(fromVersion: number, trigger?: RefreshTrigger, claims?: string): Promise<Outcome>
  /** The snapshot moved to `version`: the renewal of another version stops retrying, and its token set is dropped. */
  supersede(version: number): void
  /**
   * A logout began: no renewal writes a session from now on (one that rotated the stored refresh token clears
   * the store). Resolves, once the renewals under way have settled, with the sessions they obtained (never
   * written: the logout ends them on the server).
   */
  stop(): Promise<Session[]>
  /** A logout finished clearing: renewals may write again. */
  resume(): void
  /** Refreshes waiting in the queue or running now. */
  pending(): number
  /**
   * One session call through the protocol, bounded by `refreshTimeoutMs` and aborted with `outer`; `stop` ends
   * retries without abandoning a request already sent (its answer is not lost). Under a lock whose lease ends at
   * `until`, it starts only if it can end by then.
   */
  call: SessionCallRunner
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
  /** End a session this instance dropped, with its access token only, in the background (best effort). */
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
  const { protocol, credentials, refreshTimeoutMs } = options
  // The queue and the login gate are made by the first refresh (a gate that never saw a failure blocks nothing).
  let queue: LazyQueue | undefined
  let gate: LoginGate | undefined
  let version: number | undefined // the store version the refresh in flight renews
  const state: RenewalState = { stopped: 0, renewing: undefined, orphans: [] }
  // Aborted by close(): the waits for the store's lock end, and no refresh or login is sent after it. Like the
  // sets below, made on first use: most clients of a pool never refresh, log out or close.
  let closing: AbortController | undefined
  const closed = () => {
    closing ??= new AbortController()
    return closing.signal
  }
  let ending: Set<Promise<unknown>> | undefined // logouts under way (background ones too), drained by close()
  let endingContext: EndingContext | undefined // with the refresh tokens this instance presented
  const shared = () => (endingContext ??= { protocol, send, presented: new Set() })
  let renewal: Renewal | undefined // created once its code has loaded
  preload(preloadRefresh) // the first refresh rarely waits for it

  function call<T>(
    outer: AbortSignal | undefined,
    run: (context: ProtocolContext) => Promise<T>,
    stop?: AbortSignal,
    until?: number,
  ): Promise<T> {
    return closing?.signal.aborted ? Promise.reject(new ClosedError()) : send(outer, run, stop, until)
  }

  function send<T>(
    outer: AbortSignal | undefined,
    run: (context: ProtocolContext) => Promise<T>,
    stop?: AbortSignal,
    until = Infinity,
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
    return credentials !== undefined && state.stopped === 0 && !sync.loggedOut()
  }

  // Ending sessions is loaded on first use (with the session call it makes): a failed load fails like that call.
  function end(session: Session, outer: AbortSignal | undefined): Promise<void> {
    return loadEnding().then((module) => module.end(shared(), session, outer))
  }

  function retire(session: Session): void {
    track(loadEnding().then((module) => module.retire(shared(), session))).catch(() => undefined)
  }

  function track<T>(promise: Promise<T>): Promise<T> {
    const settled = promise.catch(() => undefined)
    ending ??= new Set()
    const set = ending
    set.add(settled)
    settled.then(() => set.delete(settled))
    return promise
  }

  // The renewal's code is loaded on first use; a failed load is a refresh that could not complete.
  function renew(fromVersion: number, claims: string | undefined): Promise<Outcome> {
    if (renewal) return renewal(fromVersion, claims)
    return loadRenewal().then(
      (module) => {
        gate ??= createLoginGate(options.loginBackoff, options.now)
        renewal ??= module.createRenewal({
          options,
          sync,
          counts,
          gate,
          state,
          closed: closed(),
          presented: shared().presented,
          errors: ERRORS,
          call,
          canLogIn,
          retire,
        })
        return renewal(fromVersion, claims)
      },
      (error: unknown) => {
        throw new RefreshError(error)
      },
    )
  }

  function start(fromVersion: number, trigger: RefreshTrigger = 1, claims?: string): Promise<Outcome> {
    if (self.inflight && version === fromVersion) {
      if (trigger) self.urgent = true
      return self.inflight
    }
    if (closing?.signal.aborted) return Promise.reject(new ClosedError())
    queue ??= lazyQueue()
    const promise = queue.add(() => renew(fromVersion, claims))
    version = fromVersion
    self.inflight = promise
    self.urgent = trigger > 0
    const settle = () => {
      if (self.inflight === promise) self.inflight = undefined
    }
    promise.then(settle, settle)
    return promise
  }

  // Plain properties, written by start(): getters would make this object a dictionary (0.8 kB more per client).
  const self: { -readonly [K in keyof RefreshCoordinator]: RefreshCoordinator[K] } = {
    inflight: undefined,
    urgent: false,
    start,
    supersede(version) {
      if (state.renewing && state.renewing.version !== version) state.renewing.stop.abort()
    },
    async stop() {
      state.stopped++
      state.renewing?.stop.abort() // no more retries: a refresh or login under way finishes its request, then yields
      await queue?.onIdle()
      const orphans = state.orphans
      state.orphans = []
      return orphans
    },
    resume() {
      state.stopped--
    },
    pending: () => queue?.count() ?? 0,
    call,
    canLogIn,
    loginBlocked: () => gate?.blocked(),
    loggedIn: () => gate?.reset(),
    end,
    retire,
    close() {
      closing ??= new AbortController()
      closing.abort(new ClosedError())
    },
    track,
    async drain() {
      // What is queued gives up at once; the renewal under way (its call sent, or about to be refused) settles.
      await queue?.onIdle()
      while (ending?.size) await Promise.allSettled(ending)
    },
  }
  return self
}

const ERRORS: RefreshErrors = {
  ClosedError,
  LoginError,
  RefreshError,
  SessionExpiredError,
  SessionRejectedError,
  leaseEnded,
}

const loadRenewal = lazy(() => import('./renewal.js'))
const loadEnding = lazy(() => import('./session-ending.js'))

/**
 * Load what a refresh, a login or a logout needs now, in the background (p-queue, the renewal, the login call,
 * ending sessions): it is kept out of the entry bundle. Shared by every instance; a failed load is tried again
 * on next use.
 */
export function preloadRefresh(): Promise<unknown> {
  return Promise.all([preloadQueue(), loadRenewal(), preloadLogin(), loadEnding()])
}
