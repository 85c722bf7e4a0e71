// Token exchange (RFC 8693) against a real oidc-provider with the grant registered on it: a child client whose
// session is exchanged for the parent client's current access token, renewed by one new exchange per expiry.
import { describe, expect, test } from 'vitest'
import {
  createSessionFetch,
  LoginError,
  OptionError,
  RefreshError,
  type SessionFetch,
} from '../../../src/index.js'
import { type OAuth2Credentials, oauth2 } from '../../../src/protocols/oauth2/index.js'
import { manualClock } from '../../helpers/clock.js'
import {
  ACCESS_TOKEN_TYPE,
  type AuthServer,
  authorize,
  CLIENTS,
  RESOURCE,
  startAuthServer,
  untilExpired,
} from '../../helpers/oidc-provider.js'
import { testStore, uniqueKey } from '../../helpers/redis.js'

/** The parent: the web app, signed in through the authorization-code flow, refreshed with its refresh token. */
async function parentClient(server: AuthServer, clock = manualClock()) {
  const parent = createSessionFetch({
    baseURL: server.apiURL,
    protocol: oauth2({ tokenEndpoint: server.tokenEndpoint, ...CLIENTS.app, resource: RESOURCE }),
    now: clock.now,
  })
  await parent.login({ grant: 'authorization_code', ...(await authorize(server, CLIENTS.app.clientId)) })
  return { parent, clock }
}

function exchangeOf(parent: SessionFetch<OAuth2Credentials>): OAuth2Credentials {
  return {
    grant: 'token_exchange',
    subjectToken: (options) => parent.accessToken(options),
    audience: 'billing',
    resource: RESOURCE,
  }
}

/** The child: the exchanger client, whose every session is exchanged for the parent's current token. */
function childClient(
  server: AuthServer,
  parent: SessionFetch<OAuth2Credentials>,
  extra: { now?: () => number; store?: ReturnType<typeof testStore> } = {},
) {
  return createSessionFetch<OAuth2Credentials>({
    baseURL: server.apiURL,
    protocol: oauth2({ tokenEndpoint: server.tokenEndpoint, ...CLIENTS.exchanger }),
    credentials: () => exchangeOf(parent),
    ...extra,
  })
}

const refreshes = (server: AuthServer) =>
  server.tokenEvents.filter((event) => event.grantType === 'refresh_token').length

describe('token exchange (RFC 8693) against oidc-provider', () => {
  test('login() sends every parameter the grant names, and the API accepts the exchanged token', async () => {
    const server = await startAuthServer({ tokenExchange: true })
    const { parent } = await parentClient(server)
    const subject = (await parent.getSession())?.access_token as string
    const child = createSessionFetch<OAuth2Credentials>({
      baseURL: server.apiURL,
      protocol: oauth2({
        tokenEndpoint: server.tokenEndpoint,
        ...CLIENTS.exchanger,
        resource: 'https://other.test',
      }),
    })
    const session = await child.login({
      grant: 'token_exchange',
      subjectToken: subject,
      audience: ['billing', 'ledger'],
      resource: RESOURCE, // replaces the option's
      scope: ['api:read'],
      requestedTokenType: ACCESS_TOKEN_TYPE,
      actorToken: 'actor.jwt.value',
      actorTokenType: 'urn:ietf:params:oauth:token-type:jwt',
    })
    expect(server.exchanges).toEqual([
      {
        subjectToken: subject,
        subjectTokenType: ACCESS_TOKEN_TYPE, // the default
        actorToken: 'actor.jwt.value',
        actorTokenType: 'urn:ietf:params:oauth:token-type:jwt',
        requestedTokenType: ACCESS_TOKEN_TYPE,
        audience: ['billing', 'ledger'],
        resource: [RESOURCE],
        scope: 'api:read',
        outcome: 'ok',
        issued: session.access_token,
      },
    ])
    expect(session.refresh_token).toBeUndefined()
    expect(session.access_token).not.toBe(subject)
    const response = await child.fetch('/invoices')
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ client_id: CLIENTS.exchanger.clientId })
  })

  test('a 1,000-call storm across the child’s expiry: 1 parent refresh and 1 exchange, with the parent’s current token', async () => {
    const server = await startAuthServer({ tokenExchange: true, accessTokenTtl: 60 })
    const { parent, clock: parentClock } = await parentClient(server)
    const childClock = manualClock()
    const child = childClient(server, parent, { now: childClock.now })
    expect((await child.fetch('/warm')).status).toBe(200) // the first exchange, an unattended login
    expect(server.exchanges).toHaveLength(1)
    const before = (await parent.getSession())?.access_token
    expect(server.exchanges[0]?.subjectToken).toBe(before)

    childClock.advance(61_000) // the child's token has expired by its clock
    parentClock.advance(57_000) // the parent's is inside its must-refresh margin: it is refreshed first
    const storm = await Promise.all([
      ...Array.from({ length: 1_000 }, (_, i) => child.fetch(`/child/${i}`).then((r) => r.status)),
      ...Array.from({ length: 200 }, (_, i) => parent.fetch(`/parent/${i}`).then((r) => r.status)),
    ])
    expect(storm).toEqual(Array(1_200).fill(200))
    expect(refreshes(server)).toBe(1)
    expect(server.exchanges).toHaveLength(2)
    const current = (await parent.getSession())?.access_token
    expect(current).not.toBe(before)
    expect(server.exchanges[1]).toMatchObject({ subjectToken: current, outcome: 'ok' })
    const exchanged = server.exchanges[1]?.issued
    expect((await child.getSession())?.access_token).toBe(exchanged)
    expect(server.acceptedTokens.filter((token) => token === exchanged)).toHaveLength(1_000)
    expect(server.counters.api401).toBe(0)
    expect(child.stats()).toMatchObject({ logins: 2, refreshes: 0 })
  })

  test('a burst of 401s for an exchanged token the server let expire: 1 exchange, every request replayed', async () => {
    const server = await startAuthServer({ tokenExchange: true })
    const { parent } = await parentClient(server)
    server.exchangeTtl = 2
    const frozen = Date.now()
    const child = childClient(server, parent, { now: () => frozen }) // never sees its token age
    expect((await child.fetch('/warm')).status).toBe(200)
    const first = server.exchanges[0]?.issued as string
    await untilExpired(first)
    server.exchangeTtl = 60
    const statuses = await Promise.all(
      Array.from({ length: 300 }, (_, i) => child.fetch(`/late/${i}`).then((r) => r.status)),
    )
    expect(statuses).toEqual(Array(300).fill(200))
    expect(server.exchanges).toHaveLength(2)
    expect(server.exchanges[1]?.subjectToken).toBe((await parent.getSession())?.access_token)
    expect(refreshes(server)).toBe(0)
    expect(server.counters.api401).toBeGreaterThan(0)
    expect(child.stats().replays).toBe(server.counters.api401)
  })

  test('two clients sharing one Redis key make one exchange per expiry between them', async () => {
    const server = await startAuthServer({ tokenExchange: true, accessTokenTtl: 60 })
    const { parent } = await parentClient(server)
    const key = uniqueKey('token-exchange')
    const clockA = manualClock()
    const clockB = manualClock()
    const a = childClient(server, parent, { now: clockA.now, store: testStore({ key }) })
    const b = childClient(server, parent, { now: clockB.now, store: testStore({ key }) })
    const burst = (tag: string) =>
      Promise.all(
        [a, b].flatMap((client, c) =>
          Array.from({ length: 100 }, (_, i) => client.fetch(`/${tag}/${c}/${i}`).then((r) => r.status)),
        ),
      )
    expect(await burst('first')).toEqual(Array(200).fill(200)) // neither has a session: one exchange logs both in
    expect(server.exchanges).toHaveLength(1)
    clockA.advance(61_000)
    clockB.advance(61_000)
    expect(await burst('expired')).toEqual(Array(200).fill(200))
    expect(server.exchanges).toHaveLength(2)
    expect(server.exchanges.map((event) => event.outcome)).toEqual(['ok', 'ok'])
    expect(server.exchanges[1]?.subjectToken).toBe((await parent.getSession())?.access_token)
    expect((await a.getSession())?.access_token).toBe(server.exchanges[1]?.issued)
    expect((await b.getSession())?.access_token).toBe(server.exchanges[1]?.issued)
  })

  test('a refused exchange is a LoginError that never shows the subject or actor token', async () => {
    const server = await startAuthServer({ tokenExchange: true })
    const child = createSessionFetch<OAuth2Credentials>({
      baseURL: server.apiURL,
      protocol: oauth2({ tokenEndpoint: server.tokenEndpoint, ...CLIENTS.exchanger }),
    })
    const subjectToken = 'not-an-access-token-of-this-provider'
    const error = await child
      .login({
        grant: 'token_exchange',
        subjectToken,
        actorToken: 'actor-secret-token',
        actorTokenType: ACCESS_TOKEN_TYPE,
      })
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(LoginError)
    expect((error as LoginError).status).toBe(400)
    expect(server.exchanges.map((event) => event.outcome)).toEqual(['subject_token'])
    const shown = JSON.stringify(error, Object.getOwnPropertyNames(error)) + String((error as Error).cause)
    expect(shown).not.toContain(subjectToken)
    expect(shown).not.toContain('actor-secret-token')
  })

  test('a parent that cannot give a token fails the child’s renewal, and the next call tries again', async () => {
    const server = await startAuthServer({ tokenExchange: true })
    const { parent } = await parentClient(server)
    await parent.logout()
    const child = childClient(server, parent)
    const error = await child.fetch('/x').catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(RefreshError)
    expect((error as RefreshError).cause).toMatchObject({ name: 'SessionExpiredError', code: 'no_session' })
    expect(server.exchanges).toHaveLength(0)
  })

  test.each([
    [{ subjectToken: undefined }, 'credentials.subjectToken'],
    [{ subjectToken: 'has space' }, 'credentials.subjectToken'],
    [{ subjectToken: () => '' }, 'credentials.subjectToken'],
    [{ subjectTokenType: 'access_token' }, 'credentials.subjectTokenType'],
    [{ requestedTokenType: 42 }, 'credentials.requestedTokenType'],
    [{ audience: [] }, 'credentials.audience'],
    [{ audience: ['billing', ''] }, 'credentials.audience'],
    [{ resource: 'not a uri' }, 'credentials.resource'],
    [{ resource: ['https://api.test/#frag'] }, 'credentials.resource'],
    [{ scope: 'a "b' }, 'credentials.scope'],
    [{ actorToken: 'actor-token' }, 'credentials.actorTokenType'],
    [{ actorTokenType: ACCESS_TOKEN_TYPE }, 'credentials.actorToken'],
    [{ audiance: 'billing' }, 'credentials.audiance'],
  ])('%o is an OptionError naming %s, and nothing is sent', async (fields, option) => {
    const server = await startAuthServer({ tokenExchange: true })
    const child = createSessionFetch<OAuth2Credentials>({
      baseURL: server.apiURL,
      protocol: oauth2({ tokenEndpoint: server.tokenEndpoint, ...CLIENTS.exchanger }),
    })
    const credentials = { grant: 'token_exchange', subjectToken: 'subject-token', ...fields }
    const error = await child.login(credentials as OAuth2Credentials).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(OptionError)
    expect((error as OptionError).option).toBe(option)
    expect((error as Error).message).not.toContain('subject-token')
    expect((error as Error).message).not.toContain('actor-token')
    expect(server.counters.token).toBe(0)
  })
})
