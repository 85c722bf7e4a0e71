import { abortable } from '../../core/abort.js'
import { issuerBinding } from '../../core/issuer.js'
import { Listeners } from '../../core/listeners.js'
import type { LockOptions, SessionStore, StoreChange, StoreSnapshot } from '../../core/store.js'

/**
 * The default store: the session in this realm's memory. Several `createSessionFetch` instances given the same
 * `memoryStore()` share one session and make one refresh between them; separate calls give separate sessions.
 * A store serves one issuer (one API, or one OAuth2 client): a client of another one given the same store is
 * refused with an `OptionError` when it is created.
 *
 * @example
 * const store = memoryStore()
 * const a = createSessionFetch({ baseURL, store })
 * const b = createSessionFetch({ baseURL, store }) // same session as `a`
 */
export function memoryStore(): SessionStore {
  let tail: Promise<unknown> = Promise.resolve()
  return {
    ...memorySession(),
    lock<T>(fn: () => Promise<T>, options: LockOptions): Promise<T> {
      // One holder at a time within this realm; each caller's own timeout bounds how long it holds. A waiter
      // whose signal aborts leaves at once; the one after it still waits for the holder before it.
      const run = abortable(tail, options?.signal).then(fn)
      tail = Promise.allSettled([tail, run])
      return run
    },
    bind: issuerBinding(),
  }
}

/** The session in this realm's memory and its listeners: `memoryStore()` without its lock and issuer binding. */
export function memorySession(): Required<Pick<SessionStore, 'read' | 'write' | 'subscribe'>> {
  let snapshot: StoreSnapshot = Object.freeze({ version: 0, record: undefined })
  const listeners = new Listeners<StoreSnapshot>()
  return {
    read: () => snapshot,
    write(change: StoreChange, expectedVersion: number) {
      if (snapshot.version !== expectedVersion) return undefined
      snapshot = Object.freeze({ version: expectedVersion + 1, ...change })
      listeners.emit(snapshot)
      return snapshot
    },
    subscribe: (listener) => listeners.on(listener),
  }
}
