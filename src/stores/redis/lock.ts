import { randomUUID } from 'node:crypto'
import type { LockOptions } from '../../core/store.js'
import { StoreError } from '../../errors/store-error.js'
import type { RedisCommands } from './connection.js'
import { ACQUIRE, RELEASE } from './scripts.js'

/** The pub/sub message a lock release sends, so that waiters try again at once. */
export const UNLOCKED = 'unlocked'
const MIN_BACKOFF_MS = 10
const MAX_BACKOFF_MS = 250

/**
 * The refresh lock shared by every process on the key: `SET NX PX` with a random owner token and a lease,
 * released by compare-and-delete (Lua), so that a holder whose lease ran out never deletes someone else's lock.
 * Waiters back off (bounded, with jitter, never past the holder's lease) and wake at once on any message on
 * the channel (a release or a write).
 */
export function createRedisLock(commands: RedisCommands, lockKey: string, channel: string) {
  const wakers = new Set<() => void>()

  // Resolve after `ms`, or as soon as something is published on the channel, or reject with the signal's reason.
  function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer)
        wakers.delete(done)
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      const onAbort = () => {
        done()
        reject(signal?.reason)
      }
      const timer = setTimeout(done, ms)
      wakers.add(done)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  async function acquire(owner: string, leaseMs: number, signal: AbortSignal | undefined): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted()
      const [taken, remainingMs] = (
        (await commands.run(ACQUIRE, [lockKey], [owner, String(leaseMs)])) as unknown[]
      ).map(Number) as [number, number]
      if (taken === 1) return
      const backoff = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** attempt) * (0.5 + Math.random() / 2)
      await pause(remainingMs > 0 ? Math.min(backoff, remainingMs + 1) : backoff, signal)
    }
  }

  return {
    async lock<T>(fn: () => Promise<T>, options: LockOptions): Promise<T> {
      const leaseMs = Math.ceil(options?.leaseMs)
      if (!Number.isFinite(leaseMs) || leaseMs <= 0) throw new StoreError('lock() needs a leaseMs > 0')
      const owner = randomUUID()
      try {
        await acquire(owner, leaseMs, options.signal)
      } catch (error) {
        if (options.signal?.aborted && error === options.signal.reason) throw error
        throw commands.failure(error, 'lock')
      }
      try {
        return await fn()
      } finally {
        // Only our own lock is deleted: after an expired lease it may be someone else's.
        await commands
          .run(RELEASE, [lockKey], [owner, channel, UNLOCKED])
          .catch((error: unknown) => commands.report(error, 'unlock'))
      }
    },
    /** Something was published on the channel: waiters try again now. */
    wake(): void {
      for (const wake of [...wakers]) wake()
    },
  }
}
