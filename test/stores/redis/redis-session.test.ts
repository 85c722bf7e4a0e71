import { randomBytes } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import {
  createSessionFetch,
  OptionError,
  RefreshError,
  type SessionStore,
  StoreError,
} from '../../../src/index.js'
import {
  DEMO_USER,
  expectForeignIssuerRefused,
  mockServer,
  recordRequests,
} from '../../helpers/mock-server.js'
import { plainClient, testStore, uniqueKey, until } from '../../helpers/redis.js'

test('a refresh rejected because a sibling rotated the tokens adopts the sibling’s session from Redis and replays', async () => {
  // Rotation on, reuse detection off: the server refuses the used refresh token without revoking the session,
  // which is what a sibling outside the lock (or past its lease) leaves behind.
  const server = await mockServer({ reuseDetection: false })
  const key = uniqueKey()
  const siblingStore = testStore({ key })
  const loneStore = testStore({ key })
  // This instance neither locks nor listens: it only learns of the sibling's refresh by reading the store.
  const lone: SessionStore = { read: () => loneStore.read(), write: (c, v) => loneStore.write(c, v) }
  const sibling = createSessionFetch({ baseURL: server.url, store: siblingStore })
  // With credentials it could log in again; adopting the sibling's session must win over that.
  const instance = createSessionFetch({ baseURL: server.url, store: lone, credentials: () => DEMO_USER })
  const events: string[] = []
  instance.on('expired', () => events.push('expired'))
  instance.on('refresh', ({ source }) => events.push(`refresh:${source}`))

  await sibling.login(DEMO_USER)
  const before = await instance.getSession()
  // The instance's refresh reaches the server first but is held there until the sibling has rotated the tokens.
  server.inject({ on: 'refresh', delayMs: 1_500 })
  server.mock.expireAccessTokens()
  const response = instance.fetch('/buyers')
  await until(() => server.counters.faultsServed === 1, 'the instance’s refresh to reach the server')
  const rotated = await sibling.refresh()

  expect((await response).status).toBe(200)
  expect(server.counters.refreshRejected).toBe(1) // the instance's refresh was refused...
  expect(server.counters.refreshes).toBe(1) // ...and only the sibling's went through
  expect(instance.stats()).toMatchObject({ refreshes: 1, replays: 1, logins: 0 })
  expect(server.counters.logins).toBe(1) // the sibling's
  expect((await instance.getSession())?.access_token).toBe(rotated.access_token)
  expect(rotated.access_token).not.toBe(before?.access_token)
  expect(server.log.at(-1)).toMatchObject({ path: '/buyers', status: 200, token: rotated.access_token })
  expect(events).toEqual(['refresh:store'])
  sibling.close()
  instance.close()
})

test('when Redis fails during a refresh, a token that has not expired is still sent, and refresh() says why', async () => {
  const server = await mockServer()
  const store = testStore({ key: uniqueKey() })
  let skewMs = 0
  const now = () => Date.now() + skewMs
  const plantly = createSessionFetch({ baseURL: server.url, store, now })
  await plantly.login(DEMO_USER)
  await store.close() // from now on every store call fails with StoreError
  skewMs = 40_000 // inside the 30 s refresh window of a 60 s token, not expired yet

  const response = await plantly.fetch('/buyers')
  expect(response.status).toBe(200)
  const error = await plantly.refresh().catch((e: unknown) => e)
  expect(error).toBeInstanceOf(RefreshError)
  expect((error as RefreshError).cause).toBeInstanceOf(StoreError)
  expect(server.counters.refreshes).toBe(0)
  plantly.close()
})

test('after Redis lost the session (a restart without persistence), the next refresh keeps the new tokens there', async () => {
  const server = await mockServer()
  const key = uniqueKey()
  const plantly = createSessionFetch({ baseURL: server.url, store: testStore({ key }) })
  await plantly.login(DEMO_USER)
  await plantly.refresh()
  const redis = await plainClient()
  const before = Number(await redis.hGet(key, 'version'))
  await redis.del(key) // what a restart of a Redis that keeps nothing on disk leaves

  server.mock.expireAccessTokens()
  expect((await plantly.fetch('/buyers/1')).status).toBe(200)
  const [rewritten, reason] = await redis.hmGet(key, ['version', 'reason'])
  expect(reason).toBe('refresh')
  expect(Number(rewritten)).toBeGreaterThan(before) // versions still grow across the loss
  server.mock.expireAccessTokens()
  expect((await plantly.fetch('/buyers/2')).status).toBe(200)
  expect(server.counters.refreshes).toBe(3)
  expect(server.counters.reuseDetected).toBe(0)
  expect(await redis.hGet(key, 'version')).toBe(String(Number(rewritten) + 1))
  plantly.close()
})

test('after Redis lost the session, a sibling still on the old version adopts the rewritten one instead of reusing', async () => {
  const server = await mockServer()
  const key = uniqueKey()
  const a = createSessionFetch({ baseURL: server.url, store: testStore({ key }) })
  const b = createSessionFetch({ baseURL: server.url, store: testStore({ key }) })
  await a.login(DEMO_USER)
  await a.refresh()
  await until(
    async () => (await b.getSession())?.access_token === (await a.getSession())?.access_token,
    'b to follow',
  )
  await (await plainClient()).del(key)

  server.mock.expireAccessTokens()
  expect((await a.fetch('/buyers/a')).status).toBe(200) // a refreshes and writes a new version over the empty key
  expect((await b.fetch('/buyers/b')).status).toBe(200) // b, on the lost version, must take it from Redis
  expect(server.counters.reuseDetected).toBe(0)
  expect(server.counters.refreshes).toBe(2)
  expect((await b.getSession())?.access_token).toBe((await a.getSession())?.access_token)
  a.close()
  b.close()
})

describe('one Redis key, two issuers: the second never sends, refreshes, logs out or overwrites the first’s session', () => {
  test.each([
    ['in clear', undefined],
    ['sealed with encryptionKey', randomBytes(32)],
  ])(
    '%s: its calls reject with StoreError, its server sees none of the tokens, Redis is untouched',
    async (_, encryptionKey) => {
      const [serverA, serverB] = await Promise.all([mockServer(), mockServer()])
      const atB = recordRequests(serverB)
      const key = uniqueKey()
      const options = encryptionKey ? { key, encryptionKey } : { key }
      const a = createSessionFetch({ baseURL: serverA.url, store: testStore(options) })
      // Another process of another API, configured with the same key by mistake; with credentials it would log
      // in unattended and write over A's session if it got that far.
      const b = createSessionFetch({
        baseURL: serverB.url,
        store: testStore(options),
        credentials: () => DEMO_USER,
      })
      expect(await b.getSession()).toBeUndefined() // B loaded the empty key first, and listens to it
      const sessionA = await a.login(DEMO_USER)
      const redis = await plainClient()
      const before = await redis.hGetAll(key)

      await expectForeignIssuerRefused(b, serverA, serverB, atB, sessionA)
      expect(await redis.hGetAll(key)).toEqual(before)
      expect((await a.fetch('/buyers')).status).toBe(200)
      expect(serverA.log.at(-1)).toMatchObject({ token: sessionA.access_token })
      a.close()
      b.close()
    },
  )

  test('after Redis lost its data, a refresh never writes over the other issuer’s session found there', async () => {
    const [serverA, serverB] = await Promise.all([mockServer(), mockServer()])
    const key = uniqueKey()
    const a = createSessionFetch({ baseURL: serverA.url, store: testStore({ key }) })
    const b = createSessionFetch({ baseURL: serverB.url, store: testStore({ key }) })
    await a.login(DEMO_USER)
    await a.refresh()
    const redis = await plainClient()
    await redis.del(key) // a restart of a Redis that keeps nothing on disk

    // A's refresh reads the emptied key, then is held at A's server while B logs in (a new version on the empty key).
    serverA.inject({ on: 'refresh', delayMs: 1_000 })
    serverA.mock.expireAccessTokens()
    const response = a.fetch('/buyers')
    await until(() => serverA.counters.faultsServed === 1, 'A’s refresh to reach its server')
    const sessionB = await b.login(DEMO_USER)

    // A's compare-and-set fails: the key holds B's session, which A never writes over.
    // (B's version is above A's: A's refresh adopts it, finds another issuer's session, and refuses to write.)
    const failure = await response.catch((e: unknown) => e)
    const refusal = failure instanceof StoreError ? failure : (failure as Error).cause
    expect(refusal).toBeInstanceOf(StoreError)
    expect((refusal as Error).message).toMatch(/will not use or overwrite it/)
    const stored = await redis.hGetAll(key)
    expect(stored.reason).toBe('login')
    expect(stored.data).toContain(serverB.url)
    expect(await b.getSession()).toEqual(sessionB)
    expect((await b.fetch('/buyers')).status).toBe(200)
    a.close()
    b.close()
  })

  test('one redisStore object given to clients of two APIs: the second is refused when it is created', () => {
    const store = testStore({ key: uniqueKey() })
    createSessionFetch({ baseURL: 'https://api-a.test', store })
    expect(() => createSessionFetch({ baseURL: 'https://api-b.test', store })).toThrow(OptionError)
    expect(() => createSessionFetch({ baseURL: 'https://api-b.test', store })).toThrow(/`store`.*api-a\.test/)
  })

  test('the same issuer, however baseURL is spelled, still shares one session and one refresh', async () => {
    const server = await mockServer()
    const key = uniqueKey()
    const a = createSessionFetch({ baseURL: server.url, store: testStore({ key }) })
    const b = createSessionFetch({ baseURL: `${server.url}/`, store: testStore({ key }) })
    const session = await a.login(DEMO_USER)
    expect(await b.getSession()).toEqual(session)
    server.mock.expireAccessTokens()
    const responses = await Promise.all([a, b, a, b].map((client) => client.fetch('/buyers')))
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200])
    expect(server.counters).toMatchObject({ logins: 1, refreshes: 1, reuseDetected: 0 })
    a.close()
    b.close()
  })
})
