import { issuerBinding } from '../../core/issuer.js'
import type { ChangeReason, LockOptions, SessionStore, StoreChange, StoreSnapshot } from '../../core/store.js'
import { StoreError } from '../../errors/store-error.js'
import { createRedisClock } from './clock.js'
import { createCodec } from './codec.js'
import { createCommands } from './connection.js'
import { createRedisLock, UNLOCKED } from './lock.js'
import { type RedisStoreOptions, resolveRedisStoreOptions } from './options.js'
import { createSubscription } from './pubsub.js'
import { WRITE } from './scripts.js'

/** A {@link SessionStore} in Redis, shared by every process that uses the same key. */
export interface RedisStore extends SessionStore {
  lock<T>(fn: () => Promise<T>, options: LockOptions): Promise<T>
  subscribe(listener: (snapshot: StoreSnapshot) => void): () => void
  /** End the connections this store opened (the `url` client and the pub/sub connection), never your `client`. */
  close(): Promise<void>
}

const REASONS: ReadonlySet<string> = new Set<ChangeReason>(['login', 'refresh', 'logout', 'expired'])

/**
 * Keep the session in Redis so that every process sharing `key` uses one session and makes one refresh per
 * expiry between them: compare-and-set writes (Lua, on a version), a token-owned lock with a lease for the
 * refresh (SET NX PX, released by compare-and-delete), and pub/sub so the others adopt a new session at once.
 *
 * @example
 * import { redisStore } from 'session-fetch/redis'
 * const store = redisStore({ url: 'redis://127.0.0.1:6379', key: 'plantly:session:billing' })
 * const plantly = createSessionFetch({ baseURL, store, credentials: () => serviceAccount })
 * // on shutdown
 * plantly.close()
 * await store.close()
 */
export function redisStore(options: RedisStoreOptions): RedisStore {
  const resolved = resolveRedisStoreOptions(options)
  const { key } = resolved
  const channel = `${key}:changes`
  const codec = createCodec(key, resolved.encryptionKey)
  const commands = createCommands(resolved)
  const offsetMs = createRedisClock(commands.send, resolved.now)
  const locking = createRedisLock(commands, `${key}:lock`, channel, resolved.lockLeaseMs)
  const subscription = createSubscription(commands, channel, {
    read,
    decode: (change) => snapshot(change.version, change.data || undefined, change.reason, change.writer),
    onMessage: locking.wake,
    ignore: UNLOCKED,
  })

  async function snapshot(
    version: number,
    data: string | undefined,
    reason: string | undefined,
    writer: string | undefined,
  ): Promise<StoreSnapshot> {
    if (!Number.isSafeInteger(version) || version < 0) {
      throw new StoreError(`The version stored at Redis key ${JSON.stringify(key)} is not a count`)
    }
    const record = data ? await codec.decode(data, version, await offsetMs()) : undefined
    return Object.freeze({
      version,
      record,
      reason: reason !== undefined && REASONS.has(reason) ? (reason as ChangeReason) : undefined,
      writer,
    })
  }

  async function read(): Promise<StoreSnapshot> {
    const reply = (await commands.send(['HMGET', key, 'version', 'data', 'reason', 'writer'])) as unknown[]
    const [version, data, reason, writer] = reply.map((field) =>
      field === null || field === undefined ? undefined : String(field),
    )
    return snapshot(version === undefined ? 0 : Number(version), data, reason, writer)
  }

  async function write(change: StoreChange, expectedVersion: number): Promise<StoreSnapshot | undefined> {
    if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0 || !REASONS.has(change.reason)) {
      throw new StoreError('write() needs a version count and a change reason')
    }
    const offset = await offsetMs()
    // The first write on an empty key (a new key, or one Redis lost in a restart without persistence) starts at
    // Redis' clock in ms rather than at 1: a session written after a restart has a version above every one written
    // before it, so processes that still hold an older one adopt it instead of taking it for a stale copy.
    const version =
      expectedVersion === 0 ? Math.max(1, Math.round(resolved.now() + offset)) : expectedVersion + 1
    const data = change.record ? await codec.encode(change.record, version, offset) : ''
    const message = JSON.stringify({ version, data, reason: change.reason, writer: change.writer })
    const written = await commands.run(
      WRITE,
      [key],
      [
        String(expectedVersion),
        String(version),
        data,
        change.reason,
        change.writer,
        channel,
        message,
        commands.publish,
      ],
    )
    if (written === null || written === undefined) return undefined
    return Object.freeze({ version, record: change.record, reason: change.reason, writer: change.writer })
  }

  let closing: Promise<void> | undefined
  const closed = () => new StoreError(`The Redis store of key ${JSON.stringify(key)} is closed`)

  return {
    read: () => read().catch((error: unknown) => Promise.reject(commands.failure(error, 'read'))),
    write: (change, expectedVersion) =>
      write(change, expectedVersion).catch((error: unknown) =>
        Promise.reject(commands.failure(error, 'write')),
      ),
    lock: (fn, lockOptions) => locking.lock(fn, lockOptions),
    bind: issuerBinding(), // clients of another issuer in other processes find out when they read the key
    subscribe(listener) {
      if (closing) throw closed()
      return subscription.subscribe(listener)
    },
    close() {
      closing ??= (async () => {
        const ending = commands.close()
        locking.wake()
        await Promise.allSettled([subscription.close(), ending])
      })()
      return closing
    },
  }
}
