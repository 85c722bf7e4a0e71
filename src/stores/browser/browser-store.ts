import { createStore, get, type UseStore, update } from 'idb-keyval'
import { issuerBinding } from '../../core/issuer.js'
import { Listeners } from '../../core/listeners.js'
import type { LockGrant, LockOptions, SessionStore, StoreChange, StoreSnapshot } from '../../core/store.js'
import { describe, rejectUnknownOptions } from '../../core/validate.js'
import { OptionError } from '../../errors/option-error.js'
import { memorySession } from '../memory/memory-store.js'
import { toSnapshot, versionOf } from './stored-snapshot.js'
import { inTabLocks, type WebLockManager, withWebLock } from './web-lock.js'

/** Options of {@link browserStore}. */
export interface BrowserStoreOptions {
  /**
   * Names this session among the origin's: the IndexedDB record, the Web Lock (`session-fetch:<key>:refresh`)
   * and the BroadcastChannel (`session-fetch:<key>`). Tabs that use the same key share one session.
   * @default 'default'
   */
  key?: string
  /**
   * The lock manager for the refresh lock; `null` keeps the lock inside this tab.
   * @default navigator.locks (an in-tab lock where it is missing)
   */
  locks?: WebLockManager | null
}

/** How a {@link browserStore} coordinates, decided when it is created from what the browser offers. */
export interface BrowserCoordination {
  /** `'indexeddb'`: the origin's tabs share the session. `'memory'`: this tab keeps its own. */
  storage: 'indexeddb' | 'memory'
  /** `'web-locks'`: one refresh at a time across the origin's tabs. `'tab'`: one at a time in this tab. */
  lock: 'web-locks' | 'tab'
  /** `'broadcast-channel'`: other tabs adopt a change at once. `'none'`: at their next refresh. */
  notify: 'broadcast-channel' | 'none'
}

/** A {@link SessionStore} shared by the tabs of one origin. */
export interface BrowserStore extends SessionStore {
  /** What the store coordinates with in this browser. */
  readonly coordination: BrowserCoordination
  /** Stop listening to other tabs and drop this store's listeners. */
  close(): void
}

export const DATABASE = 'session-fetch'
export const OBJECT_STORE = 'sessions'
// A change announced to the other tabs: its version, reason and writer, and whether it holds a session, never the
// session itself (every script of the origin can listen on the channel). A new name: earlier versions announced
// the whole snapshot under 'session-fetch/changed', and would take this one for a change to no session.
const CHANGED = 'session-fetch/notice'
const CONFLICT = Symbol('compare-and-set conflict')

/**
 * A session store for browser apps: every tab of the origin shares one session and makes one refresh between
 * them.
 *
 * - The session lives in IndexedDB, and each write is a compare-and-set inside one `readwrite` transaction.
 *   IndexedDB runs such transactions one at a time across tabs, so a write is atomic whether or not it holds
 *   the refresh lock: an older session never overwrites a newer one. (localStorage cannot do this: each tab
 *   reads its own cached copy, so even under a Web Lock a tab may read a value another tab has replaced.)
 * - The refresh runs under a Web Lock (`navigator.locks`), which the browser releases when the holding tab
 *   closes or crashes; a live holder lets go after the lease the session passes, and a holder that stopped
 *   running (a frozen background tab) is taken over once its lease has run out (see `withWebLock`).
 * - Each write is announced on a BroadcastChannel, so the other tabs adopt the new session (or the logout)
 *   without asking the server.
 *
 * Fallbacks, chosen once at creation and shown in `coordination`: without IndexedDB the session stays in this
 * tab's memory (each tab its own session); without Web Locks the refresh lock covers this tab only; without
 * BroadcastChannel the other tabs see a change at their next refresh instead of at once.
 *
 * @example
 * import { createSessionFetch } from 'session-fetch'
 * import { browserStore } from 'session-fetch/browser'
 *
 * const plantly = createSessionFetch({ baseURL: 'https://api.plantly.gr4vy.app', store: browserStore() })
 */
export function browserStore(options: BrowserStoreOptions = {}): BrowserStore {
  if (typeof options !== 'object' || options === null) {
    throw new OptionError('options', `expected an object, got ${describe(options)}`)
  }
  rejectUnknownOptions(options, { key: true, locks: true } satisfies Record<keyof BrowserStoreOptions, true>)
  const key = options.key ?? 'default'
  if (typeof key !== 'string' || key === '' || key.length > 200) {
    throw new OptionError(
      'key',
      `expected a non-empty string of at most 200 characters, got ${describe(key)}`,
    )
  }
  const lockName = `session-fetch:${key}:refresh`
  if (typeof globalThis.indexedDB === 'undefined') return tabStore(lockName)

  const locks = resolveLocks(options.locks)
  const database = createStore(DATABASE, OBJECT_STORE)
  const listeners = new Listeners<StoreSnapshot>()
  const notify = (snapshot: StoreSnapshot) => listeners.emit(snapshot)
  let channel: BroadcastChannel | undefined
  if (typeof globalThis.BroadcastChannel === 'function') {
    channel = new BroadcastChannel(`session-fetch:${key}`)
    channel.onmessage = (event: MessageEvent<unknown>) => {
      const data = event.data as { type?: unknown; notice?: unknown; session?: unknown } | null
      const version = versionOf(data?.notice)
      // A message that is not a notice of ours (version 0 at best) announces nothing. A change to no session is
      // taken as it is; a new session is read from IndexedDB, and taken only if it is still that version: a newer
      // one has a notice of its own, to be taken in order (a client takes no version below one it has, so a
      // logout taken after the login that followed it would be lost).
      if (data?.type === CHANGED && version > 0) {
        Promise.resolve(data.session ? get(key, database) : data.notice).then(
          (value) => versionOf(value) === version && notify(toSnapshot(value)),
          () => {}, // unreadable now: this tab reads the store at its next refresh
        )
      }
    }
  }

  return {
    coordination: Object.freeze({
      storage: 'indexeddb',
      lock: locks ? 'web-locks' : 'tab',
      notify: channel ? 'broadcast-channel' : 'none',
    }),
    read: async () => toSnapshot(await get(key, database)),
    async write(change: StoreChange, expectedVersion: number) {
      const written = await compareAndSet(database, key, change, expectedVersion)
      if (!written) return undefined
      const snapshot = toSnapshot(written)
      notify(snapshot) // other instances in this tab sharing this store
      const { record, ...notice } = written as { record?: unknown }
      channel?.postMessage({ type: CHANGED, notice, session: record !== undefined }) // every other tab (and store object)
      return snapshot
    },
    lock: lockWith(locks ?? inTabLocks(), lockName),
    bind: issuerBinding(), // other tabs, and other store objects, find out when they read the session
    subscribe(listener) {
      return listeners.on(listener)
    },
    close() {
      channel?.close()
      channel = undefined
      listeners.clear()
    },
  }
}

/** The stored value after the write, or undefined when the stored version was not `expected`. */
async function compareAndSet(
  database: UseStore,
  key: string,
  change: StoreChange,
  expected: number,
): Promise<object | undefined> {
  let written: object | undefined
  try {
    // One readwrite transaction reads and writes: IndexedDB never interleaves another tab's write between them.
    await update(
      key,
      (current: unknown) => {
        if (versionOf(current) !== expected) throw CONFLICT
        written = {
          // The time of the write in ms (or one more than the last, if that is higher): a session written after
          // the origin's data was cleared under open tabs is newer than the one they hold, and they adopt it.
          version: Math.max(expected + 1, Date.now()),
          record: change.record,
          reason: change.reason,
          writer: change.writer,
        }
        return written
      },
      database,
    )
  } catch (error) {
    if (error === CONFLICT) return undefined
    throw error
  }
  return written
}

function resolveLocks(option: WebLockManager | null | undefined): WebLockManager | undefined {
  if (option === null) return undefined
  if (option === undefined) {
    const native = globalThis.navigator?.locks as WebLockManager | undefined
    return typeof native?.request === 'function' ? native : undefined
  }
  if (typeof option?.request !== 'function') {
    throw new OptionError(
      'locks',
      `expected a lock manager with a \`request\` function (like navigator.locks) or null, got ${describe(option, false)}`,
    )
  }
  return option
}

function lockWith(locks: WebLockManager, name: string) {
  return <T>(fn: (grant: LockGrant) => Promise<T>, options: LockOptions): Promise<T> =>
    withWebLock(locks, name, fn, options)
}

// No IndexedDB: this tab keeps its own session, so there is nothing to share with other tabs.
function tabStore(lockName: string): BrowserStore {
  const inner = memorySession()
  const unsubscribers = new Set<() => void>()
  return {
    coordination: Object.freeze({ storage: 'memory', lock: 'tab', notify: 'none' }),
    read: inner.read,
    write: inner.write,
    lock: lockWith(inTabLocks(), lockName),
    bind: issuerBinding(),
    subscribe(listener) {
      const unsubscribe = inner.subscribe(listener)
      unsubscribers.add(unsubscribe)
      return unsubscribe
    },
    close() {
      for (const unsubscribe of unsubscribers) unsubscribe()
      unsubscribers.clear()
    },
  }
}
