import { describe, expect, test } from 'vitest'
import type { SessionFetch } from '../../src/index.js'
import type { MockServer } from '../../src/testing/mock/index.js'
import { type Echo, loggedIn, settled, sha256, testClock } from './adapters.js'
import { mockServer } from './mock-server.js'

/** A client library given `plantly.fetch` as its fetch, reduced to the calls the drop-in checks need. */
export interface DropInClient {
  /** One call to a protected resource at the session's origin; resolves with the HTTP status. */
  call(n: number): Promise<number>
  /** POST a JSON body to a protected resource: the echo, the path, and the exact JSON text the client sent. */
  postJson(): Promise<{ echo: Echo; path: string; json: string }>
  /** One call to a protected resource on `origin` (another server); resolves with the HTTP status. */
  elsewhere(origin: string): Promise<number>
}

/**
 * The checks every client that takes a fetch must pass with `plantly.fetch`, over real HTTP against the mock:
 * the token is injected, an expiry makes exactly one refresh (proactive, and after a 401 storm), a 401 replay
 * re-sends a JSON body with identical bytes, and another origin never sees an Authorization header.
 */
export function describeDropIn(
  name: string,
  connect: (plantly: SessionFetch, server: MockServer) => DropInClient,
): void {
  describe(`${name} with plantly.fetch as its fetch`, () => {
    test('the access token reaches the session origin', async () => {
      const server = await mockServer()
      const plantly = await loggedIn(server)
      const client = connect(plantly, server)
      expect(await client.call(1)).toBe(200)
      expect(server.log.at(-1)?.token).toBe((await plantly.getSession())?.access_token)
    })

    test('a token inside the refresh window: the burst goes at once, one refresh runs behind it, no 401', async () => {
      const server = await mockServer({ refreshLatencyMs: 50, invalidateOnRefresh: false })
      const clock = testClock()
      const plantly = await loggedIn(server, { now: clock.now })
      const old = (await plantly.getSession())?.access_token
      const client = connect(plantly, server)
      clock.advance(45_000) // the mock's tokens live 60 s; the window is 30 s, the must-refresh margin 5 s
      const statuses = await Promise.all(Array.from({ length: 10 }, (_, i) => client.call(i)))
      expect(statuses).toEqual(Array(10).fill(200))
      expect(server.log.every((entry) => entry.token === old)).toBe(true)
      await settled(plantly)
      expect(server.counters.refreshes).toBe(1)
      expect(server.counters.apiUnauthorized).toBe(0)
    })

    test('a token inside the must-refresh margin: the burst waits for one refresh, no 401', async () => {
      const server = await mockServer({ refreshLatencyMs: 50 })
      const clock = testClock()
      const plantly = await loggedIn(server, { now: clock.now })
      const client = connect(plantly, server)
      clock.advance(56_000)
      const statuses = await Promise.all(Array.from({ length: 10 }, (_, i) => client.call(i)))
      expect(statuses).toEqual(Array(10).fill(200))
      expect(server.counters.refreshes).toBe(1)
      expect(server.counters.apiUnauthorized).toBe(0)
    })

    test('a storm of 401s after a server-side expiry: exactly one refresh, every call replayed', async () => {
      const server = await mockServer({ refreshLatencyMs: 50 })
      const plantly = await loggedIn(server)
      const client = connect(plantly, server)
      server.mock.expireAccessTokens()
      const statuses = await Promise.all(Array.from({ length: 10 }, (_, i) => client.call(i)))
      expect(statuses).toEqual(Array(10).fill(200))
      expect(server.counters.refreshes).toBe(1)
      expect(plantly.stats().replays).toBe(server.counters.apiUnauthorized)
    })

    test('a 401 replay re-sends the JSON body with identical bytes', async () => {
      const server = await mockServer()
      const plantly = await loggedIn(server)
      const client = connect(plantly, server)
      server.mock.expireAccessTokens()
      const { echo, path, json } = await client.postJson()
      expect(echo).toMatchObject({ ok: true, method: 'POST', bodyHash: sha256(json) })
      expect(echo.contentType).toMatch(/^application\/json/)
      const sent = server.log.filter((entry) => entry.path === path)
      expect(sent.map((entry) => [entry.status, entry.bodyHash])).toEqual([
        [401, sha256(json)],
        [200, sha256(json)],
      ])
      expect(server.counters.refreshes).toBe(1)
    })

    test('another origin never gets the Authorization header', async () => {
      const server = await mockServer()
      const other = await mockServer()
      const plantly = await loggedIn(server)
      const client = connect(plantly, server)
      expect(await client.elsewhere(other.url)).toBe(401) // the other mock wants a token: it got none
      expect(other.log).toHaveLength(1)
      expect(other.log[0]?.token).toBeUndefined()
      expect(server.counters.refreshes).toBe(0)
    })
  })
}
