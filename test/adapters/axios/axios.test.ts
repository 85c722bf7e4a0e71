import { Readable } from 'node:stream'
import axios, { type AxiosError } from 'axios'
import NodeFormData from 'form-data'
import { describe, expect, test } from 'vitest'
import { attachSession } from '../../../src/adapters/axios/index.js'
import { createSessionFetch, OptionError, RefreshError } from '../../../src/index.js'
import { attempts, type Echo, loggedIn, settled, sha256, testClock, until } from '../../helpers/adapters.js'
import { DEMO_USER, mockServer } from '../../helpers/mock-server.js'

function statusOf(error: unknown): number | undefined {
  return (error as AxiosError).response?.status
}

describe('attachSession (axios)', () => {
  test('injects the token for the session origin only, and leaves other origins and caller credentials alone', async () => {
    const server = await mockServer()
    const other = await mockServer()
    const plantly = await loggedIn(server)
    const api = axios.create({ baseURL: server.url })
    attachSession(api, plantly)

    const ok = await api.get<Echo>('/buyers', { params: { page: 2 } })
    expect(ok.status).toBe(200)
    expect(attempts(server, '/buyers')[0]?.token).toBe((await plantly.getSession())?.access_token)

    const elsewhere = await api.get(`${other.url}/buyers`).catch((error: unknown) => error)
    expect(statusOf(elsewhere)).toBe(401)
    expect(other.log[0]?.token).toBeUndefined()

    const own = await api
      .get('/mine', { headers: { Authorization: 'Bearer caller-token' } })
      .catch((error: unknown) => error)
    expect(statusOf(own)).toBe(401) // passed through untouched, and not replayed
    expect(attempts(server, '/mine').map((entry) => entry.token)).toEqual(['caller-token'])
    expect(server.counters.refreshes).toBe(0)
  })

  test('a storm of 401s on one instance makes one refresh and every request is replayed once', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const api = axios.create({ baseURL: server.url })
    attachSession(api, plantly)
    server.mock.expireAccessTokens()

    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        i % 2 ? api.get(`/buyers/${i}`) : api.post(`/buyers/${i}`, { i, name: 'fern' }),
      ),
    )
    expect(responses.map((r) => r.status)).toEqual(Array(30).fill(200))
    expect(server.counters.refreshes).toBe(1)
    expect(server.counters.apiUnauthorized).toBe(30)
    expect(plantly.stats().replays).toBe(30)
  })

  test('a 401 that arrives while the refresh runs waits for it and is replayed (axios-auth-refresh#307)', async () => {
    const server = await mockServer({ refreshLatencyMs: 1_500 })
    const plantly = await loggedIn(server)
    // The instance's own adapter, which the session wraps: it sees each 401 before the session does.
    const http = axios.getAdapter('http')
    const seen: { path: string; pendingRefreshes: number }[] = []
    const api = axios.create({
      baseURL: server.url,
      adapter: (config) =>
        http(config).catch((error: AxiosError) => {
          seen.push({ path: error.config?.url ?? '', pendingRefreshes: plantly.stats().pendingRefreshes })
          throw error
        }),
    })
    attachSession(api, plantly)
    server.mock.expireAccessTokens()
    server.inject({ on: 'api', delayMs: 300 }) // the first request's 401 comes back late

    const late = api.get<Echo>('/late')
    await until(() => server.counters.faultsServed === 1, 'the late request to reach the server')
    const early = api.get<Echo>('/early')
    const [lateResponse, earlyResponse] = await Promise.all([late, early])

    expect([lateResponse.status, earlyResponse.status]).toEqual([200, 200])
    expect(seen).toContainEqual({ path: '/late', pendingRefreshes: 1 }) // it really arrived mid-refresh
    expect(server.counters.refreshes).toBe(1)
    expect(plantly.stats().replays).toBe(2)
  })

  test('several instances attached to one session share one refresh (axios-auth-refresh#286)', async () => {
    const server = await mockServer({ refreshLatencyMs: 100 })
    const plantly = await loggedIn(server)
    const instances = [1, 2, 3].map(() => axios.create({ baseURL: server.url }))
    for (const instance of instances) attachSession(instance, plantly)
    server.mock.expireAccessTokens()

    const responses = await Promise.all(
      instances.flatMap((instance, n) => Array.from({ length: 5 }, (_, i) => instance.get(`/i${n}/${i}`))),
    )
    expect(responses.map((r) => r.status)).toEqual(Array(15).fill(200))
    expect(server.counters.refreshes).toBe(1)
    expect(server.counters.maxConcurrentRefreshes).toBe(1)
  })

  test('a replayed JSON body keeps its bytes and Content-Type (axios-auth-refresh#285)', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const api = axios.create({ baseURL: server.url })
    attachSession(api, plantly)
    server.mock.expireAccessTokens()

    const payload = { name: 'fern', tags: ['green', 'ünïcode'], n: 1 }
    const { data } = await api.post<Echo>('/plants', payload)
    const sent = attempts(server, '/plants')
    expect(sent.map((entry) => entry.status)).toEqual([401, 200])
    expect(data.contentType).toBe('application/json')
    expect(data.bodyHash).toBe(sha256(JSON.stringify(payload)))
    expect(sent[0]?.bodyHash).toBe(data.bodyHash)
  })

  test('a replayed FormData body keeps identical bytes and its multipart Content-Type (#285)', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const api = axios.create({ baseURL: server.url })
    attachSession(api, plantly)
    server.mock.expireAccessTokens()

    const form = new FormData()
    form.append('name', 'fern')
    form.append('photo', new Blob(['leaf bytes'], { type: 'text/plain' }), 'leaf.txt')
    const { data } = await api.post<Echo>('/uploads', form, {
      headers: { 'Content-Type': 'multipart/form-data' }, // the header people set by hand (axios#6240)
    })
    const sent = attempts(server, '/uploads')
    expect(sent.map((entry) => entry.status)).toEqual([401, 200])
    expect(data.contentType).toMatch(/^multipart\/form-data; boundary=\S+$/)
    expect(data.bodyLength).toBeGreaterThan(0)
    expect(sent[0]?.bodyHash).toBe(data.bodyHash)
  })

  test("a replay runs the caller's interceptors and transformRequest once, and resends the same bytes and Content-Type", async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const calls = { before: 0, after: 0, transforms: 0, responses: [] as number[] }
    const defaults = axios.defaults.transformRequest
    const api = axios.create({
      baseURL: server.url,
      transformRequest: [
        ...(Array.isArray(defaults) ? defaults : defaults ? [defaults] : []),
        (data: unknown) => {
          calls.transforms++
          return data
        },
      ],
    })
    api.interceptors.request.use((config) => {
      calls.before++
      return config
    })
    attachSession(api, plantly)
    api.interceptors.request.use(
      (config) => {
        calls.after++
        config.headers.set('X-Request-Id', `request-${calls.after}`)
        return config
      },
      undefined,
      { synchronous: true },
    )
    api.interceptors.response.use((response) => {
      calls.responses.push(response.status)
      return response
    })
    server.mock.expireAccessTokens()

    const payload = { name: 'fern', tags: ['green', 'ünïcode'] }
    const { data } = await api.post<Echo>('/signed', payload, {
      headers: { 'Content-Type': 'application/json; charset=utf-8' },
    })
    const sent = attempts(server, '/signed')
    expect(sent.map((entry) => entry.status)).toEqual([401, 200])
    expect(calls).toEqual({ before: 1, after: 1, transforms: 1, responses: [200] })
    expect(sent[0]?.bodyHash).toBe(sha256(JSON.stringify(payload)))
    expect(sent[1]?.bodyHash).toBe(sent[0]?.bodyHash)
    expect(sent.map((entry) => entry.contentType)).toEqual(Array(2).fill('application/json; charset=utf-8'))
    expect(data.bodyHash).toBe(sent[0]?.bodyHash)
    expect(plantly.stats().replays).toBe(1)
  })

  test('a config the caller sends again (error.config) gets the current token and its own replay', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const api = axios.create({ baseURL: server.url })
    attachSession(api, plantly)
    server.inject({ on: 'api', status: 401, body: { code: 'unauthorized' }, times: 2 })

    const error = (await api.get('/again').catch((caught: unknown) => caught)) as AxiosError
    expect(statusOf(error)).toBe(401) // the first attempt and the replay were both refused
    expect(server.counters.refreshes).toBe(1)
    // A token refused twice just after it was obtained is not refreshed again at once (the path refuses every
    // token), so renew it first: the config's stale header must give way to this session's current token.
    await plantly.refresh()
    server.mock.expireAccessTokens() // and the current token is refused as well

    const config = error.config
    if (config === undefined) throw new Error('axios gave no config')
    const response = await api.request<Echo>(config)
    expect(response.status).toBe(200)
    expect(server.counters.refreshes).toBe(3)
    expect(attempts(server, '/again').at(-1)?.token).toBe((await plantly.getSession())?.access_token)
  })

  test('a refused response read as a stream is closed before the replay (responseType stream)', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const http = axios.getAdapter('http')
    const refusedBodies: Readable[] = []
    const api = axios.create({
      baseURL: server.url,
      adapter: (config) =>
        http(config).catch((error: AxiosError) => {
          if (error.response?.status === 401) refusedBodies.push(error.response.data as Readable)
          throw error
        }),
    })
    attachSession(api, plantly)
    server.mock.expireAccessTokens()

    const response = await api.get<Readable>('/streamed', { responseType: 'stream' })
    const chunks: Buffer[] = []
    for await (const chunk of response.data) chunks.push(Buffer.from(chunk))
    expect(JSON.parse(Buffer.concat(chunks).toString())).toMatchObject({ ok: true, path: '/streamed' })
    expect(refusedBodies).toHaveLength(1)
    expect(refusedBodies[0]?.destroyed).toBe(true)
  })

  test("requests to the protocol's own endpoints pass through: no token, no refresh, no loop", async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const api = axios.create({ baseURL: server.url })
    attachSession(api, plantly)

    const error = await api
      .post('/auth/sessions', { email_address: DEMO_USER.email_address, password: 'wrong' })
      .catch((caught: unknown) => caught as AxiosError)
    expect(statusOf(error)).toBe(401)
    expect((error as AxiosError).config?.headers.has('Authorization')).toBe(false)
    const put = await api.put('/auth/sessions').catch((caught: unknown) => caught as AxiosError)
    expect(statusOf(put)).toBe(400) // no refresh token: the session's own refresh is not done through axios
    expect(server.counters.loginFailures).toBe(1)
    expect(server.counters.refreshes).toBe(0)
  })

  test('a request is replayed at most once', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const api = axios.create({ baseURL: server.url })
    attachSession(api, plantly)
    server.inject({ on: 'api', status: 401, body: { code: 'unauthorized' }, times: 2 })

    const error = await api.get('/twice').catch((caught: unknown) => caught)
    expect(statusOf(error)).toBe(401)
    expect(server.counters.faultsServed).toBe(2) // the first attempt and the one replay, no third
    expect(server.counters.refreshes).toBe(1)
  })

  test("an AxiosError's JSON shows neither token, axios's own `redact` or not", async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const api = axios.create({ baseURL: server.url, redact: ['Authorization'] })
    attachSession(api, plantly)
    server.inject({ on: 'api', status: 401, body: { code: 'unauthorized' }, times: 2 })

    const first = (await plantly.getSession())?.access_token
    const error = (await api.get('/redacted').catch((caught: unknown) => caught)) as AxiosError
    const replayed = (await plantly.getSession())?.access_token
    expect(statusOf(error)).toBe(401)
    expect(error.config?.headers.get('Authorization')).toBe('[redacted]') // the session's placeholder
    const json = JSON.stringify(error)
    expect(json).toContain('/redacted')
    for (const token of [first, replayed]) {
      expect(token).toBeTypeOf('string')
      expect(json).not.toContain(token)
    }
  })

  test('a 401 accepted by validateStatus is replayed too', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const api = axios.create({ baseURL: server.url, validateStatus: () => true })
    attachSession(api, plantly)
    server.mock.expireAccessTokens()

    const response = await api.get<Echo>('/lenient')
    expect(response.status).toBe(200)
    expect(server.counters.refreshes).toBe(1)
  })

  test('when the session is gone the caller gets its own 401, body intact, and `expired` fires once', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const api = axios.create({ baseURL: server.url })
    attachSession(api, plantly)
    let expired = 0
    plantly.on('expired', () => expired++)
    server.mock.revokeAll()

    const errors = await Promise.all([1, 2, 3].map((i) => api.get(`/gone/${i}`).catch((e: unknown) => e)))
    for (const error of errors) {
      expect(statusOf(error)).toBe(401)
      expect((error as AxiosError<{ code: string }>).response?.data.code).toBe('unauthorized')
    }
    expect(expired).toBe(1)
    expect(await plantly.getSession()).toBeUndefined()
  })

  test('a refresh that cannot complete rejects the waiting request with RefreshError', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server, { refreshTimeoutMs: 5_000 })
    const api = axios.create({ baseURL: server.url })
    attachSession(api, plantly)
    server.mock.expireAccessTokens()
    server.inject({ on: 'refresh', status: 503, times: 10 })

    const error = await api.get('/down').catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(RefreshError)
    expect(JSON.stringify(error)).not.toContain((await plantly.getSession())?.access_token)
  })

  test('a Node stream body within replayBufferBytes is replayed after a 401 with the same bytes', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const api = axios.create({ baseURL: server.url })
    attachSession(api, plantly)
    server.mock.expireAccessTokens()

    const parts = [Buffer.alloc(20_000, 'a'), Buffer.from('streamed bytes')]
    const response = await api.post<Echo>('/stream', Readable.from(parts), {
      headers: { 'Content-Type': 'application/octet-stream' },
    })
    expect(response.status).toBe(200)
    const sent = attempts(server, '/stream')
    expect(sent.map((entry) => entry.status)).toEqual([401, 200])
    expect(sent.map((entry) => entry.bodyHash)).toEqual(Array(2).fill(sha256(Buffer.concat(parts))))
    expect(sent.map((entry) => entry.contentType)).toEqual(Array(2).fill('application/octet-stream'))
  })

  test('a form-data (npm) body is replayed with its multipart boundary and bytes', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const api = axios.create({ baseURL: server.url })
    attachSession(api, plantly)
    server.mock.expireAccessTokens()

    const form = new NodeFormData()
    form.append('name', 'fern')
    form.append('photo', Buffer.alloc(5_000, 7), { filename: 'fern.jpg', contentType: 'image/jpeg' })
    const response = await api.post<Echo>('/form', form)
    expect(response.status).toBe(200)
    const sent = attempts(server, '/form')
    expect(sent.map((entry) => entry.status)).toEqual([401, 200])
    expect(sent[1]?.bodyHash).toBe(sent[0]?.bodyHash)
    expect(sent[0]?.contentType).toBe(`multipart/form-data; boundary=${form.getBoundary()}`)
    expect(sent[1]?.contentType).toBe(sent[0]?.contentType)
  })

  test('a stream body over replayBufferBytes is sent once: its 401 is returned and the refresh still happens', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server, { replayBufferBytes: 4 })
    const api = axios.create({ baseURL: server.url })
    attachSession(api, plantly)
    server.mock.expireAccessTokens()

    const error = await api
      .post('/stream', Readable.from([Buffer.from('streamed bytes')]), {
        headers: { 'Content-Type': 'application/octet-stream' },
      })
      .catch((caught: unknown) => caught)
    expect(statusOf(error)).toBe(401)
    expect(attempts(server, '/stream')).toHaveLength(1)
    await settled(plantly)
    expect(server.counters.refreshes).toBe(1)
    expect((await api.get('/after')).status).toBe(200)
    expect(server.counters.refreshes).toBe(1)
  })

  test('a token inside the must-refresh margin waits for one refresh (no 401 at all)', async () => {
    const server = await mockServer()
    const clock = testClock()
    const plantly = await loggedIn(server, { now: clock.now })
    const api = axios.create({ baseURL: server.url })
    attachSession(api, plantly)
    clock.advance(56_000) // 60 s tokens: inside the 5 s must-refresh margin

    const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => api.get(`/soon/${i}`)))
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200))
    expect(server.counters.refreshes).toBe(1)
    expect(server.counters.apiUnauthorized).toBe(0)
  })

  test('aborting a request aborts only its own wait, never the shared refresh', async () => {
    const server = await mockServer({ refreshLatencyMs: 300 })
    const clock = testClock()
    const plantly = await loggedIn(server, { now: clock.now })
    const api = axios.create({ baseURL: server.url })
    attachSession(api, plantly)
    clock.advance(56_000) // inside the must-refresh margin: requests wait for the refresh

    const controller = new AbortController()
    const aborted = api.get('/aborted', { signal: controller.signal }).catch((error: unknown) => error)
    const kept = api.get('/kept')
    await until(() => plantly.stats().pendingRefreshes === 1, 'the refresh to start')
    controller.abort(new DOMException('caller gave up', 'AbortError'))
    expect(axios.isCancel(await aborted)).toBe(true) // as axios reports an abort at any other point
    expect((await kept).status).toBe(200)
    expect(attempts(server, '/aborted')).toHaveLength(0)
    expect(server.counters.refreshes).toBe(1)
  })

  test('detach takes the session off the instance', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const api = axios.create({ baseURL: server.url })
    const detach = attachSession(api, plantly)
    expect((await api.get('/before')).status).toBe(200)
    detach()
    detach() // twice is harmless
    expect(statusOf(await api.get('/after').catch((e: unknown) => e))).toBe(401)
    expect(attempts(server, '/after')[0]?.token).toBeUndefined()
    attachSession(api, plantly) // and it can be attached again
    expect((await api.get('/again')).status).toBe(200)
  })

  test('bad arguments are named', () => {
    const plantly = createSessionFetch({ baseURL: 'https://api.plantly.test' })
    const api = axios.create()
    expect(() => attachSession({} as never, plantly)).toThrow(OptionError)
    expect(() => attachSession({} as never, plantly)).toThrow(/`instance`/)
    expect(() => attachSession(api, {} as never)).toThrow(/`session`/)
    attachSession(api, plantly)
    expect(() => attachSession(api, plantly)).toThrow(/already attached/)
  })
})
