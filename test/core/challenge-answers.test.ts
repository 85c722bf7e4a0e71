// What the session does with a 401 whose WWW-Authenticate names an `insufficient_…` error, over HTTP against the
// mock API: a claims challenge gets one refresh and one replay; a step-up or scope challenge goes back to the
// caller with a `challenge` event.
import axios, { type AxiosError } from 'axios'
import { Agent, getGlobalDispatcher, setGlobalDispatcher, fetch as undiciFetch } from 'undici'
import { afterEach, describe, expect, test } from 'vitest'
import { attachSession } from '../../src/adapters/axios/index.js'
import { sessionInterceptor } from '../../src/adapters/undici/index.js'
import type { SessionEventMap } from '../../src/index.js'
import type { MockServer } from '../../src/testing/mock/index.js'
import { attempts, loggedIn, until } from '../helpers/adapters.js'
import { mockServer } from '../helpers/mock-server.js'

type ChallengeEvent = SessionEventMap['challenge']

const CLAIMS = '{"access_token":{"nbf":{"essential":true,"value":"1733616000"}}}'
const base64 = (text: string) => Buffer.from(text).toString('base64')
const claimsChallenge = (encoded = base64(CLAIMS)) =>
  `Bearer realm="api", error="insufficient_claims", claims="${encoded}"`

function heard(plantly: { on: (event: 'challenge', listener: (event: ChallengeEvent) => void) => unknown }) {
  const events: ChallengeEvent[] = []
  plantly.on('challenge', (event) => events.push(event))
  return events
}

/** The API answers every request carrying `token` with a 401 and this challenge (a token-specific refusal). */
function challengeToken(server: MockServer, token: string, challenge: string) {
  const handle = server.mock.handle.bind(server.mock)
  let served = 0
  server.mock.handle = async (request) => {
    if (request.headers.get('authorization') !== `Bearer ${token}`) return handle(request)
    served++
    return { kind: 'response', status: 401, headers: { 'www-authenticate': challenge }, body: undefined }
  }
  return () => served
}

const previous = getGlobalDispatcher()
afterEach(() => setGlobalDispatcher(previous))

describe('claims challenges', () => {
  test('a burst of claims challenges makes one refresh, and every request is replayed once', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const events = heard(plantly)
    const before = (await plantly.getSession())?.access_token as string
    const challenged = challengeToken(server, before, claimsChallenge())
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => plantly.fetch(`/claims/${i}`)))
    expect(responses.map((response) => response.status)).toEqual(Array(50).fill(200))
    expect(server.counters.refreshes).toBe(1)
    expect(plantly.stats().replays).toBe(50)
    const after = (await plantly.getSession())?.access_token
    expect(after).not.toBe(before)
    expect(challenged()).toBe(50)
    for (let i = 0; i < 50; i++) {
      expect(attempts(server, `/claims/${i}`).map((entry) => entry.token)).toEqual([after])
    }
    expect(events).toEqual([])
  })

  test('the same challenge to the replay goes back to the caller, with a challenge event', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const events = heard(plantly)
    server.inject({ on: 'api', status: 401, headers: { 'www-authenticate': claimsChallenge() }, times: 2 })
    const response = await plantly.fetch('/report?key=query-secret')
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toBe(claimsChallenge())
    expect(server.counters.refreshes).toBe(1)
    expect(server.counters.faultsServed).toBe(2)
    expect(plantly.stats().replays).toBe(1)
    // The replay's answer is the caller's at once; the event follows it (the challenge is read meanwhile).
    await until(() => events.length > 0, 'the challenge event')
    expect(events).toEqual([{ error: 'insufficient_claims', claims: CLAIMS, url: `${server.url}/report` }])
  })

  test('claims that are not base64 of a JSON object: no refresh, the 401 and an event', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const events = heard(plantly)
    for (const encoded of ['%%%', base64('[1,2]'), base64('not json')]) {
      server.inject({ on: 'api', status: 401, headers: { 'www-authenticate': claimsChallenge(encoded) } })
      expect((await plantly.fetch('/odd')).status).toBe(401)
    }
    expect(server.counters.refreshes).toBe(0)
    expect(events.map((event) => event.error)).toEqual(Array(3).fill('insufficient_claims'))
    expect(events.every((event) => event.claims === undefined)).toBe(true)
  })

  test('base64url claims are read too', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const claims = '{"id_token":{"acr":{"values":["urn:mace:incommon:iap:silver"]}},"x":"?>?"}'
    const encoded = Buffer.from(claims).toString('base64url')
    expect(encoded).toMatch(/[-_]/)
    server.inject({ on: 'api', status: 401, headers: { 'www-authenticate': claimsChallenge(encoded) } })
    expect((await plantly.fetch('/url-safe')).status).toBe(200)
    expect(server.counters.refreshes).toBe(1)
  })
})

describe('challenges a refresh cannot answer', () => {
  test('step-up (RFC 9470): the 401 as it is, no refresh, and an event with acr_values and max_age', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const events = heard(plantly)
    const token = (await plantly.getSession())?.access_token as string
    const challenge =
      'Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="myACR phr", max_age="300"'
    server.inject({
      on: 'api',
      status: 401,
      headers: { 'www-authenticate': challenge },
      body: { reason: 'step-up' },
      times: 5,
    })
    const responses = await Promise.all(
      Array.from({ length: 5 }, () => plantly.fetch('/payments#top', { method: 'POST', body: 'x' })),
    )
    expect(responses.map((response) => response.status)).toEqual(Array(5).fill(401))
    expect(await responses[0]?.json()).toEqual({ reason: 'step-up' })
    expect(responses[0]?.headers.get('www-authenticate')).toBe(challenge)
    expect(server.counters.refreshes).toBe(0)
    expect(plantly.stats().replays).toBe(0)
    expect(server.counters.faultsServed).toBe(5)
    expect(events).toHaveLength(5)
    expect(events[0]).toEqual({
      error: 'insufficient_user_authentication',
      acrValues: 'myACR phr',
      maxAge: 300,
      url: `${server.url}/payments`,
    })
    expect(JSON.stringify(events)).not.toContain(token)
  })

  test('insufficient_scope: the 401 as it is, no refresh, and an event with the scope', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const events = heard(plantly)
    server.inject({
      on: 'api',
      status: 401,
      headers: {
        'www-authenticate': 'Bearer error="insufficient_scope", scope="reports:read reports:write"',
      },
    })
    expect((await plantly.fetch('/reports?token=abc')).status).toBe(401)
    expect(server.counters.refreshes).toBe(0)
    expect(events).toEqual([
      { error: 'insufficient_scope', scope: 'reports:read reports:write', url: `${server.url}/reports` },
    ])
  })

  test('a max_age that is not a number of seconds is left out', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const events = heard(plantly)
    server.inject({
      on: 'api',
      status: 401,
      headers: { 'www-authenticate': 'Bearer error="insufficient_user_authentication", max_age="-5"' },
    })
    expect((await plantly.fetch('/x')).status).toBe(401)
    expect(events).toEqual([{ error: 'insufficient_user_authentication', url: `${server.url}/x` }])
  })

  test('"insufficient_" outside the error parameter is an ordinary 401: one refresh, one replay, no event', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const events = heard(plantly)
    server.inject({
      on: 'api',
      status: 401,
      headers: { 'www-authenticate': 'Bearer realm="insufficient_scope", error="invalid_token"' },
    })
    expect((await plantly.fetch('/y')).status).toBe(200)
    expect(server.counters.refreshes).toBe(1)
    expect(events).toEqual([])
  })

  test('axios and undici hand the same answers and events', async () => {
    const server = await mockServer()
    const plantly = await loggedIn(server)
    const events = heard(plantly)
    const stepUp = {
      'www-authenticate': 'Bearer error="insufficient_user_authentication", acr_values="gold"',
    }
    const api = axios.create({ baseURL: server.url })
    attachSession(api, plantly)
    server.inject({ on: 'api', status: 401, headers: stepUp })
    const refused = await api.get('/axios?q=1').catch((error: unknown) => error as AxiosError)
    expect((refused as AxiosError).response?.status).toBe(401)
    server.inject({ on: 'api', status: 401, headers: { 'www-authenticate': claimsChallenge() } })
    expect((await api.get('/axios-claims')).status).toBe(200)

    const agent = new Agent()
    setGlobalDispatcher(agent.compose(sessionInterceptor(plantly)))
    server.inject({ on: 'api', status: 401, headers: stepUp })
    const undiciRefused = await undiciFetch(`${server.url}/undici?q=1`)
    expect(undiciRefused.status).toBe(401)
    await undiciRefused.body?.cancel()
    server.inject({ on: 'api', status: 401, headers: { 'www-authenticate': claimsChallenge() } })
    const claimed = await undiciFetch(`${server.url}/undici-claims`)
    expect(claimed.status).toBe(200)
    await claimed.body?.cancel()
    await agent.close()

    expect(server.counters.refreshes).toBe(2)
    expect(events).toEqual([
      { error: 'insufficient_user_authentication', acrValues: 'gold', url: `${server.url}/axios` },
      { error: 'insufficient_user_authentication', acrValues: 'gold', url: `${server.url}/undici` },
    ])
  })
})
