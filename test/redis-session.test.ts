import { expect, test } from 'vitest'
import { createSessionFetch, RefreshError, type SessionStore, StoreError } from '../src/index.js'
import { DEMO_USER, mockServer } from './helpers/mock-server.js'
import { plainClient, testStore, uniqueKey, until } from './helpers/redis.js'

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
  await redis.del(key) // what a restart of a Redis that keeps nothing on disk leaves

  server.mock.expireAccessTokens()
  expect((await plantly.fetch('/buyers/1')).status).toBe(200)
  expect(await redis.hmGet(key, ['version', 'reason'])).toEqual(['1', 'refresh'])
  server.mock.expireAccessTokens()
  expect((await plantly.fetch('/buyers/2')).status).toBe(200)
  expect(server.counters.refreshes).toBe(3)
  expect(server.counters.reuseDetected).toBe(0)
  expect(await redis.hGet(key, 'version')).toBe('2')
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
  expect((await a.fetch('/buyers/a')).status).toBe(200) // a refreshes and writes version 1 over the empty key
  expect((await b.fetch('/buyers/b')).status).toBe(200) // b, at version 2, must take version 1 from Redis
  expect(server.counters.reuseDetected).toBe(0)
  expect(server.counters.refreshes).toBe(2)
  expect((await b.getSession())?.access_token).toBe((await a.getSession())?.access_token)
  a.close()
  b.close()
})
