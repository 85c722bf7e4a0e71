import { issuerBinding } from '../../core/issuer.js'
import type { ChangeReason, LockOptions, SessionStore, StoreChange, StoreSnapshot } from '../../core/store.js'
import { StoreError } from '../../errors/store-error.js'
import { createCodec } from '../record-codec.js'
import { createRedisClock } from './clock.js'
import { createCommands, ReplicaUnconfirmed } from './connection.js'
import { createRedisLock, UNLOCKED } from './lock.js'
import { type RedisStoreOptions, resolveRedisStoreOptions } from './options.js'
import { createSubscription } from './pubsub.js'
import { NOTHING, WRITE } from './scripts.js'

/** A {@link SessionStore} in Redis, shared by every process that uses the same key. */
export interface RedisStore extends SessionStore {
  lock<T>(fn: () => Promise<T>, options: LockOptions): Promise<T>
  subscribe(listener: (snapshot: StoreSnapshot) => void): () => void
  /** End the connections this store opened (the `url` client and the pub/sub connection), never your `client`. */
  close(): Promise<void>
}

// How long a store whose primary lost its replicas uses unconfirmed writes at once (see write()).
const DEGRADED_MS = 60_000

const REASONS: ReadonlySet<string> = new Set<ChangeReason>(['login', 'refresh', 'logout', 'expired'])

/**
 * Keep the session in Redis so that every process sharing `key` uses one session and makes one refresh per
 * expiry between them: compare-and-set writes (Lua, on a version), a token-owned lock with a lease for the
 * refresh (SET NX PX, extended by a watchdog while the holder runs, released by compare-and-delete), and pub/sub
 * so the others adopt a new session at once. One Redis (`url`), a Redis Cluster (`rootNodes`, or a `createCluster()`
 * client: one hash slot per session, sharded pub/sub) or Sentinel (a `createSentinel()` client); each write waits
 * for a replica (`WAIT`) and calls retry through a failover.
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
  const commands = createCommands(resolved)
  // On a cluster every key of the session (hash, lock, channel) shares one hash slot: the key's own hash tag,
  // or the whole key as one.
  const hashKey = commands.kind === 'cluster' && !hasHashTag(key) ? `{${key}}` : key
  const channel = `${hashKey}:changes`
  const codec = createCodec(key, resolved.encryptionKey, {
    where: `the session stored at Redis key ${JSON.stringify(key)}`,
    factory: 'redisStore()',
  })
  const offsetMs = createRedisClock((args) => commands.send(args), resolved.now)
  const locking = createRedisLock(commands, `${hashKey}:lock`, channel, resolved.lockLeaseMs)
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

  async function fields(): Promise<(string | undefined)[]> {
    const reply = (await commands.send(
      ['HMGET', hashKey, 'version', 'data', 'reason', 'writer'],
      hashKey,
    )) as unknown[]
    return reply.map((field) => (field === null || field === undefined ? undefined : String(field)))
  }

  async function read(): Promise<StoreSnapshot> {
    const [version, data, reason, writer] = await commands.retrying(fields)
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
    const args = [
      String(expectedVersion),
      String(version),
      data,
      change.reason,
      change.writer,
      channel,
      message,
      commands.publish,
    ]
    const written = Object.freeze({
      version,
      record: change.record,
      reason: change.reason,
      writer: change.writer,
    })
    // Ours is in Redis: this version with this data, by this writer.
    const landed = async () => {
      const [storedVersion, storedData = '', , storedWriter] = await fields()
      return Number(storedVersion) === version && storedData === data && storedWriter === change.writer
    }
    // A write counts once the primary ran it and (with replicas) one of them has it. Through a failover: after a
    // failed attempt, ours is looked for first (its answer may have been lost, or a replica may have it), and a
    // write the old primary took but never passed on (the promoted replica still holds the expected version) is
    // written again.
    let tried = false
    const attempt = async () => {
      if (tried) {
        if (await landed()) {
          confirm((await commands.runDurably(NOTHING, [hashKey], [])).acked)
          return written
        }
        const [storedVersion] = await fields()
        if (Number(storedVersion ?? 0) !== expectedVersion) return undefined // another writer got there first
      }
      tried = true
      const { reply, acked } = await commands.runDurably(WRITE, [hashKey], args)
      if (reply === null || reply === undefined) return undefined
      confirm(acked)
      return written
    }
    try {
      return await commands.retrying(attempt)
    } catch (error) {
      if (!(error instanceof ReplicaUnconfirmed)) throw error
      // Still no replica after failoverTimeoutMs: the tokens are used anyway (the server has rotated them, they
      // exist nowhere else), and onError is told. The primary has lost its replicas (a failover promoted its only
      // one): for a minute, writes no replica confirms are used at once rather than held up again.
      degradedUntil = Date.now() + DEGRADED_MS
      commands.report(
        new StoreError(
          `No replica confirmed the session written at Redis key ${JSON.stringify(key)} within ${resolved.failoverTimeoutMs} ms: a failover now could lose it`,
        ),
        'write',
      )
      return written
    }
  }

  // One Redis: a write no replica confirmed in time is used and reported. A cluster or sentinel: it is looked at
  // again after a backoff (a failover may be under way), through `failoverTimeoutMs`.
  let degradedUntil = 0
  function confirm(acked: number | undefined): void {
    if (acked === undefined || acked >= 1) return
    if (commands.kind !== 'client' && Date.now() >= degradedUntil) {
      throw new ReplicaUnconfirmed('no replica confirmed the write yet')
    }
    commands.report(
      new StoreError(
        `No replica confirmed the session written at Redis key ${JSON.stringify(key)} within ${resolved.replicaTimeoutMs} ms: a failover now could lose it`,
      ),
      'write',
    )
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

// A Redis Cluster hash tag: the part between the first `{` and the next `}`, when that is not empty.
function hasHashTag(key: string): boolean {
  const open = key.indexOf('{')
  const close = open === -1 ? -1 : key.indexOf('}', open + 1)
  return close > open + 1
}
