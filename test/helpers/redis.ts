import { randomUUID } from 'node:crypto'
import { createClient, type RedisClientType } from 'redis'
import { afterEach } from 'vitest'
import { type RedisStore, type RedisStoreOptions, redisStore } from '../../src/stores/redis/index.js'

/** The Redis every Redis test uses; `.ci/run` starts it. Absent Redis fails the tests (never skips them). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

const clients = new Set<RedisClientType>()
const stores = new Set<RedisStore>()
const keys = new Set<string>()

/** A key no other test (or earlier run) uses; deleted with its lock after the test. */
export function uniqueKey(label = 'session'): string {
  const key = `session-fetch:test:${label}:${randomUUID()}`
  keys.add(key)
  return key
}

/** A plain node-redis client, connected, closed after the test. Fails fast with a clear message without Redis. */
export async function plainClient(name = 'session-fetch-test'): Promise<RedisClientType> {
  const client: RedisClientType = createClient({
    url: REDIS_URL,
    name,
    socket: { reconnectStrategy: false, connectTimeout: 2_000 },
  })
  client.on('error', () => {}) // the connect() below reports it
  try {
    await client.connect()
  } catch (error) {
    throw new Error(
      `Redis is not answering at ${REDIS_URL}; start it (as .ci/run does): redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no`,
      { cause: error },
    )
  }
  clients.add(client)
  return client
}

/** A redis store (url mode unless `client` is given), closed after the test. */
export function testStore(options: Partial<RedisStoreOptions> & { key: string }): RedisStore {
  const store = redisStore((options.client ? options : { url: REDIS_URL, ...options }) as RedisStoreOptions)
  stores.add(store)
  return store
}

/** Wait until `check()` is true, polling; fails after `timeoutMs` (a hang detector, not a timing assertion). */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

afterEach(async () => {
  await Promise.allSettled([...stores].map((store) => store.close()))
  stores.clear()
  if (keys.size > 0) {
    const cleaner = await plainClient()
    await cleaner.del([...keys].flatMap((key) => [key, `${key}:lock`]))
    keys.clear()
  }
  await Promise.allSettled([...clients].map((client) => client.close()))
  clients.clear()
})
