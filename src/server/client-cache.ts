import type { SessionStore, StoreSnapshot } from '../core/store.js'
import type { SessionFetch } from '../create-session-fetch.js'
import { ClosedError } from '../errors/closed-error.js'

/** A store the cache created for a key, and may have to close when it lets the key's client go. */
export type OwnedStore = SessionStore & { close?(): unknown }

/** One live client of a key, the store it uses, and the object handed out for it. */
export interface Entry<Credentials> {
  readonly key: string
  readonly client: SessionFetch<Credentials>
  readonly store: OwnedStore
  /** What `for(key)` hands out: routes every call to the key's live client (see `facade`). */
  readonly facade: SessionFetch<Credentials>
  /** Calls made through the facade that have not settled: a busy client is never evicted. */
  active: number
  /** Counts one of them settled (one function per entry: nothing allocated per call). */
  readonly settled: () => void
  /** The newest snapshot the client read, wrote or was told of (see `trackSnapshots`). */
  latest: StoreSnapshot | undefined
  /** Used since the eviction scan last passed it (the pool's second-chance order). */
  used: boolean
}

export interface ClientCacheOptions<Credentials> {
  /** Live clients kept; the least recently used idle one goes first. */
  max: number
  /** A new client of `key`, on the store it should use. */
  create(key: string): { client: SessionFetch<Credentials>; store: OwnedStore }
  /** The entry's client was closed (evicted, deleted or closed): close what the cache owns of it. */
  release(entry: Entry<Credentials>): Promise<void>
  /** A new entry became live, or one was touched (for callers that keep their own timestamps). */
  touched?(entry: Entry<Credentials>): void
  /**
   * Keep the entries in the exact order of their last use (a use moves the key to the end), for a caller that
   * sweeps them oldest first. Otherwise a use only marks the entry, and eviction gives marked ones a second
   * chance: nearly least recently used, with nothing but one property written per call.
   */
  exactOrder?: boolean
}

/**
 * The live clients of a pool, one per key, least recently used first (a Map keeps insertion order: a touch
 * moves the key to the end). A key's facade calls the key's live client, re-creating it if it was evicted, so a
 * caller that holds the facade across an eviction loses nothing; a client with calls under way is not evicted.
 */
export function createClientCache<Credentials>(options: ClientCacheOptions<Credentials>) {
  const live = new Map<string, Entry<Credentials>>()
  const retiring = new Set<Promise<void>>()
  let closed = false

  function entry(key: string): Entry<Credentials> {
    if (closed) throw new ClosedError()
    let found = live.get(key)
    if (found) {
      if (!options.exactOrder) found.used = true
      else if (found !== lastTouched) {
        // Move to the most recently used end.
        live.delete(key)
        live.set(key, found)
        lastTouched = found
      }
      options.touched?.(found)
      return found
    }
    const { client, store } = options.create(key)
    const created: Entry<Credentials> = {
      key,
      client,
      store,
      facade: facade(key),
      active: 0,
      latest: undefined,
      used: false,
      settled: () => {
        created.active--
      },
    }
    found = created
    live.set(key, found)
    lastTouched = found
    options.touched?.(found)
    if (live.size > options.max) evict()
    return found
  }
  let lastTouched: Entry<Credentials> | undefined

  // Evict the least recently used idle clients until `max` are left (busy ones are skipped: over `max` then).
  // Without exact order, one used since the scan last passed it goes to the end instead, once (second chance).
  function evict(): void {
    let budget = 2 * live.size
    for (const candidate of live.values()) {
      if (live.size <= options.max || budget-- === 0) return
      if (candidate.active > 0 || candidate === lastTouched) continue
      if (candidate.used) {
        candidate.used = false
        live.delete(candidate.key)
        live.set(candidate.key, candidate)
      } else retire(candidate)
    }
  }

  function retire(gone: Entry<Credentials>): Promise<void> {
    if (live.get(gone.key) === gone) live.delete(gone.key)
    if (lastTouched === gone) lastTouched = undefined
    const done: Promise<void> = gone.client
      .close()
      .then(() => options.release(gone))
      .catch(() => undefined)
      .finally(() => retiring.delete(done))
    retiring.add(done)
    return done
  }

  function track<T>(used: Entry<Credentials>, promise: Promise<T>): Promise<T> {
    used.active++
    promise.then(used.settled, used.settled)
    return promise
  }

  // Every method is bound to the key, not to one client: after an eviction it reaches the re-created one.
  function facade(key: string): SessionFetch<Credentials> {
    const call = <T>(run: (client: SessionFetch<Credentials>) => Promise<T>): Promise<T> => {
      let used: Entry<Credentials>
      try {
        used = entry(key)
      } catch (error) {
        return Promise.reject(error)
      }
      return track(used, run(used.client))
    }
    return {
      // The request path: no closure per call.
      fetch: (input, init) => {
        let used: Entry<Credentials>
        try {
          used = entry(key)
        } catch (error) {
          return Promise.reject(error)
        }
        return track(used, used.client.fetch(input, init))
      },
      login: (credentials, callOptions) => call((client) => client.login(credentials, callOptions)),
      refresh: (callOptions) => call((client) => client.refresh(callOptions)),
      accessToken: (callOptions) => call((client) => client.accessToken(callOptions)),
      getSession: () => call((client) => client.getSession()),
      logout: (callOptions) => call((client) => client.logout(callOptions)),
      on: (event, listener) => entry(key).client.on(event, listener),
      stats: () => entry(key).client.stats(),
      close: () => {
        const current = live.get(key)
        return current ? retire(current) : Promise.resolve()
      },
    }
  }

  return {
    /** The key's live entry, created (or re-created after an eviction) if needed. */
    entry,
    /** The key's live entry, if there is one; does not count as a use. */
    peek: (key: string) => live.get(key),
    /** Close the key's client now (it drains); resolves once it and what the cache owns of it are closed. */
    delete(key: string): Promise<void> {
      const current = live.get(key)
      return current ? retire(current) : Promise.resolve()
    },
    /** Retire entries, oldest first, while `expired` says so (stops at the first it keeps). */
    sweep(expired: (candidate: Entry<Credentials>) => boolean): void {
      for (const candidate of live.values()) {
        if (!expired(candidate)) return
        if (candidate.active === 0) retire(candidate)
      }
    },
    get size() {
      return live.size
    },
    /** Close every live client (each drains), then what the cache owns; later calls throw ClosedError. */
    async close(): Promise<void> {
      closed = true
      for (const current of [...live.values()]) retire(current)
      while (retiring.size > 0) await Promise.all([...retiring])
    },
    get closed() {
      return closed
    },
  }
}

/**
 * Wrap a store so that the entry knows, synchronously, the newest snapshot its client read, wrote or was told of
 * (a cookie is sealed for it). Everything else goes to the store as it is.
 */
export function trackSnapshots(store: OwnedStore, seen: (snapshot: StoreSnapshot) => void): OwnedStore {
  const note = (snapshot: StoreSnapshot | undefined) => {
    if (snapshot) seen(snapshot)
    return snapshot
  }
  const tracked: OwnedStore = {
    read: () => {
      const read = store.read()
      return read instanceof Promise
        ? read.then((s) => note(s) as StoreSnapshot)
        : (note(read) as StoreSnapshot)
    },
    write: (change, expectedVersion) => {
      const written = store.write(change, expectedVersion)
      return written instanceof Promise ? written.then(note) : note(written)
    },
  }
  if (store.lock)
    tracked.lock = (fn, lockOptions) => (store.lock as NonNullable<SessionStore['lock']>)(fn, lockOptions)
  if (store.subscribe) {
    const subscribe = store.subscribe.bind(store)
    tracked.subscribe = (listener) =>
      subscribe((snapshot) => {
        note(snapshot)
        listener(snapshot)
      })
  }
  if (store.bind) tracked.bind = store.bind.bind(store)
  if (store.close) tracked.close = store.close.bind(store)
  return tracked
}
