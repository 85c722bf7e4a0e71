// The oauth2() protocol against a real authorization server (oidc-provider on 127.0.0.1): JWT access tokens
// for a resource server that verifies them against the provider's JWKS, short TTLs, rotating refresh tokens.
import { describe, expect, test } from 'vitest'
import { createSessionFetch, LoginError } from '../../../src/index.js'
import { type OAuth2Credentials, type OAuth2Options, oauth2 } from '../../../src/protocols/oauth2/index.js'
import { until } from '../../helpers/adapters.js'
import { manualClock } from '../../helpers/clock.js'
import {
  type AuthServer,
  authorize,
  CLIENTS,
  RESOURCE,
  startAuthServer,
  untilExpired,
} from '../../helpers/oidc-provider.js'

function webApp(server: AuthServer, extra: Partial<OAuth2Options> = {}) {
  return oauth2({ tokenEndpoint: server.tokenEndpoint, ...CLIENTS.app, resource: RESOURCE, ...extra })
}

function service(server: AuthServer, extra: Partial<OAuth2Options> = {}) {
  return oauth2({
    tokenEndpoint: server.tokenEndpoint,
    ...CLIENTS.service,
    clientAuthMethod: 'client_secret_post',
    scope: 'api:read',
    resource: RESOURCE,
    ...extra,
  })
}

/** Log in through the authorization-code flow (PKCE) and return a session-fetch holding the session. */
async function signedIn(server: AuthServer, clock = manualClock()) {
  const api = createSessionFetch({ baseURL: server.apiURL, protocol: webApp(server), now: clock.now })
  const session = await api.login({
    grant: 'authorization_code',
    ...(await authorize(server, CLIENTS.app.clientId)),
  })
  return { api, session, clock }
}

function refreshEvents(server: AuthServer) {
  return server.tokenEvents.filter((event) => event.grantType === 'refresh_token')
}

/** Present a refresh token to the token endpoint directly, as the web app. */
async function presentRefreshToken(server: AuthServer, refreshToken: string) {
  const response = await fetch(server.tokenEndpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${btoa(`${encodeURIComponent(CLIENTS.app.clientId)}:${encodeURIComponent(CLIENTS.app.clientSecret)}`)}`,
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  })
  return { status: response.status, body: (await response.json()) as { error?: string } }
}

describe('oauth2() against oidc-provider', () => {
  test('the authorization-code hand-over gives a session whose JWT the API accepts', async () => {
    const server = await startAuthServer()
    const { api, session } = await signedIn(server)
    expect(session).toMatchObject({ type: 'oauth2', token_type: 'Bearer', expires_in: 60, scope: 'api:read' })
    expect(session.refresh_token).toEqual(expect.any(String))
    const response = await api.fetch('/me')
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ sub: 'user-1', client_id: CLIENTS.app.clientId })
    expect(server.acceptedTokens).toEqual([session.access_token])
  })

  test('a storm of 401s after the access token expired makes exactly one token-endpoint call', async () => {
    const server = await startAuthServer({ accessTokenTtl: 1 })
    // The client's clock stands still, so it does not see the expiry coming: every request meets a 401.
    const { api, session } = await signedIn(server)
    server.accessTokenTtl = 60
    await untilExpired(session.access_token)
    const tokenCallsBefore = server.counters.token

    const responses = await Promise.all(Array.from({ length: 40 }, (_, i) => api.fetch(`/items/${i}`)))

    expect(responses.map((r) => r.status)).toEqual(Array(40).fill(200))
    expect(server.counters.api401).toBe(40)
    expect(server.counters.token - tokenCallsBefore).toBe(1)
    expect(refreshEvents(server)).toEqual([
      { grantType: 'refresh_token', refreshToken: session.refresh_token, outcome: 'ok' },
    ])
    expect(api.stats()).toMatchObject({ refreshes: 1, replays: 40 })
  })

  test('refreshes ahead of expiry: requests in the refresh window go at once, one refresh runs behind them', async () => {
    const server = await startAuthServer({ accessTokenTtl: 60 })
    const { api, session, clock } = await signedIn(server)
    expect((await api.fetch('/before')).status).toBe(200)
    expect(refreshEvents(server)).toHaveLength(0)

    clock.advance(31_000) // 60 s token, 30 s window: due now, far from the 5 s must-refresh margin
    const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => api.fetch(`/due/${i}`)))

    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200))
    expect(server.counters.api401).toBe(0)
    expect(new Set(server.acceptedTokens.slice(1))).toEqual(new Set([session.access_token])) // not held back
    await until(() => api.stats().pendingRefreshes === 0, 'the refresh-ahead')
    expect(refreshEvents(server)).toHaveLength(1)
    const renewed = await api.getSession()
    expect(renewed?.access_token).not.toBe(session.access_token)
    expect((await api.fetch('/after')).status).toBe(200)
    expect(server.acceptedTokens.at(-1)).toBe(renewed?.access_token)
  })

  test('rotation: each refresh presents the newest refresh token once, and the provider rejects the old one', async () => {
    const server = await startAuthServer()
    const { api, session } = await signedIn(server)
    const second = await api.refresh()
    const third = await api.refresh()
    const rotated = [session.refresh_token, second.refresh_token, third.refresh_token]
    expect(new Set(rotated).size).toBe(3)

    // The client presented RT1, then RT2 — each exactly once, never an older one.
    expect(refreshEvents(server)).toEqual([
      { grantType: 'refresh_token', refreshToken: session.refresh_token, outcome: 'ok' },
      { grantType: 'refresh_token', refreshToken: second.refresh_token, outcome: 'ok' },
    ])
    expect(await presentRefreshToken(server, session.refresh_token as string)).toEqual({
      status: 400,
      body: expect.objectContaining({ error: 'invalid_grant' }),
    })
    expect((await api.fetch('/still-works')).status).toBe(200)
  })

  test('invalid_grant: the session expires once and every waiting caller gets its own 401', async () => {
    const server = await startAuthServer({ accessTokenTtl: 1 })
    const { api, session } = await signedIn(server)
    server.accessTokenTtl = 60
    // The grant is revoked behind the client's back (an admin, or the user in another app).
    const revoked = await fetch(server.revocationEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        token: session.refresh_token as string,
        client_id: CLIENTS.app.clientId,
        client_secret: CLIENTS.app.clientSecret,
      }),
    })
    expect(revoked.status).toBe(200)
    const expired: unknown[] = []
    api.on('expired', (event) => expired.push(event))
    await untilExpired(session.access_token)

    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => api.fetch(`/items/${i}`)))

    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(401))
    expect(expired).toEqual([expect.objectContaining({ source: 'local', reason: 'refresh_rejected' })])
    expect(refreshEvents(server)).toEqual([
      { grantType: 'refresh_token', refreshToken: session.refresh_token, outcome: 'invalid_grant' },
    ])
    expect(await api.getSession()).toBeUndefined()
    expect(api.stats()).toMatchObject({ refreshes: 1, replays: 0 })
  })

  test('client credentials: no explicit login, one login for a burst, and a new login when the token is due', async () => {
    const server = await startAuthServer({ accessTokenTtl: 60 })
    const clock = manualClock()
    const logins: unknown[] = []
    const api = createSessionFetch<OAuth2Credentials>({
      baseURL: server.apiURL,
      protocol: service(server),
      credentials: () => ({ grant: 'client_credentials' }),
      now: clock.now,
    })
    api.on('login', ({ source }) => logins.push(source))

    const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => api.fetch(`/reports/${i}`)))
    expect(burst.map((r) => r.status)).toEqual(Array(20).fill(200))
    expect(await burst[0]?.json()).toMatchObject({ client_id: CLIENTS.service.clientId })
    expect(server.tokenEvents).toEqual([
      { grantType: 'client_credentials', refreshToken: undefined, outcome: 'ok' },
    ])
    const first = await api.getSession()
    expect(first?.refresh_token).toBeUndefined()

    clock.advance(31_000)
    expect((await api.fetch('/reports/later')).status).toBe(200) // sent at once; the login runs behind it
    await until(() => api.stats().pendingRefreshes === 0, 'the login ahead of expiry')
    expect(server.tokenEvents.map((e) => e.grantType)).toEqual(['client_credentials', 'client_credentials'])
    expect((await api.getSession())?.access_token).not.toBe(first?.access_token)
    expect(logins).toEqual(['local', 'local'])
    expect(server.counters.api401).toBe(0)
  })

  test('client credentials: a token that expired unseen is replaced by one login after the 401s', async () => {
    const server = await startAuthServer({ accessTokenTtl: 2 })
    const api = createSessionFetch<OAuth2Credentials>({
      baseURL: server.apiURL,
      protocol: service(server),
      credentials: () => ({ grant: 'client_credentials' }),
      now: manualClock().now,
    })
    expect((await api.fetch('/first')).status).toBe(200)
    server.accessTokenTtl = 60
    await untilExpired((await api.getSession())?.access_token as string)

    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => api.fetch(`/reports/${i}`)))

    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200))
    expect(server.counters.api401).toBe(20)
    expect(server.tokenEvents.map((e) => e.grantType)).toEqual(['client_credentials', 'client_credentials'])
    expect(api.stats()).toMatchObject({ logins: 2, refreshes: 0, replays: 20 })
  })

  test('client credentials logged in explicitly, with no `credentials` to log in again: used until its 401, then expired', async () => {
    const server = await startAuthServer({ accessTokenTtl: 3 })
    const clock = manualClock()
    const api = createSessionFetch({ baseURL: server.apiURL, protocol: service(server), now: clock.now })
    const expired: unknown[] = []
    api.on('expired', (event) => expired.push(event))
    const session = await api.login({ grant: 'client_credentials' })

    clock.advance(2_000) // past the refresh point (half of 3 s), but the token still works: keep sending it
    expect((await api.fetch('/due')).status).toBe(200)
    await untilExpired(session.access_token)
    const responses = await Promise.all([api.fetch('/a'), api.fetch('/b')])

    expect(responses.map((r) => r.status)).toEqual([401, 401])
    expect(server.counters.api).toBe(3) // no pointless replay with the same dead token
    expect(expired).toEqual([expect.objectContaining({ source: 'local', reason: 'refresh_rejected' })])
    expect(await api.getSession()).toBeUndefined()
    expect(server.tokenEvents).toHaveLength(1)
  })

  test('a wrong client secret is a LoginError with status 401 that never shows the secret', async () => {
    const server = await startAuthServer()
    const wrong = 'not-the-reporting-secret'
    const api = createSessionFetch({
      baseURL: server.apiURL,
      protocol: service(server, { clientSecret: wrong }),
    })
    const error = await api.login({ grant: 'client_credentials' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LoginError)
    expect(error).toMatchObject({ status: 401, cause: { serverCode: 'invalid_client' } })
    const shown = JSON.stringify(error) + String(error) + String((error as Error).cause)
    expect(shown).toContain('invalid_client')
    expect(shown).not.toContain(wrong)
    expect(server.tokenEvents).toEqual([
      { grantType: 'client_credentials', refreshToken: undefined, outcome: 'invalid_client' },
    ])
  })

  test('a public client (PKCE, no secret) logs in and refreshes with rotation', async () => {
    const server = await startAuthServer()
    const api = createSessionFetch({
      baseURL: server.apiURL,
      protocol: oauth2({
        tokenEndpoint: server.tokenEndpoint,
        clientId: CLIENTS.public.clientId,
        resource: RESOURCE,
      }),
    })
    const session = await api.login({
      grant: 'authorization_code',
      ...(await authorize(server, CLIENTS.public.clientId)),
    })
    const renewed = await api.refresh()
    expect(renewed.refresh_token).not.toBe(session.refresh_token)
    expect(await (await api.fetch('/me')).json()).toMatchObject({ client_id: CLIENTS.public.clientId })
  })

  test('a refresh token obtained elsewhere can be adopted with login({ grant: "refresh_token" })', async () => {
    const server = await startAuthServer()
    const { session } = await signedIn(server)
    const adopter = createSessionFetch({ baseURL: server.apiURL, protocol: webApp(server) })
    const adopted = await adopter.login({
      grant: 'refresh_token',
      refreshToken: session.refresh_token as string,
    })
    expect(adopted.refresh_token).not.toBe(session.refresh_token) // rotated on first use
    expect((await adopter.fetch('/me')).status).toBe(200)
  })

  test('logout revokes the refresh token at the revocation endpoint (RFC 7009)', async () => {
    const server = await startAuthServer()
    const clock = manualClock()
    const api = createSessionFetch({
      baseURL: server.apiURL,
      protocol: webApp(server, { revocationEndpoint: `${server.issuer}/token/revocation` }),
      now: clock.now,
    })
    const session = await api.login({
      grant: 'authorization_code',
      ...(await authorize(server, CLIENTS.app.clientId)),
    })
    await api.logout()
    expect(await api.getSession()).toBeUndefined()
    expect(await presentRefreshToken(server, session.refresh_token as string)).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    })
  })
})
