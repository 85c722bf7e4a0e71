import type { LoginError } from '../errors/login-error.js'
import type { RefreshError } from '../errors/refresh-error.js'
import type { SessionRejectedError } from '../errors/session-rejected-error.js'
import type { LoginGate } from './login-gate.js'
import type { ProtocolContext } from './protocol.js'
import type {
  Outcome,
  RefreshCounts,
  RefreshErrors,
  RefreshOptions,
  SessionCallRunner,
} from './refresh-types.js'
import type { Session, TokenSet } from './session.js'
import { present } from './session-ending.js'
import { toRecord } from './session-record.js'
import type { ChangeReason, LockGrant, StoreSnapshot } from './store.js'
import type { StoreSync } from './store-sync.js'

// The renewal of a session, by refresh token or unattended login, as the refresh coordinator runs it (one at a
// time, under the store's lock). Loaded on first use: only a refresh needs it, and it makes a session call. What
// it shares with the entry (the error classes) it gets from the coordinator, not by importing it (see lazy.ts).

/** What the coordinator shares with the renewals it runs, and changes while they run. */
export interface RenewalState {
  /** > 0 while a logout is clearing: renewals finish, but never write. */
  stopped: number
  /**
   * The renewal under way: told to stop retrying as soon as the version it renews is replaced (login, logout,
   * another instance); a request it already sent is allowed to finish, so that the session it obtained can be ended.
   */
  renewing: { version: number; stop: AbortController } | undefined
  /** What renewals obtained while a logout was clearing: the logout ends them on the server. */
  orphans: Session[]
}

/** What a renewal needs from the refresh coordinator. */
export interface RenewalContext<Credentials> {
  readonly options: RefreshOptions<Credentials>
  readonly sync: StoreSync
  readonly counts: RefreshCounts
  readonly gate: LoginGate
  readonly state: RenewalState
  /** Aborted by close(): a wait for the store's lock is given up. */
  readonly closed: AbortSignal
  /** The refresh tokens presented (see `present` in session-ending.ts). */
  readonly presented: Set<string>
  /** The error classes a renewal throws and recognises. */
  readonly errors: RefreshErrors
  call: SessionCallRunner
  canLogIn(): boolean
  /** End a session nobody will use, in the background. */
  retire(session: Session): void
}

/**
 * Renew the session at `fromVersion` (a task of the coordinator's queue); `claims`: a claims challenge's request,
 * handed to the protocol's refresh or login (see ProtocolContext).
 */
export type Renewal = (fromVersion: number, claims?: string) => Promise<Outcome>

export function createRenewal<Credentials>(context: RenewalContext<Credentials>): Renewal {
  const { options, sync, counts, gate, state, closed, presented, call, canLogIn, errors } = context
  const { ClosedError, LoginError, RefreshError, SessionExpiredError, SessionRejectedError, leaseEnded } =
    errors
  const { store, protocol, credentials, refreshTimeoutMs, now, issuer } = options

  // Tell an instrumentation of a session call as it starts (see `watchCall`).
  function watched<T>(kind: 'login' | 'refresh', promise: Promise<T>): Promise<T> {
    options.watchCall?.(kind, promise)
    return promise
  }

  function outcomeNow(): Outcome {
    return sync.snapshot?.record ? 'renewed' : 'dead'
  }

  function drop(tokens: TokenSet): void {
    if (state.stopped > 0) state.orphans.push(tokens.session)
    else context.retire(tokens.session)
  }

  // The context a session call answering a claims challenge carries the claims in.
  let claims: string | undefined
  const withClaims = (context: ProtocolContext): ProtocolContext =>
    claims === undefined ? context : { ...context, claims }

  async function unattendedLogin(stop: AbortSignal, until: number | undefined): Promise<TokenSet> {
    const blocked = gate.blocked()
    if (blocked) throw blocked
    if (!credentials) throw new SessionRejectedError(undefined)
    // Not a failed login (no backoff for it): this instance's lock lease ended while it was suspended.
    if (until !== undefined && Date.now() + refreshTimeoutMs > until) throw leaseEnded()
    try {
      // The credentials callback counts against the same deadline: a hanging secret store cannot hold the lock.
      const tokens = await call(
        undefined,
        async (context) => watched('login', protocol.login(await credentials(), withClaims(context))),
        stop,
        until,
      )
      counts.logins++
      gate.reset()
      return tokens
    } catch (error) {
      if (stop.aborted || error instanceof ClosedError) throw error // no failed login: no backoff
      throw gate.failed(loginFailure(error))
    }
  }

  // What the callers of a failed unattended login get: refused credentials are a LoginError with the server's
  // status; anything else is a login that could not complete, a RefreshError.
  function loginFailure(error: unknown): LoginError | RefreshError {
    if (!(error instanceof SessionRejectedError))
      return error instanceof RefreshError ? error : new RefreshError(error)
    const status = error.status
    return new LoginError(status, {
      cause: error.cause ?? error,
      message: `Unattended login was refused${status === undefined ? '' : ` with status ${status}`}: check the credentials`,
    })
  }

  async function runRefresh(fromVersion: number, asked?: string): Promise<Outcome> {
    claims = asked // one renewal at a time (the coordinator's queue)
    // A queued trigger whose token is already stale does not call the server.
    const queued = sync.snapshot
    if (queued && queued.version !== fromVersion) return outcomeNow()
    if (state.stopped > 0) return 'dead'
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
  async function keep(tokens: TokenSet, latest: StoreSnapshot, reason: ChangeReason): Promise<Outcome> {
    if (state.stopped > 0) {
      drop(tokens) // the logout under way ends it on the server
      // The stored refresh token is spent: clear the store now, under the lock this renewal holds, so that a
      // sibling waiting for the lock does not present it (the logout clears the store anyway).
      if (reason === 'refresh') await sync.write(undefined, latest.version, 'logout').catch(() => false)
      return 'dead'
    }
    if (!(await sync.write(toRecord(tokens, now(), issuer), latest.version, reason))) drop(tokens)
    return outcomeNow()
  }

  async function renew(latest: StoreSnapshot, until: number | undefined): Promise<Outcome> {
    const record = latest.record
    const current = { version: latest.version, stop: new AbortController() }
    const stop = current.stop.signal
    state.renewing = current
    try {
      if (record?.session.refresh_token) {
        const refreshToken = record.session.refresh_token
        let tokens: TokenSet
        const refresh = (context: ProtocolContext) => {
          counts.refreshes++ // a call that starts (not one refused for the lease)
          present(presented, refreshToken)
          return watched('refresh', protocol.refresh(record.session, withClaims(context)))
        }
        try {
          tokens = await call(undefined, refresh, stop, until)
        } catch (error) {
          presented.delete(refreshToken) // no session came back for it (see present)
          if (!(error instanceof SessionRejectedError)) {
            if (stop.aborted) return state.stopped > 0 ? 'dead' : outcomeNow() // replaced meanwhile
            if (error instanceof ClosedError) throw error
            throw new RefreshError(error)
          }
          return await afterRejection(latest, stop, error, until)
        }
        return await keep(tokens, latest, 'refresh')
      }
      if (canLogIn()) {
        // No session yet (or one that cannot be refreshed, e.g. client credentials): log in.
        return await loginFor(latest, stop, until)
      }
      // Nothing can renew it (no refresh token, no credentials): after a 401 the session is dead.
      if (record) return await afterRejection(latest, stop, undefined, until)
      return outcomeNow()
    } finally {
      if (state.renewing === current) state.renewing = undefined
    }
  }

  // An unattended login in place of `latest`; a refused one ends the session and fails the waiting calls.
  async function loginFor(
    latest: StoreSnapshot,
    stop: AbortSignal,
    until: number | undefined,
  ): Promise<Outcome> {
    let tokens: TokenSet
    try {
      tokens = await unattendedLogin(stop, until)
    } catch (error) {
      if (stop.aborted) return state.stopped > 0 ? 'dead' : outcomeNow()
      if (error instanceof LoginError) {
        // Refused credentials: the session (if any) is gone, and everyone is told once.
        if (!latest.record || !(await sync.write(undefined, latest.version, 'expired', expiry(error)))) {
          sync.announceExpired(expiry(error))
        }
      }
      throw error
    }
    return keep(tokens, latest, 'login')
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
    if (!adopted || adopted.version !== latest.version || state.stopped > 0) return outcomeNow()
    if (latest.record && canLogIn()) {
      try {
        const tokens = await unattendedLogin(stop, until)
        return await keep(tokens, latest, 'login')
      } catch (error) {
        if (stop.aborted) return state.stopped > 0 ? 'dead' : outcomeNow()
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

  return runRefresh
}

function expiry(error: LoginError) {
  return { reason: 'login_rejected' as const, error }
}
