import PQueue from 'p-queue'
import { withDeadline } from './abort.js'
import { RefreshError } from './errors/refresh-error.js'
import { SessionRejectedError } from './errors/session-rejected-error.js'
import type { ResolvedOptions } from './options.js'
import type { ProtocolContext } from './protocol.js'
import type { Grant } from './session.js'
import type { ChangeReason, StoreSnapshot } from './store.js'
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
  'store' | 'protocol' | 'credentials' | 'refreshTimeoutMs' | 'fetch'
>

/**
 * One refresh at a time per instance (a p-queue of concurrency 1), coalesced per store version, under the
 * store's lock when it has one: the renewal of a session, by refresh token or unattended login.
 */
export interface RefreshCoordinator {
  /** The refresh queued or running now, if any: requests made meanwhile wait for it. */
  readonly inflight: Promise<Outcome> | undefined
  /** Renew the session at `fromVersion`; callers asking for the same version share one refresh. */
  start(fromVersion: number): Promise<Outcome>
  /** The snapshot moved to `version`: the session call renewing another version is aborted. */
  supersede(version: number): void
  /** A logout began: the session call under way is aborted, and no refresh started before it writes. */
  stop(): void
  /** Refreshes waiting in the queue or running now. */
  pending(): number
  /** One session call through the protocol, bounded by `refreshTimeoutMs` and aborted with `outer`. */
  call<T>(outer: AbortSignal | undefined, run: (context: ProtocolContext) => Promise<T>): Promise<T>
  /** Whether the session can log in unattended now: `credentials` given, and no logout since the last login. */
  canLogIn(): boolean
}

export function createRefreshCoordinator<Credentials>(
  options: RefreshOptions<Credentials>,
  sync: StoreSync,
  counts: RefreshCounts,
): RefreshCoordinator {
  const { store, protocol, credentials, refreshTimeoutMs } = options
  const queue = new PQueue({ concurrency: 1 })
  let inflight: { version: number; promise: Promise<Outcome> } | undefined
  let epoch = 0 // bumped by logout: a refresh that started before never writes after
  // The session call renewing `version`: aborted as soon as that version is replaced (login, logout, another
  // instance), so that its retries never present tokens the client already knows are stale.
  let renewing: { version: number; controller: AbortController } | undefined

  function call<T>(
    outer: AbortSignal | undefined,
    run: (context: ProtocolContext) => Promise<T>,
  ): Promise<T> {
    return withDeadline(refreshTimeoutMs, outer, (signal, deadline) =>
      run({ fetch: options.fetch, signal, deadline }),
    )
  }

  function canLogIn(): boolean {
    return credentials !== undefined && !sync.loggedOut
  }

  function outcomeNow(): Outcome {
    return sync.snapshot?.record ? 'renewed' : 'dead'
  }

  async function unattendedLogin(superseded: AbortSignal): Promise<Grant> {
    if (!credentials) throw new SessionRejectedError(undefined)
    // The credentials callback counts against the same deadline: a hanging secret store cannot hold the lock.
    const grant = await call(superseded, async (context) => protocol.login(await credentials(), context))
    counts.logins++
    return grant
  }

  function start(fromVersion: number): Promise<Outcome> {
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
    const queued = sync.snapshot
    if (queued && queued.version !== fromVersion) return outcomeNow()
    const startEpoch = epoch
    const underLock = async (): Promise<Outcome> => {
      // Another instance sharing the store may have renewed (or ended) the session already.
      sync.adopt(await store.read(), 'store', true)
      const latest = sync.snapshot
      if (!latest || latest.version !== fromVersion) return outcomeNow()
      return renew(latest, startEpoch)
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
        grant = await call(superseded, (context) => protocol.refresh(record.session, context))
      } else if (canLogIn()) {
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
    await sync.write(grant, latest.version, reason)
    return outcomeNow()
  }

  async function afterRejection(
    latest: StoreSnapshot,
    startEpoch: number,
    superseded: AbortSignal,
  ): Promise<Outcome> {
    // A sibling may have rotated the tokens while we presented the old refresh token: adopt its session.
    sync.adopt(await store.read(), 'store', true)
    const adopted = sync.snapshot
    if (!adopted || adopted.version !== latest.version || epoch !== startEpoch) return outcomeNow()
    if (latest.record && canLogIn()) {
      try {
        const grant = await unattendedLogin(superseded)
        if (epoch !== startEpoch) return outcomeNow()
        await sync.write(grant, latest.version, 'login')
        return outcomeNow()
      } catch (error) {
        if (superseded.aborted) return outcomeNow()
        if (!(error instanceof SessionRejectedError)) throw new RefreshError(error)
      }
    }
    if (latest.record) await sync.write(undefined, latest.version, 'expired')
    return outcomeNow()
  }

  return {
    get inflight() {
      return inflight?.promise
    },
    start,
    supersede(version) {
      if (renewing && renewing.version !== version) renewing.controller.abort()
    },
    stop() {
      epoch++
      renewing?.controller.abort() // a refresh or unattended login under way stops retrying: it would only be dropped
    },
    pending() {
      return queue.size + queue.pending
    },
    call,
    canLogIn,
  }
}
