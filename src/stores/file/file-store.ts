import { basename } from 'node:path'
import { issuerBinding } from '../../core/issuer.js'
import { createListeners } from '../../core/listeners.js'
import type {
  ChangeReason,
  LockGrant,
  LockOptions,
  SessionStore,
  StoreChange,
  StoreSnapshot,
} from '../../core/store.js'
import { StoreError } from '../../errors/store-error.js'
import { createCodec } from '../redis/codec.js'
import { createFileLock, type LockHolder } from './file-lock.js'
import { type FileStoreOptions, resolveFileStoreOptions } from './options.js'
import { createSessionFile, type FileContent } from './session-file.js'
import { createDirectoryWatcher } from './watcher.js'

/** A {@link SessionStore} in a file, shared by every process of this user that uses the same file. */
export interface FileStore extends SessionStore {
  /** The session file's absolute path. */
  readonly path: string
  read(): Promise<StoreSnapshot>
  write(change: StoreChange, expectedVersion: number): Promise<StoreSnapshot | undefined>
  lock<T>(fn: (grant?: LockGrant) => Promise<T>, options: LockOptions): Promise<T>
  subscribe(listener: (snapshot: StoreSnapshot) => void): () => void
  /** Stop watching the folder and drop this store's listeners. Nothing needs it to exit: nothing is kept open. */
  close(): void
}

const REASONS: ReadonlySet<string> = new Set<ChangeReason>(['login', 'refresh', 'logout', 'expired'])
// A compare-and-set write holds the write lock for a read, a write and an fsync: a holder that stopped (SIGSTOP,
// a suspended laptop) keeps the others waiting this long at most; one that died, not at all.
const WRITE_LEASE_MS = 10_000

/**
 * Keep the session in a file so that every process of this user that uses it (CLI runs, agents, dev servers,
 * cron jobs) shares one session and makes one refresh per expiry between them. Node only.
 *
 * - Writes are atomic (a temporary file, fsync, rename) and compare-and-set on a version, so a reader never sees
 *   half a file and an older session never overwrites a newer one. Versions are the time of the write in ms (or
 *   one more than the last, if that is higher), so a file deleted and written again is newer than the lost one.
 *   The file is created 0600 in a 0700 folder; a file other users can read or write is refused with a StoreError.
 * - The refresh runs under a lock file with a lease: a holder that dies is taken over at once (its pid is gone),
 *   one that stops responding once its lease has ended, and no wait lasts longer than `lockLeaseMs`; whoever
 *   waited re-reads the file and adopts the session instead of refreshing again.
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
  const listeners = createListeners<StoreSnapshot>()
  const fileName = basename(path)
  let closed = false
  let delivered = -1 // the version last announced to listeners
  let highest = 0 // the highest version this store has read or written: the next write goes above it

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
    return toSnapshot(await file.read())
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
    await file.prepare()
    const held = await writeLock.acquire(WRITE_LEASE_MS).catch((error: unknown) => {
      throw new StoreError(`Could not lock ${where} for writing`, { cause: error })
    })
    try {
      const current = await file.read()
      if (current.version !== expectedVersion) return undefined
      const version = nextVersion(expectedVersion)
      const data = change.record ? await codec.encode(change.record, version, 0) : ''
      // A holder that was stopped past its lease may have been taken over: it writes nothing then.
      if (held.expired()) return undefined
      await file.write({ version, reason: change.reason, writer: change.writer, data })
      return Object.freeze({ version, record: change.record, reason: change.reason, writer: change.writer })
    } finally {
      await held.release().catch(report)
    }
  }

  async function lock<T>(fn: (grant?: LockGrant) => Promise<T>, lockOptions: LockOptions): Promise<T> {
    if (closed) throw closedError()
    const asked = Math.ceil(lockOptions?.leaseMs)
    if (!Number.isFinite(asked) || asked <= 0) throw new StoreError('lock() needs a leaseMs > 0')
    const leaseMs = Math.min(asked, lockLeaseMs)
    await file.prepare()
    watcher.start() // waiters wake when the lock file goes
    let held: Awaited<ReturnType<typeof refreshLock.acquire>>
    try {
      held = await refreshLock.acquire(leaseMs, lockOptions.signal)
    } catch (error) {
      if (lockOptions.signal?.aborted && error === lockOptions.signal.reason) throw error
      throw new StoreError(`Could not take the refresh lock of ${where}`, { cause: error })
    }
    try {
      return await fn({ until: held.until })
    } finally {
      await held.release().catch(report)
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
      const remove = listeners.add(listener)
      file.prepare().then(() => {
        if (closed) return
        watcher.start()
        changed() // a change written between the caller's read and the watch is caught here
      }, report)
      return remove
    },
    close() {
      closed = true
      watcher.close()
      listeners.clear()
      refreshLock.wake()
      writeLock.wake()
    },
  }

  function closedError(): StoreError {
    return new StoreError(`The file store of ${where} is closed`)
  }
}
