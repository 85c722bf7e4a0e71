import { describe, expect, test } from 'vitest'
import { mockServer } from '../../helpers/mock-server.js'
import { eventually, startRedisServer } from '../../helpers/redis-servers.js'
import { startWorkers } from '../../helpers/workers.js'

// A Redis of its own (a free port, nothing kept on disk), restarted under 4 real OS processes that share one
// session through it. Waits are bounded only to detect hangs.
describe('a standalone Redis restarted mid-run', () => {
  test('processes keep their session while it is down, reconnect, resubscribe, and share the next refresh', async () => {
    const redis = await startRedisServer()
    const server = await mockServer()
    const key = 'session-fetch:test:restart'
    const channel = `${key}:changes`
    const workers = await startWorkers(4, { baseURL: server.url, redisURL: redis.url, key })
    const [first, ...others] = workers
    if (!first) throw new Error('workers did not start')
    const loggedIn = await first.call('login')
    expect(new Set(await Promise.all(workers.map((worker) => worker.call('session'))))).toEqual(
      new Set([loggedIn]),
    )
    const subscribers = async () => Number((await redis.cli('PUBSUB', 'NUMSUB', channel)).split('\n')[1])
    await eventually(async () => (await subscribers()) === 4, 'every process to subscribe')

    await redis.stop()
    // Redis is gone: requests still go out with the session each process holds (its token is valid).
    const whileDown = await Promise.all(
      workers.map((worker, i) => worker.call('fetch', { path: `/while-down/${i}` })),
    )
    expect(whileDown).toEqual([200, 200, 200, 200])

    const restartedAt = Date.now()
    await redis.start()
    await eventually(async () => (await subscribers()) === 4, 'every process to resubscribe')
    console.info(`redis restart: every process resubscribed ${Date.now() - restartedAt} ms after the restart`)
    expect(await redis.cli('EXISTS', key)).toBe('0') // the restart lost the session (nothing on disk)

    // The next expiry: one refresh, written over the empty key with a version above the lost one, adopted by all.
    server.mock.expireAccessTokens()
    const storm = await Promise.all(
      workers.map((worker, i) => worker.call('storm', { path: `/after/${i}`, count: 5 })),
    )
    expect(storm.flat()).toEqual(Array(20).fill(200))
    expect(server.counters).toMatchObject({ refreshes: 1, reuseDetected: 0, refreshRejected: 0, logins: 1 })
    const after = await Promise.all(workers.map((worker) => worker.call('session')))
    expect(new Set(after).size).toBe(1)
    expect(after[0]).not.toBe(loggedIn)
    expect(await redis.cli('HGET', key, 'reason')).toBe('refresh')

    // Change notifications resumed: a logout in one process reaches the others over pub/sub.
    await first.call('logout')
    for (const other of others) {
      await eventually(
        () => other.events.some((e) => e.event === 'logout' && e.source === 'store'),
        'the logout to reach every process',
      )
      expect(await other.call('session')).toBeUndefined()
    }
    // Nothing crashed: the dropped connections went to onError, every process still answers.
    expect(workers.some((worker) => worker.errors.length > 0)).toBe(true)
    expect(workers.every((worker) => worker.child.exitCode === null)).toBe(true)
    await Promise.all(workers.map((worker) => worker.call('exit')))
  }, 120_000)
})
