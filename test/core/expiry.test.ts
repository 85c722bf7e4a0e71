import { describe, expect, test } from 'vitest'
import { RefreshError } from '../../src/index.js'
import { until } from '../helpers/adapters.js'
import { manualClock } from '../helpers/clock.js'
import { plantlyApi } from '../helpers/msw.js'

describe('proactive refresh', () => {
  test('requests inside the window go at once with the current token while one refresh runs behind them', async () => {
    const time = manualClock()
    const { plantly, mock } = await plantlyApi({ accessTtlSeconds: 60, client: { now: time.now } })
    const first = await plantly.getSession()
    time.advance(29_000)
    await plantly.fetch('/before')
    expect(mock.counters.refreshes).toBe(0)
    time.advance(2_000) // 31 s: inside the 30 s window, far from the 5 s must-refresh margin
    const responses = await Promise.all([plantly.fetch('/a'), plantly.fetch('/b'), plantly.fetch('/c')])
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200])
    // Sent with the token they found, not held back for the refresh.
    expect(mock.log.slice(1).map((entry) => entry.token)).toEqual(Array(3).fill(first?.access_token))
    await until(() => plantly.stats().pendingRefreshes === 0, 'the refresh-ahead')
    expect(mock.counters.refreshes).toBe(1)
    expect(mock.counters.apiUnauthorized).toBe(0)
    const renewed = await plantly.getSession()
    expect(renewed?.access_token).not.toBe(first?.access_token)
    await plantly.fetch('/after')
    expect(mock.log.at(-1)?.token).toBe(renewed?.access_token)
  })

  test('requests inside the must-refresh margin wait for the one refresh and never meet a 401', async () => {
    const time = manualClock()
    const { plantly, mock } = await plantlyApi({ accessTtlSeconds: 60, client: { now: time.now } })
    time.advance(56_000) // inside the 5 s margin
    const responses = await Promise.all([plantly.fetch('/a'), plantly.fetch('/b'), plantly.fetch('/c')])
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200])
    expect(mock.counters.refreshes).toBe(1)
    const renewed = await plantly.getSession()
    expect(mock.log.every((entry) => entry.token === renewed?.access_token)).toBe(true)
  })

  test('a failed refresh-ahead changes nothing for callers, and is tried again only after a cooldown', async () => {
    const time = manualClock()
    const { plantly, mock } = await plantlyApi({ accessTtlSeconds: 60, client: { now: time.now } })
    const session = await plantly.getSession()
    time.advance(40_000)
    mock.inject({ on: 'refresh', status: 503, times: 3 }) // one refresh: its first try and 2 retries
    expect((await plantly.fetch('/a')).status).toBe(200)
    await until(() => plantly.stats().pendingRefreshes === 0, 'the refresh-ahead to fail')
    expect(mock.counters.faultsServed).toBe(3)
    expect((await plantly.fetch('/b')).status).toBe(200) // inside the cooldown: no new refresh
    expect(mock.counters.refreshes).toBe(0)
    expect(mock.log.map((entry) => entry.token)).toEqual([session?.access_token, session?.access_token])
    time.advance(2_000)
    expect((await plantly.fetch('/c')).status).toBe(200) // after it: tried again, in the background
    await until(() => plantly.stats().pendingRefreshes === 0, 'the second refresh-ahead')
    expect(mock.counters.refreshes).toBe(1)
  })

  test.each([
    ['an hour ahead', 3_600_000],
    ['an hour behind', -3_600_000],
  ])('a server clock %s neither refreshes on every call nor misses the window', async (_name, offset) => {
    const time = manualClock()
    const { plantly, mock } = await plantlyApi({
      accessTtlSeconds: 60,
      clockOffsetMs: offset,
      client: { now: time.now },
    })
    for (let i = 0; i < 5; i++) await plantly.fetch(`/early/${i}`)
    time.advance(10_000)
    await plantly.fetch('/later')
    expect(mock.counters.refreshes).toBe(0)
    time.advance(21_000)
    await plantly.fetch('/in-window')
    await until(() => plantly.stats().pendingRefreshes === 0, 'the refresh-ahead')
    expect(mock.counters.refreshes).toBe(1)
    expect(mock.counters.apiUnauthorized).toBe(0)
  })

  test('the window never exceeds half the lifetime of a short-lived token', async () => {
    const time = manualClock()
    const { plantly, mock } = await plantlyApi({ accessTtlSeconds: 10, client: { now: time.now } })
    time.advance(4_000)
    await plantly.fetch('/a')
    expect(mock.counters.refreshes).toBe(0)
    time.advance(2_000)
    await plantly.fetch('/b')
    expect(mock.counters.refreshes).toBe(1)
    await plantly.fetch('/c')
    expect(mock.counters.refreshes).toBe(1) // the renewed token is good for another 5 s
  })

  test('opaque tokens use expires_in', async () => {
    const time = manualClock()
    const { plantly, mock } = await plantlyApi({
      tokenFormat: 'opaque',
      accessTtlSeconds: 100,
      client: { now: time.now },
    })
    expect((await plantly.getSession())?.access_token).not.toContain('.ey')
    time.advance(69_000)
    await plantly.fetch('/a')
    expect(mock.counters.refreshes).toBe(0)
    time.advance(2_000)
    await plantly.fetch('/b')
    expect(mock.counters.refreshes).toBe(1)
  })

  test('refreshWindowMs: 0 refreshes only after a 401', async () => {
    const time = manualClock()
    const { plantly, mock } = await plantlyApi({
      accessTtlSeconds: 60,
      client: { now: time.now, refreshWindowMs: 0 },
    })
    time.advance(59_000)
    await plantly.fetch('/a')
    expect(mock.counters.refreshes).toBe(0)
  })
})

describe('a proactive refresh that cannot complete', () => {
  test('sends the still-valid token rather than failing the call', async () => {
    const time = manualClock()
    const { plantly, mock } = await plantlyApi({ accessTtlSeconds: 60, client: { now: time.now } })
    const session = await plantly.getSession()
    time.advance(45_000)
    mock.inject({ on: 'refresh', status: 503, times: 3 })
    const response = await plantly.fetch('/a')
    expect(response.status).toBe(200)
    expect(mock.log.at(-1)?.token).toBe(session?.access_token)
    await until(() => plantly.stats().pendingRefreshes === 0, 'the refresh to give up')
    expect(mock.counters.faultsServed).toBe(3)
  })

  test('rejects with RefreshError once the token has expired', async () => {
    const time = manualClock()
    const { plantly, mock } = await plantlyApi({ accessTtlSeconds: 60, client: { now: time.now } })
    time.advance(61_000)
    mock.inject({ on: 'refresh', status: 503, times: 3 })
    await expect(plantly.fetch('/a')).rejects.toBeInstanceOf(RefreshError)
    expect(mock.log).toHaveLength(0) // nothing was sent with a token known to be dead
  })
})
