import axios from 'axios'
import { ofetch } from 'ofetch'
import { Agent, request, fetch as undiciFetch } from 'undici'
import { describe, expect, test } from 'vitest'
import { attachSession } from '../../src/adapters/axios/index.js'
import { createSessionOfetch } from '../../src/adapters/ofetch/index.js'
import { sessionInterceptor } from '../../src/adapters/undici/index.js'
import {
  ClosedError,
  createSessionFetch,
  isSessionFetchError,
  memoryStore,
  type SessionStore,
  type StoreSnapshot,
} from '../../src/index.js'
import { testClock, until } from '../helpers/adapters.js'
import { DEMO_USER, mockServer, recordRequests } from '../helpers/mock-server.js'

// close(): what was sent lands and is stored, what comes after is refused. Over real HTTP against the mock, with
// refresh-token rotation and reuse detection on.

const EXPIRED_MS = 61_000 // past the mock's 60 s access tokens: every request waits for the refresh

function expectClosed(error: unknown, what: string): void {
  expect(error, what).toBeInstanceOf(ClosedError)
  expect(isSessionFetchError(error), what).toBe(true)
  expect(error, what).toMatchObject({ name: 'ClosedError', code: 'closed' })
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('resolved'),
    (error: unknown) => error,
  )
}

/** A memory store that counts its live subscriptions. */
function countingStore(inner: SessionStore = memoryStore()) {
  let subscribed = 0
  const store: SessionStore = {
    ...inner,
    read: () => inner.read(),
    write: (change, expected) => inner.write(change, expected),
    subscribe(listener) {
      subscribed++
      const off = inner.subscribe?.(listener)
      return () => {
        subscribed--
        off?.()
      }
    },
  }
  return { store, subscribed: () => subscribed }
}

describe('close()', () => {
  test('a refresh already at the server lands and is stored before close() resolves; the request that waited for it is sent with the new token', async () => {
    const server = await mockServer({ refreshLatencyMs: 500 })
    const store = memoryStore()
    const clock = testClock()
    const plantly = createSessionFetch({ baseURL: server.url, store, now: clock.now })
    const before = await plantly.login(DEMO_USER)
    clock.advance(EXPIRED_MS)

    const waiting = plantly.fetch('/during')
    await until(() => server.counters.maxConcurrentRefreshes === 1, 'the refresh to reach the server')
    expect(server.counters.refreshes).toBe(0) // still at the server
    const closed = plantly.close()
    expect(plantly.close()).toBe(closed) // closing twice is harmless
    expectClosed(await rejection(plantly.fetch('/after')), 'a fetch made after close()')

    await closed
    // Nothing awaited in between: close() resolved after the rotated tokens were stored.
    const stored = (await store.read()).record?.session
    expect(server.counters.refreshes).toBe(1)
    expect(stored?.refresh_token).toBeDefined()
    expect(stored?.refresh_token).not.toBe(before.refresh_token)
    const response = await waiting
    expect(response.status).toBe(200)
    expect(server.log.find((entry) => entry.path === '/during')?.token).toBe(stored?.access_token)
    expect(server.log.some((entry) => entry.path === '/after')).toBe(false)
    expect(server.counters.reuseDetected).toBe(0)
    expect(server.mock.liveSessions()).toBe(1)
  })

  test('every call made after close() rejects at once with ClosedError and sends nothing; the store subscription and the listeners are let go', async () => {
    const server = await mockServer()
    const { store, subscribed } = countingStore()
    const plantly = createSessionFetch({ baseURL: server.url, store })
    await plantly.login(DEMO_USER)
    plantly.on('refresh', () => undefined)
    plantly.on('logout', () => undefined)
    expect(subscribed()).toBe(1)
    expect(plantly.stats().listeners).toBe(2)
    const received = recordRequests(server)

    await plantly.close()
    expect(subscribed()).toBe(0)
    expect(plantly.stats().listeners).toBe(0)
    const calls = {
      'fetch (a path)': () => plantly.fetch('/buyers'),
      'fetch (a Request with a body)': () =>
        plantly.fetch(new Request(`${server.url}/plants`, { method: 'POST', body: 'fern' })),
      login: () => plantly.login(DEMO_USER),
      refresh: () => plantly.refresh(),
      logout: () => plantly.logout(),
      getSession: () => plantly.getSession(),
    }
    for (const [what, call] of Object.entries(calls)) expectClosed(await rejection(call()), what)
    expect(received).toEqual([])
    expect(server.mock.liveSessions()).toBe(1) // closing is not logging out
    expect(subscribed()).toBe(0) // no call read the store again
    await expect(plantly.close()).resolves.toBeUndefined()
  })

  test('a request the session does not cover still passes through after close(), untouched', async () => {
    const server = await mockServer()
    const other = await mockServer()
    const received = recordRequests(other)
    const plantly = createSessionFetch({ baseURL: server.url })
    await plantly.login(DEMO_USER)
    await plantly.close()
    const response = await plantly.fetch(`${other.url}/auth/sessions`, { method: 'DELETE' })
    expect(response.status).toBe(401) // the other server's own answer
    expect(received).toMatchObject([{ method: 'DELETE', path: '/auth/sessions', authorization: null }])
  })

  test('a login under way lands and is stored; a logout() called just before close() still ends the session on the server', async () => {
    const server = await mockServer({ latencyMs: 300 })
    const received = recordRequests(server)
    const store = memoryStore()
    const plantly = createSessionFetch({ baseURL: server.url, store })
    const loggingIn = plantly.login(DEMO_USER)
    await until(() => received.length === 1, 'the login to reach the server')
    await plantly.close()
    const stored = (await store.read()).record?.session // stored before close() resolved
    const session = await loggingIn
    expect(stored?.access_token).toBe(session.access_token)
    expect(server.mock.liveSessions()).toBe(1)

    const second = createSessionFetch({ baseURL: server.url, store })
    const loggingOut = second.logout()
    const closing = second.close() // the DELETE has not gone out yet: a logout is let through
    await closing
    expect(server.counters.logouts).toBe(1) // before close() resolved
    await expect(loggingOut).resolves.toBeUndefined()
    expect(server.mock.liveSessions()).toBe(0)
    expect((await store.read()).record).toBeUndefined()
  })

  test('a refresh not yet sent when close() is called is never sent: its waiters reject with ClosedError', async () => {
    const server = await mockServer()
    const clock = testClock()
    const plantly = createSessionFetch({ baseURL: server.url, now: clock.now })
    await plantly.login(DEMO_USER)
    clock.advance(EXPIRED_MS)
    const waiting = plantly.fetch('/waiting') // its refresh is queued, not sent yet
    const closing = plantly.close()
    expectClosed(await rejection(waiting), 'the request that waited')
    await closing
    expect(server.counters.refreshes).toBe(0)
    expect(server.log).toEqual([])
  })

  test('a request refused with a 401 while the refresh runs is replayed after close() with the new token', async () => {
    const server = await mockServer({ refreshLatencyMs: 500 })
    const plantly = createSessionFetch({ baseURL: server.url })
    await plantly.login(DEMO_USER)
    server.mock.expireAccessTokens() // the client does not know: its next request meets a 401
    const refused = plantly.fetch('/refused')
    await until(() => server.counters.maxConcurrentRefreshes === 1, 'the refresh to reach the server')
    await plantly.close()
    expect(server.counters.refreshes).toBe(1) // landed before close() resolved
    const response = await refused
    expect(response.status).toBe(200)
    const tries = server.log.filter((entry) => entry.path === '/refused').map((entry) => entry.status)
    expect(tries).toEqual([401, 200])
    expect(server.counters).toMatchObject({ refreshes: 1, reuseDetected: 0 })
  })

  test('close() is bounded by refreshTimeoutMs: a store whose write never answers does not hold it', async () => {
    const server = await mockServer()
    const inner = memoryStore()
    let hang = false
    const store: SessionStore = {
      ...inner,
      read: () => inner.read(),
      write: (change, expected) =>
        hang ? new Promise<StoreSnapshot | undefined>(() => undefined) : inner.write(change, expected),
    }
    const clock = testClock()
    const plantly = createSessionFetch({
      baseURL: server.url,
      store,
      now: clock.now,
      refreshTimeoutMs: 1_000,
    })
    await plantly.login(DEMO_USER)
    hang = true
    clock.advance(EXPIRED_MS)
    plantly.fetch('/stuck').catch(() => undefined) // waits for a write that never comes
    await until(() => server.counters.refreshes === 1, 'the refresh to land')
    const started = Date.now()
    const hangDetector = new Promise((_, reject) => {
      setTimeout(() => reject(new Error('close() did not resolve')), 10_000).unref()
    })
    await Promise.race([plantly.close(), hangDetector])
    // The figure is reported, not asserted: what matters is that close() resolves at all.
    console.info(`close() with a hanging store write resolved after ${Date.now() - started} ms`)
  })
})

describe('close() at every adapter', () => {
  async function closedClient() {
    const server = await mockServer()
    const plantly = createSessionFetch({ baseURL: server.url })
    await plantly.login(DEMO_USER)
    await plantly.close()
    const received = recordRequests(server)
    return { server, plantly, received }
  }

  test('axios: a request to the session’s origin rejects with the ClosedError, nothing sent', async () => {
    const { server, plantly, received } = await closedClient()
    const api = axios.create({ baseURL: server.url })
    attachSession(api, plantly)
    expectClosed(await rejection(api.get('/buyers')), 'axios')
    expect(received).toEqual([])
  })

  test('undici: request() through sessionInterceptor rejects with the ClosedError, fetch() with a TypeError whose cause it is; nothing sent', async () => {
    const { server, plantly, received } = await closedClient()
    const agent = new Agent().compose(sessionInterceptor(plantly))
    try {
      expectClosed(await rejection(request(`${server.url}/buyers`, { dispatcher: agent })), 'request')
      const failed = await rejection(undiciFetch(`${server.url}/buyers`, { dispatcher: agent }))
      expect(failed).toBeInstanceOf(TypeError) // how undici's fetch reports any dispatcher error
      expectClosed((failed as TypeError).cause, 'fetch')
    } finally {
      await agent.close()
    }
    expect(received).toEqual([])
  })

  test('ofetch: createSessionOfetch and ofetch.create over plantly.fetch reject with a FetchError whose cause is the ClosedError', async () => {
    const { server, plantly, received } = await closedClient()
    for (const [what, call] of [
      [
        'createSessionOfetch',
        () => createSessionOfetch(plantly, { baseURL: server.url, retry: 0 })('/buyers'),
      ],
      [
        'ofetch.create',
        () => ofetch.create({ baseURL: server.url, retry: 0 }, { fetch: plantly.fetch })('/buyers'),
      ],
    ] as const) {
      const error = await rejection(call())
      expect(error, what).toMatchObject({ name: 'FetchError' })
      expectClosed((error as Error).cause, what)
    }
    expect(received).toEqual([])
  })
})
