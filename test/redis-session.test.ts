import { expect, test } from 'vitest'
import { createSessionFetch, RefreshError, type SessionStore, StoreError } from '../src/index.js'
import { DEMO_USER, mockServer } from './helpers/mock-server.js'
import { testStore, uniqueKey, until } from './helpers/redis.js'

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
