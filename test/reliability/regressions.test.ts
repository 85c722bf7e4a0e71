import { afterEach, expect, test, vi } from 'vitest'
import { createSessionFetch, memoryStore, plantlySessions, type SessionFetch } from '../../src/index.js'
import { flush } from '../helpers/flush.js'
import { ScriptedApi } from '../helpers/scripted-api.js'

// Bugs the reliability suite found, each pinned by the smallest readable case. The property test
// keeps the shrunk counterexamples too (test/reliability/model.property.test.ts, REGRESSIONS).

const BASE = 'https://api.test'
const DEMO = { email_address: 'demo@plantly.test', password: 'plantly' }

afterEach(() => {
  vi.useRealTimers()
})

/** Log in through the scripted API (which answers only when told). */
async function logIn(api: ScriptedApi, plantly: SessionFetch) {
  const login = plantly.login(DEMO)
  await flush()
  await api.deliver(api.next('login'))
  return login
}

test('a login aborted while ofetch waits to retry a 503 leaves no timer behind', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  const api = new ScriptedApi({ baseURL: BASE, ttlSeconds: 60 })
  const plantly = createSessionFetch({ baseURL: BASE, fetch: api.fetch, refreshTimeoutMs: 10_000 })
  const controller = new AbortController()
  const login = plantly.login(DEMO, { signal: controller.signal })
  login.catch(() => undefined)
  await flush()
  await api.deliver(api.next('login'), '503')
  await flush()
  expect(vi.getTimerCount()).toBeGreaterThan(0) // the retry is scheduled
  controller.abort()
  await expect(login).rejects.toBe(controller.signal.reason)
  expect(vi.getTimerCount()).toBe(0)
  expect(api.inFlight()).toBe(0)
})

test('a refresh waiting to retry a 500 stops when login() replaces the session: no stale token goes out', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  const api = new ScriptedApi({ baseURL: BASE, ttlSeconds: 600 })
  const plantly = createSessionFetch({
    baseURL: BASE,
    fetch: api.fetch,
    protocol: plantlySessions({ baseURL: BASE, retry: 1 }),
  })
  const first = plantly.login(DEMO)
  await flush()
  await api.deliver(api.next('login'))
  await first
  const refresh = plantly.refresh()
  await flush()
  await api.deliver(api.next('refresh'), '500')
  await flush() // ofetch now waits before its retry
  const second = plantly.login(DEMO)
  await flush()
  await api.deliver(api.next('login'))
  const session = await second
  await vi.advanceTimersByTimeAsync(10_000)
  expect(api.history.filter((e) => e.kind === 'refresh')).toHaveLength(1)
  await expect(refresh).resolves.toEqual(session)
  expect(vi.getTimerCount()).toBe(0)
})

test('a replay after a 401 on an older token waits for a refresh when the current token must be refreshed', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  const api = new ScriptedApi({ baseURL: BASE, ttlSeconds: 100 })
  const plantly = createSessionFetch({ baseURL: BASE, fetch: api.fetch, refreshWindowMs: 30_000 })
  const first = await logIn(api, plantly)
  const call = plantly.fetch('/buyers')
  await flush()
  const sentWithFirst = api.next('api')
  const refresh = plantly.refresh()
  await flush()
  await api.deliver(api.next('refresh'))
  const second = await refresh
  await vi.advanceTimersByTimeAsync(96_000) // the second token is now inside its must-refresh margin (5 s)
  await api.deliver(sentWithFirst) // 401: the first token was superseded
  await flush()
  expect(sentWithFirst.status).toBe(401)
  expect(api.pending().map((e) => e.kind)).toEqual(['refresh']) // the replay waits instead of sending
  await api.deliver(api.next('refresh'))
  await flush()
  const replay = api.next('api')
  expect([replay.token === first.access_token, replay.token === second.access_token]).toEqual([false, false])
  await api.deliver(replay)
  expect((await call).status).toBe(200)
})

test('a call with an already aborted signal sends nothing, not even a refresh for a due token', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  const api = new ScriptedApi({ baseURL: BASE, ttlSeconds: 120 })
  const plantly = createSessionFetch({ baseURL: BASE, fetch: api.fetch })
  await logIn(api, plantly)
  await vi.advanceTimersByTimeAsync(100_000) // inside the refresh window
  const sent = api.counters.exchanges
  const controller = new AbortController()
  controller.abort()
  await expect(plantly.fetch('/buyers', { signal: controller.signal })).rejects.toBe(controller.signal.reason)
  await flush()
  expect(api.counters.exchanges).toBe(sent)
  expect(plantly.stats().pendingRefreshes).toBe(0)
})

test('a retry that could only go out at the refresh deadline is not sent (its answer would be lost)', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  const api = new ScriptedApi({ baseURL: BASE, ttlSeconds: 600 })
  const plantly = createSessionFetch({
    baseURL: BASE,
    fetch: api.fetch,
    refreshTimeoutMs: 1_000,
    protocol: plantlySessions({ baseURL: BASE, retry: 2 }),
  })
  await logIn(api, plantly)
  const refresh = plantly.refresh()
  refresh.catch(() => undefined)
  await flush()
  await vi.advanceTimersByTimeAsync(300)
  // Real clocks drift against timer queues: Date.now() a few ms ahead is what made the retry slip out just
  // before the deadline fired (flaky over real HTTP). Here it is made deterministic.
  vi.setSystemTime(Date.now() + 5)
  await api.deliver(api.next('refresh'), '429') // Retry-After: 1 s, longer than what is left
  await vi.advanceTimersByTimeAsync(1_000)
  await expect(refresh).rejects.toMatchObject({ name: 'RefreshError' })
  expect(api.history.filter((e) => e.kind === 'refresh')).toHaveLength(1)
  expect(vi.getTimerCount()).toBe(0)
})

test('logout() takes effect when called: a call made right after it carries no token', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  const api = new ScriptedApi({ baseURL: BASE, ttlSeconds: 600 })
  const plantly = createSessionFetch({ baseURL: BASE, fetch: api.fetch })
  await logIn(api, plantly)
  const logout = plantly.logout()
  const call = plantly.fetch('/buyers') // same tick: the logout has not cleared the store yet
  await flush()
  expect(api.next('api').token).toBeUndefined()
  await api.deliver(api.next('api'))
  await api.deliver(api.next('logout'))
  await logout
  expect((await call).status).toBe(401)
})

test("a refresh that completes after logout() began leaves no spent refresh token for a sibling's refresh", async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  const api = new ScriptedApi({ baseURL: BASE, ttlSeconds: 600 })
  const store = memoryStore()
  const [a, b] = ['a', 'b'].map((tag) =>
    createSessionFetch({ baseURL: BASE, fetch: api.transport(tag), store }),
  ) as [SessionFetch, SessionFetch]
  await logIn(api, a)
  const aRefresh = a.refresh().catch((error: unknown) => error) // holds the store's lock
  await flush()
  const bRefresh = b.refresh().catch((error: unknown) => error) // waits for the lock
  await flush()
  const logout = a.logout()
  await flush()
  await api.deliver(api.next('refresh')) // rotates the stored refresh token; the logout keeps the answer
  for (let i = 0; i < 10; i++) {
    await flush()
    const [next] = api.pending()
    if (next) await api.deliver(next)
  }
  await logout
  expect(await bRefresh).toMatchObject({ name: 'SessionExpiredError' })
  expect(await aRefresh).toMatchObject({ name: 'SessionExpiredError' })
  expect(api.history.filter((e) => e.kind === 'refresh')).toHaveLength(1) // b presented nothing
  expect(api.counters.reuseDetected).toBe(0)
  expect(api.liveFamilies()).toEqual([]) // the logout ended the session the refresh obtained
})
