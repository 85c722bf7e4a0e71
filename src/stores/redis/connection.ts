import { createClient } from 'redis'
import { StoreError, summarize } from '../../errors/store-error.js'
import type { RedisClientLike, RedisConnectionLike, ResolvedRedisStoreOptions } from './options.js'
import type { Script } from './scripts.js'

/** The store's command connection: the caller's `client`, or one it opens from `url`. */
export interface RedisCommands {
  /** The client commands go through (and pub/sub duplicates). */
  readonly client: RedisClientLike
  send(args: string[]): Promise<unknown>
  /** How scripts announce changes: `PUBLISH`, or `SPUBLISH` (sharded) on a cluster that has it. */
  readonly publish: 'PUBLISH' | 'SPUBLISH'
  /** Run a Lua script by its SHA, loading it once when Redis does not know it yet. */
  run(script: Script, keys: string[], args: string[]): Promise<unknown>
  /** A StoreError for a failed `action`, saying why the connection is down when it is (never its password). */
  failure(error: unknown, action: string): StoreError
  /** Hand an error nobody awaits to `onError`. */
  report(error: unknown, action: string): void
  /** No more commands; end the connection this store opened (never the caller's client). */
  close(): Promise<void>
  readonly closed: boolean
}

export function createCommands(
  resolved: Pick<
    ResolvedRedisStoreOptions,
    'key' | 'url' | 'name' | 'client' | 'commandTimeoutMs' | 'onError'
  >,
): RedisCommands {
  const { key, commandTimeoutMs } = resolved
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
  // The connection this store opens never keeps a process alive by itself: it is ref'd only while a command
  // is under way.
  let busy = 0
  let connecting: Promise<void> | undefined
  let closed = false
  const client = (resolved.client ?? owned) as RedisClientLike

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
    if (closed) throw new StoreError(`The Redis store of key ${JSON.stringify(key)} is closed`)
    if (!owned) {
      if (!client.isOpen) {
        throw new StoreError(
          'The Redis client passed as `client` is not connected: call `client.connect()` first',
        )
      }
      return client.sendCommand(args, { timeout: commandTimeoutMs })
    }
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

  return {
    client,
    publish: 'PUBLISH',
    send,
    run,
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

/** Close a connection the store opened: flushed when it is up, dropped when it is still connecting. */
export async function endConnection(connection: RedisConnectionLike | undefined): Promise<void> {
  if (!connection?.isOpen) return
  if (connection.isReady) await connection.close()
  else connection.destroy() // still connecting (Redis unreachable): nothing to flush
}
