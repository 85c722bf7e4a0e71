import { randomUUID } from 'node:crypto'
import type { LockOptions } from '../../core/store.js'
import { StoreError } from '../../errors/store-error.js'
import { wakeablePauses } from '../wakeable-pause.js'
import type { RedisCommands } from './connection.js'
import { ACQUIRE, EXTEND, RELEASE } from './scripts.js'

/** The pub/sub message a lock release sends, so that waiters try again at once. */
export const UNLOCKED = 'unlocked'
const MIN_BACKOFF_MS = 10
const MAX_BACKOFF_MS = 250

/**
 * The refresh lock shared by every process on the key: `SET NX PX` with a random owner token and a lease,
 * released by compare-and-delete (Lua), so that a holder whose lease ran out never deletes someone else's lock.
 * Waiters back off (bounded, with jitter, never past the holder's lease) and wake at once on any message on
 * the channel (a release or a write).
 *
 * A watchdog extends the lease while the holder runs: every third of the lease, a compare-and-extend (Lua: `GET` =
 * my token → `PEXPIRE`), so a refresh slower than the lease keeps the lock. A holder that dies (or loses Redis)
 * stops extending and its lease ends as before. `leaseMs` (the store's `lockLeaseMs`) replaces the lease the
 * caller asks for, when set.
 */
export function createRedisLock(
  commands: RedisCommands,
  lockKey: string,
  channel: string,
  leaseOverrideMs?: number,
) {
  const { pause, wake } = wakeablePauses()

  async function acquire(owner: string, leaseMs: number, signal: AbortSignal | undefined): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted()
      const reply = await commands.retrying(
        () => commands.run(ACQUIRE, [lockKey], [owner, String(leaseMs)]),
        signal,
      )
      const [taken, remainingMs] = (reply as unknown[]).map(Number) as [number, number]
      if (taken === 1) return
      const backoff = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** attempt) * (0.5 + Math.random() / 2)
      await pause(remainingMs > 0 ? Math.min(backoff, remainingMs + 1) : backoff, signal)
    }
  }

  // Extend the lease every third of it while the holder runs. An extension that finds the lock gone or someone
  // else's (the lease ended while this process was frozen or cut off) stops and says so; one that fails (Redis
  // unreachable) is tried again at the next tick, while the lease may still be running.
  function watch(owner: string, leaseMs: number): () => void {
    let stopped = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const tick = async () => {
      try {
        const extended = Number(await commands.run(EXTEND, [lockKey], [owner, String(leaseMs)]))
        if (extended !== 1 && !stopped) {
          stopped = true
          commands.report(
            new StoreError(
              `The refresh lock ${JSON.stringify(lockKey)} was lost: its lease ended before the holder finished`,
            ),
            'lock extension',
          )
        }
      } catch (error) {
        if (!stopped) commands.report(error, 'lock extension')
      }
      schedule()
    }
    const schedule = () => {
      if (stopped || commands.closed) return
      timer = setTimeout(tick, Math.max(1, Math.floor(leaseMs / 3)))
      timer.unref?.() // the holder's own work keeps the process alive, not its watchdog
    }
    schedule()
    return () => {
      stopped = true
      clearTimeout(timer)
    }
  }

  return {
    async lock<T>(fn: () => Promise<T>, options: LockOptions): Promise<T> {
      const leaseMs = leaseOverrideMs ?? Math.ceil(options?.leaseMs)
      if (!Number.isFinite(leaseMs) || leaseMs <= 0) throw new StoreError('lock() needs a leaseMs > 0')
      const owner = randomUUID()
      try {
        await acquire(owner, leaseMs, options.signal)
      } catch (error) {
        if (options.signal?.aborted && error === options.signal.reason) throw error
        throw commands.failure(error, 'lock')
      }
      const unwatch = watch(owner, leaseMs)
      try {
        return await fn()
      } finally {
        unwatch()
        // Only our own lock is deleted: after an expired lease it may be someone else's.
        await commands
          .retrying(() => commands.run(RELEASE, [lockKey], [owner, channel, UNLOCKED, commands.publish]))
          .catch((error: unknown) => commands.report(error, 'unlock'))
      }
    },
    /** Something was published on the channel: waiters try again now. */
    wake,
  }
}
