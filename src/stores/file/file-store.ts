import { AsyncLocalStorage } from 'node:async_hooks'
import { basename } from 'node:path'
import { issuerBinding } from '../../core/issuer.js'
import { Listeners } from '../../core/listeners.js'
import type {
  ChangeReason,
  LockGrant,
  LockOptions,
  SessionStore,
  StoreChange,
  StoreSnapshot,
} from '../../core/store.js'
import { StoreError } from '../../errors/store-error.js'
import { createCodec } from '../record-codec.js'
import { createFileLock, type HeldLock, type LockHolder, type RecordReservation } from './file-lock.js'
import { type FileStoreOptions, resolveFileStoreOptions } from './options.js'
import { remove } from './private-files.js'
import { createSessionFile, type FileContent, type Reservation } from './session-file.js'
import { createDirectoryWatcher } from './watcher.js'

/** A {@link SessionStore} in a file, shared by every process of this user that uses the same file. */
export interface FileStore extends SessionStore {
  /** The session file's absolute path. */
  readonly path: string
  read(): Promise<StoreSnapshot>
  write(change: StoreChange, expectedVersion: number): Promise<StoreSnapshot | undefined>
  lock<T>(fn: (grant?: LockGrant) => Promise<T>, options: LockOptions): Promise<T>
  subscribe(listener: (snapshot: StoreSnapshot) => void): () => void
  /**
   * Stop watching the folder and drop this store's listeners. Nothing needs it to exit: nothing is kept open.
   * A session that a refresh obtained but could not write yet (a full or read-only disk) is tried once more;
   * resolves when that is done (at once when there is none).
   */
  close(): Promise<void>
}

const REASONS: ReadonlySet<string> = new Set<ChangeReason>(['login', 'refresh', 'logout', 'expired'])
// A compare-and-set write holds the write lock for a read, a write and an fsync: a holder that stopped (SIGSTOP,
// a suspended laptop) keeps the others waiting this long at most; one that died, not at all.
const WRITE_LEASE_MS = 10_000
// A write that failed after a refresh is tried again after this, doubling up to the maximum.
const RETRY_MIN_MS = 250
const RETRY_MAX_MS = 10_000

/** The room a refresh's write will need, made before the refresh is sent. */
interface Room {
  temporary: Reservation
  record: RecordReservation
}

/** A session this process obtained and uses, which the file does not hold yet. */
interface Pending {
  /** The version the file must still be at for it to be written. */
  expected: number
  content: FileContent
  snapshot: StoreSnapshot
  retries: number
  timer?: ReturnType<typeof setTimeout>
}

/**
 * Keep the session in a file so that every process of this user that uses it (CLI runs, agents, dev servers,
 * cron jobs) shares one session and makes one refresh per expiry between them. Node only.
 *
 * - Writes are atomic (a temporary file, fsync, rename) and compare-and-set on a version, so a reader never sees
 *   half a file and an older session never overwrites a newer one. Versions are the time of the write in ms (or
 *   one more than the last, if that is higher), so a file deleted and written again is newer than the lost one.
 * - Only the user's own files: the file is created 0600 in a 0700 folder; a folder, session file or lock file of
 *   another user, or one that others can write to, is refused with a StoreError; links are never followed and a
 *   FIFO is never waited on.
 * - The refresh runs under a lock file with a lease: a holder that dies is taken over at once (its pid is gone),
 *   one that stops responding once its lease has ended, and no wait lasts longer than `lockLeaseMs`; whoever
 *   waited re-reads the file and adopts the session instead of refreshing again.
 * - The room a refresh's write needs is taken before the refresh is sent; a write that still fails after it (a
 *   read-only file system) keeps the new session in this process, tells `onError`, and is tried again.
 * - Other processes learn of a login, refresh or logout through `fs.watch` on the folder (which never keeps a
 *   process alive), and read the file again before every refresh decision.
 * - With `encryptionKey`, the session is sealed (JWE `dir` + `A256GCM`): no token in the file.
 *
 * @example
 * import { createSessionFetch } from 'session-fetch'
 * import { fileStore } from 'session-fetch/file'
 *
 * const plantly = createSessionFetch({ baseURL: 'https://api.plantly.gr4vy.app', store: fileStore() })
 */
export function fileStore(options: FileStoreOptions = {}): FileStore {
  const resolved = resolveFileStoreOptions(options)
  const { path, directory, lockLeaseMs } = resolved
  const where = `the session file ${JSON.stringify(path)}`
  const codec = createCodec(resolved.name, resolved.encryptionKey, { where, factory: 'fileStore()' })
  const file = createSessionFile(path, directory)
  const notice = (lock: 'refresh' | 'write', lockPath: string, maxWaitMs: number) => (holder: LockHolder) => {
    try {
      resolved.onLockWait?.({ path: lockPath, lock, ...holder, maxWaitMs })
    } catch (error) {
      report(new StoreError('onLockWait threw', { cause: error })) // the wait goes on
    }
  }
  const refreshLock = createFileLock(`${path}.lock`, {
    maxWaitMs: lockLeaseMs,
    onWait: notice('refresh', `${path}.lock`, lockLeaseMs),
  })
  const writeLock = createFileLock(`${path}.write.lock`, {
    maxWaitMs: WRITE_LEASE_MS,
    onWait: notice('write', `${path}.write.lock`, WRITE_LEASE_MS),
  })
  // The room made for the writes of the refresh this store's lock is held for, seen only by that refresh's
  // calls (a login running beside it is not one of them).
  const underLock = new AsyncLocalStorage<Room>()
  const listeners = new Listeners<StoreSnapshot>()
  const fileName = basename(path)
  let closed = false
  let closing: Promise<void> | undefined
  let delivered = -1 // the version last announced to listeners
  let highest = 0 // the highest version this store has read or written: the next write goes above it
  let pending: Pending | undefined
  let flushing: Promise<void> | undefined
  // The refresh lock, kept while a session it obtained is pending, so the other processes wait for it rather
  // than present the refresh token it spent (for as long as its lease: then they take it over).
  let kept: HeldLock | undefined

  function report(error: unknown): void {
    try {
      resolved.onError(
        error instanceof StoreError ? error : new StoreError(`Watching ${where} failed`, { cause: error }),
      )
    } catch {
      // a throwing onError must not break the store
    }
  }

  const watcher = createDirectoryWatcher(
    directory,
    (name) => {
      if (name === undefined || name === fileName) changed()
      if (name === undefined || name.startsWith(`${fileName}.`)) {
        refreshLock.wake()
        writeLock.wake()
      }
    },
    report,
  )

  async function toSnapshot(content: FileContent): Promise<StoreSnapshot> {
    const record = content.data ? await codec.decode(content.data, content.version, 0) : undefined
    highest = Math.max(highest, content.version)
    return Object.freeze({
      version: content.version,
      record,
      reason:
        content.reason !== undefined && REASONS.has(content.reason)
          ? (content.reason as ChangeReason)
          : undefined,
      writer: content.writer,
    })
  }

  async function read(): Promise<StoreSnapshot> {
    if (closed) throw closedError()
    if (pending) await flush()
    const content = await file.read()
    const mine = pending
    // Until it is written, the file still holds what the pending session replaced: this process's is newer.
    if (mine && content.version === mine.expected) return mine.snapshot
    if (mine) settle(mine, content.version)
    return toSnapshot(content)
  }

  // Change notifications: one read at a time, and one more if the folder changed again meanwhile. Listeners
  // hear each version once, in order.
  let reading: Promise<void> | undefined
  let again = false
  function changed(): void {
    if (closed || listeners.size === 0) return
    if (reading) {
      again = true
      return
    }
    reading = (async () => {
      do {
        again = false
        try {
          const snapshot = await read()
          if (snapshot.version !== delivered && !closed) {
            delivered = snapshot.version
            listeners.emit(snapshot)
          }
        } catch (error) {
          report(error)
        }
      } while (again && !closed)
    })().finally(() => {
      reading = undefined
    })
  }

  /** The version a write from `base` gets: above it, above every version this store has seen, and the time. */
  function nextVersion(base: number): number {
    highest = Math.max(base + 1, Date.now(), highest + 1)
    return highest
  }

  async function write(change: StoreChange, expectedVersion: number): Promise<StoreSnapshot | undefined> {
    if (closed) throw closedError()
    if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0 || !REASONS.has(change.reason)) {
      throw new StoreError('write() needs a version count and a change reason')
    }
    const room = underLock.getStore()
    // A write over the pending session (this process's newest) goes where that one would have gone.
    const mine = pending
    const base = mine && expectedVersion === mine.snapshot.version ? mine.expected : expectedVersion
    try {
      return await writeNow(change, base, room)
    } catch (error) {
      const failure =
        error instanceof StoreError ? error : new StoreError(`Could not write ${where}`, { cause: error })
      // Outside a refresh (a login, a logout) the caller hears of it and acts; a refresh's new tokens would be
      // lost, and the server has already rotated the old ones: they are kept here and written later.
      if (!room) throw failure
      return keep(change, base, failure)
    }
  }

  async function writeNow(
    change: StoreChange,
    base: number,
    room: Room | undefined,
  ): Promise<StoreSnapshot | undefined> {
    await file.prepare()
    const held = await writeLock.acquire(WRITE_LEASE_MS, undefined, room?.record).catch((error: unknown) => {
      throw new StoreError(`Could not lock ${where} for writing`, { cause: error })
    })
    try {
      const current = await file.read()
      if (current.version !== base) {
        if (pending) settle(pending, current.version)
        return undefined
      }
      const version = nextVersion(base)
      const data = change.record ? await codec.encode(change.record, version, 0) : ''
      // A holder that was stopped past its lease may have been taken over: it writes nothing then.
      if (held.expired()) return undefined
      await file.write({ version, reason: change.reason, writer: change.writer, data }, room?.temporary)
      if (pending) forget(pending)
      return Object.freeze({ version, record: change.record, reason: change.reason, writer: change.writer })
    } finally {
      await letGo(held)
    }
  }

  /** Keep a refresh's session that could not be written: use it here, say so, and write it later. */
  async function keep(change: StoreChange, base: number, failure: StoreError): Promise<StoreSnapshot> {
    const version = nextVersion(base)
    const data = change.record ? await codec.encode(change.record, version, 0) : ''
    const snapshot = Object.freeze({
      version,
      record: change.record,
      reason: change.reason,
      writer: change.writer,
    })
    if (pending) forget(pending)
    const mine: Pending = {
      expected: base,
      content: { version, reason: change.reason, writer: change.writer, data },
      snapshot,
      retries: 0,
    }
    pending = mine
    report(
      new StoreError(
        `Could not write the new session to ${where}: this process keeps using it and writes it as soon as it can (other processes still read the previous one)`,
        { cause: failure },
      ),
    )
    schedule(mine)
    return snapshot
  }

  function schedule(mine: Pending): void {
    if (closed || pending !== mine) return
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** mine.retries++)
    clearTimeout(mine.timer)
    mine.timer = setTimeout(() => void flush(), delay)
    mine.timer.unref?.() // a retry is no reason to keep a process alive; close() tries once more
  }

  /** Write the pending session if the file still holds what it replaced. */
  function flush(): Promise<void> {
    const mine = pending
    if (!mine) return Promise.resolve()
    flushing ??= (async () => {
      try {
        await sweep()
        const held = await writeLock.acquire(WRITE_LEASE_MS)
        try {
          const current = await file.read()
          if (pending !== mine) return
          if (current.version !== mine.expected) return settle(mine, current.version)
          await file.write(mine.content)
          forget(mine)
          await sweep()
        } finally {
          await letGo(held)
        }
      } catch {
        schedule(mine) // still no room, still read-only: later
      }
    })().finally(() => {
      flushing = undefined
    })
    return flushing
  }

  /** The file moved on from what the pending session replaced: it was written, or another writer got there first. */
  function settle(mine: Pending, version: number): void {
    if (version === mine.expected) return // not written yet
    if (version !== mine.snapshot.version) {
      report(
        new StoreError(
          `${where} was written by another process before this process could write its new session there: that session is dropped`,
        ),
      )
    }
    forget(mine)
  }

  function forget(mine: Pending): void {
    clearTimeout(mine.timer)
    if (pending !== mine) return
    pending = undefined
    const lock = kept
    kept = undefined
    if (lock) void letGo(lock)
  }

  async function lock<T>(fn: (grant?: LockGrant) => Promise<T>, lockOptions: LockOptions): Promise<T> {
    if (closed) throw closedError()
    const asked = Math.ceil(lockOptions?.leaseMs)
    if (!Number.isFinite(asked) || asked <= 0) throw new StoreError('lock() needs a leaseMs > 0')
    const leaseMs = Math.min(asked, lockLeaseMs)
    await file.prepare()
    watcher.start() // waiters wake when the lock file goes
    if (pending) await flush()
    await sweep()
    // A lock kept for a pending session is taken anew, with a lease of its own.
    const previous = kept
    kept = undefined
    if (previous) await letGo(previous)
    let held: HeldLock
    try {
      held = await refreshLock.acquire(leaseMs, lockOptions.signal)
    } catch (error) {
      if (lockOptions.signal?.aborted && error === lockOptions.signal.reason) throw error
      throw new StoreError(`Could not take the refresh lock of ${where}`, { cause: error })
    }
    let room: Room
    try {
      room = await makeRoom()
    } catch (error) {
      await letGo(held)
      throw new StoreError(`Could not make room for the next write of ${where}, so nothing was sent`, {
        cause: error,
      })
    }
    try {
      return await underLock.run(room, () => fn({ until: held.until }))
    } finally {
      if (!(await file.discard(room.temporary))) litter.add(room.temporary.path)
      if (!(await writeLock.discard(room.record))) litter.add(room.record.path)
      if (pending && !closed && !held.expired()) kept = held
      else await letGo(held)
    }
  }

  // Reservations and locks that could not be removed when they were done with (a read-only file system) go as
  // soon as they can: at the next call, retry or close.
  const litter = new Set<string>()
  const unreleased = new Set<HeldLock>()
  async function letGo(held: HeldLock): Promise<void> {
    try {
      await held.release()
      unreleased.delete(held)
    } catch (error) {
      if (!unreleased.has(held)) report(error)
      unreleased.add(held)
    }
  }
  async function sweep(): Promise<void> {
    for (const leftover of litter) if (await remove(leftover)) litter.delete(leftover)
    for (const held of unreleased) await letGo(held)
  }

  // Everything a write needs room for (its lock record, its temporary file) is made now, before anything is
  // sent: on a full disk the refresh fails here, and the tokens are not spent.
  async function makeRoom(): Promise<Room> {
    const record = await writeLock.reserve()
    try {
      return { record, temporary: await file.reserve() }
    } catch (error) {
      await writeLock.discard(record)
      throw error
    }
  }

  return {
    path,
    read,
    write,
    lock,
    bind: issuerBinding(), // clients of another issuer in other processes find out when they read the file
    subscribe(listener) {
      if (closed) throw closedError()
      const remove = listeners.on(listener)
      file.prepare().then(() => {
        if (closed) return
        watcher.start()
        changed() // a change written between the caller's read and the watch is caught here
      }, report)
      return remove
    },
    close() {
      closing ??= (async () => {
        closed = true
        watcher.close()
        listeners.clear()
        refreshLock.wake()
        writeLock.wake()
        const mine = pending
        if (mine) {
          clearTimeout(mine.timer)
          await flush()
          if (pending === mine) {
            report(
              new StoreError(
                `The new session could not be written to ${where} before the store closed: it is lost, and the next refresh from the file will be refused`,
              ),
            )
            forget(mine)
          }
        }
        await sweep()
        const lock = kept
        kept = undefined
        if (lock) await letGo(lock)
      })()
      return closing
    },
  }

  function closedError(): StoreError {
    return new StoreError(`The file store of ${where} is closed`)
  }
}
