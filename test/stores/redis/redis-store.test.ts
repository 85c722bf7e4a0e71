import { randomBytes } from 'node:crypto'
import { decodeProtectedHeader } from 'jose'
import { createClient } from 'redis'
import { describe, expect, test } from 'vitest'
import { OptionError, type SessionRecord, StoreError, type StoreSnapshot } from '../../../src/index.js'
import { redisStore } from '../../../src/stores/redis/index.js'
import { resolveRedisStoreOptions } from '../../../src/stores/redis/options.js'
import { PlantlyMock } from '../../../src/testing/mock/index.js'
import { plainClient, REDIS_URL, testStore, uniqueKey, until } from '../../helpers/redis.js'

let serial = 0
function record(label = 'a', now = Date.now()): SessionRecord {
  serial++
  return {
    session: {
      type: 'auth.session',
      token_type: 'bearer',
      access_token: `access-${label}-${serial}-${randomBytes(8).toString('hex')}`,
      refresh_token: `refresh-${label}-${serial}-${randomBytes(8).toString('hex')}`,
      expires_in: 60,
    },
    receivedAt: now,
    expiresAt: now + 60_000,
  }
}

function gate() {
  let open = () => {}
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  return { open, opened }
}

describe('read and compare-and-set write', () => {
  test('a fresh key reads as version 0 with no session', async () => {
    const store = testStore({ key: uniqueKey() })
    expect(await store.read()).toEqual({
      version: 0,
      record: undefined,
      reason: undefined,
      writer: undefined,
    })
  })

  test('of concurrent writers from the same version exactly one wins, and a stale write never lands', async () => {
    const key = uniqueKey()
    const [a, b] = [testStore({ key }), testStore({ key })]
    const records = Array.from({ length: 10 }, (_, i) => record(`w${i}`))
    const results = await Promise.all(
      records.map((r, i) => (i % 2 ? a : b).write({ record: r, reason: 'login', writer: `w${i}` }, 0)),
    )
    const winners = results.filter((result) => result !== undefined)
    expect(winners).toHaveLength(1)
    const winner = winners[0] as StoreSnapshot
    // The first version on an empty key is Redis' clock in ms: above any written before a restart lost the key.
    const [seconds] = (await (await plainClient()).time()) as unknown as [string]
    expect(Math.abs(winner.version / 1000 - Number(seconds))).toBeLessThan(60)

    const stale = await a.write({ record: record('late'), reason: 'refresh', writer: 'late' }, 0)
    expect(stale).toBeUndefined()
    const current = await b.read()
    expect(current.version).toBe(winner.version)
    expect(current.writer).toBe(winner.writer)
    expect(current.record?.session).toEqual(winner.record?.session)
  })

  test('clearing the session keeps counting versions, so a writer from before the logout cannot bring it back', async () => {
    const store = testStore({ key: uniqueKey() })
    const v = (await store.write({ record: record(), reason: 'login', writer: 'x' }, 0))?.version as number
    const cleared = await store.write({ record: undefined, reason: 'logout', writer: 'x' }, v)
    expect(cleared).toMatchObject({ version: v + 1, record: undefined, reason: 'logout' })
    expect(await store.write({ record: record(), reason: 'refresh', writer: 'y' }, v)).toBeUndefined()
    expect(await store.read()).toMatchObject({
      version: v + 1,
      record: undefined,
      reason: 'logout',
      writer: 'x',
    })
  })

  test('scripts still run after Redis forgot them (SCRIPT FLUSH, as after a restart)', async () => {
    const key = uniqueKey()
    const store = testStore({ key })
    const v = (await store.write({ record: record(), reason: 'login', writer: 'x' }, 0))?.version as number
    await (await plainClient()).scriptFlush()
    expect(await store.write({ record: record(), reason: 'refresh', writer: 'x' }, v)).toMatchObject({
      version: v + 1,
    })
    expect(await store.lock(async () => 'held', { leaseMs: 10_000 })).toBe('held')
  })

  test('a record reads back as written, in the reader’s clock even when the clocks disagree', async () => {
    const key = uniqueKey()
    const hourAhead = () => Date.now() + 3_600_000
    const writer = testStore({ key })
    const reader = testStore({ key, now: hourAhead })
    const written = record()
    await writer.write({ record: written, reason: 'login', writer: 'x' }, 0)
    const read = (await reader.read()).record as SessionRecord
    expect(read.session).toEqual(written.session)
    // The offset to Redis' clock is measured over a local round trip: generous bounds detect a wrong sign or
    // a missing translation (an hour), not latency.
    expect(Math.abs(read.receivedAt - 3_600_000 - written.receivedAt)).toBeLessThan(1_000)
    expect(Math.abs((read.expiresAt as number) - 3_600_000 - (written.expiresAt as number))).toBeLessThan(
      1_000,
    )
    const raw = JSON.parse((await (await plainClient()).hGet(key, 'data')) as string)
    const [seconds] = (await (await plainClient()).time()) as unknown as [string]
    expect(Math.abs(raw.receivedAt / 1000 - Number(seconds))).toBeLessThan(60)
  })
})

describe('lock', () => {
  test('excludes holders across connections', async () => {
    const key = uniqueKey()
    const stores = [testStore({ key }), testStore({ key })]
    let inside = 0
    let most = 0
    let ran = 0
    const hold = async () => {
      inside++
      most = Math.max(most, inside)
      await new Promise((resolve) => setTimeout(resolve, 15))
      inside--
      ran++
    }
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        (stores[i % 2] as (typeof stores)[0]).lock(hold, { leaseMs: 10_000 }),
      ),
    )
    expect(ran).toBe(6)
    expect(most).toBe(1)
    expect(await (await plainClient()).exists(`${key}:lock`)).toBe(0)
  })

  test('a holder slower than 3 × its lease keeps the lock: its watchdog extends the lease while it runs', async () => {
    const key = uniqueKey()
    const [a, b] = [testStore({ key }), testStore({ key })]
    const inspector = await plainClient()
    const aGate = gate()
    let aInside = false
    let bInside = false
    const aDone = a.lock(
      async () => {
        aInside = true
        await aGate.opened
        return 'a'
      },
      { leaseMs: 150 },
    )
    await until(() => aInside, 'A to hold the lock')
    const aOwner = await inspector.get(`${key}:lock`)
    const bDone = b.lock(
      async () => {
        bInside = true
        return 'b'
      },
      { leaseMs: 10_000 },
    )
    // Hold for well over three leases; the lock must stay A's all along.
    const heldSince = Date.now()
    const owners = new Set<string | null>()
    while (Date.now() - heldSince < 4 * 150) {
      owners.add(await inspector.get(`${key}:lock`))
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect(owners).toEqual(new Set([aOwner]))
    expect(bInside).toBe(false)
    expect(await inspector.pTTL(`${key}:lock`)).toBeGreaterThan(0)

    aGate.open()
    expect(await aDone).toBe('a')
    expect(await bDone).toBe('b')
    expect(await inspector.exists(`${key}:lock`)).toBe(0)
  })

  test('a holder whose connection is gone stops extending: its lease ends and the next holder gets in', async () => {
    const key = uniqueKey()
    const [a, b] = [testStore({ key }), testStore({ key })]
    const inspector = await plainClient()
    const aGate = gate()
    let aInside = false
    let bInside = false
    const aDone = a.lock(
      async () => {
        aInside = true
        await aGate.opened
      },
      { leaseMs: 200 },
    )
    await until(() => aInside, 'A to hold the lock')
    const aOwner = await inspector.get(`${key}:lock`)
    await a.close() // what a dead process leaves: nobody extends, nobody releases
    const bDone = b.lock(
      async () => {
        bInside = true
        return inspector.get(`${key}:lock`)
      },
      { leaseMs: 10_000 },
    )
    const bOwner = await bDone
    expect(bInside).toBe(true)
    expect(bOwner).toBeTruthy()
    expect(bOwner).not.toBe(aOwner)
    aGate.open()
    await aDone.catch(() => undefined) // its release fails: the store is closed
  })

  test('a holder that lost its lease neither extends nor deletes the next holder’s lock', async () => {
    const key = uniqueKey()
    const errors: Error[] = []
    const a = testStore({ key, onError: (error) => errors.push(error) })
    const b = testStore({ key })
    const inspector = await plainClient()
    const aGate = gate()
    const bGate = gate()
    let aInside = false
    let bInside = false
    const aDone = a.lock(
      async () => {
        aInside = true
        await aGate.opened
        return 'a'
      },
      { leaseMs: 300 },
    )
    await until(() => aInside, 'A to hold the lock')
    const aOwner = await inspector.get(`${key}:lock`)
    expect(aOwner).toBeTruthy()
    // What a lease that ended while A was frozen or cut off leaves: no lock, and B takes it.
    await inspector.del(`${key}:lock`)
    const bDone = b.lock(
      async () => {
        bInside = true
        await bGate.opened
        return 'b'
      },
      { leaseMs: 10_000 },
    )
    await until(() => bInside, 'B to take the lock')
    const bOwner = await inspector.get(`${key}:lock`)
    expect(bOwner).not.toBe(aOwner)
    await until(() => errors.some((e) => /was lost/.test(e.message)), 'A’s watchdog to find its lock gone')
    expect(errors.find((e) => /was lost/.test(e.message))).toBeInstanceOf(StoreError)
    expect(await inspector.pTTL(`${key}:lock`)).toBeGreaterThan(1_000) // B's lease, not extended to A's

    aGate.open()
    expect(await aDone).toBe('a')
    expect(await inspector.get(`${key}:lock`)).toBe(bOwner) // compare-and-delete left B's lock alone
    bGate.open()
    expect(await bDone).toBe('b')
    expect(await inspector.exists(`${key}:lock`)).toBe(0)
  })

  test('a throwing holder releases the lock and its error reaches the caller unchanged', async () => {
    const key = uniqueKey()
    const store = testStore({ key })
    const boom = new Error('boom')
    await expect(store.lock(() => Promise.reject(boom), { leaseMs: 10_000 })).rejects.toBe(boom)
    expect(await (await plainClient()).exists(`${key}:lock`)).toBe(0)
    expect(await store.lock(async () => 'again', { leaseMs: 10_000 })).toBe('again')
  })

  test('waiting for the lock stops when the signal aborts, and the holder is untouched', async () => {
    const key = uniqueKey()
    const [a, b] = [testStore({ key }), testStore({ key })]
    const aGate = gate()
    let aInside = false
    const aDone = a.lock(
      async () => {
        aInside = true
        await aGate.opened
      },
      { leaseMs: 10_000 },
    )
    await until(() => aInside, 'A to hold the lock')
    const controller = new AbortController()
    let bRan = false
    const bDone = b.lock(
      async () => {
        bRan = true
      },
      { leaseMs: 10_000, signal: controller.signal },
    )
    const reason = new Error('caller gave up')
    controller.abort(reason)
    await expect(bDone).rejects.toBe(reason)
    expect(bRan).toBe(false)
    expect(await (await plainClient()).exists(`${key}:lock`)).toBe(1)
    aGate.open()
    await aDone
  })
})

describe('subscribe', () => {
  test('delivers other connections’ writes in order, decoded; unsubscribe stops them', async () => {
    const key = uniqueKey()
    const [writer, watcher] = [testStore({ key }), testStore({ key })]
    const first: StoreSnapshot[] = []
    const second: StoreSnapshot[] = []
    const stopFirst = watcher.subscribe((snapshot) => first.push(snapshot))
    watcher.subscribe((snapshot) => second.push(snapshot))
    // The subscription reads once when it is up (version 0 here): from then on nothing is missed.
    await until(() => first.length > 0, 'the subscription to be up')

    const login = record('login')
    const renewed = record('refresh')
    const v = (await writer.write({ record: login, reason: 'login', writer: 'w' }, 0))?.version as number
    await writer.write({ record: renewed, reason: 'refresh', writer: 'w' }, v)
    await until(() => first.some((s) => s.version === v + 1), 'the refresh to be announced')
    const changes = first.filter((s) => s.version > 0)
    expect(changes.map((s) => [s.version, s.reason, s.record?.session.access_token])).toEqual([
      [v, 'login', login.session.access_token],
      [v + 1, 'refresh', renewed.session.access_token],
    ])

    stopFirst()
    await writer.write({ record: undefined, reason: 'logout', writer: 'w' }, v + 1)
    await until(() => second.some((s) => s.version === v + 2), 'the logout to reach the other listener')
    expect(second.find((s) => s.version === v + 2)).toMatchObject({ record: undefined, reason: 'logout' })
    expect(first.some((s) => s.version === v + 2)).toBe(false)
  })
})

describe('the issuer of a session', () => {
  const issuer = 'plantly:https://api.plantly.test/auth/sessions'

  test('reads back with the record, in clear and sealed; sealed, it is not readable in Redis', async () => {
    for (const encryptionKey of [undefined, randomBytes(32)]) {
      const key = uniqueKey()
      const written = { ...record(), issuer }
      const options = encryptionKey ? { key, encryptionKey } : { key }
      await testStore(options).write({ record: written, reason: 'login', writer: 'w' }, 0)
      expect((await testStore(options).read()).record?.issuer).toBe(issuer)
      const raw = JSON.stringify(await (await plainClient()).hGetAll(key))
      if (encryptionKey) expect(raw).not.toContain('api.plantly.test')
      else expect(JSON.parse(JSON.parse(raw).data).issuer).toBe(issuer)
    }
  })

  test('a record without one (written before sessions had issuers) reads back without one', async () => {
    const key = uniqueKey()
    await testStore({ key }).write({ record: record(), reason: 'login', writer: 'w' }, 0)
    const read = await testStore({ key }).read()
    expect(read.record?.session.access_token).toMatch(/^access-/)
    expect(read.record?.issuer).toBeUndefined()
  })

  test('an issuer that is not a string is a StoreError, not an unlabelled session', async () => {
    const key = uniqueKey()
    const store = testStore({ key })
    await store.write({ record: record(), reason: 'login', writer: 'w' }, 0)
    const spy = await plainClient()
    const data = JSON.parse((await spy.hGet(key, 'data')) as string)
    await spy.hSet(key, 'data', JSON.stringify({ ...data, issuer: 42 }))
    await expect(store.read()).rejects.toMatchObject({
      code: 'store_failed',
      message: /not a session record/,
    })
  })
})

describe('encryption at rest', () => {
  test('Redis holds no token in clear, neither in the key nor on the channel; the same key reads it back', async () => {
    const key = uniqueKey()
    const encryptionKey = randomBytes(32)
    const store = testStore({ key, encryptionKey })
    const session = await new PlantlyMock().issueSession()
    const secrets = [session.access_token, session.refresh_token].flatMap((token) => [
      token,
      ...token.split('.'),
    ])

    const spy = await plainClient()
    const published: string[] = []
    const listener = spy.duplicate()
    listener.on('error', () => {})
    await listener.connect()
    await listener.subscribe(`${key}:changes`, (message) => {
      published.push(message)
    })
    try {
      const now = Date.now()
      await store.write(
        { record: { session, receivedAt: now, expiresAt: now + 60_000 }, reason: 'login', writer: 'w' },
        0,
      )
      await until(() => published.length === 1, 'the change to be published')
    } finally {
      await listener.close()
    }

    const raw = await spy.hGetAll(key)
    const dump = JSON.stringify(raw) + published.join('')
    for (const secret of secrets) expect(dump).not.toContain(secret)
    expect(raw.data?.split('.')).toHaveLength(5) // JWE compact
    expect(decodeProtectedHeader(raw.data as string)).toMatchObject({ alg: 'dir', enc: 'A256GCM' })

    const again = testStore({ key, encryptionKey: new Uint8Array(encryptionKey) })
    expect((await again.read()).record?.session).toEqual(session)
  })

  test('a wrong key, a missing key, or a sealed value moved to another key fails with StoreError', async () => {
    const key = uniqueKey()
    const encryptionKey = randomBytes(32)
    await testStore({ key, encryptionKey }).write({ record: record(), reason: 'login', writer: 'w' }, 0)

    const wrong = testStore({ key, encryptionKey: randomBytes(32) }).read()
    await expect(wrong).rejects.toBeInstanceOf(StoreError)
    await expect(wrong).rejects.toMatchObject({ code: 'store_failed', message: /encryptionKey/ })
    await expect(testStore({ key }).read()).rejects.toMatchObject({ message: /encrypted.*encryptionKey/ })

    const spy = await plainClient()
    const other = uniqueKey()
    await spy.hSet(other, await spy.hGetAll(key))
    await expect(testStore({ key: other, encryptionKey }).read()).rejects.toMatchObject({
      code: 'store_failed',
      message: /another key or version/,
    })
  })

  test('a store with a key refuses a session stored in clear', async () => {
    const key = uniqueKey()
    await testStore({ key }).write({ record: record(), reason: 'login', writer: 'w' }, 0)
    await expect(testStore({ key, encryptionKey: randomBytes(32) }).read()).rejects.toMatchObject({
      message: /not encrypted/,
    })
  })
})

describe('close()', () => {
  async function connectionsNamed(name: string): Promise<number> {
    const list = await (await plainClient('session-fetch-inspector')).clientList()
    return list.filter((entry) => entry.name === name).length
  }

  test('with `url`: ends both connections it opened; later calls fail with StoreError', async () => {
    const name = `sf-close-${randomBytes(4).toString('hex')}`
    const store = redisStore({ url: REDIS_URL, key: uniqueKey(), name })
    let subscribed = false
    store.subscribe(() => {
      subscribed = true
    })
    await store.read()
    await until(() => subscribed, 'the subscription to be up')
    expect(await connectionsNamed(name)).toBe(2)
    await store.close()
    await until(async () => (await connectionsNamed(name)) === 0, 'Redis to see both connections closed')
    await expect(store.read()).rejects.toBeInstanceOf(StoreError)
    await store.close() // idempotent
  })

  test('with `client`: ends its own pub/sub connection, never the client it was given', async () => {
    const name = `sf-given-${randomBytes(4).toString('hex')}`
    const client = createClient({ url: REDIS_URL, name })
    client.on('error', () => {})
    await client.connect()
    try {
      const store = redisStore({ client, key: uniqueKey() })
      let subscribed = false
      store.subscribe(() => {
        subscribed = true
      })
      await until(() => subscribed, 'the subscription to be up')
      expect(await connectionsNamed(name)).toBe(2)
      await store.close()
      await until(async () => (await connectionsNamed(name)) === 1, 'the pub/sub connection to close')
      expect(client.isOpen).toBe(true)
      expect(await client.ping()).toBe('PONG')
    } finally {
      await client.close()
    }
  })

  test('a client that is not connected is a clear StoreError', async () => {
    const client = createClient({ url: REDIS_URL })
    await expect(redisStore({ client, key: uniqueKey() }).read()).rejects.toMatchObject({
      code: 'store_failed',
      message: /not connected/,
    })
  })
})

describe('options and failures', () => {
  test('cluster nodes are taken as URLs or in node-redis’s own `{ url }` shape', () => {
    const resolved = resolveRedisStoreOptions({
      key: 'k',
      rootNodes: [
        { url: 'redis://10.0.0.1:7000' },
        'redis://10.0.0.2:7000',
        new URL('redis://10.0.0.3:7000'),
      ],
    })
    expect(resolved.rootNodes).toEqual([
      'redis://10.0.0.1:7000',
      'redis://10.0.0.2:7000',
      'redis://10.0.0.3:7000',
    ])
  })

  test('bad options name the option and never echo the URL', () => {
    const bad = (options: unknown) => () => redisStore(options as Parameters<typeof redisStore>[0])
    expect(bad({ url: REDIS_URL })).toThrow(expect.objectContaining({ option: 'key' }))
    expect(bad({ key: 'k' })).toThrow(expect.objectContaining({ option: 'url' }))
    expect(bad({ key: 'k', url: REDIS_URL, client: {} })).toThrow(expect.objectContaining({ option: 'url' }))
    expect(bad({ key: 'k', url: 'https://user:hunter2@example.test' })).toThrow(
      expect.objectContaining({ option: 'url', message: expect.not.stringContaining('hunter2') }),
    )
    expect(bad({ key: 'k', client: { get: () => {} } })).toThrow(
      expect.objectContaining({ option: 'client' }),
    )
    expect(bad({ key: 'k', url: REDIS_URL, encryptionKey: randomBytes(16) })).toThrow(
      expect.objectContaining({ option: 'encryptionKey', message: expect.stringContaining('got 16') }),
    )
    expect(bad({ key: 'k', url: REDIS_URL, encryptionKey: 'secret' })).toThrow(OptionError)
    for (const key of ['acme:lock', 'acme:changes', '{tenant}:lock']) {
      expect(bad({ key, url: REDIS_URL })).toThrow(
        expect.objectContaining({ option: 'key', message: expect.stringContaining('must not end in') }),
      )
    }
    expect(bad({ key: 'k', url: REDIS_URL, name: 'two words' })).toThrow(
      expect.objectContaining({ option: 'name' }),
    )
    expect(bad({ key: 'k', url: REDIS_URL, commandTimeoutMs: 0 })).toThrow(
      expect.objectContaining({ option: 'commandTimeoutMs' }),
    )
    expect(bad({ key: 'k', url: REDIS_URL, lockLeaseMs: 10 })).toThrow(
      expect.objectContaining({ option: 'lockLeaseMs', message: expect.stringContaining('30 ms') }),
    )
    expect(bad({ key: 'k', url: REDIS_URL, lockLeaseMs: '1s' })).toThrow(
      expect.objectContaining({ option: 'lockLeaseMs' }),
    )
    expect(bad({ key: 'k', url: REDIS_URL, rootNodes: [REDIS_URL] })).toThrow(
      expect.objectContaining({ option: 'url' }),
    )
    expect(bad({ key: 'k', rootNodes: [] })).toThrow(expect.objectContaining({ option: 'rootNodes' }))
    expect(bad({ key: 'k', rootNodes: [{ socket: { host: '10.0.0.1', port: 6379 } }] })).toThrow(
      expect.objectContaining({ option: 'rootNodes', message: expect.stringContaining('`{ url }`') }),
    )
    expect(bad({ key: 'k', rootNodes: [{ url: 'https://user:hunter2@example.test' }] })).toThrow(
      expect.objectContaining({ option: 'rootNodes', message: expect.not.stringContaining('hunter2') }),
    )
    expect(bad({ key: 'k', rootNodes: ['https://user:hunter2@example.test'] })).toThrow(
      expect.objectContaining({ option: 'rootNodes', message: expect.not.stringContaining('hunter2') }),
    )
    expect(bad({ key: 'k', url: REDIS_URL, replicas: -1 })).toThrow(
      expect.objectContaining({ option: 'replicas' }),
    )
    expect(bad({ key: 'k', url: REDIS_URL, replicas: 1.5 })).toThrow(
      expect.objectContaining({ option: 'replicas' }),
    )
    expect(bad({ key: 'k', url: REDIS_URL, replicaTimeoutMs: 0 })).toThrow(
      expect.objectContaining({ option: 'replicaTimeoutMs' }),
    )
    expect(bad({ key: 'k', url: REDIS_URL, failoverTimeoutMs: -1 })).toThrow(
      expect.objectContaining({ option: 'failoverTimeoutMs' }),
    )
    // A cluster client of a node-redis without getNodeClientForKey (the store needs it for WAIT).
    const oldCluster = { isOpen: true, sendCommand: () => {}, duplicate: () => {}, getSlotMaster: () => {} }
    expect(bad({ key: 'k', client: oldCluster })).toThrow(
      expect.objectContaining({ option: 'client', message: expect.stringContaining('getNodeClientForKey') }),
    )
  })

  test('an unreachable Redis fails calls with StoreError instead of hanging them', async () => {
    const errors: Error[] = []
    const store = redisStore({
      url: 'redis://127.0.0.1:1',
      key: uniqueKey(),
      commandTimeoutMs: 200,
      onError: (error) => errors.push(error),
    })
    try {
      await expect(store.read()).rejects.toMatchObject({ code: 'store_failed', name: 'StoreError' })
      await expect(store.lock(async () => 1, { leaseMs: 1_000 })).rejects.toBeInstanceOf(StoreError)
      expect(errors.length).toBeGreaterThan(0) // the connection errors went to onError, not to the process
    } finally {
      await store.close()
    }
  })

  test('a call that fails while Redis is unreachable says why (ECONNREFUSED), without the URL’s password', async () => {
    const store = redisStore({
      url: 'redis://:store-password-123@127.0.0.1:1',
      key: uniqueKey(),
      commandTimeoutMs: 200,
    })
    try {
      const error = await (async () => store.read())().catch((e: unknown) => e)
      expect(error).toBeInstanceOf(StoreError)
      expect((error as Error).message).toMatch(/ECONNREFUSED/)
      expect((error as Error).message).not.toContain('store-password-123')
      const json = JSON.stringify(error)
      expect(json).toMatch(/ECONNREFUSED/)
      expect(json).not.toContain('store-password-123')
    } finally {
      await store.close()
    }
  })
})
