import { describe, parseDuration, rejectUnknownOptions } from '../../core/validate.js'
import { OptionError } from '../../errors/option-error.js'

/**
 * The part of a node-redis client (`redis` v5 or v6, `createClient()`) the store uses. Any connected node-redis
 * client fits, whatever modules, scripts or RESP version it was created with. Cluster clients do not.
 */
export interface RedisClientLike {
  readonly isOpen: boolean
  sendCommand(args: ReadonlyArray<string>, options?: { timeout?: number }): Promise<unknown>
  /** A new connection with the same options: the store opens one for pub/sub, and closes it in `close()`. */
  duplicate(): RedisConnectionLike
}

/** A connection the store opens itself (the pub/sub connection, or the client created from `url`). */
export interface RedisConnectionLike {
  readonly isOpen: boolean
  readonly isReady: boolean
  connect(): Promise<unknown>
  on(event: 'error' | 'ready', listener: (error: Error) => void): unknown
  subscribe(channel: string, listener: (message: string, channel: string) => unknown): Promise<unknown>
  close(): Promise<unknown>
  destroy(): unknown
  /** Let the process exit while this connection is open (node-redis: the socket is unref'd, also after reconnects). */
  unref?(): void
  /** Keep the process alive while this connection is open. */
  ref?(): void
}

/** @inline */
interface CommonOptions {
  /**
   * The Redis key of the session (a hash). The lock lives at `${key}:lock` and changes are announced on the
   * pub/sub channel `${key}:changes`. Instances that share a session use the same key.
   * @example 'plantly:session:billing-worker'
   */
  key: string
  /**
   * Seal the stored session with this 32-byte key (JWE compact, `dir` + `A256GCM`, via jose), so Redis never
   * holds a bearer token in clear. Every instance sharing the key needs the same encryption key.
   * @example Buffer.from(process.env.SESSION_KEY, 'base64')
   */
  encryptionKey?: Uint8Array
  /**
   * How long one Redis command may take, in ms, before it fails with a StoreError.
   * @default 5_000
   */
  commandTimeoutMs?: number
  /**
   * The Redis lease of the refresh lock, in ms. The holder's watchdog extends it every third of the lease while
   * the holder runs, so a refresh slower than the lease keeps the lock; a holder that dies stops extending and
   * the others take over once the lease ends. Shorter means a crashed holder blocks the others for less time,
   * but a process that freezes (or loses Redis) for longer than the lease loses the lock.
   * @default the session's lease (2 × `refreshTimeoutMs` + 1 s)
   */
  lockLeaseMs?: number
  /**
   * The clock the session core uses (pass the same `now` you give `createSessionFetch`). Used to translate the
   * session's times to and from Redis' clock.
   * @default Date.now
   */
  now?: () => number
  /**
   * Told of errors that no call can report: connection errors and failed pub/sub deliveries (calls that fail
   * reject with a StoreError themselves).
   * @default ignore
   */
  onError?: (error: Error) => void
}

/** Options of `redisStore`: a Redis `url` (the store opens and closes its connections), or your `client`. */
export type RedisStoreOptions = CommonOptions &
  (
    | {
        /**
         * Connect to this Redis; the store opens its connections and `close()` ends them.
         * @example 'redis://127.0.0.1:6379'
         */
        url: string | URL
        client?: undefined
        /**
         * The connection name Redis shows in `CLIENT LIST` (only with `url`).
         * @default 'session-fetch'
         */
        name?: string
      }
    | {
        url?: undefined
        /** Your connected node-redis client. The store never closes it; it opens (and closes) one more for pub/sub. */
        client: RedisClientLike
        name?: undefined
      }
  )

export interface ResolvedRedisStoreOptions {
  url: string | undefined
  client: RedisClientLike | undefined
  key: string
  name: string
  encryptionKey: Uint8Array | undefined
  commandTimeoutMs: number
  lockLeaseMs: number | undefined
  now: () => number
  onError: (error: Error) => void
}

const OPTIONS = {
  key: true,
  encryptionKey: true,
  commandTimeoutMs: true,
  lockLeaseMs: true,
  now: true,
  onError: true,
  url: true,
  client: true,
  name: true,
} satisfies Record<keyof CommonOptions | 'url' | 'client' | 'name', true>

const NAME = /^[!-~]+$/ // what CLIENT SETNAME accepts: no spaces or newlines

/** Check `redisStore` options; every error names the option and never echoes a URL (it may hold a password). */
export function resolveRedisStoreOptions(options: RedisStoreOptions): ResolvedRedisStoreOptions {
  if (typeof options !== 'object' || options === null) {
    throw new OptionError('options', 'expected an object with `key` and either `url` or `client`')
  }
  rejectUnknownOptions(options, OPTIONS)
  const { url, client, key, encryptionKey, name = 'session-fetch', now, onError } = options
  if (typeof key !== 'string' || key.length === 0) {
    throw new OptionError('key', `expected a non-empty string, got ${describe(key)}`)
  }
  if ((url === undefined) === (client === undefined)) {
    throw new OptionError('url', 'pass exactly one of `url` (a Redis URL) and `client` (a node-redis client)')
  }
  let href: string | undefined
  if (url !== undefined) {
    let parsed: URL | undefined
    try {
      parsed = new URL(String(url))
    } catch {
      parsed = undefined
    }
    if (!parsed || (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')) {
      throw new OptionError('url', 'expected a redis:// or rediss:// URL')
    }
    href = parsed.href
  }
  if (
    client !== undefined &&
    (typeof client !== 'object' ||
      client === null ||
      typeof client.sendCommand !== 'function' ||
      typeof client.duplicate !== 'function')
  ) {
    throw new OptionError(
      'client',
      'expected a node-redis client (from `createClient()` of `redis` v5 or v6)',
    )
  }
  if (
    encryptionKey !== undefined &&
    (!(encryptionKey instanceof Uint8Array) || encryptionKey.length !== 32)
  ) {
    throw new OptionError(
      'encryptionKey',
      encryptionKey instanceof Uint8Array
        ? `expected 32 bytes for A256GCM, got ${encryptionKey.length}`
        : `expected 32 bytes (a Uint8Array or Buffer), got ${describe(encryptionKey)}`,
    )
  }
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new OptionError('name', 'expected a connection name without spaces')
  }
  for (const [option, value] of [
    ['now', now],
    ['onError', onError],
  ] as const) {
    if (value !== undefined && typeof value !== 'function') {
      throw new OptionError(option, `expected a function, got ${describe(value)}`)
    }
  }
  return {
    url: href,
    client,
    key,
    name,
    // A copy, so a caller reusing its buffer cannot change the key under a running store.
    encryptionKey: encryptionKey && new Uint8Array(encryptionKey),
    commandTimeoutMs: parseDuration(options.commandTimeoutMs ?? 5_000, 'commandTimeoutMs', true),
    lockLeaseMs: options.lockLeaseMs === undefined ? undefined : Math.ceil(parseLease(options.lockLeaseMs)),
    now: now ?? Date.now,
    onError: onError ?? (() => {}),
  }
}

// A watchdog ticks every third of the lease: below 30 ms it would be a busy loop.
function parseLease(value: unknown): number {
  const lease = parseDuration(value, 'lockLeaseMs', true)
  if (lease < 30) throw new OptionError('lockLeaseMs', `expected at least 30 ms, got ${lease}`)
  return lease
}
