import { HttpResponse, http } from 'msw'
import { describe, expect, test, vi } from 'vitest'
import {
  LoginError,
  memoryStore,
  RefreshError,
  SessionExpiredError,
  type SessionStore,
  StoreError,
} from '../../src/index.js'
import { BASE, DEMO_USER, deferred, plantlyApi, server } from '../helpers/msw.js'

describe('401 recovery', () => {
  test('a burst that meets the expiry makes one refresh and replays every request once', async () => {
    const { plantly, mock } = await plantlyApi()
    mock.expireAccessTokens()
    const responses = await Promise.all(Array.from({ length: 40 }, (_, i) => plantly.fetch(`/buyers/${i}`)))
    expect(responses.every((response) => response.status === 200)).toBe(true)
    expect(mock.counters.refreshes).toBe(1)
    expect(plantly.stats().replays).toBe(40)
    for (let i = 0; i < 40; i++)
      expect(mock.log.filter((entry) => entry.path === `/buyers/${i}`)).toHaveLength(2)
  })

  test('a 401 for an older token is replayed with the current one, without another refresh', async () => {
    const { plantly, mock } = await plantlyApi()
    const old = (await plantly.getSession())?.access_token
    const release = deferred()
    const seen: (string | null)[] = []
    server.use(
      http.get(`${BASE}/slow`, async ({ request }) => {
        const auth = request.headers.get('authorization')
        seen.push(auth)
        if (auth === `Bearer ${old}`) {
          await release.promise
          return HttpResponse.json({ code: 'unauthorized' }, { status: 401 })
        }
        return HttpResponse.json({ ok: true })
      }),
    )
    const pending = plantly.fetch('/slow')
    await vi.waitFor(() => expect(seen).toHaveLength(1))
    const renewed = await plantly.refresh()
    release.resolve()
    const response = await pending
    expect(response.status).toBe(200)
    expect(seen).toEqual([`Bearer ${old}`, `Bearer ${renewed.access_token}`])
    expect(mock.counters.refreshes).toBe(1)
  })

  test('a request is replayed at most once: a second 401 is returned to the caller', async () => {
    const { plantly, mock } = await plantlyApi()
    let calls = 0
    server.use(
      http.get(`${BASE}/always-401`, () => {
        calls++
        return HttpResponse.json({ code: 'unauthorized', n: calls }, { status: 401 })
      }),
    )
    const response = await plantly.fetch('/always-401')
    expect(response.status).toBe(401)
    expect(await response.json()).toEqual({ code: 'unauthorized', n: 2 })
    expect(calls).toBe(2)
    expect(mock.counters.refreshes).toBe(1)
  })

  test('requests started while a refresh runs wait for it instead of using the old token', async () => {
    const { plantly, mock } = await plantlyApi({ refreshLatencyMs: 50 })
    const old = (await plantly.getSession())?.access_token
    const refreshing = plantly.refresh()
    const responses = await Promise.all([plantly.fetch('/a'), plantly.fetch('/b')])
    const renewed = await refreshing
    expect(responses.map((r) => r.status)).toEqual([200, 200])
    expect(mock.log.map((entry) => entry.token)).toEqual([renewed.access_token, renewed.access_token])
    expect(mock.log.map((entry) => entry.token)).not.toContain(old)
  })

  test('refresh() calls made together share one refresh', async () => {
    const { plantly, mock } = await plantlyApi()
    const sessions = await Promise.all([plantly.refresh(), plantly.refresh(), plantly.refresh()])
    expect(new Set(sessions.map((s) => s.access_token)).size).toBe(1)
    expect(mock.counters.refreshes).toBe(1)
  })

  test('a custom isUnauthorized decides what counts as a refused token', async () => {
    const { plantly, mock } = await plantlyApi({ client: { isUnauthorized: (r) => r.status === 419 } })
    let first = true
    server.use(
      http.get(`${BASE}/custom`, () => {
        if (!first) return HttpResponse.json({ ok: true })
        first = false
        return new HttpResponse(null, { status: 419 })
      }),
    )
    const response = await plantly.fetch('/custom')
    expect(response.status).toBe(200)
    expect(mock.counters.refreshes).toBe(1)
  })
})

describe('the refresh is rejected: the session is dead', () => {
  test('every waiting call gets its own 401 with its body intact, and expired fires once', async () => {
    const { plantly, mock } = await plantlyApi()
    const expired = vi.fn()
    plantly.on('expired', expired)
    mock.revokeAll()
    const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => plantly.fetch(`/buyers/${i}`)))
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(401))
    const bodies = await Promise.all(responses.map((r) => r.json()))
    expect(bodies.every((body) => body.code === 'unauthorized')).toBe(true)
    expect(expired).toHaveBeenCalledTimes(1)
    expect(expired).toHaveBeenCalledWith({
      source: 'local',
      reason: 'refresh_rejected',
      error: expect.objectContaining({
        name: 'SessionExpiredError',
        cause: expect.objectContaining({ status: 401 }),
      }),
    })
    expect(await plantly.getSession()).toBeUndefined()
    expect(mock.counters.refreshRejected).toBe(1)
  })

  test('later calls go out without a token and no refresh is attempted', async () => {
    const { plantly, mock } = await plantlyApi()
    mock.revokeAll()
    await plantly.fetch('/a')
    const before = { ...mock.counters }
    const response = await plantly.fetch('/b')
    expect(response.status).toBe(401)
    expect(mock.log.at(-1)?.token).toBeUndefined()
    expect(mock.counters.refreshRejected).toBe(before.refreshRejected)
  })

  test('refresh() rejects with SessionExpiredError', async () => {
    const { plantly, mock } = await plantlyApi()
    mock.revokeAll()
    await expect(plantly.refresh()).rejects.toMatchObject({
      name: 'SessionExpiredError',
      code: 'session_expired',
    })
    await expect(plantly.refresh()).rejects.toBeInstanceOf(SessionExpiredError)
  })

  test('with credentials, one re-login serves every waiter and they are replayed', async () => {
    const credentials = vi.fn(async () => DEMO_USER)
    const { plantly, mock } = await plantlyApi({ client: { credentials } })
    const logins = vi.fn()
    plantly.on('login', logins)
    mock.revokeAll()
    const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => plantly.fetch(`/buyers/${i}`)))
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200))
    expect(credentials).toHaveBeenCalledTimes(1)
    expect(mock.counters.logins).toBe(2)
    expect(logins).toHaveBeenCalledTimes(1)
  })

  test('with credentials and no session, the first requests log in once, unattended', async () => {
    const { plantly, mock } = await plantlyApi({ login: false, client: { credentials: () => DEMO_USER } })
    const responses = await Promise.all([plantly.fetch('/a'), plantly.fetch('/b'), plantly.fetch('/c')])
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200])
    expect(mock.counters.logins).toBe(1)
  })

  test('with credentials that no longer work, the session dies and callers reject with LoginError', async () => {
    const { plantly, mock } = await plantlyApi({
      client: { credentials: () => ({ email_address: DEMO_USER.email_address, password: 'changed' }) },
    })
    const expired = vi.fn()
    plantly.on('expired', expired)
    mock.revokeAll()
    const calls = await Promise.allSettled(Array.from({ length: 5 }, () => plantly.fetch('/a')))
    for (const call of calls) {
      expect(call).toMatchObject({ status: 'rejected', reason: { name: 'LoginError', status: 401 } })
    }
    expect(expired).toHaveBeenCalledTimes(1)
    expect(expired).toHaveBeenCalledWith(
      expect.objectContaining({ reason: 'login_rejected', error: expect.objectContaining({ status: 401 }) }),
    )
    expect(mock.counters.loginFailures).toBe(1)
    expect(await plantly.getSession()).toBeUndefined()
  })
})

describe('the refresh could not complete: the session is kept', () => {
  test('waiting calls reject with RefreshError (with a cause); the next call recovers', async () => {
    const { plantly, mock } = await plantlyApi()
    const session = await plantly.getSession()
    mock.expireAccessTokens()
    mock.inject({ on: 'refresh', status: 503, body: { code: 'unavailable' }, times: 3 })
    const results = await Promise.allSettled([plantly.fetch('/a'), plantly.fetch('/b')])
    for (const result of results) {
      expect(result.status).toBe('rejected')
      const error = (result as PromiseRejectedResult).reason
      expect(error).toBeInstanceOf(RefreshError)
      expect(error.name).toBe('RefreshError')
      expect(error.cause).toMatchObject({ status: 503 })
    }
    expect(await plantly.getSession()).toEqual(session)
    const later = await plantly.fetch('/c')
    expect(later.status).toBe(200)
    expect(mock.counters.refreshes).toBe(1)
  })

  test('a network error rejects with RefreshError whose cause is the network failure', async () => {
    const { plantly, mock } = await plantlyApi()
    mock.expireAccessTokens()
    mock.inject({ on: 'refresh', drop: true, times: 3 })
    const error = await plantly.fetch('/a').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RefreshError)
    expect((error as RefreshError).cause).toBeInstanceOf(Error)
    expect(await plantly.getSession()).toBeDefined()
  })
})

describe('login', () => {
  test.each([
    ['a wrong password', { ...DEMO_USER, password: 'nope' }, 401],
    ['a missing field', { email_address: DEMO_USER.email_address, password: undefined }, undefined],
  ])('with %s rejects with LoginError carrying the status', async (_name, credentials, status) => {
    const { plantly } = await plantlyApi({ login: false })
    const error = await plantly.login(credentials as typeof DEMO_USER).catch((e: unknown) => e)
    if (status === undefined) expect(error).toMatchObject({ code: 'invalid_option', option: 'credentials' })
    else {
      expect(error).toBeInstanceOf(LoginError)
      expect((error as LoginError).status).toBe(status)
    }
    expect(await plantly.getSession()).toBeUndefined()
  })

  test('a 403 and a 400 from the server carry their status', async () => {
    const { plantly, mock } = await plantlyApi({ login: false, forbiddenUsers: [DEMO_USER.email_address] })
    await expect(plantly.login(DEMO_USER)).rejects.toMatchObject({ name: 'LoginError', status: 403 })
    mock.inject({ on: 'login', status: 400, body: { code: 'bad_request' } })
    await expect(plantly.login(DEMO_USER)).rejects.toMatchObject({ name: 'LoginError', status: 400 })
  })
})

describe('the store fails', () => {
  /** A memory store that fails every call (with a StoreError, as the Redis and browser stores do) while `down`. */
  function flakyStore() {
    const inner = memoryStore()
    const state = { down: false }
    const fail = () => Promise.reject(new StoreError('store down'))
    const store: SessionStore = {
      read: () => (state.down ? fail() : inner.read()),
      write: (change, version) => (state.down ? fail() : inner.write(change, version)),
      lock: (fn, options) =>
        state.down ? fail() : (inner.lock as NonNullable<SessionStore['lock']>)(fn, options),
    }
    return { store, state }
  }

  test('the first call, which reads the store, rejects with the StoreError and sends nothing', async () => {
    const { store, state } = flakyStore()
    const { plantly, mock } = await plantlyApi({ login: false, client: { store } })
    state.down = true
    await expect(plantly.fetch('/buyers')).rejects.toBeInstanceOf(StoreError)
    expect(mock.log).toHaveLength(0)
    state.down = false
    expect((await plantly.fetch('/buyers')).status).toBe(401) // read again: no session, sent without a token
  })

  test('once read, calls go out without the store; a refresh it blocks is a RefreshError with the StoreError', async () => {
    const { store, state } = flakyStore()
    const { plantly, mock } = await plantlyApi({ client: { store } })
    state.down = true
    expect((await plantly.fetch('/buyers/1')).status).toBe(200)
    mock.expireAccessTokens()
    const error = await plantly.fetch('/buyers/2').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RefreshError)
    expect((error as RefreshError).cause).toBeInstanceOf(StoreError)
    expect(mock.counters.refreshes).toBe(0)
  })

  test('login() and logout() reject with the StoreError; the sessions they could not record are ended on the server', async () => {
    const { store, state } = flakyStore()
    const { plantly, mock } = await plantlyApi({ client: { store } })
    const before = await plantly.getSession()
    state.down = true
    await expect(plantly.login(DEMO_USER)).rejects.toBeInstanceOf(StoreError)
    await vi.waitFor(() => expect(mock.counters.logouts).toBe(1)) // the login's unrecorded session
    await expect(plantly.logout()).rejects.toBeInstanceOf(StoreError)
    expect(mock.counters.logouts).toBe(2) // the session the instance held, though the store kept it
    expect((await plantly.getSession())?.access_token).toBe(before?.access_token)
    expect(mock.liveSessions()).toBe(0)
  })
})
