import { describe, expect, test } from 'vitest'
import { ClosedError, createSessionFetch } from '../../../src/index.js'
import { testClock } from '../../helpers/adapters.js'
import { DEMO_USER, mockServer } from '../../helpers/mock-server.js'
import { REDIS_URL, testStore, uniqueKey, until } from '../../helpers/redis.js'
import { rollingDeploy } from '../../helpers/rolling-deploy.js'

// Shutting down a process that shares its session through Redis, with refresh-token rotation and reuse detection
// on at the server (the mock's defaults): close() lets the refresh under way land and be stored.
describe('shutting down with a Redis store', () => {
  test('a rolling deploy: the lock holder gets SIGTERM mid-refresh and closes; the refresh lands, the 2 others use the new token, 0 reuse, the session stays live', async () => {
    const server = await mockServer({ refreshLatencyMs: 1_000 })
    const counts = await rollingDeploy(server, {
      baseURL: server.url,
      redisURL: REDIS_URL,
      key: uniqueKey('deploy'),
    })
    console.info(`redis rolling deploy: ${JSON.stringify(counts)}`)
  }, 120_000)

  test('close() gives up a wait for the lock another process holds: nothing sent, the wait rejects with ClosedError', async () => {
    const server = await mockServer({ refreshLatencyMs: 3_000 })
    const key = uniqueKey('close-waiting')
    const clock = testClock()
    const holder = createSessionFetch({ baseURL: server.url, store: testStore({ key }), now: clock.now })
    const waiter = createSessionFetch({ baseURL: server.url, store: testStore({ key }), now: clock.now })
    await holder.login(DEMO_USER)
    await waiter.getSession()
    clock.advance(61_000) // both find the access token expired: each waits for a refresh

    const holding = holder.fetch('/holder')
    await until(
      () => server.counters.maxConcurrentRefreshes === 1,
      'the holder’s refresh to reach the server',
    )
    const waiting = waiter.fetch('/waiter') // queued behind the lock in Redis
    await until(() => waiter.stats().pendingRefreshes === 1, 'the waiter to queue its refresh')
    await waiter.close()
    // It did not wait for the holder's refresh, which is still at the server.
    expect(server.counters.refreshes).toBe(0)
    await expect(waiting).rejects.toBeInstanceOf(ClosedError)

    expect((await holding).status).toBe(200)
    expect(server.counters).toMatchObject({ refreshes: 1, reuseDetected: 0 })
    expect(server.log.map((entry) => entry.path)).toEqual(['/holder'])
    await holder.close()
  }, 60_000)
})
