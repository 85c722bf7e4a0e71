import { expect, test } from 'vitest'
import { createSessionFetch } from '../../../src/index.js'
import { DEMO_USER, mockServer } from '../../helpers/mock-server.js'

test('logs in, sends the access token, and survives an expiry with one refresh for a burst', async () => {
  const server = await mockServer()
  const plantly = createSessionFetch({ baseURL: server.url })
  await plantly.login(DEMO_USER)
  server.mock.expireAccessTokens()
  const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => plantly.fetch(`/buyers/${i}`)))
  expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200))
  expect(server.counters.refreshes).toBe(1)
  expect(plantly.stats().replays).toBe(50)
})
