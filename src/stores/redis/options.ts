import { describe, parseDuration, rejectUnknownOptions } from '../../core/validate.js'
import { OptionError } from '../../errors/option-error.js'
import { parseEncryptionKey } from '../encryption-key.js'

/**
 * The part of a node-redis client (`redis` v5 or v6, `createClient()`) the store uses. Any connected node-redis
 * client fits, whatever modules, scripts or RESP version it was created with.
 */
export interface RedisClientLike {
  readonly isOpen: boolean
  sendCommand(args: ReadonlyArray<string>, options?: { timeout?: number }): Promise<unknown>
  /** A new connection with the same options: the store opens one for pub/sub, and closes it in `close()`. */
  duplicate(): RedisConnectionLike
}

/**
 * The part of a node-redis cluster client (`createCluster()`, `redis` v6) the store uses: commands routed by
 * key, and the connection to the primary that serves a key (for `WAIT` after a write).
 */
export interface RedisClusterLike {
  readonly isOpen: boolean
  sendCommand(
    firstKey: string | undefined,
    isReadonly: boolean | undefined,
    args: string[],
    options?: { timeout?: number },
  ): Promise<unknown>
  getNodeClientForKey(key: string, isReadonly?: boolean): Promise<RedisClientLike> | RedisClientLike
  duplicate(): RedisConnectionLike
}

/** The part of a node-redis sentinel client (`createSentinel()`) the store uses. */
export interface RedisSentinelLike {
  readonly isOpen: boolean
  sendCommand(
    isReadonly: boolean | undefined,
    args: string[],
    options?: { timeout?: number },
  ): Promise<unknown>
  /** Run `fn` on one connection to the current primary. */
  use<T>(
    fn: (client: {
      sendCommand(
        isReadonly: boolean | undefined,
        args: string[],
        options?: { timeout?: number },
      ): Promise<unknown>
    }) => Promise<T>,
  ): Promise<T>
  getMasterNode(): unknown
  duplicate(): RedisConnectionLike
}

/** A connection the store opens itself (the pub/sub connection, or the client created from `url`). */
export interface RedisConnectionLike {
  readonly isOpen: boolean
  readonly isReady: boolean
  connect(): Promise<unknown>
  on(event: 'error' | 'ready' | 'node-ready' | 'topology-change', listener: (error: Error) => void): unknown
  subscribe(channel: string, listener: (message: string, channel: string) => unknown): Promise<unknown>
  /** Sharded pub/sub (Redis >= 7), used on a cluster. */
  sSubscribe?(channel: string, listener: (message: string, channel: string) => unknown): Promise<unknown>
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
   * pub/sub channel `${key}:changes`. Instances that share a session use the same key. A key ending in `:lock`
   * or `:changes` is refused (`OptionError`): it would be the lock or the channel of another key.
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
  /**
   * After each write, wait until this many replicas have it (`WAIT`) before the write counts as done, so that a
   * replica promoted by a failover has the new session. Skipped when the primary has no replica connected; `0`
   * never waits. A write no replica confirmed within `replicaTimeoutMs` is used anyway (and reported on
   * `onError`): the server has already rotated the tokens, and they exist nowhere else.
   * @default 1
   */
  replicas?: number
  /**
   * How long a write waits for `replicas`, in ms: added to each refresh while a replica lags.
   * @default 1_000
   */
  replicaTimeoutMs?: number
  /**
   * How long a call keeps retrying (with backoff) while Redis fails over or reconnects (connection lost,
   * `CLUSTERDOWN`, `TRYAGAIN`, `READONLY`, `LOADING`) before it fails with a StoreError. A write that may have
   * landed is checked before it is retried, and one lost by a failover is written again.
   * @default 15_000 with a cluster or sentinel client, 0 with one Redis (nothing to fail over to)
   */
  failoverTimeoutMs?: number
}

/**
 * Options of `redisStore`: a Redis `url` or a cluster's `rootNodes` (the store opens and closes its
 * connections), or your node-redis `client` (standalone, cluster or sentinel).
 */
export type RedisStoreOptions = CommonOptions &
  (
    | {
        /**
         * Connect to this Redis; the store opens its connections and `close()` ends them.
         * @example 'redis://127.0.0.1:6379'
         */
        url: string | URL
        client?: undefined
        rootNodes?: undefined
        /**
         * The connection name Redis shows in `CLIENT LIST` (only with `url`).
         * @default 'session-fetch'
         */
        name?: string
      }
    | {
        url?: undefined
        client?: undefined
        /**
         * Connect to the Redis Cluster these nodes belong to (some of its nodes' URLs; the others are discovered).
         * Each node is a URL or, as node-redis's `createCluster({ rootNodes })` takes them, `{ url }`. The store
         * opens a cluster client and `close()` ends it.
         * @example ['redis://10.0.0.1:6379', 'redis://10.0.0.2:6379']
         */
        rootNodes: ReadonlyArray<string | URL | { url: string | URL }>
        name?: string
      }
    | {
        url?: undefined
        rootNodes?: undefined
        /**
         * Your connected node-redis client: `createClient()`, `createCluster()` or `createSentinel()`. The store never
         * closes it; it opens (and closes) one more for pub/sub.
         */
        client: RedisClientLike | RedisClusterLike | RedisSentinelLike
        name?: undefined
      }
  )

/** Which kind of Redis the store talks to. */
export type RedisKind = 'client' | 'cluster' | 'sentinel'

export interface ResolvedRedisStoreOptions {
  url: string | undefined
  rootNodes: string[] | undefined
  client: RedisClientLike | RedisClusterLike | RedisSentinelLike | undefined
  kind: RedisKind
  key: string
  name: string
  encryptionKey: Uint8Array | undefined
  commandTimeoutMs: number
  lockLeaseMs: number | undefined
  now: () => number
  onError: (error: Error) => void
  replicas: number
  replicaTimeoutMs: number
  failoverTimeoutMs: number
}

const OPTIONS = {
  key: true,
  encryptionKey: true,
  commandTimeoutMs: true,
  lockLeaseMs: true,
  now: true,
  onError: true,
  replicas: true,
  replicaTimeoutMs: true,
  failoverTimeoutMs: true,
  url: true,
  rootNodes: true,
  client: true,
  name: true,
} satisfies Record<keyof CommonOptions | 'url' | 'rootNodes' | 'client' | 'name', true>

// The names the store derives from a key; a session key ending in one would be another key's lock or channel.
const RESERVED_SUFFIXES = [':lock', ':changes'] as const

const NAME = /^[!-~]+$/ // what CLIENT SETNAME accepts: no spaces or newlines

/** Check `redisStore` options; every error names the option and never echoes a URL (it may hold a password). */
export function resolveRedisStoreOptions(options: RedisStoreOptions): ResolvedRedisStoreOptions {
  if (typeof options !== 'object' || options === null) {
    throw new OptionError('options', 'expected an object with `key` and either `url` or `client`')
  }
  rejectUnknownOptions(options, OPTIONS)
  const { url, rootNodes, client, key, encryptionKey, name = 'session-fetch', now, onError } = options
  if (typeof key !== 'string' || key.length === 0) {
    throw new OptionError('key', `expected a non-empty string, got ${describe(key)}`)
  }
  const reserved = RESERVED_SUFFIXES.find((suffix) => key.endsWith(suffix))
  if (reserved) {
    throw new OptionError(
      'key',
      `must not end in \`${reserved}\`: the store keeps the lock of a key at \`<key>:lock\` and announces its changes on \`<key>:changes\`, so this key would be another session's (pick another suffix, e.g. \`-lock\`)`,
    )
  }
  if ([url, rootNodes, client].filter((given) => given !== undefined).length !== 1) {
    throw new OptionError(
      'url',
      'pass exactly one of `url` (a Redis URL), `rootNodes` (Redis Cluster URLs) and `client` (a node-redis client)',
    )
  }
  const href = url === undefined ? undefined : parseRedisURL(url, 'url')
  let nodes: string[] | undefined
  if (rootNodes !== undefined) {
    if (!Array.isArray(rootNodes) || rootNodes.length === 0) {
      throw new OptionError('rootNodes', 'expected a non-empty array of redis:// URLs (or of `{ url }`)')
    }
    nodes = rootNodes.map((node: unknown) => parseRedisURL(nodeURL(node), 'rootNodes'))
  }
  let kind: RedisKind = nodes ? 'cluster' : 'client'
  if (client !== undefined) {
    const given = client as unknown as Record<string, unknown> | null
    if (
      typeof given !== 'object' ||
      given === null ||
      typeof given.sendCommand !== 'function' ||
      typeof given.duplicate !== 'function'
    ) {
      throw new OptionError(
        'client',
        'expected a node-redis client (from `createClient()`, `createCluster()` or `createSentinel()` of `redis`)',
      )
    }
    if (typeof given.getNodeClientForKey === 'function') kind = 'cluster'
    else if (typeof given.getMasterNode === 'function' && typeof given.use === 'function') kind = 'sentinel'
    else if (typeof given.getSlotMaster === 'function') {
      throw new OptionError(
        'client',
        'this cluster client lacks `getNodeClientForKey`: use `redis` v6 or later',
      )
    }
  }
  const sealWith = parseEncryptionKey(encryptionKey)
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new OptionError('name', 'expected a connection name without spaces')
  }
  for (const [option, value] of [
    ['now', now],
    ['onError', onError],
  ] as const) {
    if (value !== undefined && typeof value !== 'function') {
      throw new OptionError(option, `expected a function, got ${describe(value, false)}`)
    }
  }
  const replicas = options.replicas ?? 1
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0 || replicas > 16) {
    throw new OptionError('replicas', `expected a whole number from 0 to 16, got ${describe(replicas)}`)
  }
  return {
    url: href,
    rootNodes: nodes,
    client,
    kind,
    replicas,
    replicaTimeoutMs: parseDuration(options.replicaTimeoutMs ?? 1_000, 'replicaTimeoutMs', true),
    failoverTimeoutMs: parseDuration(
      options.failoverTimeoutMs ?? (kind === 'client' ? 0 : 15_000),
      'failoverTimeoutMs',
      false,
    ),
    key,
    name,
    encryptionKey: sealWith,
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

// A redis:// or rediss:// URL, as a string; the message never echoes it (it may hold a password).
function parseRedisURL(value: unknown, option: string): string {
  let parsed: URL | undefined
  try {
    parsed = new URL(String(value))
  } catch {
    parsed = undefined
  }
  if (!parsed || (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')) {
    throw new OptionError(option, 'expected a redis:// or rediss:// URL')
  }
  return parsed.href
}

// A cluster node as a URL, or as node-redis's `{ url }`; anything else is left for parseRedisURL to refuse.
function nodeURL(node: unknown): unknown {
  if (typeof node !== 'object' || node === null || node instanceof URL) return node
  const { url } = node as { url?: unknown }
  if (url === undefined) {
    throw new OptionError(
      'rootNodes',
      "expected each node as a redis:// URL or `{ url }` (node-redis's shape)",
    )
  }
  return url
}
