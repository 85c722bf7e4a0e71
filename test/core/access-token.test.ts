import { describe, expect, test } from 'vitest'
import {
  ClosedError,
  createSessionFetch,
  LoginError,
  plantlySessions,
  RefreshError,
  SessionExpiredError,
  type SessionFetchOptions,
} from '../../src/index.js'
import type { MockServer } from '../../src/testing/mock/index.js'
import { until } from '../helpers/adapters.js'
import { manualClock } from '../helpers/clock.js'
import { DEMO_USER, mockServer } from '../helpers/mock-server.js'

function client(server: MockServer, options: Partial<SessionFetchOptions> = {}) {
  return createSessionFetch({ baseURL: server.url, refreshTimeoutMs: 2_000, ...options })
}

/** The mock API's answer to a request carrying `token`: 200 when the server accepts it. */
async function statusWith(server: MockServer, token: string): Promise<number> {
  const response = await fetch(`${server.url}/ws-handshake`, {
    headers: { authorization: `Bearer ${token}` },
  })
  await response.body?.cancel()
  return response.status
}

describe('accessToken()', () => {
  test('returns the token requests send, and asks the server for nothing while it is good', async () => {
    const server = await mockServer({ accessTtlSeconds: 60 })
    const api = client(server)
    const session = await api.login(DEMO_USER)
    const tokens = await Promise.all(Array.from({ length: 20 }, () => api.accessToken()))
    expect(new Set(tokens)).toEqual(new Set([session.access_token]))
    expect(await statusWith(server, tokens[0] as string)).toBe(200)
    expect(server.counters).toMatchObject({ logins: 1, refreshes: 0 })
  })

  test('a storm across the expiry makes one refresh, and every caller gets the new token', async () => {
    const time = manualClock()
    const server = await mockServer({ accessTtlSeconds: 60 })
    const api = client(server, { now: time.now })
    const first = await api.login(DEMO_USER)
    time.advance(61_000) // expired by the client's clock
    const storm = await Promise.all([
      ...Array.from({ length: 500 }, () => api.accessToken()),
      ...Array.from({ length: 50 }, () => api.fetch('/buyers').then((response) => response.status)),
    ])
    const tokens = storm.slice(0, 500) as string[]
    expect(server.counters.refreshes).toBe(1)
    const renewed = await api.getSession()
    expect(renewed?.access_token).not.toBe(first.access_token)
    expect(new Set(tokens)).toEqual(new Set([renewed?.access_token]))
    expect(storm.slice(500)).toEqual(Array(50).fill(200))
    expect(await statusWith(server, tokens[0] as string)).toBe(200)
    expect(api.stats().refreshes).toBe(1)
  })

  test('inside the must-refresh margin it waits for the refresh; inside the window it does not', async () => {
    const time = manualClock()
    const server = await mockServer({ accessTtlSeconds: 60 })
    const api = client(server, { now: time.now })
    const first = await api.login(DEMO_USER)
    time.advance(40_000) // inside the 30 s refresh window, far from the 5 s margin
    expect(await api.accessToken()).toBe(first.access_token) // the refresh runs behind it
    await until(() => api.stats().pendingRefreshes === 0, 'the refresh-ahead')
    expect(server.counters.refreshes).toBe(1)
    const second = await api.getSession()
    expect(second?.access_token).not.toBe(first.access_token)
    expect(await api.accessToken()).toBe(second?.access_token)
    time.advance(56_000) // inside the margin of the second token
    const third = await api.accessToken()
    expect(server.counters.refreshes).toBe(2)
    expect(third).not.toBe(second?.access_token)
    expect(third).toBe((await api.getSession())?.access_token)
  })

  test('with no session it logs in from `credentials`, once for a storm', async () => {
    const server = await mockServer()
    const api = client(server, { credentials: () => DEMO_USER })
    const tokens = await Promise.all(Array.from({ length: 100 }, () => api.accessToken()))
    expect(server.counters.logins).toBe(1)
    expect(new Set(tokens).size).toBe(1)
    expect(await statusWith(server, tokens[0] as string)).toBe(200)
  })

  test('with no session and no credentials it rejects with SessionExpiredError no_session', async () => {
    const server = await mockServer()
    const api = client(server)
    const error = await api.accessToken().catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(SessionExpiredError)
    expect((error as SessionExpiredError).code).toBe('no_session')
    expect(server.counters.apiRequests + server.counters.logins + server.counters.refreshes).toBe(0)
  })

  test('a rejected refresh is SessionExpiredError session_expired, for every caller', async () => {
    const time = manualClock()
    const server = await mockServer({ accessTtlSeconds: 60 })
    const api = client(server, { now: time.now })
    await api.login(DEMO_USER)
    server.mock.revokeAll()
    time.advance(61_000)
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => api.accessToken()))
    expect(server.counters.refreshRejected).toBe(1)
    for (const result of results) {
      expect(result.status).toBe('rejected')
      const reason = (result as PromiseRejectedResult).reason
      expect(reason).toBeInstanceOf(SessionExpiredError)
      expect(reason.code).toBe('session_expired')
    }
    expect(await api.getSession()).toBeUndefined()
    // Later calls know the session died rather than never was.
    await expect(api.accessToken()).rejects.toMatchObject({ code: 'session_expired' })
  })

  test('a refresh that cannot complete is a RefreshError once the token has expired', async () => {
    const time = manualClock()
    const server = await mockServer({ accessTtlSeconds: 60 })
    const api = client(server, { now: time.now })
    const session = await api.login(DEMO_USER)
    server.inject({ on: 'refresh', status: 503, times: 100 })
    time.advance(57_000) // inside the margin, not expired: the token still good is returned
    expect(await api.accessToken()).toBe(session.access_token)
    time.advance(5_000) // expired now
    await expect(api.accessToken()).rejects.toBeInstanceOf(RefreshError)
    expect(await api.getSession()).toMatchObject({ access_token: session.access_token }) // the session is kept
  })

  test('refused credentials are a LoginError', async () => {
    const server = await mockServer()
    const api = client(server, { credentials: () => ({ ...DEMO_USER, password: 'wrong' }) })
    const error = await api.accessToken().catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(LoginError)
    expect((error as LoginError).status).toBe(401)
    expect(String((error as Error).message)).not.toContain('wrong')
  })

  test('an expired token nothing can renew is never returned', async () => {
    const time = manualClock()
    const server = await mockServer({ accessTtlSeconds: 60 })
    const plantly = plantlySessions({ baseURL: server.url })
    const api = client(server, {
      now: time.now,
      protocol: {
        ...plantly,
        async login(credentials, context) {
          const tokens = await plantly.login(credentials, context)
          delete tokens.session.refresh_token // like a client-credentials token
          return tokens
        },
      },
    })
    const session = await api.login(DEMO_USER)
    time.advance(30_000)
    expect(await api.accessToken()).toBe(session.access_token)
    time.advance(31_000)
    await expect(api.accessToken()).rejects.toMatchObject({ code: 'session_expired' })
    expect(server.counters.refreshes).toBe(0)
  })

  test('the signal ends this caller’s wait, not the shared refresh', async () => {
    const time = manualClock()
    const server = await mockServer({ accessTtlSeconds: 60 })
    const api = client(server, { now: time.now })
    await api.login(DEMO_USER)
    const aborted = AbortSignal.abort(new Error('gone'))
    await expect(api.accessToken({ signal: aborted })).rejects.toThrow('gone')
    server.inject({ on: 'refresh', delayMs: 300 })
    time.advance(61_000)
    const controller = new AbortController()
    const waiting = api.accessToken({ signal: controller.signal })
    const other = api.accessToken()
    controller.abort(new Error('left'))
    await expect(waiting).rejects.toThrow('left')
    const token = await other
    expect(token).toBe((await api.getSession())?.access_token)
    expect(server.counters.refreshes).toBe(1)
  })

  test('after close() it rejects with ClosedError and sends nothing', async () => {
    const server = await mockServer()
    const api = client(server, { credentials: () => DEMO_USER })
    await api.close()
    await expect(api.accessToken()).rejects.toBeInstanceOf(ClosedError)
    expect(server.counters.logins).toBe(0)
  })
})
