import { describe, expect, test } from 'vitest'
import { mockServer } from '../../helpers/mock-server.js'
import { plainClient, REDIS_URL, testStore, uniqueKey, until } from '../../helpers/redis.js'
import { startWorkers } from '../../helpers/workers.js'
import { describeStoreAcrossProcesses } from '../contract/describe-store-processes.js'

// Real OS processes share one session through Redis: the store contract's cross-process scenarios, then what is
// the Redis store's own (the watchdog that renews the lock's lease).
describeStoreAcrossProcesses({
  name: 'redisStore()',
  storage() {
    const key = uniqueKey('processes')
    return {
      where: { redisURL: REDIS_URL, key },
      async lock() {
        const inspector = await plainClient()
        const [holder, remainingMs] = await Promise.all([
          inspector.get(`${key}:lock`),
          inspector.pTTL(`${key}:lock`),
        ])
        return holder === null ? undefined : { holder, remainingMs }
      },
      read: () => testStore({ key }).read(),
      async lose() {
        await (await plainClient()).del(key)
      },
    }
  },
  // A holder that died stops renewing its lease; the others take over once it ends (docs/redis.md).
  deadHolder: 'after its lease',
})

describe('processes sharing one session in Redis: the lease renewed while the holder runs', () => {
  test('a refresh endpoint slower than 3 × the lock lease: the watchdog keeps the lock, 1 refresh, 0 reuse', async () => {
    // The lease is 1 s and the refresh takes 4 s: without extensions, a second process would take the lock after
    // 1 s and present the same refresh token (reuse detection would revoke the session).
    const server = await mockServer({ refreshLatencyMs: 4_000 })
    const key = uniqueKey('watchdog')
    const workers = await startWorkers(6, {
      baseURL: server.url,
      redisURL: REDIS_URL,
      key,
      lockLeaseMs: 1_000,
    })
    const [first] = workers
    await first?.call('login')
    await Promise.all(workers.map((worker) => worker.call('session')))

    server.mock.expireAccessTokens()
    const inspector = await plainClient()
    const storming = Promise.all(
      workers.map((worker, i) => worker.call('storm', { path: `/w${i}`, count: 5 })),
    )
    await until(() => server.counters.maxConcurrentRefreshes === 1, 'the refresh to reach the server')
    const holder = await inspector.get(`${key}:lock`)
    expect(holder).toBeTruthy()
    const results = await storming

    expect(results.flat()).toEqual(Array(30).fill(200))
    expect(server.counters.refreshes).toBe(1)
    expect(server.counters.reuseDetected).toBe(0)
    expect(server.counters.refreshRejected).toBe(0)
    expect(server.counters.maxConcurrentRefreshes).toBe(1)
    const stats = await Promise.all(workers.map((worker) => worker.call('stats')))
    expect(stats.reduce((sum, s) => sum + s.refreshes, 0)).toBe(1)
    expect(new Set(await Promise.all(workers.map((worker) => worker.call('session')))).size).toBe(1)
    expect(await inspector.exists(`${key}:lock`)).toBe(0)
    await Promise.all(workers.map((worker) => worker.call('exit')))
  }, 120_000)
})
