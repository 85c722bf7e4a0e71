import { getEventListeners } from 'node:events'
import { describe, expect, test, vi } from 'vitest'
import { createSessionFetch, LogoutError, memoryStore } from '../../src/index.js'
import { BASE, DEMO_USER, plantlyApi } from '../helpers/msw.js'

describe('events', () => {
  test('login, refresh, logout fire with their payloads; the returned function unsubscribes', async () => {
    const { plantly, mock } = await plantlyApi({ login: false })
    const seen: string[] = []
    const offLogin = plantly.on('login', ({ session, source }) =>
      seen.push(`login:${source}:${session.type}`),
    )
    plantly.on('refresh', ({ source }) => seen.push(`refresh:${source}`))
    plantly.on('logout', ({ source }) => seen.push(`logout:${source}`))
    await plantly.login(DEMO_USER)
    offLogin()
    await plantly.login(DEMO_USER)
    mock.expireAccessTokens()
    await plantly.fetch('/a')
    await plantly.logout()
    expect(seen).toEqual(['login:local:auth.session', 'refresh:local', 'logout:local'])
    expect(plantly.stats().listeners).toBe(2)
  })

  test('a throwing listener does not break the session', async () => {
    const { plantly, mock } = await plantlyApi()
    plantly.on('refresh', () => {
      throw new Error('listener bug')
    })
    const uncaught = vi.fn()
    process.on('uncaughtException', uncaught)
    mock.expireAccessTokens()
    const response = await plantly.fetch('/a')
    await new Promise((resolve) => setImmediate(resolve))
    process.off('uncaughtException', uncaught)
    expect(response.status).toBe(200)
    expect(uncaught).toHaveBeenCalledWith(
      expect.objectContaining({ message: 'listener bug' }),
      expect.anything(),
    )
  })

  test('two clients sharing a memoryStore share the session, one refresh, and each other’s events', async () => {
    const store = memoryStore()
    const { plantly: a, mock } = await plantlyApi({ client: { store } })
    const b = createSessionFetch({ baseURL: BASE, store })
    const refreshes = vi.fn()
    b.on('refresh', refreshes)
    expect((await b.getSession())?.access_token).toBe((await a.getSession())?.access_token)
    mock.expireAccessTokens()
    const responses = await Promise.all([a.fetch('/x'), b.fetch('/y')])
    expect(responses.map((r) => r.status)).toEqual([200, 200])
    expect(mock.counters.refreshes).toBe(1)
    expect(refreshes).toHaveBeenCalledTimes(1)
    expect((await b.getSession())?.access_token).toBe((await a.getSession())?.access_token)
    a.close()
    b.close()
  })
})

describe('logout', () => {
  test('clears the session and ends it on the server', async () => {
    const { plantly, mock } = await plantlyApi()
    await plantly.logout()
    expect(await plantly.getSession()).toBeUndefined()
    expect(mock.counters.logouts).toBe(1)
    expect((await plantly.fetch('/a')).status).toBe(401)
    expect(mock.log.at(-1)?.token).toBeUndefined()
  })

  test('clears the local session even when the server call fails, and says so', async () => {
    const { plantly, mock } = await plantlyApi()
    mock.inject({ on: 'logout', status: 500 })
    const error = await plantly.logout().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LogoutError)
    expect(await plantly.getSession()).toBeUndefined()
  })

  test('with an already expired access token it still ends the session on the server', async () => {
    const { plantly, mock } = await plantlyApi()
    mock.expireAccessTokens()
    expect(mock.liveSessions()).toBe(1) // the refresh token is still alive
    await expect(plantly.logout()).resolves.toBeUndefined()
    expect(await plantly.getSession()).toBeUndefined()
    expect(mock.counters.logouts).toBe(1)
    expect(mock.liveSessions()).toBe(0)
  })

  test('after a refresh that got no answer, an expired access token is still renewed to end the session', async () => {
    const { plantly, mock } = await plantlyApi({ client: { refreshTimeoutMs: 100 } })
    mock.inject({ on: 'refresh', hang: true }) // never processed: the refresh token was not rotated
    await expect(plantly.refresh()).rejects.toMatchObject({ name: 'RefreshError' })
    mock.expireAccessTokens()
    expect(mock.liveSessions()).toBe(1)
    await expect(plantly.logout()).resolves.toBeUndefined()
    expect(mock.counters.refreshes).toBe(1) // logout's renewal, with the refresh token the timeout left unanswered
    expect(mock.counters.logouts).toBe(1)
    expect(mock.liveSessions()).toBe(0)
  })

  test('a session it renewed whose fresh access token is refused too is reported, not counted as ended', async () => {
    const { plantly, mock } = await plantlyApi()
    mock.inject({ on: 'logout', status: 401, times: 2 }) // the expired token's DELETE, then the fresh one's
    const error = await plantly.logout().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LogoutError)
    expect(error).toMatchObject({ cause: { status: 401 } })
    expect(mock.counters.refreshes).toBe(1)
    expect(mock.liveSessions()).toBe(1) // the renewed session: the server did not end it
    expect(await plantly.getSession()).toBeUndefined()
  })

  test('with both tokens already dead it resolves: there is nothing left to end', async () => {
    const { plantly, mock } = await plantlyApi()
    mock.revokeAll()
    await expect(plantly.logout()).resolves.toBeUndefined()
    expect(await plantly.getSession()).toBeUndefined()
    expect(mock.counters.logouts).toBe(0)
  })

  test('a refresh in flight when logout began does not bring the session back', async () => {
    const { plantly, mock } = await plantlyApi({ refreshLatencyMs: 60 })
    const refreshed = vi.fn()
    plantly.on('refresh', refreshed)
    mock.expireAccessTokens()
    const pending = plantly.fetch('/a')
    const refreshing = plantly.refresh().catch((e: unknown) => e)
    await plantly.logout()
    const response = await pending
    expect(await refreshing).toMatchObject({ name: 'SessionExpiredError' })
    expect(response.status).toBe(401)
    expect(await plantly.getSession()).toBeUndefined()
    expect(refreshed).not.toHaveBeenCalled()
  })

  test('after logout, credentials do not log in again until login() is called', async () => {
    const credentials = vi.fn(() => DEMO_USER)
    const { plantly, mock } = await plantlyApi({ client: { credentials } })
    await plantly.logout()
    expect((await plantly.fetch('/a')).status).toBe(401)
    expect(credentials).not.toHaveBeenCalled()
    await plantly.login(DEMO_USER)
    expect((await plantly.fetch('/b')).status).toBe(200)
    expect(mock.counters.logins).toBe(2)
  })
})

describe('abort', () => {
  test('aborting a caller waiting for the refresh rejects it at once and leaves the shared refresh alone', async () => {
    const { plantly, mock } = await plantlyApi({ refreshLatencyMs: 80 })
    mock.expireAccessTokens()
    const controller = new AbortController()
    const waiting = plantly.fetch('/a', { signal: controller.signal })
    const other = plantly.fetch('/b')
    await vi.waitFor(() => expect(plantly.stats().pendingRefreshes).toBe(1))
    controller.abort()
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' })
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    expect((await other).status).toBe(200)
    expect(mock.counters.refreshes).toBe(1)
    expect(mock.log.filter((entry) => entry.path === '/a')).toHaveLength(1) // the 401 only: no replay
  })

  test('an already aborted signal rejects with its reason and sends nothing', async () => {
    const { plantly, mock } = await plantlyApi()
    const reason = new DOMException('stop', 'AbortError')
    await expect(plantly.fetch('/a', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    expect(mock.log).toHaveLength(0)
  })

  test('no abort listener of ours outlives a call that completed', async () => {
    // Node's fetch keeps a listener on every signal it is given; forward without it to count only ours.
    const transport: typeof fetch = (input, init) => {
      const { signal: _signal, ...rest } = init ?? {}
      return fetch(input instanceof Request ? new Request(input, { signal: null }) : input, rest)
    }
    const { plantly, mock } = await plantlyApi({ client: { fetch: transport } })
    const controller = new AbortController()
    mock.expireAccessTokens()
    await plantly.fetch('/a', { signal: controller.signal })
    await plantly.refresh({ signal: controller.signal })
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })

  test('aborting login rejects with the abort reason', async () => {
    const { plantly } = await plantlyApi({ login: false, latencyMs: 200 })
    const controller = new AbortController()
    const login = plantly.login(DEMO_USER, { signal: controller.signal })
    controller.abort(new DOMException('user left', 'AbortError'))
    await expect(login).rejects.toMatchObject({ name: 'AbortError', message: 'user left' })
  })
})

describe('no background work', () => {
  test('no timer is left running between calls', async () => {
    vi.useFakeTimers({
      toFake: [
        'setTimeout',
        'clearTimeout',
        'setInterval',
        'clearInterval',
        'setImmediate',
        'clearImmediate',
      ],
    })
    try {
      const { plantly, mock } = await plantlyApi()
      await plantly.fetch('/a')
      mock.expireAccessTokens()
      await plantly.fetch('/b')
      await plantly.refresh()
      expect(mock.counters.refreshes).toBe(2)
      expect(vi.getTimerCount()).toBe(0)
    } finally {
      vi.useRealTimers()
    }
  })
})
