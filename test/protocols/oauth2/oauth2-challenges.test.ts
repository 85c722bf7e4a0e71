// Claims challenges and step-up against a real oidc-provider and its resource server: the resource server refuses
// a token with `insufficient_claims` (the session makes one refresh that sends the claims to the token endpoint,
// then one replay) or with `insufficient_user_authentication` (the 401 goes back, with a `challenge` event).
import { describe, expect, test } from 'vitest'
import { createSessionFetch, type SessionEventMap } from '../../../src/index.js'
import { type OAuth2Credentials, oauth2 } from '../../../src/protocols/oauth2/index.js'
import { until } from '../../helpers/adapters.js'
import {
  type AuthServer,
  authorize,
  CLIENTS,
  RESOURCE,
  startAuthServer,
} from '../../helpers/oidc-provider.js'

const CLAIMS = '{"access_token":{"acrs":{"essential":true,"value":"c1"}}}'
const CHALLENGE = `Bearer realm="", error="insufficient_claims", claims="${Buffer.from(CLAIMS).toString('base64')}"`

async function webApp(server: AuthServer) {
  const api = createSessionFetch<OAuth2Credentials>({
    baseURL: server.apiURL,
    protocol: oauth2({ tokenEndpoint: server.tokenEndpoint, ...CLIENTS.app, resource: RESOURCE }),
  })
  const session = await api.login({
    grant: 'authorization_code',
    ...(await authorize(server, CLIENTS.app.clientId)),
  })
  const events: SessionEventMap['challenge'][] = []
  api.on('challenge', (event) => events.push(event))
  return { api, session, events }
}

/** The resource server refuses these tokens with `challenge` (every other token is verified as usual). */
function refuse(server: AuthServer, tokens: Set<string>, challenge: string) {
  server.apiOverride = (_req, token) =>
    token !== undefined && tokens.has(token)
      ? { status: 401, headers: { 'www-authenticate': challenge } }
      : undefined
}

const claimsSent = (server: AuthServer) => server.tokenBodies.filter((body) => body.claims !== undefined)

describe('claims challenges against oidc-provider', () => {
  test('a burst of 200 claims challenges: one refresh carrying the claims, then one replay each', async () => {
    const server = await startAuthServer()
    const { api, session, events } = await webApp(server)
    refuse(server, new Set([session.access_token]), CHALLENGE)
    const statuses = await Promise.all(
      Array.from({ length: 200 }, (_, i) => api.fetch(`/mail/${i}`).then((r) => r.status)),
    )
    expect(statuses).toEqual(Array(200).fill(200))
    const refreshes = server.tokenEvents.filter((event) => event.grantType === 'refresh_token')
    expect(refreshes).toEqual([expect.objectContaining({ outcome: 'ok' })])
    expect(claimsSent(server)).toEqual([
      expect.objectContaining({ grant_type: 'refresh_token', claims: CLAIMS }),
    ])
    const renewed = await api.getSession()
    expect(server.acceptedTokens).toEqual(Array(200).fill(renewed?.access_token))
    expect(api.stats().replays).toBe(200)
    expect(events).toEqual([])
    // The next refresh (an ordinary one) sends no claims.
    await api.refresh()
    expect(claimsSent(server)).toHaveLength(1)
  })

  test('an unattended login answers the challenge when there is no refresh token (client credentials)', async () => {
    const server = await startAuthServer()
    const api = createSessionFetch<OAuth2Credentials>({
      baseURL: server.apiURL,
      protocol: oauth2({
        tokenEndpoint: server.tokenEndpoint,
        ...CLIENTS.service,
        clientAuthMethod: 'client_secret_post',
        scope: 'api:read',
        resource: RESOURCE,
      }),
      credentials: () => ({ grant: 'client_credentials' }),
    })
    expect((await api.fetch('/warm')).status).toBe(200)
    refuse(server, new Set([(await api.getSession())?.access_token as string]), CHALLENGE)
    const statuses = await Promise.all(
      Array.from({ length: 50 }, (_, i) => api.fetch(`/svc/${i}`).then((r) => r.status)),
    )
    expect(statuses).toEqual(Array(50).fill(200))
    expect(claimsSent(server)).toEqual([
      expect.objectContaining({ grant_type: 'client_credentials', claims: CLAIMS }),
    ])
    expect(api.stats().logins).toBe(2)
  })

  test('a second challenge on the replay goes back to the caller, with the event', async () => {
    const server = await startAuthServer()
    const { api, session, events } = await webApp(server)
    const refused = new Set([session.access_token])
    refuse(server, refused, CHALLENGE)
    api.on('refresh', ({ session: next }) => refused.add(next.access_token)) // the new token is refused too
    const response = await api.fetch('/mail?folder=inbox')
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe(CHALLENGE)
    expect(claimsSent(server)).toHaveLength(1)
    await until(() => events.length > 0, 'the challenge event')
    expect(events).toEqual([{ error: 'insufficient_claims', claims: CLAIMS, url: `${server.apiURL}/mail` }])
    // A new request meets the same challenge with the token just obtained: no refresh for it either.
    expect((await api.fetch('/mail')).status).toBe(401)
    expect(claimsSent(server)).toHaveLength(1)
    await until(() => events.length === 2, 'the second challenge event')
  })

  test('step-up: no token request, the 401 as it is, and an event an app can sign the user in with', async () => {
    const server = await startAuthServer()
    const { api, session, events } = await webApp(server)
    const tokenCalls = server.counters.token
    refuse(
      server,
      new Set([session.access_token]),
      'Bearer error="insufficient_user_authentication", acr_values="urn:example:mfa", max_age="0"',
    )
    const statuses = await Promise.all(
      Array.from({ length: 20 }, () => api.fetch('/transfers').then((r) => r.status)),
    )
    expect(statuses).toEqual(Array(20).fill(401))
    expect(server.counters.token).toBe(tokenCalls)
    expect(events).toHaveLength(20)
    expect(events[0]).toEqual({
      error: 'insufficient_user_authentication',
      acrValues: 'urn:example:mfa',
      maxAge: 0,
      url: `${server.apiURL}/transfers`,
    })
    expect(JSON.stringify(events)).not.toContain(session.access_token)
  })
})
