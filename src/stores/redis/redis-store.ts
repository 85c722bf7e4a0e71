import { randomUUID } from 'node:crypto'
import { createClient } from 'redis'
import { issuerBinding } from '../../core/issuer.js'
import { createListeners } from '../../core/listeners.js'
import type { ChangeReason, LockOptions, SessionStore, StoreChange, StoreSnapshot } from '../../core/store.js'
import { StoreError, summarize } from '../../errors/store-error.js'
import { createCodec } from './codec.js'
import {
  type RedisClientLike,
  type RedisConnectionLike,
  type RedisStoreOptions,
  resolveRedisStoreOptions,
} from './options.js'
import { ACQUIRE, RELEASE, type Script, WRITE } from './scripts.js'

/** A {@link SessionStore} in Redis, shared by every process that uses the same key. */
export interface RedisStore extends SessionStore {
  lock<T>(fn: () => Promise<T>, options: LockOptions): Promise<T>
  subscribe(listener: (snapshot: StoreSnapshot) => void): () => void
  /** End the connections this store opened (the `url` client and the pub/sub connection), never your `client`. */
  close(): Promise<void>
}

const REASONS: ReadonlySet<string> = new Set<ChangeReason>(['login', 'refresh', 'logout', 'expired'])
const UNLOCKED = 'unlocked' // the pub/sub message a lock release sends, so waiters retry at once
const MIN_BACKOFF_MS = 10
const MAX_BACKOFF_MS = 250
const CLOCK_TTL_MS = 10 * 60_000 // re-measure the offset to Redis' clock after this long

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
  const { key, now, commandTimeoutMs } = resolved
  const lockKey = `${key}:lock`
  const channel = `${key}:changes`
  const codec = createCodec(key, resolved.encryptionKey)
  const owned: RedisConnectionLike | undefined =
    resolved.url === undefined ? undefined : createClient({ url: resolved.url, name: resolved.name })
  // The URL's password never appears in an error, should a connection error quote it.
  const secrets = [resolved.url && decodeURIComponent(new URL(resolved.url).password)]
  // Why the connection we opened is down, if it is: a command that times out meanwhile says only "timeout".
  let unreachable: unknown
  owned?.on('error', (error: unknown) => {
    report(error, 'connection')
    unreachable = error
  })
  owned?.on('ready', () => {
    unreachable = undefined
  })
  // The store's own connections never keep a process alive by themselves: the command connection holds it only
  // while a command is under way, and the pub/sub connection never does (listening is not work).
  let busy = 0
  const client = (resolved.client ?? owned) as RedisClientLike
  const listeners = createListeners<StoreSnapshot>()
  const wakers = new Set<() => void>()
  let subscriber: RedisConnectionLike | undefined
  let subscribing: Promise<void> | undefined
  let subscribed = false
  let delivery: Promise<void> = Promise.resolve()
  let clock: { offsetMs: number; at: number } | undefined
  let measuring: Promise<number> | undefined
  let closing: Promise<void> | undefined
  let connecting: Promise<void> | undefined

  function report(error: unknown, action: string): void {
    try {
      resolved.onError(failure(error, action))
    } catch {
      // a throwing onError must not break the store
    }
  }

  function failure(error: unknown, action: string): StoreError {
    if (error instanceof StoreError) return error
    const down =
      unreachable instanceof Error && unreachable !== error && !owned?.isReady
        ? ` while Redis is unreachable (${summarize(unreachable, secrets)})`
        : ''
    return new StoreError(`Redis ${action} of session key ${JSON.stringify(key)} failed${down}`, {
      cause: error,
      secrets,
    })
  }

  async function send(args: string[]): Promise<unknown> {
    if (closing) throw new StoreError(`The Redis store of key ${JSON.stringify(key)} is closed`)
    if (owned) {
      // Commands queue until the connection is up, each bounded by the timeout: an unreachable Redis fails
      // calls instead of hanging them.
      if (!connecting) {
        connecting = owned.connect().then(
          () => undefined,
          (error: unknown) => {
            connecting = undefined // let a later call try again
            report(error, 'connect')
          },
        )
      }
    } else if (!client.isOpen) {
      throw new StoreError(
        'The Redis client passed as `client` is not connected: call `client.connect()` first',
      )
    }
    if (!owned) return client.sendCommand(args, { timeout: commandTimeoutMs })
    if (busy++ === 0) owned.ref?.()
    try {
      return await client.sendCommand(args, { timeout: commandTimeoutMs })
    } finally {
      if (--busy === 0) owned.unref?.()
    }
  }

  async function run(script: Script, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await send(['EVALSHA', script.sha, String(keys.length), ...keys, ...args])
    } catch (error) {
      if (!String((error as Error | undefined)?.message).startsWith('NOSCRIPT')) throw error
      return send(['EVAL', script.source, String(keys.length), ...keys, ...args])
    }
  }

  // Redis time − local time, from the fastest of three TIME round trips.
  function offsetMs(): Promise<number> {
    if (clock && Math.abs(now() - clock.at) < CLOCK_TTL_MS) return Promise.resolve(clock.offsetMs)
    measuring ??= (async () => {
      let best: { rtt: number; offsetMs: number } | undefined
      for (let i = 0; i < 3; i++) {
        const before = now()
        const [seconds, micros] = (await send(['TIME'])) as [unknown, unknown]
        const after = now()
        const redisMs = Number(String(seconds)) * 1000 + Number(String(micros)) / 1000
        const sample = { rtt: after - before, offsetMs: redisMs - (before + after) / 2 }
        if (!Number.isFinite(sample.offsetMs)) throw new StoreError('Redis answered TIME with something else')
        if (!best || sample.rtt < best.rtt) best = sample
      }
      const offset = (best as { offsetMs: number }).offsetMs
      clock = { offsetMs: offset, at: now() }
      return offset
    })().finally(() => {
      measuring = undefined
    })
    return measuring
  }

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
    const reply = (await send(['HMGET', key, 'version', 'data', 'reason', 'writer'])) as unknown[]
    const [version, data, reason, writer] = reply.map((field) =>
      field === null || field === undefined ? undefined : String(field),
    )
    return snapshot(version === undefined ? 0 : Number(version), data, reason, writer)
  }

  async function write(change: StoreChange, expectedVersion: number): Promise<StoreSnapshot | undefined> {
    if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0 || !REASONS.has(change.reason)) {
      throw new StoreError('write() needs a version count and a change reason')
    }
    const version = expectedVersion + 1
    const data = change.record ? await codec.encode(change.record, version, await offsetMs()) : ''
    const message = JSON.stringify({ version, data, reason: change.reason, writer: change.writer })
    const written = await run(
      WRITE,
      [key],
      [String(expectedVersion), data, change.reason, change.writer, channel, message],
    )
    if (written === null || written === undefined) return undefined
    return Object.freeze({ version, record: change.record, reason: change.reason, writer: change.writer })
  }

  // Resolve after `ms`, or as soon as anything is published on the channel (a release or a write), or reject
  // with the signal's reason.
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
        (await run(ACQUIRE, [lockKey], [owner, String(leaseMs)])) as unknown[]
      ).map(Number) as [number, number]
      if (taken === 1) return
      // Bounded exponential backoff with jitter, never past the holder's lease; a release wakes us sooner.
      const backoff = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** attempt) * (0.5 + Math.random() / 2)
      await pause(remainingMs > 0 ? Math.min(backoff, remainingMs + 1) : backoff, signal)
    }
  }

  async function lock<T>(fn: () => Promise<T>, options: LockOptions): Promise<T> {
    const leaseMs = Math.ceil(options?.leaseMs)
    if (!Number.isFinite(leaseMs) || leaseMs <= 0) throw new StoreError('lock() needs a leaseMs > 0')
    const owner = randomUUID()
    try {
      await acquire(owner, leaseMs, options.signal)
    } catch (error) {
      if (options.signal?.aborted && error === options.signal.reason) throw error
      throw failure(error, 'lock')
    }
    try {
      return await fn()
    } finally {
      // Only our own lock is deleted: after an expired lease it may be someone else's.
      await run(RELEASE, [lockKey], [owner, channel, UNLOCKED]).catch((error: unknown) =>
        report(error, 'unlock'),
      )
    }
  }

  function deliver(next: StoreSnapshot): void {
    listeners.emit(next)
  }

  // Deliveries run one after another, in the order Redis published them.
  function enqueue(produce: () => Promise<StoreSnapshot>): void {
    delivery = delivery.then(produce).then(deliver, (error: unknown) => report(error, 'change notification'))
  }

  function onMessage(message: string): void {
    for (const wake of [...wakers]) wake()
    if (message === UNLOCKED || closing) return
    enqueue(async () => {
      const change = JSON.parse(message) as { version: number; data: string; reason: string; writer: string }
      return snapshot(change.version, change.data || undefined, change.reason, change.writer)
    })
  }

  function startSubscriber(): void {
    if (subscribing) return
    subscribing = (async () => {
      const connection = client.duplicate()
      connection.unref?.()
      subscriber = connection
      connection.on('error', (error: unknown) => report(error, 'pub/sub connection'))
      // After a reconnect (node-redis resubscribes by itself), read once: a change may have been missed.
      connection.on('ready', () => {
        if (subscribed && !closing) enqueue(read)
      })
      await connection.connect()
      if (closing) return end(connection)
      await connection.subscribe(channel, onMessage)
      subscribed = true
      // A change written between the caller's read and this subscription is caught here.
      enqueue(read)
    })().catch((error: unknown) => {
      subscribing = undefined
      report(error, 'subscribe')
    })
  }

  async function end(connection: RedisConnectionLike | undefined): Promise<void> {
    if (!connection?.isOpen) return
    if (connection.isReady) await connection.close()
    else connection.destroy() // still connecting (Redis unreachable): nothing to flush
  }

  return {
    read: () => read().catch((error: unknown) => Promise.reject(failure(error, 'read'))),
    write: (change, expectedVersion) =>
      write(change, expectedVersion).catch((error: unknown) => Promise.reject(failure(error, 'write'))),
    lock,
    bind: issuerBinding(), // clients of another issuer in other processes find out when they read the key
    subscribe(listener) {
      if (closing) throw new StoreError(`The Redis store of key ${JSON.stringify(key)} is closed`)
      const remove = listeners.add(listener)
      startSubscriber()
      return remove
    },
    close() {
      closing ??= (async () => {
        listeners.clear()
        for (const wake of [...wakers]) wake()
        await Promise.allSettled([end(subscriber), end(owned)])
      })()
      return closing
    },
  }
}
