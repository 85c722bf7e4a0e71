import { Readable } from 'node:stream'
import {
  Agent,
  type Dispatcher,
  getGlobalDispatcher,
  request,
  setGlobalDispatcher,
  fetch as undiciFetch,
} from 'undici'
import { afterEach, describe, expect, test } from 'vitest'
import { sessionInterceptor } from '../../../src/adapters/undici/index.js'
import { createSessionFetch, OptionError, RefreshError, type SessionFetch } from '../../../src/index.js'
import { attempts, type Echo, loggedIn, settled, sha256, testClock, until } from '../../helpers/adapters.js'
import { mockServer } from '../../helpers/mock-server.js'

const previous = getGlobalDispatcher()
const agents: Agent[] = []

afterEach(async () => {
  setGlobalDispatcher(previous)
  await Promise.all(agents.splice(0).map((agent) => agent.close()))
})

interface Seen {
  method: string
  path: string
  authorization: string | undefined
}

/** The Authorization header of a dispatch's options, whichever of undici's header shapes it uses. */
function authorizationOf(opts: Dispatcher.DispatchOptions): string | undefined {
  const headers = (opts.headers ?? {}) as unknown[] | Record<string, string>
  let pairs: unknown[][]
  if (!Array.isArray(headers)) pairs = Object.entries(headers)
  else if (Array.isArray(headers[0])) pairs = headers as unknown[][]
  else pairs = headers.flatMap((name, i) => (i % 2 ? [] : [[name, headers[i + 1]]]))
  const found = pairs.find(([name]) => String(name).toLowerCase() === 'authorization')
  return found === undefined ? undefined : String(found[1])
}

/** An Agent that notes what reaches it: what the session interceptor (composed onto it) sent. */
class RecordingAgent extends Agent {
  constructor(private readonly seen: Seen[]) {
    super()
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    this.seen.push({ method: opts.method, path: opts.path, authorization: authorizationOf(opts) })
    return super.dispatch(opts, handler)
  }
}

/** An interceptor that changes nothing: the session interceptor's requests pass through one more layer. */
const passThrough: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) =>
  dispatch(opts, handler)

/**
 * Where the session interceptor sits: directly on the Agent (undici 7 then lets it keep its callers' handler
 * interface end to end), or above another interceptor (its handler is wrapped once more on the way down).
 */
const LAYOUTS = [
  ['composed directly on the Agent', false],
  ['composed above another interceptor', true],
] as const

describe.each(LAYOUTS)('sessionInterceptor (undici), %s', (_layout, layered) => {
  /** Make the session interceptor the global dispatcher, as the README tells users to. */
  function install(plantly: SessionFetch, seen: Seen[] = []): Seen[] {
    const agent = new RecordingAgent(seen)
    agents.push(agent)
    const interceptor = sessionInterceptor(plantly)
    setGlobalDispatcher(layered ? agent.compose(passThrough, interceptor) : agent.compose(interceptor))
    return seen
  }

  test("Node's own global fetch goes through it: the token reaches the session origin only", async () => {
    const server = await mockServer()
    const other = await mockServer()
    expect(globalThis.fetch).not.toBe(undiciFetch) // Node's built-in fetch, not the npm package's
    const plantly = createSessionFetch({ baseURL: server.url }) // its transport is the global fetch
    const seen = install(plantly)
    await plantly.login({ email_address: 'demo@plantly.test', password: 'plantly' })
    const session = await plantly.getSession()

    const response = await globalThis.fetch(`${server.url}/buyers?page=1`)
    expect(response.status).toBe(200)
    expect(attempts(server, '/buyers')[0]?.token).toBe(session?.access_token)

    const elsewhere = await globalThis.fetch(`${other.url}/buyers`)
    expect(elsewhere.status).toBe(401)
    expect(other.log[0]?.token).toBeUndefined()
    // The session's own login went through the same dispatcher, untouched.
    expect(seen[0]).toEqual({ method: 'POST', path: '/auth/sessions', authorization: undefined })
  })

  test("the session's own refresh goes through the global dispatcher untouched: no loop, no deadlock", async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const seen = install(plantly)
    const refreshToken = (await plantly.getSession())?.refresh_token
    server.mock.expireAccessTokens()

    const response = await globalThis.fetch(`${server.url}/after-expiry`)
    expect(response.status).toBe(200)
    expect(server.counters.refreshes).toBe(1)
    const refreshes = seen.filter((entry) => entry.method === 'PUT')
    expect(refreshes).toEqual([
      { method: 'PUT', path: '/auth/sessions', authorization: `Bearer ${refreshToken}` },
    ])
    expect(seen.map((entry) => entry.path)).toEqual(['/after-expiry', '/auth/sessions', '/after-expiry'])
  })

  test('a storm through global fetch, undici.fetch and undici.request makes one refresh', async () => {
    const server = await mockServer({ refreshLatencyMs: 50 })
    const plantly = await loggedIn(server)
    install(plantly)
    server.mock.expireAccessTokens()

    const statuses = await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => globalThis.fetch(`${server.url}/g/${i}`).then((r) => r.status)),
      ...Array.from({ length: 10 }, (_, i) => undiciFetch(`${server.url}/u/${i}`).then((r) => r.status)),
      ...Array.from({ length: 10 }, (_, i) =>
        request(`${server.url}/r/${i}`, { method: 'POST', body: JSON.stringify({ i }) }).then(async (r) => {
          await r.body.dump()
          return r.statusCode
        }),
      ),
    ])
    expect(statuses).toEqual(Array(30).fill(200))
    expect(server.counters.refreshes).toBe(1)
    expect(server.counters.apiUnauthorized).toBe(30)
    expect(plantly.stats().replays).toBe(30)
  })

  test('undici.request replays a string or Buffer body with identical bytes', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    install(plantly)
    server.mock.expireAccessTokens()

    const json = JSON.stringify({ name: 'fern', tags: ['ünïcode'] })
    const a = await request(`${server.url}/json`, {
      method: 'POST',
      body: json,
      headers: { 'content-type': 'application/json' },
    })
    const echo = (await a.body.json()) as Echo
    expect(a.statusCode).toBe(200)
    expect(echo).toMatchObject({ contentType: 'application/json', bodyHash: sha256(json) })
    expect(attempts(server, '/json').map((entry) => [entry.status, entry.bodyHash])).toEqual([
      [401, sha256(json)],
      [200, sha256(json)],
    ])

    server.mock.expireAccessTokens()
    const bytes = Buffer.from([0, 1, 2, 254, 255])
    const b = await request(`${server.url}/bytes`, { method: 'PUT', body: bytes })
    expect(((await b.body.json()) as Echo).bodyHash).toBe(sha256(bytes))
    expect(attempts(server, '/bytes').map((entry) => entry.status)).toEqual([401, 200])
  })

  test.each([
    ["Node's global fetch", (url: string, init: RequestInit) => globalThis.fetch(url, init)],
    [
      'undici.fetch',
      (url: string, init: RequestInit) => undiciFetch(url, init as never) as unknown as Promise<Response>,
    ],
  ])(
    '%s: a POST whose body a dispatcher sees as a stream is replayed after a 401 with the same bytes',
    async (_name, send) => {
      const server = await mockServer()
      const plantly = await loggedIn(server)
      install(plantly)
      server.mock.expireAccessTokens()

      const payload = JSON.stringify({ plant: 'fern', notes: 'x'.repeat(10_000) })
      const response = await send(`${server.url}/posted`, {
        method: 'POST',
        body: payload,
        headers: { 'content-type': 'application/json' },
      })
      expect(response.status).toBe(200)
      const sent = attempts(server, '/posted')
      expect(sent.map((entry) => entry.status)).toEqual([401, 200])
      expect(sent.map((entry) => entry.bodyHash)).toEqual([sha256(payload), sha256(payload)])
      expect(sent.map((entry) => entry.contentType)).toEqual(['application/json', 'application/json'])
      expect(server.counters.refreshes).toBe(1)
      expect(plantly.stats().replays).toBe(1)
    },
  )

  test('undici.request with a stream body within replayBufferBytes is replayed; over it, the 401 comes back', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server, { replayBufferBytes: 64 * 1024 })
    install(plantly)
    const chunks = (size: number) => Readable.from([Buffer.alloc(size / 2, 'a'), Buffer.alloc(size / 2, 'b')])
    const bytes = (size: number) => Buffer.concat([Buffer.alloc(size / 2, 'a'), Buffer.alloc(size / 2, 'b')])

    server.mock.expireAccessTokens()
    const small = await request(`${server.url}/small`, { method: 'PUT', body: chunks(32 * 1024) })
    expect(small.statusCode).toBe(200)
    await small.body.text()
    expect(attempts(server, '/small').map((entry) => entry.bodyHash)).toEqual([
      sha256(bytes(32 * 1024)),
      sha256(bytes(32 * 1024)),
    ])

    server.mock.expireAccessTokens()
    const large = await request(`${server.url}/large`, { method: 'PUT', body: chunks(128 * 1024) })
    expect(large.statusCode).toBe(401) // did not fit: sent once, its refusal given back
    await large.body.text()
    expect(attempts(server, '/large')).toHaveLength(1)
    await settled(plantly)
    expect(server.counters.refreshes).toBe(2) // the refresh still happened, for the calls that follow
  })

  test('a request that carries its own Authorization passes through untouched', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    install(plantly)

    const response = await globalThis.fetch(`${server.url}/mine`, {
      headers: { authorization: 'Bearer mine' },
    })
    expect(response.status).toBe(401)
    const viaRequest = await request(`${server.url}/mine`, { headers: ['Authorization', 'Bearer mine'] })
    await viaRequest.body.dump()
    expect(attempts(server, '/mine').map((entry) => entry.token)).toEqual(['mine', 'mine'])
    expect(server.counters.refreshes).toBe(0)
  })

  test('when the session is gone the caller gets its own 401 with its body', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    install(plantly)
    server.mock.revokeAll()

    const [viaFetch, viaRequest] = await Promise.all([
      globalThis.fetch(`${server.url}/gone`),
      request(`${server.url}/gone`),
    ])
    expect(viaFetch.status).toBe(401)
    expect(await viaFetch.json()).toMatchObject({ code: 'unauthorized', status: 401 })
    expect(viaRequest.statusCode).toBe(401)
    expect(viaRequest.headers['content-type']).toBe('application/json')
    expect(await viaRequest.body.json()).toMatchObject({ code: 'unauthorized' })
    expect(await plantly.getSession()).toBeUndefined()
    expect(server.counters.refreshRejected).toBe(1)
  })

  test('a refresh that cannot complete fails the request with RefreshError', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server, { refreshTimeoutMs: 5_000 })
    install(plantly)
    server.mock.expireAccessTokens()
    server.inject({ on: 'refresh', status: 503, times: 20 })

    const viaRequest = await request(`${server.url}/down`).catch((error: unknown) => error)
    expect(viaRequest).toBeInstanceOf(RefreshError)
    const viaFetch = await globalThis.fetch(`${server.url}/down`).catch((error: unknown) => error)
    expect(viaFetch).toBeInstanceOf(TypeError) // fetch's "fetch failed", with the RefreshError as its cause
    expect((viaFetch as TypeError).cause).toBeInstanceOf(RefreshError)
  })

  test("undici.request's raw response headers reach the caller as the server sent them", async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    install(plantly)
    server.inject({ on: 'api', status: 200, headers: { 'X-Plant-Name': 'Fern' }, body: { ok: true } })

    const response = await request(`${server.url}/raw`, { responseHeaders: 'raw' })
    await response.body.dump()
    const names = (response.headers as unknown as string[]).filter((_, i) => i % 2 === 0)
    expect(names.map((name) => name.toLowerCase())).toContain('x-plant-name')
    // Directly on the Agent the raw header list is handed through untouched; another interceptor below it
    // (undici's handler wrappers) parses it into an object on the way and back again, in lower case.
    if (!layered) expect(names).toContain('X-Plant-Name')
  })

  test("a handler of undici's newer interface, dispatched directly, is replayed or gets its own 401", async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    install(plantly)
    const dispatch = (path: string) =>
      new Promise<{ status: number; body: string; starts: number }>((resolve, reject) => {
        let status = 0
        let starts = 0
        const chunks: Buffer[] = []
        const options = {
          origin: server.url,
          path,
          method: 'POST',
          body: 'hello',
          headers: { 'x-kind': 'newer' },
        }
        getGlobalDispatcher().dispatch(options, {
          onRequestStart() {},
          onResponseStart(_controller, code) {
            status = code
            starts++
          },
          onResponseData(_controller, chunk) {
            chunks.push(chunk)
          },
          onResponseEnd() {
            resolve({ status, body: Buffer.concat(chunks).toString(), starts })
          },
          onResponseError(_controller, error) {
            reject(error)
          },
        })
      })

    server.mock.expireAccessTokens()
    const replayed = await dispatch('/newer')
    expect(replayed).toMatchObject({ status: 200, starts: 1 })
    expect(attempts(server, '/newer').map((entry) => [entry.status, entry.bodyHash])).toEqual([
      [401, sha256('hello')],
      [200, sha256('hello')],
    ])

    server.mock.revokeAll()
    const refused = await dispatch('/newer-gone')
    expect(refused.status).toBe(401)
    expect(refused.starts).toBe(1)
    expect(JSON.parse(refused.body)).toMatchObject({ code: 'unauthorized' })
  })

  test('a request is replayed at most once', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    install(plantly)
    server.inject({ on: 'api', status: 401, body: { code: 'unauthorized' }, times: 2 })

    const response = await globalThis.fetch(`${server.url}/twice`)
    expect(response.status).toBe(401)
    expect(server.counters.faultsServed).toBe(2)
    expect(server.counters.refreshes).toBe(1)
  })

  test('a token inside the must-refresh margin is refreshed before sending, once for a burst', async () => {
    const server = await mockServer()
    const clock = testClock()
    const plantly = await loggedIn(server, { now: clock.now })
    install(plantly)
    clock.advance(56_000) // 60 s tokens: inside the 5 s must-refresh margin

    const statuses = await Promise.all(
      Array.from({ length: 10 }, (_, i) => globalThis.fetch(`${server.url}/soon/${i}`).then((r) => r.status)),
    )
    expect(statuses).toEqual(Array(10).fill(200))
    expect(server.counters.refreshes).toBe(1)
    expect(server.counters.apiUnauthorized).toBe(0)
  })

  test("undici.request's signal aborts its own wait for the refresh, never the refresh", async () => {
    const server = await mockServer({ refreshLatencyMs: 300 })
    const clock = testClock()
    const plantly = await loggedIn(server, { now: clock.now })
    install(plantly)
    clock.advance(56_000) // inside the must-refresh margin: requests wait for the refresh

    const controller = new AbortController()
    const aborted = request(`${server.url}/aborted`, { signal: controller.signal }).catch((e: unknown) => e)
    const kept = request(`${server.url}/kept`)
    await until(() => plantly.stats().pendingRefreshes === 1, 'the refresh to start')
    controller.abort(new DOMException('caller gave up', 'AbortError'))
    expect(await aborted).toMatchObject({ name: 'AbortError' })
    expect((await kept).statusCode).toBe(200)
    expect(attempts(server, '/aborted')).toHaveLength(0)
    expect(server.counters.refreshes).toBe(1)
  })
})

test('sessionInterceptor names a bad argument', () => {
  expect(() => sessionInterceptor({} as never)).toThrow(OptionError)
  expect(() => sessionInterceptor(null as never)).toThrow(/`session`/)
})
