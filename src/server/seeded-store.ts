import { abortable } from '../core/abort.js'
import { issuerBinding } from '../core/issuer.js'
import { Listeners } from '../core/listeners.js'
import type { LockOptions, SessionStore, StoreChange, StoreSnapshot } from '../core/store.js'

/** A memory store that starts from a snapshot (a cookie's session), and takes a newer one offered later. */
export interface SeededStore extends SessionStore {
  /** Adopt `snapshot` if it is newer than what the store holds (its clients are told). */
  offer(snapshot: StoreSnapshot): void
}

export const EMPTY: StoreSnapshot = Object.freeze({ version: 0, record: undefined })

/** Like `memoryStore()`, from `initial` rather than empty. */
export function seededStore(initial: StoreSnapshot): SeededStore {
  let snapshot = Object.freeze({ ...initial })
  const listeners = new Listeners<StoreSnapshot>()
  let tail: Promise<unknown> = Promise.resolve()
  return {
    read: () => snapshot,
    write(change: StoreChange, expectedVersion: number) {
      if (snapshot.version !== expectedVersion) return undefined
      snapshot = Object.freeze({ version: expectedVersion + 1, ...change })
      listeners.emit(snapshot)
      return snapshot
    },
    subscribe: (listener) => listeners.on(listener),
    lock<T>(fn: () => Promise<T>, options: LockOptions): Promise<T> {
      const run = abortable(tail, options?.signal).then(fn)
      tail = Promise.allSettled([tail, run])
      return run
    },
    bind: issuerBinding(),
    offer(next) {
      if (next.version <= snapshot.version) return
      snapshot = Object.freeze({ ...next })
      listeners.emit(snapshot)
    },
  }
}
