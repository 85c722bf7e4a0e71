import { HttpResponse, http } from 'msw'
import { describe, expect, test } from 'vitest'
import { BASE, DEMO_USER, plantlyApi, server } from '../helpers/msw.js'

function everythingSaidAbout(error: unknown): string {
  const parts: string[] = []
  let current: unknown = error
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    parts.push(current.message, String(current), JSON.stringify(current), current.stack ?? '')
    current = current.cause
  }
  return parts.join('\n')
}

describe('no token ever appears in an error', () => {
  test('a refresh failure whose server echoes the tokens', async () => {
    const { plantly, mock } = await plantlyApi()
    const session = await plantly.getSession()
    if (!session?.refresh_token) throw new Error('no session')
    server.use(
      http.put(`${BASE}/auth/sessions`, ({ request }) =>
        HttpResponse.json(
          {
            code: `bad ${request.headers.get('authorization')}`,
            message: `token ${session.refresh_token} and ${session.access_token} rejected`,
          },
          { status: 503 },
        ),
      ),
    )
    mock.expireAccessTokens()
    const error = await plantly.fetch('/a').catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'RefreshError' })
    const said = everythingSaidAbout(error)
    expect(said).toContain('503')
    expect(said).not.toContain(session.refresh_token)
    expect(said).not.toContain(session.access_token)
  })

  test('a login failure never shows the password', async () => {
    const { plantly } = await plantlyApi({ login: false })
    server.use(
      http.post(`${BASE}/auth/sessions`, async ({ request }) => {
        const body = (await request.json()) as { password: string }
        return HttpResponse.json(
          { code: 'unauthorized', message: `wrong password ${body.password}` },
          { status: 401 },
        )
      }),
    )
    const error = await plantly.login({ ...DEMO_USER, password: 'hunter2-secret' }).catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'LoginError', status: 401 })
    const said = everythingSaidAbout(error)
    expect(said).toContain('wrong password [redacted]')
    expect(said).not.toContain('hunter2-secret')
  })

  test('a logout failure, and a server sending a JWT-shaped string back', async () => {
    const { plantly } = await plantlyApi()
    const session = await plantly.getSession()
    server.use(
      http.delete(`${BASE}/auth/sessions`, () =>
        HttpResponse.json(
          { code: 'oops', message: `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln ${session?.access_token}` },
          { status: 500 },
        ),
      ),
    )
    const error = await plantly.logout().catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'LogoutError' })
    const said = everythingSaidAbout(error)
    expect(said).not.toContain('eyJzdWIiOiJ4In0')
    expect(said).not.toContain(session?.access_token)
  })

  test('errors serialise to plain data with the stable code', async () => {
    const { plantly, mock } = await plantlyApi()
    mock.expireAccessTokens()
    mock.inject({ on: 'refresh', status: 500, times: 3 })
    const error = await plantly.fetch('/a').catch((e: unknown) => e)
    expect(JSON.parse(JSON.stringify(error))).toMatchObject({
      name: 'RefreshError',
      code: 'refresh_failed',
      status: 500,
      cause: { name: 'ResponseError' },
    })
  })
})
