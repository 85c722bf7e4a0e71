import type { IncomingMessage, ServerResponse } from 'node:http'
import { describe, expect, test } from 'vitest'
import {
  createSessionFetch,
  plantlySessions,
  type SessionFetchOptions,
  type SessionProtocol,
  type SessionRequestInit,
} from '../../../src/index.js'
import { apiServer } from '../../helpers/api-server.js'
import { listen } from '../../helpers/http-server.js'
import { DEMO_USER } from '../../helpers/mock-server.js'

// Redirects of requests that carry the session's headers, over real HTTP between two origins (two ports of
// 127.0.0.1): the session's headers reach only the origins it covers, and everything else is what fetch's
// own `redirect: 'follow'` sends, compared with what bare fetch sends for the same request.

/** What a landing page received. */
interface Landed {
  method: string
  path: string
  headers: IncomingMessage['headers']
  body: string
}

async function read(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString()
}

async function land(req: IncomingMessage, res: ServerResponse, landed: Landed[]): Promise<void> {
  const body = await read(req)
  landed.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body })
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ landed: req.url }))
}

/** Another origin: records what reaches it and answers 200 (or redirects back where `/back?to=` says). */
async function foreignOrigin() {
  const landed: Landed[] = []
  const url = await listen((req, res) => {
    const back = new URL(req.url ?? '/', 'http://x').searchParams.get('to')
    if (back) return void read(req).then(() => res.writeHead(307, { location: back }).end())
    void land(req, res, landed)
  })
  return { url, landed }
}

/**
 * The API (the mock behind it for sessions): `/hop/<status>?to=<url>` answers that redirect, `/chain/<n>`
 * redirects n more times on its own origin, and `/landing…` records what reached it.
 */
async function api() {
  const landed: Landed[] = []
  const server = await apiServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const hop = /^\/hop\/(\d+)$/.exec(url.pathname)
    if (hop) {
      void read(req).then(() =>
        res.writeHead(Number(hop[1]), { location: url.searchParams.get('to') ?? '/landing' }).end(),
      )
      return true
    }
    const chain = /^\/chain\/(\d+)$/.exec(url.pathname)
    if (chain) {
      const left = Number(chain[1])
      res.writeHead(302, { location: left > 1 ? `/chain/${left - 1}` : '/landing' }).end()
      return true
    }
    if (url.pathname.startsWith('/landing')) {
      void land(req, res, landed)
      return true
    }
    return false
  })
  return { ...server, landed }
}

async function session(baseURL: string, options: Partial<SessionFetchOptions> = {}) {
  const plantly = createSessionFetch({ baseURL, ...options })
  const { access_token } = await plantly.login(DEMO_USER)
  return { plantly, token: access_token }
}

/** The headers fetch keeps or drops on a hop to another origin, without the session's. */
function callerView(landed: Landed | undefined) {
  if (!landed) return undefined
  const { headers } = landed
  return {
    method: landed.method,
    path: landed.path,
    body: landed.body,
    contentType: headers['content-type'],
    caller: headers['x-caller'],
    cookie: headers.cookie,
    authorization: headers.authorization,
  }
}

const STATUSES = [301, 302, 303, 307, 308] as const
const METHODS = ['GET', 'POST', 'PUT', 'post'] as const

function init(method: string): RequestInit {
  return {
    method,
    headers: { 'x-caller': 'kept', cookie: 'theme=dark', 'content-type': 'text/plain' },
    ...(method === 'GET' ? {} : { body: `plant=fern&method=${method}` }),
  }
}

describe.each(STATUSES)('a %s', (status) => {
  test.each(METHODS)(
    '%s to another origin: no token goes there; the rest is what fetch sends',
    async (method) => {
      const server = await api()
      const elsewhere = await foreignOrigin()
      const { plantly } = await session(server.url)
      const path = `/hop/${status}?to=${encodeURIComponent(`${elsewhere.url}/landing`)}`

      const bare = await fetch(`${server.url}${path}`, init(method))
      const sessioned = await plantly.fetch(path, init(method))

      expect(elsewhere.landed).toHaveLength(2)
      const [byFetch, bySession] = elsewhere.landed.map(callerView)
      expect(bySession).toEqual(byFetch)
      expect(bySession?.authorization).toBeUndefined()
      expect([sessioned.status, sessioned.redirected, sessioned.url]).toEqual([
        bare.status,
        bare.redirected,
        bare.url,
      ])
      expect(await sessioned.json()).toEqual(await bare.json())
    },
  )

  test.each(METHODS)(
    '%s on its own origin: the token goes along, the rest is what fetch sends',
    async (method) => {
      const server = await api()
      const { plantly, token } = await session(server.url)
      const path = `/hop/${status}?to=/landing`

      const bare = await fetch(`${server.url}${path}`, init(method))
      const sessioned = await plantly.fetch(path, init(method))

      const [byFetch, bySession] = server.landed.map(callerView)
      expect({ ...bySession, authorization: undefined }).toEqual(byFetch)
      expect(bySession?.authorization).toBe(`Bearer ${token}`)
      expect([sessioned.status, sessioned.redirected, sessioned.url]).toEqual([
        bare.status,
        bare.redirected,
        bare.url,
      ])
    },
  )
})

describe('which hops get the session', () => {
  test('a redirect to another origin the session covers (allowedOrigins) carries the token there', async () => {
    const server = await api()
    const allowed = await foreignOrigin()
    const { plantly, token } = await session(server.url, { allowedOrigins: [allowed.url] })
    const response = await plantly.fetch(`/hop/307?to=${encodeURIComponent(`${allowed.url}/landing`)}`, {
      method: 'POST',
      body: 'x',
    })
    expect(response.status).toBe(200)
    expect(allowed.landed.map((entry) => entry.headers.authorization)).toEqual([`Bearer ${token}`])
  })

  test("a redirect to the protocol's own endpoint on the same origin does not carry the token there", async () => {
    const server = await api()
    const { plantly } = await session(server.url)
    await plantly.fetch('/hop/307?to=/auth/sessions', { method: 'DELETE' })
    const sessionsCall = server.received.filter((entry) => entry.path === '/auth/sessions').at(-1)
    expect(sessionsCall).toMatchObject({ method: 'DELETE', authorization: undefined })
  })

  test('once a hop left for another origin, no later hop gets the session, not even back on its own origin', async () => {
    const server = await api()
    const elsewhere = await foreignOrigin()
    const { plantly } = await session(server.url)
    const back = `${elsewhere.url}/back?to=${encodeURIComponent(`${server.url}/landing`)}`
    const response = await plantly.fetch(`/hop/307?to=${encodeURIComponent(back)}`)
    expect(response.status).toBe(200)
    expect(server.landed.map((entry) => entry.headers.authorization)).toEqual([undefined])
    expect(server.received.find((entry) => entry.path.startsWith('/hop'))?.authorization).toMatch(/^Bearer /)
  })

  test('every header a protocol adds (not only Authorization) stays on the origins the session covers', async () => {
    const server = await api()
    const elsewhere = await foreignOrigin()
    const plantly = plantlySessions({ baseURL: server.url })
    const protocol: SessionProtocol = {
      ...plantly,
      login: plantly.login.bind(plantly),
      refresh: plantly.refresh.bind(plantly),
      authorize: async (token, { method, url }) => ({
        authorization: `Bearer ${token}`,
        'x-session-proof': `${method} ${url}`,
      }),
    }
    const client = createSessionFetch({ baseURL: server.url, protocol })
    await client.login(DEMO_USER)
    await client.fetch(`/hop/302?to=/landing`)
    await client.fetch(`/hop/302?to=${encodeURIComponent(`${elsewhere.url}/landing`)}`)
    // Made for the hop it went with, on the same origin; none at all on the other one.
    expect(server.landed[0]?.headers['x-session-proof']).toBe(`GET ${server.url}/landing`)
    expect(elsewhere.landed[0]?.headers['x-session-proof']).toBeUndefined()
    expect(elsewhere.landed[0]?.headers.authorization).toBeUndefined()
  })
})

describe('the caller’s redirect mode and fetch’s limits', () => {
  test("redirect: 'manual' gives the redirect back as fetch does; nothing follows it", async () => {
    const server = await api()
    const elsewhere = await foreignOrigin()
    const { plantly } = await session(server.url)
    const path = `/hop/302?to=${encodeURIComponent(`${elsewhere.url}/landing`)}`
    const bare = await fetch(`${server.url}${path}`, { redirect: 'manual' })
    const sessioned = await plantly.fetch(path, { redirect: 'manual' })
    expect([sessioned.status, sessioned.headers.get('location'), sessioned.redirected]).toEqual([
      bare.status,
      bare.headers.get('location'),
      false,
    ])
    expect(elsewhere.landed).toHaveLength(0)
  })

  test("redirect: 'error' rejects as fetch does; nothing follows it", async () => {
    const server = await api()
    const elsewhere = await foreignOrigin()
    const { plantly } = await session(server.url)
    const path = `/hop/307?to=${encodeURIComponent(`${elsewhere.url}/landing`)}`
    const bare = await fetch(`${server.url}${path}`, { redirect: 'error' }).catch((e: unknown) => e)
    const sessioned = await plantly.fetch(path, { redirect: 'error' }).catch((e: unknown) => e)
    expect(bare).toBeInstanceOf(TypeError)
    expect(sessioned).toBeInstanceOf(TypeError)
    expect(elsewhere.landed).toHaveLength(0)
  })

  test('20 hops are followed, a 21st fails with a TypeError, as in fetch', async () => {
    const server = await api()
    const { plantly, token } = await session(server.url)
    const twenty = await plantly.fetch('/chain/20')
    expect([twenty.status, twenty.redirected, twenty.url]).toEqual([200, true, `${server.url}/landing`])
    expect(server.landed.map((entry) => entry.headers.authorization)).toEqual([`Bearer ${token}`])
    expect((await fetch(`${server.url}/chain/21`).catch((e: unknown) => e)) instanceof TypeError).toBe(true)
    expect(await plantly.fetch('/chain/21').catch((e: unknown) => e)).toBeInstanceOf(TypeError)
    expect(server.landed).toHaveLength(1)
  })

  test('a streamed body is sent again from its copy on a 307; past replayBufferBytes it fails as fetch does', async () => {
    const server = await api()
    const { plantly } = await session(server.url, { replayBufferBytes: 1024 })
    const stream = (text: string) =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(text))
          controller.close()
        },
      })
    const small: SessionRequestInit = { method: 'POST', body: stream('small'), duplex: 'half' }
    expect((await plantly.fetch('/hop/307?to=/landing', small)).status).toBe(200)
    expect(server.landed.map((entry) => entry.body)).toEqual(['small'])
    const big: SessionRequestInit = { method: 'POST', body: stream('x'.repeat(2048)), duplex: 'half' }
    expect(await plantly.fetch('/hop/307?to=/landing', big).catch((e: unknown) => e)).toBeInstanceOf(
      TypeError,
    )
    const bare: SessionRequestInit = { method: 'POST', body: stream('bare'), duplex: 'half' }
    expect(await fetch(`${server.url}/hop/307?to=/landing`, bare).catch((e: unknown) => e)).toBeInstanceOf(
      TypeError,
    )
    expect(server.landed).toHaveLength(1)
  })

  test('a Request with a body (as openapi-fetch sends it) is sent on with its body and Content-Type by a 308', async () => {
    const server = await api()
    const { plantly, token } = await session(server.url)
    const request = new Request(`${server.url}/hop/308?to=/landing`, {
      method: 'PUT',
      body: JSON.stringify({ plant: 'fern' }),
      headers: { 'content-type': 'application/json' },
    })
    expect((await plantly.fetch(request)).status).toBe(200)
    expect(callerView(server.landed[0])).toMatchObject({
      method: 'PUT',
      body: '{"plant":"fern"}',
      contentType: 'application/json',
      authorization: `Bearer ${token}`,
    })
  })

  test('a 401 after a redirect on its own origin is replayed with the new token, through the redirect again', async () => {
    let refusals = 1
    const server = await apiServer((req, res) => {
      if (req.url === '/moved') {
        res.writeHead(307, { location: '/protected' }).end()
        return true
      }
      if (req.url === '/protected' && refusals-- > 0) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"code":"unauthorized"}')
        return true
      }
      return false
    })
    const { plantly } = await session(server.url)
    const response = await plantly.fetch('/moved', { method: 'POST', body: 'once more' })
    expect([response.status, response.redirected, response.url]).toEqual([
      200,
      true,
      `${server.url}/protected`,
    ])
    expect(server.mock.counters.refreshes).toBe(1)
    expect(server.received.map((entry) => entry.path)).toEqual([
      '/auth/sessions',
      '/moved',
      '/protected',
      '/auth/sessions',
      '/moved',
      '/protected',
    ])
  })
})
