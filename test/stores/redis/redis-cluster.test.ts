import { createHash } from 'node:crypto'
import { createCluster } from 'redis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { redisStore } from '../../../src/stores/redis/index.js'
import { mockServer } from '../../helpers/mock-server.js'
import {
  eventually,
  type RedisClusterNodes,
  startRedisCluster,
  stopAllRedisServers,
} from '../../helpers/redis-servers.js'
import { storm, stormAfterExpiry } from '../../helpers/worker-storm.js'
import { startWorkers } from '../../helpers/workers.js'

// A Redis Cluster started for this file: 3 primaries + 3 replicas on free ports, failing over 1 s after a primary
// goes silent. 8 real OS processes share one session through it. Waits are bounded only to detect hangs.
let cluster: RedisClusterNodes
beforeAll(async () => {
  cluster = await startRedisCluster(3, 1_000)
}, 90_000)
afterAll(stopAllRedisServers)

const fingerprint = (token: string) => createHash('sha256').update(token).digest('hex').slice(0, 16)

describe('Redis Cluster', () => {
  test('redisStore({ client }) takes a node-redis cluster client: every key of the session in one slot', async () => {
    const client = createCluster({ rootNodes: cluster.urls.slice(0, 2).map((url) => ({ url })) })
    client.on('error', () => {})
    await client.connect()
    try {
      const key = 'session-fetch:test:cluster-client'
      const store = redisStore({ client, key })
      const changes: number[] = []
      store.subscribe((snapshot) => changes.push(snapshot.version))
      await eventually(() => changes.length > 0, 'the sharded subscription to be up')
      const session = {
        type: 'auth.session',
        token_type: 'bearer',
        access_token: 'access-cluster',
        refresh_token: 'refresh-cluster',
        expires_in: 60,
      }
      const record = { session, receivedAt: Date.now(), expiresAt: Date.now() + 60_000 }
      const written = await store.lock(
        async () => await store.write({ record, reason: 'login', writer: 'w' }, 0),
        {
          leaseMs: 5_000,
        },
      )
      expect(written?.version).toBeGreaterThan(0)
      await eventually(() => changes.includes(written?.version as number), 'the sharded change to arrive')
      // The hash, the lock and the channel share the key as their hash tag.
      const primary = await cluster.primaryOf(`{${key}}`)
      expect(await primary.cli('HGET', `{${key}}`, 'reason')).toBe('login')
      const slots = await Promise.all(
        [`{${key}}`, `{${key}}:lock`, `{${key}}:changes`].map((name) =>
          primary.cli('CLUSTER', 'KEYSLOT', name),
        ),
      )
      expect(new Set(slots).size).toBe(1)
      expect(await primary.cli('PUBSUB', 'SHARDNUMSUB', `{${key}}:changes`)).toMatch(/\n[1-9]/)
      await store.close()
    } finally {
      await client.close()
    }
  }, 60_000)

  test('8 processes: one refresh per expiry; the slot’s primary killed mid-refresh, no session lost, no reuse', async () => {
    const server = await mockServer()
    const key = 'session-fetch:test:cluster'
    const workers = await startWorkers(8, { baseURL: server.url, redisURL: '', key, rootNodes: cluster.urls })
    const [first] = workers
    if (!first) throw new Error('workers did not start')
    const loggedIn = await first.call('login')
    expect(new Set(await Promise.all(workers.map((worker) => worker.call('session'))))).toEqual(
      new Set([loggedIn]),
    )

    // A storm across an expiry: one refresh for all of them.
    await stormAfterExpiry(server, workers, { label: 'a', count: 10 })
    expect(server.counters).toMatchObject({ refreshes: 1, reuseDetected: 0, refreshRejected: 0 })

    // The next expiry: the refresh reaches the server, and the primary holding the session's slot dies (kill -9)
    // while it is under way. The holder writes through the failover to the promoted replica.
    const doomed = await cluster.primaryOf(`{${key}}`)
    server.inject({ on: 'refresh', delayMs: 1_000 })
    server.mock.expireAccessTokens()
    const during = storm(workers, 'b', 10)
    await eventually(() => server.counters.faultsServed === 1, 'the refresh to reach the server')
    const killedAt = Date.now()
    await doomed.kill()
    const duringFailover = await during
    const recoveredMs = Date.now() - killedAt
    await eventually(() => cluster.healthy(`{${key}}`), 'a replica to take over the slot')
    const promoted = await cluster.primaryOf(`{${key}}`)
    expect(promoted.port).not.toBe(doomed.port)

    // The session written during the failover is on the promoted primary, and every process uses it.
    const stored = JSON.parse(await promoted.cli('HGET', `{${key}}`, 'data')) as {
      session: { access_token: string }
    }
    const sessions = await Promise.all(workers.map((worker) => worker.call('session')))
    expect(new Set(sessions)).toEqual(new Set([fingerprint(stored.session.access_token)]))

    // And after the failover: the next expiry is one more refresh, for all of them.
    await stormAfterExpiry(server, workers, { label: 'c', count: 10 })

    const failed = duringFailover.filter((status) => status !== 200)
    console.info(
      `cluster failover: ${server.counters.refreshes} refreshes for 3 expiries, ${server.counters.reuseDetected} reused, ` +
        `${failed.length}/80 calls failed during the failover (${failed.join(', ') || 'none'}), ` +
        `storm done ${recoveredMs} ms after the kill`,
    )
    expect(server.counters.reuseDetected).toBe(0)
    expect(server.counters.refreshRejected).toBe(0)
    expect(server.counters.refreshes).toBeGreaterThanOrEqual(3)
    expect(server.counters.refreshes).toBeLessThanOrEqual(4) // at most one extra, for the failover
    expect(server.counters.logins).toBe(1) // no session lost: nobody had to log in again
    expect(failed).toEqual([])
    expect(workers.every((worker) => worker.child.exitCode === null)).toBe(true)
    await Promise.all(workers.map((worker) => worker.call('exit')))
  }, 180_000)
})
