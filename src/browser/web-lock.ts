import type { LockOptions } from '../store.js'

/**
 * The part of the Web Locks API (`navigator.locks`) the browser store uses. `navigator.locks` fits it; so does
 * {@link tabLocks}, the in-tab fallback.
 */
export interface WebLockManager {
  request(
    name: string,
    options: { signal?: AbortSignal },
    callback: (lock: unknown) => Promise<void>,
  ): Promise<unknown>
}

/**
 * A lock manager for this tab only, with the Web Locks semantics the store relies on (exclusive, FIFO, a waiter
 * leaves on abort with the signal's reason). The fallback when `navigator.locks` is missing: one refresh per tab
 * instead of one per origin.
 */
export function tabLocks(): WebLockManager {
  const tails = new Map<string, Promise<void>>()
  return {
    request(name, options, callback) {
      const { signal } = options
      if (signal?.aborted) return Promise.reject(signal.reason)
      const previous = tails.get(name) ?? Promise.resolve()
      let release = () => {}
      const mine = new Promise<void>((resolve) => {
        release = resolve
      })
      const tail = previous.then(() => mine)
      tails.set(name, tail)
      const done = () => {
        release()
        if (tails.get(name) === tail) tails.delete(name)
      }
      return new Promise((resolve, reject) => {
        const onAbort = () => {
          done() // the next waiter need not wait for a request that left
          reject(signal?.reason)
        }
        signal?.addEventListener('abort', onAbort, { once: true })
        void previous.then(() => {
          signal?.removeEventListener('abort', onAbort)
          if (signal?.aborted) return
          let held: Promise<void>
          try {
            held = callback(null)
          } catch (error) {
            held = Promise.reject(error)
          }
          held.then(resolve, reject).finally(done)
        })
      })
    },
  }
}

/**
 * Run `fn` while holding the lock `name`. The lock is let go when `fn` settles or after `leaseMs`, whichever is
 * first, so a holder stuck in a live tab cannot block the others forever (a closed tab's locks go at once).
 * The result is always `fn`'s, even when the lease ended first.
 */
export function withWebLock<T>(
  locks: WebLockManager,
  name: string,
  fn: () => Promise<T>,
  { leaseMs, signal }: LockOptions,
): Promise<T> {
  let work: Promise<T> | undefined
  const granted = () => {
    work = fn()
    return holdAtMost(work, leaseMs)
  }
  // Once fn has started, its result is the answer, even if the lock was taken from it (a rejected request).
  const result = (error: unknown) => work ?? Promise.reject(error)
  return locks
    .request(name, signal ? { signal } : {}, granted)
    .then(() => result(new Error('The lock was granted but its callback never ran')), result)
}

function holdAtMost(work: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, Math.min(Math.max(ms, 0), 2_147_483_647))
    const done = () => {
      clearTimeout(timer)
      resolve()
    }
    work.then(done, done)
  })
}
