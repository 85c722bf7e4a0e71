import { LogoutError } from '../errors/logout-error.js'
import type { RefreshCoordinator } from './refresh-coordinator.js'
import type { Session, SessionRecord } from './session.js'
import type { SessionStore } from './store.js'
import type { StoreSync } from './store-sync.js'

/** What `logout()` needs from the session core. */
export interface LogoutDeps {
  readonly store: SessionStore
  readonly refreshTimeoutMs: number
  readonly sync: StoreSync
  readonly refresher: RefreshCoordinator
  /** Run a step after every login and logout called before it. */
  inOrder<T>(step: () => Promise<T>): Promise<T>
  /** Throw while the store holds another issuer's session. */
  refuseForeign(): void
}

/**
 * `logout()`: clear the session here and in the store, then end on the server every session that was live (the
 * stored one, and what renewals under way obtained meanwhile), even when the store could not be cleared.
 */
export interface Logout {
  /** The clearing of the logout under way, if any: calls made meanwhile wait for it, then go without the token. */
  readonly clearing: Promise<void> | undefined
  logout(signal: AbortSignal | undefined): Promise<void>
}

export function createLogout(deps: LogoutDeps): Logout {
  const { store, refreshTimeoutMs, sync, refresher } = deps
  // A plain property, not a getter: a getter would make this object a dictionary (0.3 kB more per client).
  const self: { clearing: Promise<void> | undefined; logout: typeof logout } = { clearing: undefined, logout }

  // Clear the session here and in the store, after the renewals under way have settled (so the newest session
  // is the one ended, and no refresh token they presented is presented again). Returns the sessions to end.
  // If the store fails, the sessions this instance knows of are still ended on the server (the caller wants
  // out, and a dead token is safer than a live one nobody can clear); `failure` says why nothing was cleared.
  async function clearSession(
    stopping: Promise<Session[]>,
  ): Promise<{ ended: Session[]; failure?: { error: unknown } }> {
    const orphans = await stopping
    try {
      await sync.load()
      deps.refuseForeign()
      const clear = async (): Promise<SessionRecord | undefined> => {
        sync.adopt(await store.read(), 'store', true) // a sibling's refresh may have written meanwhile
        const ended = sync.snapshot?.record
        if (ended || !sync.loggedOut()) await sync.overwrite(undefined, 'logout')
        return ended
      }
      const leaseMs = refreshTimeoutMs * 2 + 1_000
      const ended = store.lock ? await store.lock(clear, { leaseMs }) : await clear()
      // What a renewal obtained after the logout was called is ended too (newest first).
      return { ended: ended ? [...orphans, ended.session] : orphans }
    } catch (error) {
      const held = sync.snapshot?.record?.session
      return { ended: held ? [...orphans, held] : orphans, failure: { error } }
    } finally {
      refresher.resume()
    }
  }

  async function logout(signal: AbortSignal | undefined): Promise<void> {
    // Takes effect when called: calls made from now on wait for the clear, then go out without the token.
    // It runs after every login() called before it.
    const stopping = refresher.stop() // from now on no renewal writes; the sessions they obtained are ended below
    const cleared = deps.inOrder(() => clearSession(stopping))
    const settled = cleared.then(
      () => undefined,
      () => undefined,
    )
    self.clearing = settled
    let outcome: Awaited<typeof cleared>
    try {
      outcome = await cleared
    } finally {
      if (self.clearing === settled) self.clearing = undefined
    }
    const results = await Promise.allSettled(outcome.ended.map((session) => refresher.end(session, signal)))
    if (outcome.failure) throw outcome.failure.error // the store could not be cleared: say so
    for (const result of results) {
      if (result.status === 'fulfilled') continue
      const error = result.reason
      if (signal?.aborted && error === signal.reason) throw error
      throw new LogoutError(error)
    }
  }

  return self
}
