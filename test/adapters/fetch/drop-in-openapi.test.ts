import { readFileSync } from 'node:fs'
import createClient from 'openapi-fetch'
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript'
import { describe, expect, test } from 'vitest'
import type { SessionFetch } from '../../../src/index.js'
import { createSessionFetch } from '../../../src/index.js'
import type { paths } from '../../fixtures/generated/plantly.js'
import type { Echo } from '../../helpers/adapters.js'
import { describeDropIn } from '../../helpers/drop-in.js'
import { DEMO_USER, mockServer } from '../../helpers/mock-server.js'

const SPEC = new URL('../../fixtures/plantly.openapi.yaml', import.meta.url)
const GENERATED = new URL('../../fixtures/generated/plantly.d.ts', import.meta.url)

/** plantly.fetch, noting what openapi-fetch hands it. */
function spied(plantly: SessionFetch, inputs: string[]): typeof fetch {
  return (input, init) => {
    inputs.push(
      input instanceof Request ? `Request ${input.method}${input.body ? ' with body' : ''}` : typeof input,
    )
    return plantly.fetch(input, init)
  }
}

// A client generated from test/fixtures/plantly.openapi.yaml: openapi-typescript types + openapi-fetch.
describeDropIn('openapi-fetch (openapi-typescript types)', (plantly, server) => {
  const client = createClient<paths>({ baseUrl: server.url, fetch: plantly.fetch })
  const plant = { name: 'fern', tags: ['green', 'ünïcode'] }
  return {
    call: (n) =>
      client
        .GET('/buyers/{buyer_id}', { params: { path: { buyer_id: String(n) } } })
        .then(({ response }) => response.status),
    async postJson() {
      const { data } = await client.POST('/plants', { body: plant })
      return { echo: data as Echo, path: '/plants', json: JSON.stringify(plant) }
    },
    elsewhere: (origin) =>
      client
        .GET('/buyers/{buyer_id}', { baseUrl: origin, params: { path: { buyer_id: '1' } } })
        .then(({ response }) => response.status),
  }
})

describe('the generated openapi-fetch client', () => {
  test('its types are what openapi-typescript generates from the fixture today', async () => {
    const fresh = COMMENT_HEADER + astToString(await openapiTS(SPEC))
    expect(readFileSync(GENERATED, 'utf8')).toBe(fresh) // else: npm run generate:fixtures
  })

  test('hands plantly.fetch Request objects, bodies included, and gets typed data back', async () => {
    const server = await mockServer()
    const plantly = createSessionFetch({ baseURL: server.url })
    await plantly.login(DEMO_USER)
    const inputs: string[] = []
    const client = createClient<paths>({ baseUrl: server.url, fetch: spied(plantly, inputs) })
    server.mock.expireAccessTokens()

    const { data, error } = await client.POST('/plants', { body: { name: 'fern' } })
    expect(error).toBeUndefined()
    expect(data?.bodyLength).toBe(JSON.stringify({ name: 'fern' }).length)
    expect(inputs).toEqual(['Request POST with body'])
    expect(server.counters.refreshes).toBe(1)
  })

  test('the three /auth/sessions operations pass through plantly.fetch untouched: no token, no replay', async () => {
    const server = await mockServer()
    const plantly = createSessionFetch({ baseURL: server.url })
    await plantly.login(DEMO_USER) // plantly has a token it could (wrongly) put on these calls
    const mine = await plantly.getSession()
    const client = createClient<paths>({ baseUrl: server.url, fetch: plantly.fetch })

    const login = await client.POST('/auth/sessions', { body: DEMO_USER })
    expect(login.response.status).toBe(200)
    const session = login.data
    expect(session?.type).toBe('auth.session')
    expect(session?.access_token).not.toBe(mine?.access_token) // the caller's own session, not plantly's

    const refreshed = await client.PUT('/auth/sessions', {
      headers: { Authorization: `Bearer ${session?.refresh_token}` },
    })
    expect(refreshed.response.status).toBe(200)
    const noToken = await client.PUT('/auth/sessions')
    expect(noToken.response.status).toBe(400) // "missing refresh token": plantly's token was not added
    expect(noToken.error?.code).toBe('bad_request')

    const logout = await client.DELETE('/auth/sessions', {
      headers: { Authorization: `Bearer ${refreshed.data?.access_token}` },
    })
    expect(logout.response.status).toBe(204)
    const again = await client.DELETE('/auth/sessions')
    expect(again.response.status).toBe(401) // not plantly's token (that would have logged it out), no replay
    expect(server.counters).toMatchObject({ logins: 2, refreshes: 1, refreshRejected: 1, logouts: 1 })
    expect(plantly.stats()).toMatchObject({ refreshes: 0, replays: 0 })
    expect(await plantly.getSession()).toEqual(mine)
    expect((await plantly.fetch('/still-mine')).status).toBe(200)
  })
})
