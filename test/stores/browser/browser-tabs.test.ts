// browserStore() in a real browser: several Chromium tabs of one origin share a session. Chromium missing makes
// these tests fail (findChromium throws), never skip.
import type { Page } from 'playwright-core'
import { describe, expect, test, vi } from 'vitest'
import { freeze, type TabsOrigin, tabsOrigin } from '../../helpers/chromium.js'
import { DEMO_USER } from '../../helpers/mock-server.js'

const WAIT = { timeout: 15_000, interval: 25 } // bounds to detect a hang, not timings

// The tabs' session calls time out after this; the refresh lock's lease is 2 × it + 1 s.
const REFRESH_TIMEOUT_MS = 1_500
// How long the other tabs may wait for a frozen holder: its lease, plus slack for a loaded machine. A bound to
// detect a lock that is never taken over, not a timing.
const TAKE_OVER_BOUND_MS = 2 * REFRESH_TIMEOUT_MS + 1_000 + 5_000

/** `promise`, or a rejection naming `what` if it has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

/** Open `count` tabs on the origin, log in from the first, and let the others load the shared session. */
async function sharedSession(origin: TabsOrigin, count: number, query = ''): Promise<Page[]> {
  const tabs: Page[] = []
  for (let i = 0; i < count; i++) tabs.push(await origin.open(query))
  const [first] = tabs
  if (!first) throw new Error('no tab')
  await first.evaluate(({ email, password }) => window.tab.login(email, password), {
    email: DEMO_USER.email_address,
    password: DEMO_USER.password,
  })
  const tokens = await Promise.all(tabs.map((t) => t.evaluate(() => window.tab.accessToken())))
  expect(new Set(tokens).size).toBe(1) // every tab holds the one session, read from IndexedDB
  expect(tokens[0]).toEqual(expect.any(String))
  return tabs
}

describe('browserStore across Chromium tabs', () => {
  test('the page runs with IndexedDB, Web Locks and BroadcastChannel', async () => {
    const origin = await tabsOrigin()
    const tab = await origin.open()
    expect(await tab.evaluate(() => window.tab.coordination())).toEqual({
      storage: 'indexeddb',
      lock: 'web-locks',
      notify: 'broadcast-channel',
    })
  })

  // localStorage fails both: each tab reads its own cached copy, so even under the Web Lock a tab can read a
  // version another tab has already replaced (measured in Chromium 156: 506 of 2,000 locked increments lost).
  test.each([
    ['outside any lock', false],
    ['under the refresh lock', true],
  ])('compare-and-set across tabs %s: every version is won by exactly one tab', async (_, underLock) => {
    const origin = await tabsOrigin()
    const tabs = [await origin.open(), await origin.open(), await origin.open()]
    const won = await Promise.all(
      tabs.map((t, i) =>
        t.evaluate(({ i, underLock }) => window.tab.increments(40, `tab${i}`, underLock), { i, underLock }),
      ),
    )
    // No version lost, none won twice: the 120 writes form one chain from the empty store, each over the last.
    const chain = won.flat().sort(([x], [y]) => x - y)
    expect(chain).toHaveLength(120)
    expect(chain.map(([from]) => from)).toEqual([0, ...chain.slice(0, -1).map(([, to]) => to)])
  })

  test('a storm in 3 tabs at once after the access tokens expire makes exactly one refresh, no reuse', async () => {
    // The refresh is slowed so that every tab's requests pile up on the refresh lock while it runs.
    const origin = await tabsOrigin({ refreshLatencyMs: 1_000 })
    const tabs = await sharedSession(origin, 3)
    const before = await tabs[0]?.evaluate(() => window.tab.accessToken())
    origin.mock.expireAccessTokens()

    await Promise.all(tabs.map((t, i) => t.evaluate(({ i }) => window.tab.arm(50, `tab${i}`), { i })))
    await tabs[0]?.evaluate(() => window.tab.go())
    const statuses = await Promise.all(tabs.map((t) => t.evaluate(() => window.tab.armed())))

    expect(statuses.flat()).toEqual(Array(150).fill(200))
    const counters = origin.mock.counters
    expect(counters.refreshes).toBe(1)
    expect(counters.refreshRejected).toBe(0)
    expect(counters.reuseDetected).toBe(0)
    expect(counters.maxConcurrentRefreshes).toBe(1)
    // Every tab's requests went out with the expired token, got their 401 and were replayed once.
    expect(counters.apiUnauthorized).toBe(150)
    expect(counters.apiRequests).toBe(300)
    const stats = await Promise.all(tabs.map((t) => t.evaluate(() => window.tab.stats())))
    expect(stats.map((s) => s.replays)).toEqual([50, 50, 50])
    expect(stats.reduce((sum, s) => sum + s.refreshes, 0)).toBe(1)
    // All tabs ended on the one new session; the two that did not refresh heard of it from the one that did.
    const after = await Promise.all(tabs.map((t) => t.evaluate(() => window.tab.accessToken())))
    expect(new Set(after).size).toBe(1)
    expect(after[0]).not.toBe(before)
    const heard = await Promise.all(tabs.map((t) => t.evaluate(() => window.tab.events())))
    expect(heard.flat().filter((e) => e.name === 'refresh')).toHaveLength(3)
    expect(heard.flat().filter((e) => e.name === 'refresh' && e.source === 'store')).toHaveLength(2)
  })

  test('a logout in one tab logs every tab out', async () => {
    const origin = await tabsOrigin()
    const [a, b, c] = await sharedSession(origin, 3)
    if (!a || !b || !c) throw new Error('tabs')
    expect(await b.evaluate(() => window.tab.get('/buyers/b-before'))).toBe(200)

    await a.evaluate(() => window.tab.logout())
    expect(origin.mock.counters.logouts).toBe(1)
    for (const other of [b, c]) {
      await vi.waitFor(async () => {
        const events = await other.evaluate(() => window.tab.events())
        expect(events).toContainEqual({ name: 'logout', source: 'store' })
      }, WAIT)
      expect(await other.evaluate(() => window.tab.accessToken())).toBeNull()
    }
    expect(await b.evaluate(() => window.tab.get('/buyers/b-after'))).toBe(401)
    expect(await c.evaluate(() => window.tab.get('/buyers/c-after'))).toBe(401)
    const sent = (path: string) => origin.mock.log.filter((entry) => entry.path === path)
    expect(sent('/buyers/b-before')[0]?.token).toEqual(expect.any(String))
    expect(sent('/buyers/b-after')).toEqual([expect.objectContaining({ token: undefined, status: 401 })])
    expect(sent('/buyers/c-after')).toEqual([expect.objectContaining({ token: undefined, status: 401 })])
    expect(origin.mock.counters.logouts).toBe(1) // only the tab that logged out called the server
  })

  test('closing the tab that holds the refresh lock mid-refresh lets another tab refresh', async () => {
    const origin = await tabsOrigin()
    // The tabs' own refresh deadline is far beyond the test, so only the closed tab can free the lock.
    const [a, b, c] = await sharedSession(origin, 3, '?refreshTimeoutMs=60000')
    if (!a || !b || !c) throw new Error('tabs')
    origin.mock.inject({ on: 'refresh', delayMs: 18_000 }) // the first refresh call is slow
    origin.mock.expireAccessTokens()

    const abandoned = a.evaluate(() => window.tab.get('/buyers/a')).catch(() => 'tab closed')
    // Tab a's refresh call has reached the server: it holds the lock.
    await vi.waitFor(() => expect(origin.mock.counters.faultsServed).toBe(1), WAIT)
    expect(await b.evaluate(() => window.tab.refreshLock())).toEqual({ held: 1, pending: 0 })

    const stormB = b.evaluate(() => window.tab.storm(10, 'b'))
    const stormC = c.evaluate(() => window.tab.storm(10, 'c'))
    // Both other tabs now wait behind tab a for the lock.
    await vi.waitFor(async () => {
      expect(await b.evaluate(() => window.tab.refreshLock())).toEqual({ held: 1, pending: 2 })
    }, WAIT)
    expect(origin.mock.counters.refreshes).toBe(0)

    await a.close()
    expect(await stormB).toEqual(Array(10).fill(200))
    expect(await stormC).toEqual(Array(10).fill(200))
    expect(await abandoned).toBe('tab closed')
    // One of b and c refreshed while tab a's slow call is still parked at the server.
    expect(origin.mock.counters.refreshes).toBe(1)
    expect(origin.mock.counters.reuseDetected).toBe(0)
    const stats = await Promise.all([b, c].map((t) => t.evaluate(() => window.tab.stats())))
    expect(stats.reduce((sum, s) => sum + s.refreshes, 0)).toBe(1)
    expect(await b.evaluate(() => window.tab.refreshLock())).toEqual({ held: 0, pending: 0 })
  })

  // Chrome freezes background tabs, and a frozen tab runs no timer: it never lets go of the lock by itself.
  test('a tab frozen while its refresh call is under way is taken over after its lease; no token goes out twice', async () => {
    const origin = await tabsOrigin()
    const [a, b] = await sharedSession(origin, 2, `?refreshTimeoutMs=${REFRESH_TIMEOUT_MS}`)
    if (!a || !b) throw new Error('tabs')
    // Tab a's refresh call reaches the server, which neither processes nor answers it.
    origin.mock.inject({ on: 'refresh', hang: true })
    origin.mock.expireAccessTokens()
    const pendingA = a.evaluate(() => window.tab.get('/buyers/a'))
    await vi.waitFor(() => expect(origin.mock.counters.faultsServed).toBe(1), WAIT)
    const thaw = await freeze(a)

    const stormB = b.evaluate(() => window.tab.storm(10, 'b'))
    expect(await within(stormB, TAKE_OVER_BOUND_MS, "tab b's requests")).toEqual(Array(10).fill(200))
    expect(origin.mock.counters).toMatchObject({ refreshes: 1, refreshRejected: 0, reuseDetected: 0 })

    // Tab a resumes past its lease: its call has timed out, it sends no retry and no refresh with the old
    // token, and its request is replayed with the session tab b wrote.
    await thaw()
    expect(await pendingA).toBe(200)
    expect(origin.mock.counters).toMatchObject({ refreshes: 1, refreshRejected: 0, reuseDetected: 0 })
    const tokens = await Promise.all([a, b].map((t) => t.evaluate(() => window.tab.accessToken())))
    expect(tokens[0]).toBe(tokens[1])
  }, 60_000)

  test('a tab granted the lock while frozen is taken over; when it resumes it refreshes nothing', async () => {
    const origin = await tabsOrigin()
    const [a, b, z] = await sharedSession(origin, 3, `?refreshTimeoutMs=${REFRESH_TIMEOUT_MS}`)
    if (!a || !b || !z) throw new Error('tabs')
    origin.mock.expireAccessTokens()
    await z.evaluate(() => window.tab.holdLock())
    const pendingA = a.evaluate(() => window.tab.get('/buyers/a'))
    const queued = (pending: number) =>
      vi.waitFor(async () => {
        expect(await z.evaluate(() => window.tab.refreshLock())).toEqual({ held: 1, pending })
      }, WAIT)
    await queued(1) // tab a waits for the lock
    const thaw = await freeze(a)
    const stormB = b.evaluate(() => window.tab.storm(10, 'b'))
    await queued(2) // tab b waits behind tab a
    await z.evaluate(() => window.tab.releaseLock())
    await queued(1) // the lock went to the frozen tab a, whose callback cannot run

    expect(await within(stormB, TAKE_OVER_BOUND_MS, "tab b's requests")).toEqual(Array(10).fill(200))
    expect(origin.mock.counters).toMatchObject({ refreshes: 1, refreshRejected: 0, reuseDetected: 0 })

    await thaw()
    expect(await pendingA).toBe(200)
    expect(origin.mock.counters).toMatchObject({ refreshes: 1, refreshRejected: 0, reuseDetected: 0 })
    expect((await a.evaluate(() => window.tab.stats())).refreshes).toBe(0)
    expect(await z.evaluate(() => window.tab.refreshLock())).toEqual({ held: 0, pending: 0 })
  }, 60_000)
})
