import { randomUUID } from 'node:crypto'
import { link, readFile, stat, unlink, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { wakeablePauses } from '../wakeable-pause.js'

/** What a lock file says: who holds it and until when (local epoch ms; every holder is on this machine's clock). */
interface Holder {
  owner: string
  pid: number
  host: string
  until: number
}

const MIN_BACKOFF_MS = 5
const MAX_BACKOFF_MS = 100
// The break lock is held for a few file operations; one older than this belongs to a process that died there.
const BREAK_STALE_MS = 5_000

/** A lock held by this process: when its lease ends, and how to let go. */
export interface HeldLock {
  readonly until: number
  release(): Promise<void>
}

/**
 * A lock shared by every process that uses `path`: the lock file exists while someone holds it.
 *
 * - Taking it is atomic and never shows a half-written lock: the holder's record (owner id, pid, host, lease end)
 *   is written to a file of its own, then hard-linked to `path`, which fails if `path` exists.
 * - A lock is stale once its lease has ended, or at once when its holder is a process of this host that no
 *   longer exists (SIGKILL, a crash). Whoever finds it stale removes it and tries again.
 * - Removing (a stale lock, or one's own on release) happens under a second, short-lived lock (`path.break`),
 *   and only if `path` still holds the record that was judged: so two waiters that both found a lock stale never
 *   remove the lock one of them has just taken, and a holder whose lease ran out never removes its successor's.
 * - Waiters poll with a bounded backoff, never past the holder's lease, and try again at once when `wake()` is
 *   called (the store's directory watcher sees the lock file go).
 */
export function createFileLock(path: string) {
  const host = hostname()
  const { pause, wake } = wakeablePauses()

  async function readHolder(file: string): Promise<Holder | undefined | 'unreadable'> {
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (error) {
      if (isCode(error, 'ENOENT')) return undefined
      throw error
    }
    try {
      const holder = JSON.parse(text) as Partial<Holder> | null
      if (
        typeof holder?.owner === 'string' &&
        typeof holder.pid === 'number' &&
        typeof holder.host === 'string' &&
        typeof holder.until === 'number'
      ) {
        return holder as Holder
      }
    } catch {
      // fall through: not a lock this code wrote
    }
    return 'unreadable'
  }

  function isStale(holder: Holder): boolean {
    return Date.now() >= holder.until || (holder.host === host && !isAlive(holder.pid))
  }

  /** Run `fn` under the break lock; undefined when another process holds it now (try again shortly). */
  async function underBreakLock<T>(fn: () => Promise<T>): Promise<T | undefined> {
    const breakPath = `${path}.break`
    try {
      await writeFile(breakPath, String(process.pid), { flag: 'wx', mode: 0o600 })
    } catch (error) {
      if (!isCode(error, 'EEXIST')) throw error
      const since = await stat(breakPath).then(
        (s) => s.mtimeMs,
        () => undefined,
      )
      if (since !== undefined && Date.now() - since > BREAK_STALE_MS) await unlinkIfPresent(breakPath)
      return undefined
    }
    try {
      return await fn()
    } finally {
      await unlinkIfPresent(breakPath)
    }
  }

  /** Remove the lock file if it still holds `owner`'s record. False when the break lock was busy. */
  async function removeIf(owner: string | undefined, mtimeMs?: number): Promise<boolean> {
    const done = await underBreakLock(async () => {
      const now = await readHolder(path)
      if (now === undefined) return true
      if (now === 'unreadable') {
        // A foreign or damaged lock file: removed only if it is still the one judged stale (same mtime).
        const current = await stat(path).then(
          (s) => s.mtimeMs,
          () => undefined,
        )
        if (owner === undefined && current === mtimeMs) await unlinkIfPresent(path)
        return true
      }
      if (now.owner === owner) await unlinkIfPresent(path)
      return true
    })
    return done === true
  }

  /** One attempt: the lock, or how long to wait before the next. */
  async function attempt(leaseMs: number): Promise<HeldLock | { retryInMs: number }> {
    const owner = randomUUID()
    const until = Date.now() + leaseMs
    const record: Holder = { owner, pid: process.pid, host, until }
    const mine = `${path}.${owner}.tmp`
    await writeFile(mine, JSON.stringify(record), { flag: 'wx', mode: 0o600 })
    let taken = false
    try {
      await link(mine, path)
      taken = true
    } catch (error) {
      if (!isCode(error, 'EEXIST')) throw error
    } finally {
      await unlinkIfPresent(mine)
    }
    if (taken) {
      return {
        until,
        async release() {
          // Under the break lock, and only our own record: after our lease the file may be a successor's.
          while (!(await removeIf(owner))) await sleep(MIN_BACKOFF_MS)
        },
      }
    }
    const holder = await readHolder(path)
    if (holder === undefined) return { retryInMs: 0 } // released meanwhile
    if (holder === 'unreadable') {
      const mtimeMs = await stat(path).then(
        (s) => s.mtimeMs,
        () => undefined,
      )
      if (mtimeMs === undefined) return { retryInMs: 0 }
      const remaining = mtimeMs + leaseMs - Date.now()
      if (remaining > 0) return { retryInMs: remaining }
      return { retryInMs: (await removeIf(undefined, mtimeMs)) ? 0 : MIN_BACKOFF_MS }
    }
    if (isStale(holder)) return { retryInMs: (await removeIf(holder.owner)) ? 0 : MIN_BACKOFF_MS }
    return { retryInMs: holder.until - Date.now() }
  }

  return {
    /** Take the lock for `leaseMs`, waiting for as long as it takes (or until `signal` aborts). */
    async acquire(leaseMs: number, signal?: AbortSignal): Promise<HeldLock> {
      for (let tries = 0; ; tries++) {
        signal?.throwIfAborted()
        const result = await attempt(leaseMs)
        if ('release' in result) return result
        if (result.retryInMs <= 0) continue
        const backoff = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** tries) * (0.5 + Math.random() / 2)
        await pause(Math.min(backoff, result.retryInMs + 1), signal)
      }
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

export function isCode(error: unknown, code: string): boolean {
  return (error as { code?: unknown } | null)?.code === code
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
