import { describe, expect, test, vi } from 'vitest'
import { createSessionFetch, type ExpiredEvent, LoginError, RefreshError } from '../../src/index.js'
import { testClock } from '../helpers/adapters.js'
import { DEMO_USER, mockServer } from '../helpers/mock-server.js'

const WRONG = { email_address: DEMO_USER.email_address, password: 'not-the-password' }

describe('an unattended login with wrong credentials is loud and bounded', () => {
  test('100 concurrent calls make one login attempt and all reject with LoginError; expired fires once', async () => {
    const server = await mockServer()
    const credentials = vi.fn(() => WRONG)
    const plantly = createSessionFetch({ baseURL: server.url, credentials })
    const expired: ExpiredEvent[] = []
    plantly.on('expired', (event) => expired.push(event))

    const calls = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => plantly.fetch(`/a/${i}`)))
    for (const call of calls) {
      expect(call.status).toBe('rejected')
      const error = (call as PromiseRejectedResult).reason
      expect(error).toBeInstanceOf(LoginError)
      expect(error).toMatchObject({ code: 'login_failed', status: 401 })
      expect(error.message).toContain('401')
      expect(error.message).not.toContain(WRONG.password)
    }
    expect(server.counters.logins + server.counters.loginFailures).toBe(1)
    expect(credentials).toHaveBeenCalledTimes(1)
    expect(server.counters.apiRequests).toBe(0) // nothing went out without a token
    expect(expired).toHaveLength(1)
    expect(expired[0]).toMatchObject({ source: 'local', reason: 'login_rejected' })
    expect(expired[0]?.error).toBeInstanceOf(LoginError)
  })

  test('calls inside the backoff reject at once without asking credentials or the server', async () => {
    const server = await mockServer()
    const clock = testClock()
    const credentials = vi.fn(() => WRONG)
    const plantly = createSessionFetch({ baseURL: server.url, credentials, now: clock.now })
    const expired = vi.fn()
    plantly.on('expired', expired)

    await expect(plantly.fetch('/first')).rejects.toBeInstanceOf(LoginError)
    for (let i = 0; i < 5; i++) {
      await expect(plantly.fetch(`/again/${i}`)).rejects.toMatchObject({ code: 'login_failed', status: 401 })
    }
    expect(server.counters.loginFailures).toBe(1)
    expect(credentials).toHaveBeenCalledTimes(1)
    expect(expired).toHaveBeenCalledTimes(1)

    // After the first backoff (1 s by default) one more attempt; then the backoff doubles.
    clock.advance(1_000)
    await expect(plantly.fetch('/later')).rejects.toBeInstanceOf(LoginError)
    expect(server.counters.loginFailures).toBe(2)
    clock.advance(1_000) // inside the second backoff (2 s)
    await expect(plantly.fetch('/still')).rejects.toBeInstanceOf(LoginError)
    expect(server.counters.loginFailures).toBe(2)
    clock.advance(1_000)
    await expect(plantly.fetch('/then')).rejects.toBeInstanceOf(LoginError)
    expect(server.counters.loginFailures).toBe(3)
    expect(credentials).toHaveBeenCalledTimes(3)
    expect(expired).toHaveBeenCalledTimes(3) // once per refused attempt, never per call
  })

  test('the backoff is capped by loginBackoffMaxMs', async () => {
    const server = await mockServer()
    const clock = testClock()
    const plantly = createSessionFetch({
      baseURL: server.url,
      credentials: () => WRONG,
      now: clock.now,
      loginBackoffMs: 100,
      loginBackoffMaxMs: 250,
    })
    for (let attempt = 1; attempt <= 6; attempt++) {
      await expect(plantly.fetch('/x')).rejects.toBeInstanceOf(LoginError)
      expect(server.counters.loginFailures).toBe(attempt)
      clock.advance(250) // never longer than the cap, however many failures
    }
  })

  test('an explicit login() is never held back, and a later expiry logs in unattended again', async () => {
    const server = await mockServer()
    let password = WRONG.password
    const plantly = createSessionFetch({
      baseURL: server.url,
      credentials: () => ({ email_address: DEMO_USER.email_address, password }),
    })
    await expect(plantly.fetch('/a')).rejects.toBeInstanceOf(LoginError)
    await plantly.login(DEMO_USER) // inside the backoff
    expect((await plantly.fetch('/b')).status).toBe(200)
    password = DEMO_USER.password
    server.mock.revokeAll() // the refresh is rejected: the credentials log in again, without waiting
    expect((await plantly.fetch('/c')).status).toBe(200)
    expect(server.counters.logins).toBe(2)
  })

  test('a refused re-login after a rejected refresh fails the waiting calls with LoginError', async () => {
    const server = await mockServer()
    const plantly = createSessionFetch({ baseURL: server.url, credentials: () => WRONG })
    await plantly.login(DEMO_USER)
    const expired = vi.fn()
    plantly.on('expired', expired)
    server.mock.revokeAll()
    const calls = await Promise.allSettled(Array.from({ length: 10 }, () => plantly.fetch('/a')))
    expect(calls.every((call) => call.status === 'rejected' && call.reason instanceof LoginError)).toBe(true)
    expect(server.counters.refreshRejected).toBe(1)
    expect(server.counters.loginFailures).toBe(1)
    expect(expired).toHaveBeenCalledTimes(1)
    expect(expired).toHaveBeenCalledWith(expect.objectContaining({ reason: 'login_rejected' }))
    expect(await plantly.getSession()).toBeUndefined()
    await expect(plantly.refresh()).rejects.toBeInstanceOf(LoginError) // still backing off
    expect(server.counters.loginFailures).toBe(1)
  })

  test('a login that could not complete rejects with RefreshError, and is bounded by the backoff too', async () => {
    const server = await mockServer()
    const clock = testClock()
    const plantly = createSessionFetch({
      baseURL: server.url,
      credentials: () => DEMO_USER,
      now: clock.now,
    })
    server.inject({ on: 'login', status: 503, times: 3 }) // the default protocol retries twice
    await expect(plantly.fetch('/a')).rejects.toBeInstanceOf(RefreshError)
    expect(server.counters.faultsServed).toBe(3)
    await expect(plantly.fetch('/b')).rejects.toMatchObject({ name: 'RefreshError', status: 503 })
    expect(server.counters.faultsServed).toBe(3) // nothing asked inside the backoff
    clock.advance(1_000)
    expect((await plantly.fetch('/c')).status).toBe(200)
    expect(server.counters.logins).toBe(1)
  })
})
