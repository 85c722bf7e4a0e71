import axios from 'axios'
import { Agent, type Dispatcher, getGlobalDispatcher, setGlobalDispatcher } from 'undici'
import { afterEach, describe, expect, test } from 'vitest'
import { attachSession } from '../../src/adapters/axios/index.js'
import { sessionInterceptor } from '../../src/adapters/undici/index.js'
import { createSessionFetch, type SessionFetch } from '../../src/index.js'
import { testClock } from '../helpers/adapters.js'
import { type ApiServer, apiServer } from '../helpers/api-server.js'
import { DEMO_USER } from '../helpers/mock-server.js'

// 401s that say nothing about the session's token: they are given back without a refresh, in every adapter.

const previous = getGlobalDispatcher()
const agents: Dispatcher[] = []
afterEach(async () => {
  setGlobalDispatcher(previous)
  await Promise.all(agents.splice(0).map((agent) => agent.close()))
})

type Adapter = 'fetch' | 'axios' | 'undici'
const ADAPTERS: Adapter[] = ['fetch', 'axios', 'undici']

/** GET `path` through one adapter; resolves with the status (axios: whatever status, no throw). */
function through(adapter: Adapter, plantly: SessionFetch, server: ApiServer) {
  if (adapter === 'fetch') return (path: string) => plantly.fetch(path).then((r) => r.status)
  if (adapter === 'axios') {
    const api = axios.create({ baseURL: server.url, validateStatus: () => true })
    attachSession(api, plantly)
    return (path: string) => api.get(path).then((r) => r.status)
  }
  const agent = new Agent().compose(sessionInterceptor(plantly))
  agents.push(agent)
  setGlobalDispatcher(agent)
  // Node's global fetch goes through the global dispatcher, one dispatch per redirect hop.
  return (path: string) => fetch(new URL(path, server.url)).then((r) => r.status)
}

const scoped: Parameters<typeof apiServer>[0] = (req, res) => {
  if (!req.url?.startsWith('/admin')) return false
  res.writeHead(401, {
    'www-authenticate': 'Bearer realm="plantly", error="insufficient_scope", scope="admin"',
  })
  res.end('{"code":"insufficient_scope"}')
  return true
}

describe.each(ADAPTERS)('through %s', (adapter) => {
  test('a 401 with error="insufficient_scope" is given back without a refresh', async () => {
    const server = await apiServer(scoped)
    const plantly = createSessionFetch({ baseURL: server.url })
    await plantly.login(DEMO_USER)
    const get = through(adapter, plantly, server)
    for (let i = 0; i < 5; i++) expect(await get('/admin/users')).toBe(401)
    expect(server.mock.counters.refreshes).toBe(0)
    expect(server.received.filter((r) => r.path === '/admin/users')).toHaveLength(5) // no replays
    expect(await get('/buyers')).toBe(200)
  })

  test('the challenge is parsed: insufficient_scope in any challenge is given back, a mere mention is not', async () => {
    let mentions = 0
    const challenges: Parameters<typeof apiServer>[0] = (req, res) => {
      if (req.url === '/second-challenge') {
        // Two challenges in one header: the Bearer one says insufficient_scope.
        res.writeHead(401, {
          'www-authenticate': 'Basic realm="legacy, old", Bearer realm="plantly", error=insufficient_scope',
        })
      } else if (req.url === '/mentioned' && mentions++ === 0) {
        // The token is refused (once); insufficient_scope is only the text of a description.
        res.writeHead(401, {
          'www-authenticate': 'Bearer error="invalid_token", error_description="not insufficient_scope"',
        })
      } else return false
      res.end()
      return true
    }
    const server = await apiServer(challenges)
    const plantly = createSessionFetch({ baseURL: server.url })
    await plantly.login(DEMO_USER)
    const get = through(adapter, plantly, server)
    expect(await get('/second-challenge')).toBe(401)
    expect(server.mock.counters.refreshes).toBe(0)
    expect(await get('/mentioned')).toBe(200) // a refusal: one refresh, and the replay is answered
    expect(server.mock.counters.refreshes).toBe(1)
    expect(mentions).toBe(2)
  })

  test('50 calls to a path that always answers 401 make at most 2 refreshes', async () => {
    const always: Parameters<typeof apiServer>[0] = (req, res) => {
      if (req.url !== '/forbidden-by-proxy') return false
      res.writeHead(401, { 'content-type': 'application/json' })
      res.end('{"code":"unauthorized"}')
      return true
    }
    const server = await apiServer(always)
    const plantly = createSessionFetch({ baseURL: server.url })
    await plantly.login(DEMO_USER)
    const get = through(adapter, plantly, server)
    for (let i = 0; i < 50; i++) expect(await get('/forbidden-by-proxy')).toBe(401)
    expect(server.mock.counters.refreshes).toBeLessThanOrEqual(2)
    expect(server.mock.counters.refreshes).toBeGreaterThanOrEqual(1) // the first 401 was worth one
    expect(server.mock.counters.reuseDetected).toBe(0)
    expect(await get('/buyers')).toBe(200) // the session itself is fine
  })

  test('a 401 from another origin reached by a redirect is given back as is', async () => {
    const other = await apiServer((_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' })
      res.end('{"code":"not_yours"}')
      return true
    })
    const server = await apiServer((req, res) => {
      if (req.url !== '/hop') return false
      res.writeHead(307, { location: `${other.url}/elsewhere` })
      res.end()
      return true
    })
    const plantly = createSessionFetch({ baseURL: server.url })
    await plantly.login(DEMO_USER)
    const get = through(adapter, plantly, server)
    for (let i = 0; i < 5; i++) expect(await get('/hop')).toBe(401)
    expect(server.mock.counters.refreshes).toBe(0)
    expect(server.received.filter((r) => r.path === '/hop')).toHaveLength(5) // never replayed
    // And the token never went there.
    expect(other.received.every((r) => r.authorization === undefined)).toBe(true)
    expect(other.received).toHaveLength(5)
  })
})

test('a token that expires in normal use is still recovered with one refresh', async () => {
  const server = await apiServer()
  const plantly = createSessionFetch({ baseURL: server.url })
  await plantly.login(DEMO_USER)
  server.mock.expireAccessTokens()
  const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => plantly.fetch(`/b/${i}`)))
  expect(statuses.map((r) => r.status)).toEqual(Array(20).fill(200))
  expect(server.mock.counters.refreshes).toBe(1)
  // Revoked right after that refresh: the new token was never refused before, so it is renewed once more.
  server.mock.expireAccessTokens()
  expect((await plantly.fetch('/c')).status).toBe(200)
  expect(server.mock.counters.refreshes).toBe(2)
})

test('a token refused on an always-401 path is renewed again once it is no longer fresh', async () => {
  const clock = testClock()
  const server = await apiServer((req, res) => {
    if (req.url !== '/never') return false
    res.writeHead(401)
    res.end()
    return true
  })
  const plantly = createSessionFetch({ baseURL: server.url, now: clock.now })
  await plantly.login(DEMO_USER)
  expect((await plantly.fetch('/never')).status).toBe(401)
  expect(server.mock.counters.refreshes).toBe(1)
  server.mock.expireAccessTokens()
  // Within a few seconds the token just refused is not renewed again: this 401 is given back.
  expect((await plantly.fetch('/buyers')).status).toBe(401)
  expect(server.mock.counters.refreshes).toBe(1)
  clock.advance(5_000)
  expect((await plantly.fetch('/buyers')).status).toBe(200)
  expect(server.mock.counters.refreshes).toBe(2)
})
