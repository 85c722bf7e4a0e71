import { createClient, createCluster } from 'redis'
import { StoreError, summarize } from '../../errors/store-error.js'
import type {
  RedisClientLike,
  RedisClusterLike,
  RedisConnectionLike,
  RedisKind,
  RedisSentinelLike,
  ResolvedRedisStoreOptions,
} from './options.js'
import type { Script } from './scripts.js'

type Send = (args: string[]) => Promise<unknown>

/** The store's command connection: the caller's `client`, or one it opens from `url` or `rootNodes`. */
export interface RedisCommands {
  /** Standalone (or a primary with replicas), cluster, or sentinel. */
  readonly kind: RedisKind
  /** How scripts announce changes: `PUBLISH`, or `SPUBLISH` (sharded) on a cluster. */
  readonly publish: 'PUBLISH' | 'SPUBLISH'
  /** A new connection like the command one, for pub/sub (the store closes it). */
  duplicate(): RedisConnectionLike
  /** One command; on a cluster, routed to the node serving `key` (any node without one). */
  send(args: string[], key?: string): Promise<unknown>
  /** Run a Lua script by its SHA, loading it once when Redis does not know it yet (routed by its first key). */
  run(script: Script, keys: string[], args: string[]): Promise<unknown>
  /**
   * Run a write script, then `WAIT` for `replicas` on the same connection to the primary that ran it. `acked` is
   * how many replicas confirmed, or undefined when nobody was waited for (none connected, or `replicas: 0`).
   */
  runDurably(script: Script, keys: string[], args: string[]): Promise<{ reply: unknown; acked?: number }>
  /**
   * `fn` retried with backoff while the error is one a failover or reconnect causes, for at most
   * `failoverTimeoutMs`; `retry` is told before each new attempt.
   */
  retrying<T>(fn: (attempt: number) => Promise<T>, signal?: AbortSignal): Promise<T>
  /** A StoreError for a failed `action`, saying why the connection is down when it is (never its password). */
  failure(error: unknown, action: string): StoreError
  /** Hand an error nobody awaits to `onError`. */
  report(error: unknown, action: string): void
  /** No more commands; end the connection this store opened (never the caller's client). */
  close(): Promise<void>
  readonly closed: boolean
}

const MIN_RETRY_MS = 50
const MAX_RETRY_MS = 1_000

export function createCommands(
  resolved: Pick<
    ResolvedRedisStoreOptions,
    | 'key'
    | 'url'
    | 'rootNodes'
    | 'name'
    | 'client'
    | 'kind'
    | 'commandTimeoutMs'
    | 'onError'
    | 'replicas'
    | 'replicaTimeoutMs'
    | 'failoverTimeoutMs'
  >,
): RedisCommands {
  const { key, kind, commandTimeoutMs } = resolved
  const owned = openConnection(resolved)
  // The URLs' passwords never appear in an error, should a connection error quote them.
  const secrets = [resolved.url, ...(resolved.rootNodes ?? [])].map(
    (url) => url && decodeURIComponent(new URL(url).password),
  )
  // Why the connection we opened is down, if it is: a command that times out meanwhile says only "timeout".
  let unreachable: unknown
  owned?.on('error', (error: unknown) => {
    report(error, 'connection')
    unreachable = error
  })
  owned?.on('ready', () => {
    unreachable = undefined
  })
  // The connection this store opens never keeps a process alive by itself: it is ref'd only while a command
  // is under way (a cluster client has no unref: close the store to let the process exit).
  let busy = 0
  let connecting: Promise<void> | undefined
  let closed = false
  const client = (resolved.client ?? owned) as unknown
  const options = { timeout: commandTimeoutMs }

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

  function dispatch(args: string[], routeKey: string | undefined): Promise<unknown> {
    if (kind === 'cluster') return (client as RedisClusterLike).sendCommand(routeKey, false, args, options)
    if (kind === 'sentinel') return (client as RedisSentinelLike).sendCommand(false, args, options)
    return (client as RedisClientLike).sendCommand(args, options)
  }

  async function send(args: string[], routeKey?: string): Promise<unknown> {
    if (closed) throw new StoreError(`The Redis store of key ${JSON.stringify(key)} is closed`)
    if (!owned) {
      if (!(client as RedisClientLike).isOpen) {
        throw new StoreError(
          'The Redis client passed as `client` is not connected: call `client.connect()` first',
        )
      }
      return dispatch(args, routeKey)
    }
    // Commands queue until the connection is up, each bounded by the timeout: an unreachable Redis fails
    // calls instead of hanging them.
    if (!connecting) {
      connecting = owned.connect().then(
        () => undefined,
        (error: unknown) => {
          connecting = undefined // let a later call try again
          report(error, 'connect')
          throw error
        },
      )
      connecting.catch(() => undefined)
    }
    if (busy++ === 0) owned.ref?.()
    try {
      // A cluster client takes commands only once it knows the slots.
      if (kind === 'cluster' && !owned.isReady) await bounded(connecting, commandTimeoutMs)
      return await dispatch(args, routeKey)
    } finally {
      if (--busy === 0) owned.unref?.()
    }
  }

  async function runWith(send: Send, script: Script, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await send(['EVALSHA', script.sha, String(keys.length), ...keys, ...args])
    } catch (error) {
      if (!String((error as Error | undefined)?.message).startsWith('NOSCRIPT')) throw error
      return send(['EVAL', script.source, String(keys.length), ...keys, ...args])
    }
  }

  function run(script: Script, keys: string[], args: string[]): Promise<unknown> {
    return runWith((command) => send(command, keys[0]), script, keys, args)
  }

  // WAIT on `primary` (the connection that ran the write). One Redis waits for the replicas it has now (at most
  // `replicas`; none connected, no wait). A cluster or sentinel primary always waits for `replicas`: when a
  // failover is under way its replica is the one being promoted, and a write it does not have would be lost.
  async function waitFor(primary: Send): Promise<number | undefined> {
    if (resolved.replicas === 0) return undefined
    let wanted = resolved.replicas
    if (kind === 'client') {
      const role = (await primary(['ROLE'])) as unknown[]
      const connected = Array.isArray(role?.[2]) ? role[2].length : 0
      if (connected === 0) return undefined
      wanted = Math.min(resolved.replicas, connected)
    }
    return Number(await primary(['WAIT', String(wanted), String(resolved.replicaTimeoutMs)]))
  }

  async function runDurably(
    script: Script,
    keys: string[],
    args: string[],
  ): Promise<{ reply: unknown; acked?: number }> {
    const routeKey = keys[0] as string
    const waitOptions = { timeout: commandTimeoutMs + resolved.replicaTimeoutMs }
    if (kind === 'sentinel') {
      if (closed) throw new StoreError(`The Redis store of key ${JSON.stringify(key)} is closed`)
      return (client as RedisSentinelLike).use(async (primary) => {
        const sendTo: Send = (command) =>
          primary.sendCommand(false, command, command[0] === 'WAIT' ? waitOptions : options)
        const reply = await runWith(sendTo, script, keys, args)
        if (reply === null || reply === undefined) return { reply }
        const acked = await waitFor(sendTo)
        return acked === undefined ? { reply } : { reply, acked }
      })
    }
    const reply = await run(script, keys, args)
    if (reply === null || reply === undefined) return { reply }
    // The connection that ran the script: the client itself, or on a cluster the slot's primary (after a
    // redirect, the one the slot moved to).
    const primary: RedisClientLike =
      kind === 'cluster'
        ? await (client as RedisClusterLike).getNodeClientForKey(routeKey, false)
        : (client as RedisClientLike)
    // Sent past `send`, so held here: a connection the store opened stays ref'd while it waits.
    if (busy++ === 0) owned?.ref?.()
    try {
      const acked = await waitFor((command) =>
        primary.sendCommand(command, command[0] === 'WAIT' ? waitOptions : options),
      )
      return acked === undefined ? { reply } : { reply, acked }
    } finally {
      if (--busy === 0) owned?.unref?.()
    }
  }

  async function retrying<T>(fn: (attempt: number) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const deadline = Date.now() + resolved.failoverTimeoutMs
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn(attempt)
      } catch (error) {
        if (closed || !transient(error) || Date.now() >= deadline || signal?.aborted) throw error
        report(error, 'command (retrying)')
        const backoff = Math.min(MAX_RETRY_MS, MIN_RETRY_MS * 2 ** attempt) * (0.5 + Math.random() / 2)
        await new Promise((resolve) => setTimeout(resolve, Math.min(backoff, deadline - Date.now())))
      }
    }
  }

  return {
    kind,
    publish: kind === 'cluster' ? 'SPUBLISH' : 'PUBLISH',
    duplicate: () => (client as RedisClientLike).duplicate(),
    send,
    run,
    runDurably,
    retrying,
    failure,
    report,
    get closed() {
      return closed
    },
    async close() {
      closed = true
      await endConnection(owned)
    },
  }
}

// The client the store opens from `url` (one Redis) or `rootNodes` (a cluster); none when given a `client`.
function openConnection(
  resolved: Pick<ResolvedRedisStoreOptions, 'url' | 'rootNodes' | 'name'>,
): RedisConnectionLike | undefined {
  if (resolved.url !== undefined) return createClient({ url: resolved.url, name: resolved.name })
  if (resolved.rootNodes !== undefined) {
    return createCluster({
      rootNodes: resolved.rootNodes.map((url) => ({ url })),
      defaults: { name: resolved.name },
    }) as unknown as RedisConnectionLike
  }
  return undefined
}

/** No replica confirmed a write in time, on a cluster or sentinel: it is looked at again after a backoff. */
export class ReplicaUnconfirmed extends Error {
  override name = 'ReplicaUnconfirmed'
}

// An error a failover or a reconnect causes, after which the same call may succeed: the connection is down or
// was reset, the cluster is electing a new primary, the slot moved, the node is a replica now or still loading.
function transient(error: unknown): boolean {
  if (error instanceof StoreError) return false
  if (error instanceof ReplicaUnconfirmed) return true
  const message = String((error as Error | undefined)?.message ?? '')
  const name = String((error as Error | undefined)?.constructor?.name ?? '')
  return (
    /^(CLUSTERDOWN|TRYAGAIN|READONLY|LOADING|MASTERDOWN|MOVED|ASK|UNBLOCKED)\b/.test(message) ||
    /WAIT cannot be used with replica/.test(message) ||
    /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|Socket closed|not ready|closed unexpectedly|Connection/i.test(
      message,
    ) ||
    /Timeout|SocketClosed|ClientClosed|ClientOffline|Reconnect|Disconnect/.test(name)
  )
}

function bounded<T>(promise: Promise<T> | undefined, ms: number): Promise<T | undefined> {
  if (!promise) return Promise.resolve(undefined)
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreError('Redis Cluster did not connect in time')), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

/** Close a connection the store opened: flushed when it is up, dropped when it is still connecting. */
export async function endConnection(connection: RedisConnectionLike | undefined): Promise<void> {
  if (!connection?.isOpen) return
  if (connection.isReady) await connection.close()
  else connection.destroy() // still connecting (Redis unreachable): nothing to flush
}
