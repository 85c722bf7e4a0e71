import type { StoreError } from '../errors/store-error.js'
import type { ChangeSource, Emitter, ExpiredEvent } from './events.js'
import { foreignSessionError, viewAs } from './issuer.js'
import type { ResolvedOptions } from './options.js'
import type { SessionRecord } from './session.js'
import type { ChangeReason, StoreSnapshot } from './store.js'

/** What the sync needs: the store, where to announce changes, and whom to tell of a new version. */
export interface StoreSyncDeps extends Pick<ResolvedOptions<unknown>, 'store'> {
  /** The protocol's `sessionIssuer`: only records of it are used (see `viewAs`). */
  issuer: string
  emitter: Emitter
  /** The snapshot moved to `version` (see the refresh coordinator's `supersede`). */
  replaced(version: number): void
}

/**
 * One instance's view of the shared store: the last snapshot it adopted (the request path reads only this), and
 * its compare-and-set writes, announced as events.
 */
export interface StoreSync {
  /** The last snapshot adopted; undefined until the first `load()` resolves. Never holds another issuer's session. */
  readonly snapshot: StoreSnapshot | undefined
  /**
   * The last change was a logout (here or in a sibling): no unattended login until a login anywhere. Derived
   * from the snapshot, so an instance that first reads the store after a sibling logged out knows it too.
   */
  loggedOut(): boolean
  /** A StoreError while the store holds another issuer's session (no call may proceed); undefined otherwise. */
  refusal(): StoreError | undefined
  /** Resolves with the latest snapshot (not the first one read): callers act on what is current. */
  load(): Promise<StoreSnapshot>
  adopt(next: StoreSnapshot, source: ChangeSource, freshRead?: boolean): void
  /**
   * Compare-and-set `record` (undefined: no session) against `expected`; false when another writer got there
   * first (its snapshot is adopted). `expiry` says why an `'expired'` write happened, for the event. A record is
   * stamped by the session call that obtained its tokens (session-record.ts), with this instance's issuer.
   */
  write(
    record: SessionRecord | undefined,
    expected: number,
    reason: ChangeReason,
    expiry?: Omit<ExpiredEvent, 'source'>,
  ): Promise<boolean>
  /** A write that wins over whatever was written meanwhile (login, logout). */
  overwrite(record: SessionRecord | undefined, reason: ChangeReason): Promise<void>
  /** Tell this instance's listeners that a login was refused when there was no session to clear. */
  announceExpired(expiry: Omit<ExpiredEvent, 'source'>): void
  /** Stop listening to the store. */
  close(): void
}

export function createStoreSync({ store, issuer, emitter, replaced }: StoreSyncDeps): StoreSync {
  const writer = Math.random().toString(36).slice(2)
  let snap: StoreSnapshot | undefined
  let loading: Promise<void> | undefined
  let unsubscribe: (() => void) | undefined
  let foreign: string | undefined // the issuer of another protocol's session the store holds now

  async function load(): Promise<StoreSnapshot> {
    if (snap) return snap
    loading ??= (async () => {
      const first = await store.read()
      adopt(first, 'local')
      unsubscribe ??= store.subscribe?.((next) => adopt(next, 'store'))
    })().catch((error: unknown) => {
      loading = undefined
      throw error
    })
    await loading
    return snap as unknown as StoreSnapshot
  }

  // Take a snapshot if it is newer than ours; announce changes other instances made. A fresh read of the store
  // (the refresh path) below our version but not empty means the store lost its data (Redis restarted without
  // persistence) and a sibling wrote since: that session is the live one, and ours may hold rotated-out tokens.
  function adopt(stored: StoreSnapshot, source: ChangeSource, freshRead = false): void {
    const rewritten = freshRead && snap !== undefined && stored.version > 0 && stored.version < snap.version
    if (snap !== undefined && stored.version <= snap.version && !rewritten) return
    const hadSnapshot = snap !== undefined
    const next = take(stored)
    replaced(next.version)
    if (source === 'store' && hadSnapshot && next.reason && next.writer !== writer) {
      announce(next.reason, next, 'store')
    }
  }

  // Another issuer's session never enters this instance's view: its tokens cannot be sent, refreshed or announced.
  function take(stored: StoreSnapshot): StoreSnapshot {
    const view = viewAs(issuer, stored)
    foreign = view.foreign
    snap = sync.snapshot = view.snapshot
    return snap
  }

  function announce(
    reason: ChangeReason,
    next: StoreSnapshot,
    source: ChangeSource,
    expiry: Omit<ExpiredEvent, 'source'> = { reason: 'refresh_rejected' },
  ): void {
    if (reason === 'login' || reason === 'refresh') {
      if (next.record) emitter.emit(reason, { session: next.record.session, source })
    } else if (reason === 'expired') emitter.emit('expired', { source, ...expiry })
    else emitter.emit(reason, { source })
  }

  async function write(
    record: SessionRecord | undefined,
    expected: number,
    reason: ChangeReason,
    expiry?: Omit<ExpiredEvent, 'source'>,
  ): Promise<boolean> {
    const refused = refusal()
    if (refused) throw refused // never write over another issuer's session
    const change = { record, reason, writer }
    let written = await store.write(change, expected)
    if (!written) {
      const current = await store.read()
      if (current.version >= expected) {
        adopt(current, 'store')
        return false
      }
      // Below a version it already had: the store lost its data (a restart without persistence, cleared site
      // data). What we write is the newest session there is, so write it over what is there now, once - unless
      // what is there now is another issuer's.
      if (viewAs(issuer, current).foreign !== undefined) {
        take(current)
        return false
      }
      written = await store.write(change, current.version)
      take(written ?? (await store.read())) // the reset store is the truth now, even below our old version
      if (!written) return false
    } else adopt(written, 'local')
    announce(reason, written, 'local', expiry)
    return true
  }

  // Login and logout win over whatever was written meanwhile, so they retry the compare-and-set (a bounded
  // number of times: a store whose reads never catch up with its writes is broken, and we say so).
  async function overwrite(record: SessionRecord | undefined, reason: ChangeReason): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const current = snap ?? (await load())
      if (await write(record, current.version, reason)) return
    }
    throw new Error(`The session store kept refusing the ${reason} write (compare-and-set never matched)`)
  }

  function refusal(): StoreError | undefined {
    return foreign === undefined ? undefined : foreignSessionError(foreign, issuer)
  }

  // Plain properties (take() writes the snapshot): a getter would make this object a dictionary, 0.4 kB more.
  const sync: { -readonly [K in keyof StoreSync]: StoreSync[K] } = {
    snapshot: undefined,
    refusal,
    loggedOut: () => snap?.reason === 'logout',
    load,
    adopt,
    write,
    overwrite,
    announceExpired(expiry) {
      emitter.emit('expired', { source: 'local', ...expiry })
    },
    close() {
      unsubscribe?.()
      unsubscribe = undefined
    },
  }
  return sync
}
