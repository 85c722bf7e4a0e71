import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import type { SessionRecord } from '../../../src/index.js'
import { type RedisStore, redisStore } from '../../../src/stores/redis/index.js'
import {
  eventually,
  type RedisServer,
  startRedisServer,
  stopAllRedisServers,
} from '../../helpers/redis-servers.js'

// A primary and its replica of their own (free ports, nothing on disk): what `WAIT` after a write does.
let primary: RedisServer
let replica: RedisServer
beforeAll(async () => {
  primary = await startRedisServer()
  replica = await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(primary.port)] })
  await eventually(
    async () => (await replica.cli('INFO', 'replication')).includes('master_link_status:up'),
    'the replica to be in sync',
  )
}, 60_000)
afterAll(stopAllRedisServers)

function record(): SessionRecord {
  const now = Date.now()
  return {
    session: {
      type: 'auth.session',
      token_type: 'bearer',
      access_token: `access-${randomBytes(8).toString('hex')}`,
      refresh_token: `refresh-${randomBytes(8).toString('hex')}`,
      expires_in: 60,
    },
    receivedAt: now,
    expiresAt: now + 60_000,
  }
}

describe('a write waits for a replica', () => {
  const stores: RedisStore[] = []
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()))
  })

  test('a replica that does not answer: the write is used after replicaTimeoutMs, and onError says so', async () => {
    const errors: Error[] = []
    const key = `session-fetch:test:replicas:${randomBytes(4).toString('hex')}`
    const store = redisStore({
      url: primary.url,
      key,
      replicaTimeoutMs: 2_000, // long enough for a loaded machine's replica; the stopped one never answers
      onError: (error) => errors.push(error),
    })
    const eager = redisStore({
      url: primary.url,
      key: `${key}:eager`,
      replicas: 0,
      onError: (e) => errors.push(e),
    })
    stores.push(store, eager)

    const first = await store.write({ record: record(), reason: 'login', writer: 'w' }, 0)
    expect(first).toBeDefined()
    expect(errors).toEqual([]) // the replica confirmed it
    expect(await replica.cli('HGET', key, 'reason')).toBe('login') // and has it

    process.kill(replica.pid as number, 'SIGSTOP') // still connected, never acknowledging
    try {
      const second = await store.write(
        { record: record(), reason: 'refresh', writer: 'w' },
        first?.version as number,
      )
      expect(second?.version).toBe((first?.version as number) + 1) // used anyway: the tokens exist nowhere else
      expect(errors).toHaveLength(1)
      expect(errors[0]?.message).toMatch(/No replica confirmed .* within 2000 ms/)
      // `replicas: 0` never waits, so never reports.
      expect(await eager.write({ record: record(), reason: 'login', writer: 'w' }, 0)).toBeDefined()
      expect(errors).toHaveLength(1)
    } finally {
      process.kill(replica.pid as number, 'SIGCONT')
    }
    await eventually(
      async () => (await replica.cli('HGET', key, 'reason')) === 'refresh',
      'the replica to catch up',
    )
  })
})
