import axios from 'axios'
import ky from 'ky'
import { Agent, getGlobalDispatcher, request, setGlobalDispatcher } from 'undici'
import { afterEach, expect, test } from 'vitest'
import { attachSession } from '../../src/adapters/axios/index.js'
import { createSessionOfetch } from '../../src/adapters/ofetch/index.js'
import { sessionInterceptor } from '../../src/adapters/undici/index.js'
import type { SessionFetch } from '../../src/index.js'
import type { MockServer } from '../../src/testing/mock/index.js'
import { type Echo, loggedIn, settled, sha256, testClock } from '../helpers/adapters.js'
import { mockServer } from '../helpers/mock-server.js'

const previous = getGlobalDispatcher()
let agent: Agent | undefined

afterEach(async () => {
  setGlobalDispatcher(previous)
  await agent?.close()
  agent = undefined
})

const PER_DOOR = 10

/**
 * Set up every adapter onto one session; the returned function fires PER_DOOR calls through each at once, each
 * resolving with [status, hash of the body sent, hash of the body the server received].
 */
function everyDoor(plantly: SessionFetch, server: MockServer): () => Promise<[number, string, string]>[] {
  agent = new Agent()
  setGlobalDispatcher(agent.compose(sessionInterceptor(plantly))) // plantly's own transport goes through it too
  const api = axios.create({ baseURL: server.url })
  attachSession(api, plantly)
  const $fetch = createSessionOfetch(plantly, { retry: 0 })
  const kyApi = ky.create({ prefixUrl: server.url, fetch: plantly.fetch, retry: 0 })
  const check = (json: string) => (status: number, echo: Echo) =>
    [status, sha256(json), echo.bodyHash] as [number, string, string]

  return () =>
    Array.from({ length: PER_DOOR }).flatMap((_, i) => {
      const [viaFetch, viaAxios, viaUndici, viaOfetch, viaKy] = [
        'fetch',
        'axios',
        'undici',
        'ofetch',
        'ky',
      ].map((adapter) => JSON.stringify({ adapter, i, name: 'fern' })) as [
        string,
        string,
        string,
        string,
        string,
      ]
      return [
        plantly
          .fetch(`/fetch/${i}`, {
            method: 'POST',
            body: viaFetch,
            headers: { 'content-type': 'application/json' },
          })
          .then(async (r) => check(viaFetch)(r.status, (await r.json()) as Echo)),
        api.post<Echo>(`/axios/${i}`, JSON.parse(viaAxios)).then((r) => check(viaAxios)(r.status, r.data)),
        request(`${server.url}/undici/${i}`, { method: 'POST', body: viaUndici }).then(async (r) =>
          check(viaUndici)(r.statusCode, (await r.body.json()) as Echo),
        ),
        globalThis
          .fetch(`${server.url}/global/${i}`)
          .then(async (r) => check('')(r.status, (await r.json()) as Echo)),
        $fetch
          .raw<Echo>(`/ofetch/${i}`, { method: 'POST', body: JSON.parse(viaOfetch) })
          .then((r) => check(viaOfetch)(r.status, r._data as Echo)),
        kyApi
          .post(`ky/${i}`, { json: JSON.parse(viaKy) })
          .then(async (r) => check(viaKy)(r.status, await r.json<Echo>())),
      ]
    })
}

test('a 401 storm through every adapter at once (fetch, axios, undici, ofetch, ky) makes exactly one refresh', async () => {
  const server = await mockServer({ refreshLatencyMs: 100 })
  const plantly = await loggedIn(server)
  const fire = everyDoor(plantly, server)
  server.mock.expireAccessTokens()

  const results = await Promise.all(fire())
  for (const [status, sent, echoed] of results) {
    expect(status).toBe(200)
    expect(echoed).toBe(sent) // every body arrived intact, replays included
  }
  expect(results).toHaveLength(6 * PER_DOOR)
  expect(server.counters.refreshes).toBe(1)
  expect(server.counters.maxConcurrentRefreshes).toBe(1)
  expect(plantly.stats()).toMatchObject({ refreshes: 1, replays: server.counters.apiUnauthorized })
})

test('a refresh in the must-refresh margin through every adapter at once: one refresh, no 401 at all', async () => {
  const server = await mockServer({ refreshLatencyMs: 100 })
  const clock = testClock()
  const plantly = await loggedIn(server, { now: clock.now })
  const fire = everyDoor(plantly, server)
  clock.advance(56_000) // inside the 5 s must-refresh margin before any call starts: they all wait

  const results = await Promise.all(fire())
  expect(results.map(([status]) => status)).toEqual(Array(6 * PER_DOOR).fill(200))
  expect(server.counters.refreshes).toBe(1)
  expect(server.counters.apiUnauthorized).toBe(0)
})

test('a refresh-ahead through every adapter at once: one refresh behind the calls, which go with the old token', async () => {
  // A server that keeps an access token valid until it expires, as OAuth2 servers do.
  const server = await mockServer({ refreshLatencyMs: 100, invalidateOnRefresh: false })
  const clock = testClock()
  const plantly = await loggedIn(server, { now: clock.now })
  const old = (await plantly.getSession())?.access_token
  const fire = everyDoor(plantly, server)
  clock.advance(45_000) // inside the refresh window, outside the must-refresh margin

  const results = await Promise.all(fire())
  expect(results.map(([status]) => status)).toEqual(Array(6 * PER_DOOR).fill(200))
  expect(server.counters.apiUnauthorized).toBe(0)
  expect(server.log.every((entry) => entry.token === old)).toBe(true) // none waited for the refresh
  await settled(plantly)
  expect(server.counters.refreshes).toBe(1)
})
