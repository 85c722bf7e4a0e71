import { randomUUID } from 'node:crypto'
import type { Stats } from 'node:fs'
import { type FileHandle, link, lstat, open, unlink } from 'node:fs/promises'
import { hostname } from 'node:os'
import { StoreError } from '../../errors/store-error.js'
import { wakeablePauses } from '../wakeable-pause.js'
import { checkFile, type FileKind, isCode, readOwn, remove, WRITE_FLAGS, writeAll } from './private-files.js'

/** What a lock file says: who holds it and until when (local epoch ms, by the holder's clock). */
interface Holder {
  owner: string
  pid: number
  host: string
  until: number
}

/** Who holds a lock, as far as its file says, for a waiter's notice. */
export interface LockHolder {
  pid: number | undefined
  host: string | undefined
}

const MIN_BACKOFF_MS = 5
const MAX_BACKOFF_MS = 100
// The break lock is held for a few file operations; one older than this belongs to a process that died there.
const BREAK_STALE_MS = 5_000
const NOTICE_AFTER_MS = 1_000
// Every record takes the same room, so one made ahead of time can be rewritten in place (a host name is at most
// 255 bytes).
const RECORD_BYTES = 512
const LOCK_FILE: FileKind = { name: 'lock file', secret: false, remedy: 'remove it' }

/** A lock held by this process: when its lease ends, and how to let go. */
export interface HeldLock {
  /** Local epoch ms (Date.now) at which the lease ends, as the record says. */
  readonly until: number
  /** The lease has ended by this process's monotonic clock: another process may have taken the lock over. */
  expired(): boolean
  release(): Promise<void>
}

/** A lock record file made ahead of time, so that taking the lock later needs no more room on the disk. */
export interface RecordReservation {
  readonly path: string
  readonly ino: number
  readonly dev: number
  used: boolean
}

export interface FileLockOptions {
  /**
   * The longest lease any process using this lock grants: a waiter that has seen the same record for this long
   * (by its own monotonic clock) takes it for stale, whatever lease end it claims.
   */
  maxWaitMs: number
  /** Told once per wait that passes a second: who holds the lock. */
  onWait?: (holder: LockHolder) => void
}

/** How long this process has seen the same thing (a lock record), by its monotonic clock. */
function sameSince(): (id: string) => number {
  let seen: string | undefined
  let since = 0
  return (id) => {
    const now = performance.now()
    if (id !== seen) {
      seen = id
      since = now
    }
    return now - since
  }
}

const fileId = (stats: Stats) => `${stats.dev}:${stats.ino}:${stats.mtimeMs}:${stats.size}`

/**
 * A lock shared by every process that uses `path`: the lock file exists while someone holds it.
 *
 * - Taking it is atomic and never shows a half-written lock: the holder's record (owner id, pid, host, lease end)
 *   is written to a file of its own, then hard-linked to `path`, which fails if `path` exists.
 * - A lock is stale once its lease has ended, at once when its holder is a process of this host that no longer
 *   exists (SIGKILL, a crash), and in any case once a waiter has seen the same record for `maxWaitMs` (a lease
 *   end far ahead: a clock set back, a forged record, a holder on another host). Whoever finds it stale removes
 *   it and tries again.
 * - Removing (a stale lock, or one's own on release) happens under a second, short-lived lock (`path.break`, an
 *   empty file, so a full disk does not stop a release), and only if `path` still holds the record that was
 *   judged: so two waiters that both found a lock stale never remove the lock one of them has just taken, and a
 *   holder whose lease ran out never removes its successor's.
 * - Waiters poll with a bounded backoff, never past the holder's lease, and try again at once when `wake()` is
 *   called (the store's directory watcher sees the lock file go).
 * - Anything at these paths that is not a regular file of this user (a link, a FIFO, a folder, another user's
 *   file) is a StoreError naming it, never followed, waited on or spun over.
 */
export function createFileLock(path: string, options: FileLockOptions) {
  const host = hostname()
  const breakPath = `${path}.break`
  const { pause, wake } = wakeablePauses()
  const breakSeen = sameSince()

  async function readHolder(file: string): Promise<{ holder: Holder | undefined; stats: Stats } | undefined> {
    const read = await readOwn(file, LOCK_FILE)
    if (!read) return undefined
    try {
      const holder = JSON.parse(read.text) as Partial<Holder> | null
      if (
        typeof holder?.owner === 'string' &&
        typeof holder.pid === 'number' &&
        typeof holder.host === 'string' &&
        typeof holder.until === 'number'
      ) {
        return { holder: holder as Holder, stats: read.stats }
      }
    } catch {
      // fall through: not a lock this code wrote
    }
    return { holder: undefined, stats: read.stats }
  }

  function isStale(holder: Holder): boolean {
    return Date.now() >= holder.until || (holder.host === host && !isAlive(holder.pid))
  }

  /** Run `fn` under the break lock; undefined when another process holds it now (try again shortly). */
  async function underBreakLock<T>(fn: () => Promise<T>): Promise<T | undefined> {
    try {
      await (await open(breakPath, 'wx', 0o600)).close()
    } catch (error) {
      if (!isCode(error, 'EEXIST')) throw error
      const stats = await lstat(breakPath).catch(() => undefined)
      if (!stats) return undefined
      checkFile(breakPath, LOCK_FILE, stats)
      // Old by its time, or seen unchanged by this process for as long (its time may lie: a clock set back).
      if (Date.now() - stats.mtimeMs > BREAK_STALE_MS || breakSeen(fileId(stats)) > BREAK_STALE_MS) {
        await unlinkIfPresent(breakPath)
      }
      return undefined
    }
    try {
      return await fn()
    } finally {
      await unlinkIfPresent(breakPath)
    }
  }

  /** Remove the lock file if it still holds `owner`'s record (or, for a foreign file, is still `judged`). */
  async function removeIf(owner: string | undefined, judged?: Stats): Promise<boolean> {
    const done = await underBreakLock(async () => {
      const now = await readHolder(path)
      if (now === undefined) return true
      const still =
        now.holder === undefined
          ? owner === undefined && judged !== undefined && fileId(now.stats) === fileId(judged)
          : now.holder.owner === owner
      if (still) await unlinkIfPresent(path)
      return true
    })
    return done === true
  }

  function recordBytes(record: Holder): Buffer {
    return Buffer.from(JSON.stringify(record).padEnd(RECORD_BYTES)) // JSON allows trailing spaces
  }

  async function createRecord(file: string, record: Holder): Promise<void> {
    let handle: FileHandle | undefined
    try {
      handle = await open(file, 'wx', 0o600)
      await writeAll(handle, recordBytes(record))
    } catch (error) {
      if (handle) await unlinkIfPresent(file).catch(() => {})
      throw error
    } finally {
      await handle?.close().catch(() => {})
    }
  }

  /** Write `record` over a reservation, in place (the same size: no new room needed). */
  async function rewriteRecord(reservation: RecordReservation, record: Holder): Promise<void> {
    const handle = await open(reservation.path, WRITE_FLAGS)
    try {
      const stats = await handle.stat()
      if (stats.ino !== reservation.ino || stats.dev !== reservation.dev || !stats.isFile()) {
        throw new StoreError(`The lock record ${JSON.stringify(reservation.path)} was replaced`)
      }
      await writeAll(handle, recordBytes(record))
    } finally {
      await handle.close().catch(() => {})
    }
  }

  type Busy = { retryInMs: number; id?: string; holder?: LockHolder; remove?: () => Promise<boolean> }

  /** One attempt: the lock, or how long to wait before the next (and what is waited for). */
  async function attempt(
    leaseMs: number,
    reservation: RecordReservation | undefined,
  ): Promise<HeldLock | Busy> {
    const owner = randomUUID()
    const until = Date.now() + leaseMs
    const deadline = performance.now() + leaseMs
    const record: Holder = { owner, pid: process.pid, host, until }
    const reserved = reservation !== undefined && !reservation.used
    const mine = reserved ? reservation.path : `${path}.${owner}.tmp`
    if (reserved) await rewriteRecord(reservation, record)
    else await createRecord(mine, record)
    let taken = false
    try {
      await link(mine, path)
      taken = true
    } catch (error) {
      if (!isCode(error, 'EEXIST')) {
        if (!reserved) await unlinkIfPresent(mine).catch(() => {})
        throw error
      }
    }
    // A reservation is kept for the next attempt until it is the lock.
    if (taken || !reserved) await unlinkIfPresent(mine)
    if (taken && reservation) reservation.used = true
    if (taken) {
      return {
        until,
        expired: () => performance.now() >= deadline,
        async release() {
          // Under the break lock, and only our own record: after our lease the file may be a successor's.
          while (!(await removeIf(owner))) await sleep(MIN_BACKOFF_MS)
        },
      }
    }
    const found = await readHolder(path)
    if (found === undefined) return { retryInMs: 0 } // released meanwhile
    const { holder, stats } = found
    if (holder === undefined) {
      // A foreign or damaged lock file: judged by its age.
      const remaining = stats.mtimeMs + leaseMs - Date.now()
      const remove = () => removeIf(undefined, stats)
      if (remaining <= 0) return { retryInMs: (await remove()) ? 0 : MIN_BACKOFF_MS }
      const who = { pid: undefined, host: undefined }
      return { retryInMs: remaining, id: fileId(stats), holder: who, remove }
    }
    if (isStale(holder)) return { retryInMs: (await removeIf(holder.owner)) ? 0 : MIN_BACKOFF_MS }
    return {
      retryInMs: holder.until - Date.now(),
      id: holder.owner,
      holder: { pid: holder.pid, host: holder.host },
      remove: () => removeIf(holder.owner),
    }
  }

  return {
    /**
     * Take the lock for `leaseMs`, waiting at most `maxWaitMs` for each holder (or until `signal` aborts). With
     * a `reservation` (see {@link reserve}), taking it needs no room on the disk.
     */
    async acquire(leaseMs: number, signal?: AbortSignal, reservation?: RecordReservation): Promise<HeldLock> {
      const waited = sameSince()
      const started = performance.now()
      let told = false
      let immediate = 0
      for (let tries = 0; ; tries++) {
        signal?.throwIfAborted()
        const result = await attempt(leaseMs, reservation)
        if ('release' in result) return result
        let retryInMs = result.retryInMs
        if (result.id !== undefined) {
          const left = options.maxWaitMs - waited(result.id)
          // Seen for the longest lease there is: stale, whatever lease end its record claims.
          if (left <= 0) retryInMs = (await result.remove?.()) ? 0 : MIN_BACKOFF_MS
          else retryInMs = Math.min(retryInMs, left)
          if (!told && performance.now() - started >= NOTICE_AFTER_MS && result.holder) {
            told = true
            options.onWait?.(result.holder)
          }
        }
        // Try again at once after a release, but never spin: a lock file that keeps coming back is waited for.
        if (retryInMs <= 0 && immediate++ < 3) continue
        immediate = 0
        const backoff = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** tries) * (0.5 + Math.random() / 2)
        await pause(Math.max(1, Math.min(backoff, retryInMs + 1)), signal)
      }
    },
    /** Make the record file of a later {@link acquire} now, while there is room for it. */
    async reserve(): Promise<RecordReservation> {
      const file = `${path}.${randomUUID()}.tmp`
      await createRecord(file, { owner: '', pid: process.pid, host, until: 0 })
      const { ino, dev } = await lstat(file)
      return { path: file, ino, dev, used: false }
    },
    /** Remove a reservation that was not used; false when it could not be (a read-only file system). */
    async discard(reservation: RecordReservation): Promise<boolean> {
      return reservation.used || (await remove(reservation.path))
    },
    /** The lock file may have gone: waiters try again now. */
    wake,
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return isCode(error, 'EPERM') // it exists, under another user
  }
}

async function unlinkIfPresent(file: string): Promise<void> {
  try {
    await unlink(file)
  } catch (error) {
    if (!isCode(error, 'ENOENT')) throw error
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
