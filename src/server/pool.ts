import type { SessionProtocol } from '../core/protocol.js'
import type { SessionStore, StoreSnapshot } from '../core/store.js'
import { describe, parseBaseURL } from '../core/validate.js'
import { createSessionFetch, type SessionFetch, type SessionFetchOptions } from '../create-session-fetch.js'
import { OptionError } from '../errors/option-error.js'
import { type PlantlyCredentials, plantlySessions } from '../protocols/plantly/plantly-protocol.js'
import { memoryStore } from '../stores/memory/memory-store.js'
import { createClientCache, type Entry, type OwnedStore } from './client-cache.js'
import { EMPTY, type SeededStore, seededStore } from './seeded-store.js'

/**
 * Options of {@link sessionPool}: every option of `createSessionFetch` but `store`, which becomes a function of
 * the user's key, plus `max`.
 * @interface
 */
export type SessionPoolOptions<Credentials = PlantlyCredentials> = Omit<
  SessionFetchOptions<Credentials>,
  'store' | 'credentials'
> & {
  /**
   * The store of one user's session, e.g. `(key) => redisStore({ client, key: \`plantly:user:${key}\` })`. The
   * pool closes a store it got from here (if it has `close()`) when it lets the key's client go, and asks again
   * the next time the key is used: the session stays where the store keeps it.
   * @default an in-memory store per key, kept for the key until `pool.delete(key)` (it outlives an evicted client)
   */
  store?: (key: string) => SessionStore
  /**
   * Supplies credentials for an unattended login of the user `key` (see `createSessionFetch`'s `credentials`).
   */
  credentials?: (key: string) => Credentials | Promise<Credentials>
  /**
   * How many clients the pool keeps live; past it, the least recently used one that has no call under way is
   * closed (its session stays in its store, and `for(key)` re-creates the client from it).
   * @default 10_000
   */
  max?: number
}

/** Sessions kept server-side, one per user key. */
export interface SessionPool<Credentials = PlantlyCredentials> {
  /**
   * The session of `key`: the same object for a key while its client is live. Its methods always reach the key's
   * live client, so one held across an eviction keeps working (the client is re-created from the key's store).
   */
  for(key: string): SessionFetch<Credentials>
  /** Close the key's client (it drains, like `close()`) and forget its in-memory store. No logout is made. */
  delete(key: string): Promise<void>
  /** How many clients are live now. */
  readonly size: number
  /**
   * Close every live client (each drains: the session calls under way land and are stored) and the stores the
   * pool got from `store`. Later `for(key)` calls throw a `ClosedError`. The same promise every time.
   */
  close(): Promise<void>
}

const POOL_OPTIONS = new Set(['store', 'max', 'credentials'])

/** Split the pool's own options from the client's, and check them; every error names the option. */
export function parsePoolOptions<Credentials, Extra extends string>(options: object, own: readonly Extra[]) {
  if (typeof options !== 'object' || options === null) {
    throw new OptionError('options', 'expected an object with at least `baseURL`')
  }
  const given = options as Record<string, unknown>
  const client: Record<string, unknown> = {}
  const extra: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(given)) {
    if (POOL_OPTIONS.has(name) || (own as readonly string[]).includes(name)) extra[name] = value
    else client[name] = value
  }
  const { store, credentials } = extra
  for (const [name, value] of [
    ['store', store],
    ['credentials', credentials],
  ] as const) {
    if (value !== undefined && typeof value !== 'function') {
      throw new OptionError(
        name,
        `expected a function of the ${name === 'store' ? 'key, returning a SessionStore' : 'key'}, got ${describe(value, false)}`,
      )
    }
  }
  const max = extra.max ?? 10_000
  if (typeof max !== 'number' || !Number.isSafeInteger(max) || max < 1) {
    throw new OptionError('max', `expected a whole number of clients >= 1, got ${describe(max)}`)
  }
  // One protocol for every client (the default is stateless): the same issuer, and less memory per client.
  const protocol =
    (client.protocol as SessionProtocol<Credentials> | undefined) ??
    (plantlySessions({
      baseURL: parseBaseURL(client.baseURL, 'baseURL').href,
    }) as unknown as SessionProtocol<Credentials>)
  const clientOptions = { ...client, protocol } as Omit<SessionFetchOptions<Credentials>, 'store'>
  // Every client option is checked now, by a client that never runs, rather than at the first request.
  void createSessionFetch({ ...clientOptions, store: memoryStore() }).close()
  return {
    clientOptions,
    store: store as ((key: string) => SessionStore) | undefined,
    credentials: credentials as ((key: string) => Credentials | Promise<Credentials>) | undefined,
    max,
    extra,
  }
}

/** A key as `for(key)` takes it: a non-empty string. */
export function checkKey(key: unknown, what = 'key'): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new OptionError(what, `expected a non-empty string, got ${describe(key, false)}`)
  }
  return key
}

/**
 * Keep one session per user key on a server (a back end for front ends, a worker acting for its users): one
 * `createSessionFetch` client per key, each on its own store, at most `max` of them live. Every request of a
 * user goes through that user's client, so concurrent requests across an expiry make one refresh (and, with a
 * shared store such as `redisStore`, one across processes), and no user's token is ever sent for another.
 *
 * @example
 * import { sessionPool } from 'session-fetch/server'
 * const pool = sessionPool({ baseURL: 'https://api.plantly.gr4vy.app' })
 * const alice = pool.for('alice')
 * await alice.login({ email_address: 'alice@example.com', password })
 * const buyers = await alice.fetch('/buyers')
 * await pool.close()
 */
export function sessionPool<Credentials = PlantlyCredentials>(
  options: SessionPoolOptions<Credentials>,
): SessionPool<Credentials> {
  const parsed = parsePoolOptions<Credentials, never>(options, [])
  const { clientOptions, credentials } = parsed
  const storeOf = parsed.store
  // The default stores outlive the clients evicted from them, until delete(key): the store while a client of the
  // key is live (or draining), then only its last snapshot (a store is re-made from it when the key comes back).
  const memoryStores = new Map<string, SeededStore | StoreSnapshot>()

  const cache = createClientCache<Credentials>({
    max: parsed.max,
    create(key) {
      let store: OwnedStore
      if (storeOf) store = storeOf(key)
      else {
        const kept = memoryStores.get(key)
        const seeded = kept && 'offer' in kept ? kept : seededStore(kept ?? EMPTY)
        memoryStores.set(key, seeded)
        store = seeded
      }
      const client = createSessionFetch<Credentials>({
        ...clientOptions,
        store,
        ...(credentials ? { credentials: () => credentials(key) } : {}),
      })
      return { client, store }
    },
    async release(entry: Entry<Credentials>) {
      if (storeOf) await entry.store.close?.()
      else if (!cache.peek(entry.key) && memoryStores.get(entry.key) === entry.store) {
        // Nobody uses the store now: keep what it holds, not the store (its lock and listeners are idle).
        memoryStores.set(entry.key, (entry.store as SeededStore).read() as StoreSnapshot)
      }
    },
  })

  let closing: Promise<void> | undefined
  return {
    for(key) {
      return cache.entry(checkKey(key)).facade
    },
    async delete(key) {
      checkKey(key)
      await cache.delete(key)
      memoryStores.delete(key)
    },
    get size() {
      return cache.size
    },
    close() {
      closing ??= cache.close().then(() => memoryStores.clear())
      return closing
    },
  }
}
