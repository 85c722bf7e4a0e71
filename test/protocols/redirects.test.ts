// Session calls (login, refresh, logout; Plantly and OAuth2) never send credentials, a refresh token or an access
// token to an origin other than their endpoint's: a redirect there is refused before anything goes out. Every
// test runs two real node:http servers on 127.0.0.1; the other origin counts connections, and must see none.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { afterEach, describe, expect, test } from 'vitest'
import {
  createSessionFetch,
  LoginError,
  LogoutError,
  RedirectError,
  RefreshError,
  type Session,
} from '../../src/index.js'
import { oauth2 } from '../../src/protocols/oauth2/index.js'
import { PlantlyMock } from '../../src/testing/mock/plantly-mock.js'
import { serve } from '../../src/testing/mock/server.js'
import { tabsOrigin } from '../helpers/chromium.js'
import { DEMO_USER, mockServer } from '../helpers/mock-server.js'

interface Listening {
  url: string
  /** Every request received, in order. */
  requests: { method: string; path: string; authorization: string | undefined; body: string }[]
  /** TCP connections accepted: a request that never went out leaves none. */
  connections: number
}

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()))
})

/** A node:http server on 127.0.0.1 that records what reaches it; `answer` replies once the body is read. */
async function listen(
  answer: (req: IncomingMessage, res: ServerResponse, body: string) => void,
): Promise<Listening> {
  const sockets = new Set<Socket>()
  const listening: Listening = { url: '', requests: [], connections: 0 }
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks).toString()
    listening.requests.push({
      method: req.method ?? '',
      path: req.url ?? '',
      authorization: req.headers.authorization,
      body,
    })
    answer(req, res, body)
  })
  server.on('connection', (socket) => {
    listening.connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  closers.push(
    () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  )
  listening.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return listening
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

let issued = 0
function tokens(prefix: string) {
  issued++
  return {
    type: 'auth.session',
    token_type: 'bearer',
    access_token: `${prefix}-access-${issued}`,
    refresh_token: `${prefix}-refresh-${issued}`,
    expires_in: 3600,
  }
}

/**
 * The other origin: it answers every request with a valid session (and lets any page call it), so that a client
 * which followed the redirect would log in with it. The tests expect it to receive nothing at all.
 */
function otherOrigin(): Promise<Listening> {
  return listen((req, res) => {
    res.setHeader('access-control-allow-origin', '*')
    res.setHeader('access-control-allow-headers', '*')
    res.setHeader('access-control-allow-methods', '*')
    if (req.method === 'OPTIONS') res.writeHead(204).end()
    else json(res, 200, tokens('other'))
  })
}

/** What an error says must name the other origin, never its query string or a secret. */
function expectRedirectRefused(error: unknown, other: Listening, secrets: string[]) {
  expect(error).toBeInstanceOf(Error)
  const { message } = error as Error
  expect(message).toMatch(/redirected to another origin/)
  expect(message).toContain(other.url)
  expect(message).not.toContain('leak')
  for (const secret of secrets) expect(message).not.toContain(secret)
  expect((error as Error).cause).toBeInstanceOf(RedirectError)
  expect(other.connections).toBe(0)
  expect(other.requests).toEqual([])
}

describe('Plantly: a session call redirected to another origin is refused, nothing sent there', () => {
  test('login answered 307: LoginError, the credentials never leave, no session is kept', async () => {
    const server = await mockServer()
    const other = await otherOrigin()
    const plantly = createSessionFetch({ baseURL: server.url })
    server.inject({ on: 'login', status: 307, headers: { location: `${other.url}/auth/sessions?leak=1` } })

    const error = await plantly.login(DEMO_USER).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LoginError)
    expectRedirectRefused(error, other, [DEMO_USER.password])
    expect(await plantly.getSession()).toBeUndefined()
    expect(server.counters.faultsServed).toBe(1) // a redirect is an answer: not retried
    const response = await plantly.fetch('/buyers')
    expect(server.log.at(-1)).toMatchObject({ path: '/buyers', token: undefined })
    expect(response.status).toBe(401)
  })

  test('refresh answered 308: the waiting call rejects with RefreshError, the refresh token never leaves', async () => {
    const server = await mockServer()
    const other = await otherOrigin()
    const plantly = createSessionFetch({ baseURL: server.url })
    const session = await plantly.login(DEMO_USER)
    server.mock.expireAccessTokens()
    server.inject({ on: 'refresh', status: 308, headers: { location: `${other.url}/auth/sessions?leak=1` } })

    const error = await plantly.fetch('/buyers').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RefreshError)
    expectRedirectRefused(error, other, [session.access_token, session.refresh_token as string])
    expect(server.counters.faultsServed).toBe(1) // not retried, although refresh retries 5xx twice
    expect(server.counters.refreshes).toBe(0)
    expect((await plantly.getSession())?.refresh_token).toBe(session.refresh_token) // kept: could not complete
  })

  test('logout answered 307: LogoutError, the access token never leaves, the session is cleared locally', async () => {
    const server = await mockServer()
    const other = await otherOrigin()
    const plantly = createSessionFetch({ baseURL: server.url })
    const session = await plantly.login(DEMO_USER)
    server.inject({ on: 'logout', status: 307, headers: { location: `${other.url}/auth/sessions?leak=1` } })

    const error = await plantly.logout().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LogoutError)
    expectRedirectRefused(error, other, [session.access_token, session.refresh_token as string])
    expect(await plantly.getSession()).toBeUndefined()
  })

  test('a transport that follows redirects itself: the answer from the other origin is never taken as a session', async () => {
    const server = await mockServer()
    const other = await otherOrigin()
    const plantly = createSessionFetch({
      baseURL: server.url,
      // Ignores `redirect: 'manual'`, as some fetch wrappers do.
      fetch: (input, init) => globalThis.fetch(input, { ...init, redirect: 'follow' }),
    })
    server.inject({ on: 'login', status: 307, headers: { location: `${other.url}/auth/sessions?leak=1` } })

    const error = await plantly.login(DEMO_USER).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LoginError)
    expect((error as Error).message).toMatch(/redirected to another origin/)
    expect((error as Error).message).not.toContain('leak')
    expect((error as Error).cause).toBeInstanceOf(RedirectError)
    expect(other.requests).toHaveLength(1) // this transport did send it: the refusal is all that is left to do
    expect(await plantly.getSession()).toBeUndefined()
    await plantly.fetch('/buyers')
    expect(server.log.at(-1)).toMatchObject({ path: '/buyers', token: undefined }) // its token is never used
  })
})

/** A Plantly API whose Sessions resource moved to /v2 on the same origin: /auth/sessions answers a redirect. */
async function movedSessions(status: (method: string) => number) {
  const mock = new PlantlyMock({ path: '/v2/auth/sessions' })
  const redirected: string[] = []
  const server = createServer((req, res) => {
    if (req.url === '/auth/sessions') {
      redirected.push(req.method ?? '')
      res.writeHead(status(req.method ?? ''), { location: '/v2/auth/sessions' }).end()
    } else void serve(mock, req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  closers.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, mock, redirected }
}

describe('Plantly: same-origin redirects', () => {
  test('307 and 308 are followed with the same method, body and credentials', async () => {
    const { url, mock, redirected } = await movedSessions((method) => (method === 'PUT' ? 308 : 307))
    const plantly = createSessionFetch({ baseURL: url })
    const session = await plantly.login(DEMO_USER) // POST with the JSON body, re-sent to /v2
    mock.expireAccessTokens()
    expect((await plantly.fetch('/buyers')).status).toBe(200) // PUT with the refresh token, re-sent to /v2
    expect((await plantly.getSession())?.access_token).not.toBe(session.access_token)
    await plantly.logout() // DELETE with the access token, re-sent to /v2
    expect(redirected).toEqual(['POST', 'PUT', 'DELETE'])
    expect(mock.counters).toMatchObject({ logins: 1, refreshes: 1, logouts: 1 })
  })

  test('301 and 302 are followed for PUT and DELETE, which keep their method (fetch spec)', async () => {
    const { url, mock, redirected } = await movedSessions((method) =>
      method === 'POST' ? 307 : method === 'PUT' ? 301 : 302,
    )
    const plantly = createSessionFetch({ baseURL: url })
    await plantly.login(DEMO_USER)
    await plantly.refresh()
    await plantly.logout()
    expect(redirected).toEqual(['POST', 'PUT', 'DELETE'])
    expect(mock.counters).toMatchObject({ logins: 1, refreshes: 1, logouts: 1 })
  })

  test.each([301, 302, 303])(
    'a POST answered %i (which fetch would turn into a GET without the credentials) is refused',
    async (status) => {
      const { url, mock } = await movedSessions(() => status)
      const plantly = createSessionFetch({ baseURL: url })
      const error = await plantly.login(DEMO_USER).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(LoginError)
      expect((error as Error).message).toMatch(new RegExp(`answered ${status}.*GET`))
      expect(mock.counters.logins + mock.counters.loginFailures).toBe(0)
    },
  )

  test('a redirect loop on the same origin is refused after 5 hops', async () => {
    const looping = await listen((_req, res) => {
      res.writeHead(307, { location: '/auth/sessions' }).end()
    })
    const plantly = createSessionFetch({ baseURL: looping.url })
    const error = await plantly.login(DEMO_USER).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LoginError)
    expect((error as Error).message).toMatch(/redirected more than 5 times/)
    expect(looping.requests).toHaveLength(6) // the call and 5 hops, then no retry
  })
})

/** An OAuth2 authorization server: `/token` and `/revoke`, each answering what `route` says (default: the real thing). */
async function authServer(route: (path: string) => { status: number; location: string } | undefined) {
  const server = await listen((req, res, body) => {
    const path = (req.url ?? '').split('?')[0] ?? ''
    const redirect = route(path)
    if (redirect) {
      res.writeHead(redirect.status, { location: redirect.location }).end()
    } else if (path === '/token' || path === '/token/v2') {
      const grant = new URLSearchParams(body).get('grant_type')
      json(res, 200, { ...tokens(`oauth-${grant}`), type: undefined, token_type: 'Bearer' })
    } else if (path === '/revoke' || path === '/revoke/v2') {
      res.writeHead(200).end()
    } else res.writeHead(404).end()
  })
  return server
}

function oauthClient(server: Listening) {
  return createSessionFetch({
    baseURL: server.url,
    protocol: oauth2({
      tokenEndpoint: `${server.url}/token`,
      revocationEndpoint: `${server.url}/revoke`,
      clientId: 'reports',
      clientSecret: 'oauth-client-secret',
    }),
    credentials: () => ({ grant: 'client_credentials' as const }),
  })
}

describe('OAuth2: a token or revocation request redirected to another origin is refused, nothing sent there', () => {
  test('login (client_credentials) answered 307: LoginError, the client secret never leaves', async () => {
    const other = await otherOrigin()
    const server = await authServer((path) =>
      path === '/token' ? { status: 307, location: `${other.url}/token?leak=1` } : undefined,
    )
    const api = oauthClient(server)
    const error = await api.login({ grant: 'client_credentials' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LoginError)
    expectRedirectRefused(error, other, ['oauth-client-secret'])
    expect(server.requests.filter((r) => r.path === '/token')).toHaveLength(1) // not retried
    expect(await api.getSession()).toBeUndefined()
  })

  test('refresh answered 308: RefreshError, the refresh token never leaves', async () => {
    const other = await otherOrigin()
    let redirecting = false
    const server = await authServer((path) =>
      redirecting && path === '/token' ? { status: 308, location: `${other.url}/token?leak=1` } : undefined,
    )
    const api = oauthClient(server)
    const session: Session = await api.login({ grant: 'client_credentials' })
    redirecting = true
    const error = await api.refresh().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RefreshError)
    expectRedirectRefused(error, other, ['oauth-client-secret', session.refresh_token as string])
    expect((await api.getSession())?.access_token).toBe(session.access_token)
  })

  test('logout (revocation) answered 307: LogoutError, the refresh token never leaves', async () => {
    const other = await otherOrigin()
    const server = await authServer((path) =>
      path === '/revoke' ? { status: 307, location: `${other.url}/revoke?leak=1` } : undefined,
    )
    const api = oauthClient(server)
    const session = await api.login({ grant: 'client_credentials' })
    const error = await api.logout().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LogoutError)
    expectRedirectRefused(error, other, ['oauth-client-secret', session.refresh_token as string])
  })

  test('same-origin 307/308 are followed: login, refresh and revocation go through', async () => {
    let hops = 0
    const server = await authServer((path) => {
      if (path !== '/token' && path !== '/revoke') return undefined
      hops++
      return { status: hops % 2 ? 307 : 308, location: `${path}/v2` }
    })
    const api = oauthClient(server)
    const first = await api.login({ grant: 'client_credentials' })
    const second = await api.refresh()
    expect(second.access_token).not.toBe(first.access_token)
    await api.logout()
    const followed = server.requests.filter((r) => r.path.endsWith('/v2'))
    expect(followed.map((r) => r.path)).toEqual(['/token/v2', '/token/v2', '/revoke/v2'])
    expect(followed[1]?.body).toContain(`refresh_token=${first.refresh_token}`) // the same form, re-sent
    expect(followed.every((r) => r.authorization?.startsWith('Basic '))).toBe(true)
  })
})

describe('in a browser (Chromium)', () => {
  test('a session call answered with a redirect is refused: the browser hides where it goes, nothing is sent', async () => {
    const other = await otherOrigin()
    const origin = await tabsOrigin()
    const tab = await origin.open()
    origin.mock.inject({
      on: 'login',
      status: 307,
      headers: { location: `${other.url}/auth/sessions?leak=1` },
    })
    const outcome = await tab.evaluate(
      ({ email, password }) =>
        window.tab.login(email, password).then(
          () => 'logged in',
          (error: Error) => `${error.name}: ${error.message}`,
        ),
      { email: DEMO_USER.email_address, password: DEMO_USER.password },
    )
    expect(outcome).toMatch(/^LoginError: .*redirect.*may be another origin/)
    expect(outcome).not.toContain('leak')
    expect(other.connections).toBe(0)
    expect(await tab.evaluate(() => window.tab.accessToken())).toBeNull()
  })
})
