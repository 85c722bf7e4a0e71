import type { LockGrant, LockOptions } from '../../core/store.js'

/** What `navigator.locks.query()` answers, the parts the store reads. */
export interface WebLockSnapshot {
  held?: { name?: string | undefined; clientId?: string | undefined }[]
  pending?: { name?: string | undefined; clientId?: string | undefined }[]
}

/**
 * The part of the Web Locks API (`navigator.locks`) the browser store uses. `navigator.locks` fits it; so does
 * the in-tab fallback (`locks: null`).
 */
export interface WebLockManager {
  request(
    name: string,
    options: { signal?: AbortSignal; steal?: boolean },
    callback: (lock: unknown) => Promise<void>,
  ): Promise<unknown>
  /**
   * The locks held and waited for (`navigator.locks.query`). With it, a waiter takes the refresh lock over from a
   * holder that stopped without letting go (a tab the browser froze) once that holder's lease has run out.
   * Without it, such a holder blocks the others until it resumes or closes.
   */
  query?(): Promise<WebLockSnapshot>
}

/**
 * A lock manager for this tab only, with the Web Locks semantics the store relies on (exclusive, FIFO, a waiter
 * leaves on abort with the signal's reason). The fallback when `navigator.locks` is missing: one refresh per tab
 * instead of one per origin.
 */
export function inTabLocks(): WebLockManager {
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
      // Forgotten once it has settled: a request that left while the one before it still holds must not free
      // the lock for the next.
      void tail.then(() => tails.get(name) === tail && tails.delete(name))
      const done = () => release()
      return new Promise((resolve, reject) => {
        const onAbort = () => {
          done() // the next waiter need not wait for a request that left, only for the holder before it
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
 * Run `fn` while holding the lock `name`. The lock is let go when `fn` settles or when its lease ends
 * (`grant.until`, `leaseMs` after it was taken), whichever is first; a closed tab's locks go at once. The result
 * is always `fn`'s, even when the lease ended first.
 *
 * With a manager that can `query` (navigator.locks), a holder that stops running while it holds the lock (the
 * browser freezes background tabs, and a frozen tab's timers do not run, so it never lets go) is taken over:
 * a waiter that has waited `leaseMs` and finds no holder whose lease is still running steals the lock. The
 * lease is what keeps that safe: `fn` starts only once this holder is the origin's only one with a live lease,
 * and it must not start anything that outlives `grant.until`, so a holder that resumes after its lease was
 * taken over finds it ended and stays out.
 *
 * How the holders agree, with Web Locks only: a holder confirms before `fn` runs. It takes a short gate lock
 * (`<name>:gate`, always by stealing it, so a frozen tab never blocks the gate), takes a marker lock
 * `<name>:holder:<since>:<id>` that it keeps until it lets go, and then reads the lock manager's state in one
 * `query()`: it is confirmed when it still holds the gate and `name`, and no other marker's lease
 * (`since + leaseMs`) is still running. Two holders that both confirm would each have had to query after the
 * other took the gate, which cannot be; so two live leases never overlap.
 */
export function withWebLock<T>(
  locks: WebLockManager,
  name: string,
  fn: (grant: LockGrant) => Promise<T>,
  options: LockOptions,
): Promise<T> {
  return locks.query ? sharedLock(locks, name, fn, options) : tabLock(locks, name, fn, options)
}

function tabLock<T>(
  locks: WebLockManager,
  name: string,
  fn: (grant: LockGrant) => Promise<T>,
  { leaseMs, signal }: LockOptions,
): Promise<T> {
  let work: Promise<T> | undefined
  const granted = () => {
    work = fn({ until: Date.now() + leaseMs })
    return holdAtMost(work, leaseMs)
  }
  // Once fn has started, its result is the answer, even if the lock was taken from it (a rejected request).
  const result = (error: unknown) => work ?? Promise.reject(error)
  return locks
    .request(name, signal ? { signal } : {}, granted)
    .then(() => result(new Error('The lock was granted but its callback never ran')), result)
}

async function sharedLock<T>(
  locks: WebLockManager,
  name: string,
  fn: (grant: LockGrant) => Promise<T>,
  { leaseMs, signal }: LockOptions,
): Promise<T> {
  const lease = await takeLock(locks, name, leaseMs, signal)
  let work: Promise<T>
  try {
    work = fn({ until: lease.until })
  } catch (error) {
    work = Promise.reject(error)
  }
  void holdAtMost(work, lease.until - Date.now()).then(lease.release)
  return work
}

/** A granted lock request, held until `release()`. */
interface Hold {
  release(): void
}

/** Request `name` and resolve once it is granted; it stays held until released (or stolen). */
function hold(
  locks: WebLockManager,
  name: string,
  options: { signal?: AbortSignal; steal?: boolean },
): Promise<Hold> {
  return new Promise((resolve, reject) => {
    locks
      .request(name, options, () => new Promise<void>((release) => resolve({ release: () => release() })))
      .catch(reject) // before the grant: aborted; after it: stolen (then resolve has already won)
  })
}

interface Lease extends Hold {
  until: number
}

async function takeLock(
  locks: WebLockManager,
  name: string,
  leaseMs: number,
  signal: AbortSignal | undefined,
): Promise<Lease> {
  let waitStart = Date.now()
  let main: Hold | undefined
  try {
    for (;;) {
      main ??= await waitOrTakeOver(locks, name, leaseMs, waitStart, signal)
      if (signal?.aborted) throw signal.reason
      const outcome = await confirm(locks, name, leaseMs, main)
      if (outcome === 'stolen') {
        // Another waiter took it over before this holder confirmed (it was frozen): queue again, patiently.
        main.release()
        main = undefined
        waitStart = Date.now()
      } else if (typeof outcome === 'number') {
        await new Promise((resolve) => setTimeout(resolve, outcome))
      } else return outcome
    }
  } catch (error) {
    main?.release()
    throw error
  }
}

/**
 * Queue for `name`. After waiting `leaseMs`, and then whenever the holder's lease runs out, look at who holds
 * it: a holder with no running lease (frozen before or after it confirmed) is taken over with `steal`.
 */
function waitOrTakeOver(
  locks: WebLockManager,
  name: string,
  leaseMs: number,
  waitStart: number,
  signal: AbortSignal | undefined,
): Promise<Hold> {
  if (signal?.aborted) return Promise.reject(signal.reason)
  const waiting = new AbortController()
  const onAbort = () => waiting.abort(signal?.reason)
  signal?.addEventListener('abort', onAbort, { once: true })
  const queued = hold(locks, name, { signal: waiting.signal })
  let timer: ReturnType<typeof setTimeout> | undefined
  let takingOver = false
  let done = false // once settled, a look under way schedules no other
  return new Promise<Hold>((resolve, reject) => {
    queued.then(resolve, (error: unknown) => {
      if (!takingOver) reject(error)
    })
    const check = async () => {
      try {
        const next = await stale(locks, name, leaseMs, waitStart)
        if (done) return
        if (next !== 'take over') {
          timer = setTimeout(check, next)
          return
        }
        takingOver = true
        waiting.abort(new DOMException('taking the lock over', 'AbortError'))
        if (await queued.then(Boolean, () => false)) return // granted meanwhile: resolved above
        if (signal?.aborted) return reject(signal.reason)
        resolve(await hold(locks, name, { steal: true }))
      } catch (error) {
        reject(error)
      }
    }
    timer = setTimeout(check, Math.max(0, waitStart + leaseMs - Date.now()))
  }).finally(() => {
    done = true
    clearTimeout(timer)
    signal?.removeEventListener('abort', onAbort)
  })
}

/** 'take over' when `name` is held and no lease is running; otherwise how long to wait before looking again. */
async function stale(
  locks: WebLockManager,
  name: string,
  leaseMs: number,
  waitStart: number,
): Promise<'take over' | number> {
  const { held = [] } = (await locks.query?.()) ?? {}
  const now = Date.now()
  if (now < waitStart + leaseMs) return waitStart + leaseMs - now
  if (!held.some((lock) => lock.name === name)) return Math.min(leaseMs, 1_000) // free: our turn is coming
  const running = leases(held, name, leaseMs).filter((until) => until > now)
  return running.length > 0 ? Math.max(...running) - now + 10 : 'take over'
}

/**
 * Make `main` this holder's: confirmed (a lease), 'stolen' (taken over before it confirmed), or how many ms to
 * wait before trying again (another holder's lease still runs, or another tab took the gate meanwhile).
 */
async function confirm(
  locks: WebLockManager,
  name: string,
  leaseMs: number,
  main: Hold,
): Promise<Lease | 'stolen' | number> {
  const gateName = `${name}:gate`
  const gate = await hold(locks, gateName, { steal: true })
  let marker: Hold | undefined
  try {
    const since = Date.now()
    const markerName = `${name}:holder:${since}:${Math.random().toString(36).slice(2)}`
    marker = await hold(locks, markerName, {})
    const { held = [] } = (await locks.query?.()) ?? {}
    const me = held.find((lock) => lock.name === markerName)?.clientId
    const mine = (lockName: string) => held.some((lock) => lock.name === lockName && lock.clientId === me)
    if (!mine(gateName)) return 5 + Math.random() * 20
    if (!mine(name)) return 'stolen'
    const now = Date.now()
    const others = leases(
      held.filter((lock) => lock.name !== markerName),
      name,
      leaseMs,
    ).filter((until) => until > now)
    if (others.length > 0) return Math.min(Math.min(...others) - now + 10, 1_000)
    const confirmed = marker
    marker = undefined
    return {
      until: since + leaseMs,
      release() {
        confirmed.release()
        main.release()
      },
    }
  } finally {
    marker?.release()
    gate.release()
  }
}

/** When the leases of the markers held for `name` end. */
function leases(held: NonNullable<WebLockSnapshot['held']>, name: string, leaseMs: number): number[] {
  const prefix = `${name}:holder:`
  const ends: number[] = []
  for (const lock of held) {
    const match = lock.name?.startsWith(prefix) && /^(\d+):[a-z0-9]*$/.exec(lock.name.slice(prefix.length))
    if (match) ends.push(Number(match[1]) + leaseMs)
  }
  return ends
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
