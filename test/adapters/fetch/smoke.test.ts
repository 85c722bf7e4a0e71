import { afterEach, expect, test, vi } from 'vitest'
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

afterEach(() => {
  vi.unstubAllGlobals()
})

test('replays after a 401 in a runtime with neither setImmediate nor MessageChannel (edge-runtime)', async () => {
  const server = await mockServer()
  // The package loaded where those globals do not exist, as in edge-runtime's VM.
  vi.stubGlobal('setImmediate', undefined)
  vi.stubGlobal('MessageChannel', undefined)
  vi.resetModules()
  const edge = await import('../../../src/index.js')
  const plantly = edge.createSessionFetch({ baseURL: server.url })
  await plantly.login(DEMO_USER)
  server.mock.expireAccessTokens()
  const statuses = await Promise.all(
    [1, 2, 3].map((i) => plantly.fetch(`/buyers/${i}`).then((r) => r.status)),
  )
  vi.unstubAllGlobals()
  expect(statuses).toEqual([200, 200, 200])
  expect(plantly.stats().replays).toBe(3)
  expect(server.counters.refreshes).toBe(1)
})
