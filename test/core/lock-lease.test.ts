// A store's lock that others take over once its lease ends (the browser store's, when the holding tab was frozen):
// the instance that held it must send nothing with the session it read, since the one that took over may be
// presenting the same refresh token.
import { expect, test } from 'vitest'
import { createSessionFetch, memoryStore, type SessionStore } from '../../src/index.js'
import { DEMO_USER, mockServer } from '../helpers/mock-server.js'

test('a refresh that resumes past its lock lease sends nothing, queues again and takes what the taker wrote', async () => {
  const server = await mockServer()
  const shared = memoryStore()
  const taker = createSessionFetch({ baseURL: server.url, store: shared }) // the instance that took the lock over
  let grants = 0
  // No subscribe: this instance learns of the taker's session only by reading the store under the lock.
  const store: SessionStore = {
    read: () => shared.read(),
    write: (change, expected) => shared.write(change, expected),
    async lock(fn) {
      grants++
      // First grant: this holder resumes after its lease ended, before the taker has written anything.
      if (grants === 1) return fn({ until: Date.now() - 1 })
      await taker.refresh() // the taker renews while this one queues again
      return fn({ until: Date.now() + 60_000 })
    },
  }
  const plantly = createSessionFetch({ baseURL: server.url, store })
  await plantly.login(DEMO_USER)
  server.mock.expireAccessTokens()

  expect((await plantly.fetch('/buyers/1')).status).toBe(200)
  expect(grants).toBe(2)
  expect(plantly.stats().refreshes).toBe(0) // it presented the old refresh token to no one
  expect(server.counters).toMatchObject({ refreshes: 1, refreshRejected: 0, reuseDetected: 0 })
  expect(await plantly.getSession()).toEqual(await taker.getSession())
})
