// A store that loses its data while instances run (Redis restarted without persistence, site data cleared in a
// browser) goes back to version 0. The instances follow it instead of writing forever against a lost version.
import { expect, test } from 'vitest'
import { createSessionFetch, type SessionStore, type StoreSnapshot } from '../../src/index.js'
import { DEMO_USER, mockServer } from '../helpers/mock-server.js'

function resettableStore() {
  const empty: StoreSnapshot = { version: 0, record: undefined }
  let current = empty
  const counts = { writes: 0 }
  const tick = () => new Promise((resolve) => setTimeout(resolve, 0)) // a real store's round trip
  const store: SessionStore = {
    async read() {
      await tick()
      return current
    },
    async write(change, expected) {
      await tick()
      counts.writes++
      if (current.version !== expected) return undefined
      current = { version: expected + 1, ...change }
      return current
    },
  }
  return { store, counts, reset: () => (current = empty), now: () => current }
}

test('login after the store lost its data writes the new session once, instead of looping', async () => {
  const server = await mockServer()
  const { store, counts, reset, now } = resettableStore()
  const plantly = createSessionFetch({ baseURL: server.url, store })
  await plantly.login(DEMO_USER)
  await plantly.login(DEMO_USER)
  expect(now().version).toBe(2)
  reset()
  counts.writes = 0
  const session = await plantly.login(DEMO_USER)
  expect(counts.writes).toBe(2) // the refused compare-and-set, then the write over the empty store
  expect(now()).toMatchObject({ version: 1, reason: 'login' })
  expect(now().record?.session.access_token).toBe(session.access_token)
  expect((await plantly.fetch('/buyers/1')).status).toBe(200)
})

test('a refresh after the store lost its data keeps the new tokens, so the next refresh does not reuse', async () => {
  const server = await mockServer()
  const { store, reset, now } = resettableStore()
  const plantly = createSessionFetch({ baseURL: server.url, store })
  await plantly.login(DEMO_USER)
  await plantly.refresh()
  reset()
  server.mock.expireAccessTokens()
  expect((await plantly.fetch('/buyers/1')).status).toBe(200)
  expect(now()).toMatchObject({ version: 1, reason: 'refresh' })
  server.mock.expireAccessTokens()
  expect((await plantly.fetch('/buyers/2')).status).toBe(200)
  expect(server.counters.refreshes).toBe(3)
  expect(server.counters.reuseDetected).toBe(0)
  expect(now().version).toBe(2)
})
