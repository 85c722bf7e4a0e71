import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { mockServer } from '../../helpers/mock-server.js'
import {
  eventually,
  type RedisSentinelSetup,
  startRedisSentinel,
  stopAllRedisServers,
} from '../../helpers/redis-servers.js'
import { storm, stormAfterExpiry } from '../../helpers/worker-storm.js'
import { startWorkers } from '../../helpers/workers.js'

// Sentinel started for this file: 1 primary + 1 replica + 3 sentinels (quorum 2) on free ports. 6 real OS
// processes share one session through node-redis sentinel clients. Waits are bounded only to detect hangs.
let setup: RedisSentinelSetup
beforeAll(async () => {
  setup = await startRedisSentinel('session-fetch', 1_000)
}, 90_000)
afterAll(stopAllRedisServers)

const fingerprint = (token: string) => createHash('sha256').update(token).digest('hex').slice(0, 16)

describe('Redis Sentinel', () => {
  test('a storm, then SENTINEL FAILOVER while the refresh is under way: no session lost, no reuse', async () => {
    const server = await mockServer()
    const key = 'session-fetch:test:sentinel'
    const sentinel = { name: setup.name, ports: setup.sentinels.map((node) => node.port) }
    const workers = await startWorkers(6, { baseURL: server.url, redisURL: '', key, sentinel })
    const [first] = workers
    if (!first) throw new Error('workers did not start')
    const loggedIn = await first.call('login')
    expect(new Set(await Promise.all(workers.map((worker) => worker.call('session'))))).toEqual(
      new Set([loggedIn]),
    )

    // A storm across an expiry: one refresh for all of them.
    await stormAfterExpiry(server, workers, { label: 'a', count: 10 })
    expect(server.counters).toMatchObject({ refreshes: 1, reuseDetected: 0, refreshRejected: 0 })
    // The write waited for the replica: it holds the session already.
    expect(await setup.replica.cli('HGET', key, 'reason')).toBe('refresh')

    // The next expiry's refresh is at the token endpoint when the sentinels fail the primary over.
    const before = await setup.primaryPort()
    server.inject({ on: 'refresh', delayMs: 1_000 })
    server.mock.expireAccessTokens()
    const during = storm(workers, 'b', 10)
    await eventually(() => server.counters.faultsServed === 1, 'the refresh to reach the server')
    const failoverAt = Date.now()
    const [asked] = setup.sentinels
    expect(await asked?.cli('SENTINEL', 'FAILOVER', setup.name)).toBe('OK')
    const duringFailover = await during
    const recoveredMs = Date.now() - failoverAt
    await eventually(
      async () => (await setup.primaryPort()) !== before,
      'the sentinels to promote the replica',
    )
    const now = (await setup.primaryPort()) === setup.replica.port ? setup.replica : setup.primary
    expect(now.port).not.toBe(before)
    await eventually(
      async () => (await now.cli('ROLE')).startsWith('master'),
      'the new primary to take writes',
    )

    // The session written around the failover is on the new primary, and every process uses it.
    await eventually(async () => {
      const data = await now.cli('HGET', key, 'data')
      const sessions = await Promise.all(workers.map((worker) => worker.call('session')))
      const stored = fingerprint(
        (JSON.parse(data) as { session: { access_token: string } }).session.access_token,
      )
      return sessions.every((session) => session === stored)
    }, 'every process to use the session stored on the new primary')

    await stormAfterExpiry(server, workers, { label: 'c', count: 10 })

    const failed = duringFailover.filter((status) => status !== 200)
    console.info(
      `sentinel failover: ${server.counters.refreshes} refreshes for 3 expiries, ${server.counters.reuseDetected} reused, ` +
        `${failed.length}/60 calls failed during the failover (${failed.join(', ') || 'none'}), ` +
        `storm done ${recoveredMs} ms after SENTINEL FAILOVER`,
    )
    expect(server.counters.reuseDetected).toBe(0)
    expect(server.counters.refreshRejected).toBe(0)
    expect(server.counters.refreshes).toBeGreaterThanOrEqual(3)
    expect(server.counters.refreshes).toBeLessThanOrEqual(4) // at most one extra, for the failover
    expect(server.counters.logins).toBe(1) // no session lost
    expect(failed).toEqual([])
    expect(workers.every((worker) => worker.child.exitCode === null)).toBe(true)
    await Promise.all(workers.map((worker) => worker.call('exit')))
  }, 180_000)
})
