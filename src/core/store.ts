import type { SessionRecord } from './session.js'

/** Why the stored session last changed. Instances that adopt a change fire the matching event. */
export type ChangeReason = 'login' | 'refresh' | 'logout' | 'expired'

/** What a store holds: a version that grows with every write, and the session (undefined when there is none). */
export interface StoreSnapshot {
  readonly version: number
  readonly record: SessionRecord | undefined
  /** Why it last changed. */
  readonly reason?: ChangeReason | undefined
  /** An opaque id of the instance that wrote it, so an instance does not announce its own writes twice. */
  readonly writer?: string | undefined
}

/** One write: the new session (undefined clears), why, and who writes. */
export interface StoreChange {
  readonly record: SessionRecord | undefined
  readonly reason: ChangeReason
  readonly writer: string
}

/** What {@link SessionStore.lock} tells the function it runs. */
export interface LockGrant {
  /**
   * Local epoch ms (the Date.now clock) at which the lease ends and another instance may take the lock over:
   * nothing started under the lock may still be under way then (a session call starts only if it can end first).
   */
  readonly until: number
}

/** Options for {@link SessionStore.lock}. */
export interface LockOptions {
  /** How long the lock is held at most, so a crashed holder cannot block the others forever. */
  leaseMs: number
  /** Aborts waiting for the lock (never a holder). */
  signal?: AbortSignal | undefined
}

/**
 * Where the session lives, and how instances that share it coordinate. The refresh path goes through it:
 * read the latest snapshot under the lock, and write the new one only if nobody wrote in between.
 *
 * Instances keep the last snapshot they saw in memory, so `read` is called when loading and while refreshing,
 * never on the request path.
 */
export interface SessionStore {
  /** The current snapshot. A fresh store answers `{ version: 0, record: undefined }`. */
  read(): StoreSnapshot | Promise<StoreSnapshot>
  /**
   * Compare-and-set: write `change.record` (undefined clears) only if the stored version is still `expectedVersion`.
   * Returns the new snapshot, or undefined when another writer got there first (an older session never
   * overwrites a newer one).
   */
  write(
    change: StoreChange,
    expectedVersion: number,
  ): StoreSnapshot | undefined | Promise<StoreSnapshot | undefined>
  /**
   * Run `fn` while holding the store's refresh lock, shared by every instance using the store. A store without
   * one relies on the instance's own queue (one refresh per instance). A store whose lock can be taken over once
   * its lease ends passes `fn` a {@link LockGrant}, so that nothing under the lock outlives the lease.
   */
  lock?<T>(fn: (grant?: LockGrant) => Promise<T>, options: LockOptions): Promise<T>
  /** Be told of writes made by other instances. Returns an unsubscribe function. */
  subscribe?(listener: (snapshot: StoreSnapshot) => void): () => void
  /**
   * Called by `createSessionFetch` with its protocol's `sessionIssuer`. A store that serves one issuer throws an
   * `OptionError` naming `store` when a client of another issuer is given it. Without it, such a client finds
   * out when it reads another issuer's session, and its calls reject with a `StoreError`.
   */
  bind?(issuer: string): void
}
