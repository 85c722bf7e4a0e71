import { afterEach, expect, test, vi } from 'vitest'
import { DEMO_USER, mockServer } from '../helpers/mock-server.js'

// What the core loads on first use (a dynamic import()) may fail to load: a chunk the network did not deliver, a
// deployment that replaced it. The call that needed it fails with its documented error, nothing is sent, and the
// next call loads it again.

afterEach(() => {
  vi.doUnmock('../../src/core/login-call.js')
  vi.doUnmock('../../src/adapters/fetch/drain.js')
  vi.doUnmock('../../src/core/challenge-answer.js')
  vi.resetModules()
})

test('a login call that fails to load rejects login() with a LoginError, sends nothing, and is loaded again by the next login', async () => {
  const server = await mockServer()
  const undelivered = new TypeError('Failed to fetch dynamically imported module: login-call.js')
  let delivered = false
  vi.resetModules()
  vi.doMock('../../src/core/login-call.js', async (importOriginal) => {
    if (!delivered) throw undelivered
    return importOriginal()
  })
  const { createSessionFetch, LoginError } = await import('../../src/index.js')
  const plantly = createSessionFetch({ baseURL: server.url })

  const failed = await plantly.login(DEMO_USER).then(
    () => undefined,
    (error: unknown) => error,
  )
  expect(failed).toBeInstanceOf(LoginError)
  expect(failed).toMatchObject({ code: 'login_failed', status: undefined })
  expect(causes(failed)).toContain(undelivered) // (the test runner wraps what a mocked module throws)
  expect(server.counters.logins).toBe(0)
  expect(await plantly.getSession()).toBeUndefined()

  delivered = true
  const session = await plantly.login(DEMO_USER)
  expect(session.access_token).toEqual(expect.any(String))
  expect(server.counters.logins).toBe(1)
  expect((await plantly.getSession())?.access_token).toBe(session.access_token)
  await plantly.close()
})

test('a refused answer whose drain fails to load is replayed all the same (its body cancelled), and the next refusal loads it again', async () => {
  const server = await mockServer()
  let delivered = false
  vi.resetModules()
  vi.doMock('../../src/adapters/fetch/drain.js', async (importOriginal) => {
    if (!delivered) throw new TypeError('Failed to fetch dynamically imported module: drain.js')
    return importOriginal()
  })
  const { createSessionFetch } = await import('../../src/index.js')
  const plantly = createSessionFetch({ baseURL: server.url })
  await plantly.login(DEMO_USER)

  server.mock.expireAccessTokens() // the server refuses the token; the client cannot know it before the 401
  const replayed = await plantly.fetch('/buyers')
  expect(replayed.status).toBe(200)
  expect(server.counters.apiRequests).toBe(2)
  expect(server.counters.apiUnauthorized).toBe(1)
  expect(server.counters.refreshes).toBe(1)

  delivered = true
  server.mock.expireAccessTokens()
  expect((await plantly.fetch('/buyers')).status).toBe(200)
  expect(server.counters.apiRequests).toBe(4)
  expect(server.counters.refreshes).toBe(2)
  await plantly.close()
})

test('a challenge reader that fails to load: the 401 is an ordinary refusal, and the next challenge loads it again', async () => {
  const server = await mockServer()
  let delivered = false
  vi.resetModules()
  vi.doMock('../../src/core/challenge-answer.js', async (importOriginal) => {
    if (!delivered) throw new TypeError('Failed to fetch dynamically imported module: challenge-answer.js')
    return importOriginal()
  })
  const { createSessionFetch } = await import('../../src/index.js')
  const plantly = createSessionFetch({ baseURL: server.url })
  await plantly.login(DEMO_USER)
  const events: unknown[] = []
  plantly.on('challenge', (event) => events.push(event))
  const stepUp = { 'www-authenticate': 'Bearer error="insufficient_user_authentication", acr_values="gold"' }

  server.inject({ on: 'api', status: 401, headers: stepUp })
  expect((await plantly.fetch('/a')).status).toBe(200) // refreshed and replayed, as any 401
  expect(server.counters.refreshes).toBe(1)
  expect(events).toEqual([])

  delivered = true
  server.inject({ on: 'api', status: 401, headers: stepUp })
  expect((await plantly.fetch('/b')).status).toBe(401) // read now: given back, no refresh
  expect(server.counters.refreshes).toBe(1)
  expect(events).toEqual([
    { error: 'insufficient_user_authentication', acrValues: 'gold', url: `${server.url}/b` },
  ])
  await plantly.close()
})

function causes(error: unknown): unknown[] {
  const chain: unknown[] = []
  for (let at = (error as Error).cause; at !== undefined && chain.length < 5; at = (at as Error).cause) {
    chain.push(at)
  }
  return chain
}
