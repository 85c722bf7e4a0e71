import { HttpResponse, http } from 'msw'
import { describe, expect, test } from 'vitest'
import { BASE, OTHER, plantlyApi, server } from '../helpers/msw.js'

function recordAuthorization(origin: string) {
  const seen: (string | null)[] = []
  server.use(
    http.all(`${origin}/*`, ({ request }) => {
      seen.push(request.headers.get('authorization'))
      return HttpResponse.json({ ok: true })
    }),
  )
  return seen
}

describe('injection and scoping', () => {
  test('relative inputs join baseURL and carry the access token', async () => {
    const { plantly, mock } = await plantlyApi()
    const response = await plantly.fetch('/buyers?limit=2')
    expect(response.status).toBe(200)
    const session = await plantly.getSession()
    expect(mock.log.at(-1)).toMatchObject({ path: '/buyers', token: session?.access_token })
  })

  test('a baseURL with a path is joined like ofetch and ky do', async () => {
    const { plantly, mock } = await plantlyApi({
      path: '/v1/auth/sessions',
      client: { baseURL: `${BASE}/v1` },
    })
    await plantly.fetch('buyers')
    await plantly.fetch('/transactions')
    expect(mock.log.map((entry) => entry.path)).toEqual(['/v1/buyers', '/v1/transactions'])
  })

  test('another origin never receives the token, whatever the input type', async () => {
    const { plantly } = await plantlyApi()
    const seen = recordAuthorization(OTHER)
    await plantly.fetch(`${OTHER}/a`)
    await plantly.fetch(new URL(`${OTHER}/b`))
    await plantly.fetch(new Request(`${OTHER}/c`, { method: 'POST', body: 'x' }))
    // userinfo that spells our host: another origin, and fetch refuses URLs with credentials anyway
    await expect(plantly.fetch(`${BASE}@elsewhere.test/d`)).rejects.toThrow(TypeError)
    expect(seen).toEqual([null, null, null])
  })

  test('allowedOrigins receive the token, exactly as the base origin does', async () => {
    const files = 'https://files.plantly.test'
    const { plantly } = await plantlyApi({ client: { allowedOrigins: [files] } })
    const seen = recordAuthorization(files)
    await plantly.fetch(`${files}/upload`)
    const session = await plantly.getSession()
    expect(seen).toEqual([`Bearer ${session?.access_token}`])
  })

  test('a caller-set Authorization header is left alone and never triggers a refresh', async () => {
    const { plantly, mock } = await plantlyApi()
    const response = await plantly.fetch('/buyers', { headers: { Authorization: 'Bearer mine' } })
    expect(response.status).toBe(401)
    expect(mock.log.at(-1)?.token).toBe('mine')
    expect(mock.counters.refreshes).toBe(0)
  })

  test('the refresh token is only ever sent to PUT /auth/sessions', async () => {
    const { plantly, mock } = await plantlyApi()
    const first = await plantly.getSession()
    mock.expireAccessTokens()
    await plantly.fetch('/buyers')
    expect(mock.counters.refreshes).toBe(1)
    expect(mock.log.map((entry) => entry.token)).not.toContain(first?.refresh_token)
  })

  test('the Sessions endpoint itself passes through untouched', async () => {
    const { plantly, mock } = await plantlyApi()
    const response = await plantly.fetch('/auth/sessions', { method: 'DELETE' })
    expect(response.status).toBe(401) // no token injected, so the API refuses the logout
    expect(mock.counters.logouts).toBe(0)
  })

  test('without a session, requests go out without a token and nothing is refreshed', async () => {
    const { plantly, mock } = await plantlyApi({ login: false })
    const response = await plantly.fetch('/buyers')
    expect(response.status).toBe(401)
    expect(mock.log.at(-1)?.token).toBeUndefined()
    expect(mock.counters.refreshes + mock.counters.logins).toBe(0)
  })
})
