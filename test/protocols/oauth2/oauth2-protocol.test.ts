// The oauth2() protocol's logic, with msw standing in for the token endpoint: what it sends, how it reads the
// answer, and how it maps failures. The behaviour against a real server is in oauth2-provider.test.ts.
import { HttpResponse, http } from 'msw'
import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import {
  createSessionFetch,
  InvalidResponseError,
  OptionError,
  type ProtocolContext,
  ResponseError,
  type Session,
  SessionRejectedError,
} from '../../../src/index.js'
import { type OAuth2Options, type OAuth2Session, oauth2 } from '../../../src/protocols/oauth2/index.js'

const TOKEN = 'https://auth.test/oauth/token'
const REVOKE = 'https://auth.test/oauth/revoke'
const SECRET = 'top-secret: +/%'
const ACCESS = 'access-token-1'

interface Seen {
  authorization: string | null
  contentType: string | null
  form: URLSearchParams
}

const msw = setupServer()
let seen: Seen[] = []

beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }))
afterEach(() => {
  msw.resetHandlers()
  seen = []
})
afterAll(() => msw.close())

/** Answer the token endpoint with each reply in turn (the last one repeats), recording every request. */
function tokenEndpoint(...replies: (() => Response)[]) {
  msw.use(
    http.post(TOKEN, async ({ request }) => {
      seen.push({
        authorization: request.headers.get('authorization'),
        contentType: request.headers.get('content-type'),
        form: new URLSearchParams(await request.text()),
      })
      const reply = replies[Math.min(seen.length, replies.length) - 1]
      return reply ? reply() : HttpResponse.json({})
    }),
  )
}

const tokens =
  (extra: Record<string, unknown> = {}) =>
  () =>
    HttpResponse.json({ access_token: ACCESS, token_type: 'Bearer', expires_in: 300, ...extra })
const oauthError = (status: number, error: string, description?: string) => () =>
  HttpResponse.json({ error, ...(description ? { error_description: description } : {}) }, { status })

function context(deadlineMs = 10_000): ProtocolContext {
  return { fetch: globalThis.fetch, signal: new AbortController().signal, deadline: Date.now() + deadlineMs }
}

function protocol(extra: Partial<OAuth2Options> = {}) {
  return oauth2({
    tokenEndpoint: TOKEN,
    clientId: 'my client',
    clientSecret: SECRET,
    retryDelayMs: 1,
    ...extra,
  })
}

const session = (extra: Partial<OAuth2Session> = {}): OAuth2Session => ({
  type: 'oauth2',
  token_type: 'Bearer',
  access_token: 'old-access',
  refresh_token: 'refresh-1',
  ...extra,
})

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`
}

describe('client authentication', () => {
  test('client_secret_basic (default): id and secret form-encoded in the Basic header, not in the body', async () => {
    tokenEndpoint(tokens())
    await protocol().login({ grant: 'client_credentials' }, context())
    const [request] = seen
    // RFC 6749 §2.3.1: "my client" → "my+client", "top-secret: +/%" → "top-secret%3A+%2B%2F%25".
    expect(request?.authorization).toBe(basic('my+client', 'top-secret%3A+%2B%2F%25'))
    expect(request?.contentType).toBe('application/x-www-form-urlencoded')
    expect(Object.fromEntries(request?.form ?? [])).toEqual({ grant_type: 'client_credentials' })
  })

  test('client_secret_post: client_id and client_secret in the form body, no Authorization header', async () => {
    tokenEndpoint(tokens())
    await protocol({ clientAuthMethod: 'client_secret_post' }).login(
      { grant: 'client_credentials' },
      context(),
    )
    expect(seen[0]?.authorization).toBeNull()
    expect(Object.fromEntries(seen[0]?.form ?? [])).toEqual({
      grant_type: 'client_credentials',
      client_id: 'my client',
      client_secret: SECRET,
    })
  })

  test('a public client (no secret) sends only client_id', async () => {
    tokenEndpoint(tokens())
    await oauth2({ tokenEndpoint: TOKEN, clientId: 'spa' }).refresh(session(), context())
    expect(seen[0]?.authorization).toBeNull()
    expect(Object.fromEntries(seen[0]?.form ?? [])).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'refresh-1',
      client_id: 'spa',
    })
  })
})

describe('grants', () => {
  test('client_credentials sends the scope option and every resource; a login scope overrides the option', async () => {
    tokenEndpoint(tokens())
    const service = protocol({
      scope: ['reports:read', 'reports:write'],
      resource: ['https://a.test', 'https://b.test'],
    })
    await service.login({ grant: 'client_credentials' }, context())
    await service.login({ grant: 'client_credentials', scope: 'reports:read' }, context())
    expect(seen[0]?.form.get('scope')).toBe('reports:read reports:write')
    expect(seen[0]?.form.getAll('resource')).toEqual(['https://a.test', 'https://b.test'])
    expect(seen[1]?.form.get('scope')).toBe('reports:read')
  })

  test('authorization_code sends the code, redirect URI and PKCE verifier', async () => {
    tokenEndpoint(tokens({ refresh_token: 'refresh-1' }))
    const grant = await protocol().login(
      {
        grant: 'authorization_code',
        code: 'code-1',
        redirectUri: 'https://app.test/cb',
        codeVerifier: 'v'.repeat(43),
      },
      context(),
    )
    expect(Object.fromEntries(seen[0]?.form ?? [])).toEqual({
      grant_type: 'authorization_code',
      code: 'code-1',
      redirect_uri: 'https://app.test/cb',
      code_verifier: 'v'.repeat(43),
    })
    expect(grant.session.refresh_token).toBe('refresh-1')
  })

  test('rotation: a new refresh_token in the answer replaces the old one', async () => {
    tokenEndpoint(tokens({ refresh_token: 'refresh-2' }))
    const { session: next } = await protocol().refresh(session(), context())
    expect(next.refresh_token).toBe('refresh-2')
    expect(seen[0]?.form.get('refresh_token')).toBe('refresh-1')
    expect(seen[0]?.form.has('scope')).toBe(false) // a refresh keeps the granted scope
  })

  test('no refresh_token in the answer: the old one (and the old scope) is kept', async () => {
    tokenEndpoint(tokens())
    const { session: next } = await protocol().refresh(session({ scope: 'a b' }), context())
    expect(next).toMatchObject({ access_token: ACCESS, refresh_token: 'refresh-1', scope: 'a b' })
  })

  test('an adopted refresh token is kept when the server does not rotate it', async () => {
    tokenEndpoint(tokens())
    const grant = await protocol().login(
      { grant: 'refresh_token', refreshToken: 'from-elsewhere' },
      context(),
    )
    expect(seen[0]?.form.get('refresh_token')).toBe('from-elsewhere')
    expect(grant.session.refresh_token).toBe('from-elsewhere')
  })

  test('a session without a refresh token cannot be refreshed: rejected without a request', async () => {
    tokenEndpoint(tokens())
    const { refresh_token: _dropped, ...clientCredentialsSession } = session()
    await expect(protocol().refresh(clientCredentialsSession, context())).rejects.toBeInstanceOf(
      SessionRejectedError,
    )
    expect(seen).toHaveLength(0)
  })
})

describe('token response', () => {
  test('maps onto the Session type: type "oauth2", token_type, expires_in, scope, and the Date header', async () => {
    const date = 'Tue, 01 Sep 2026 10:00:00 GMT'
    tokenEndpoint(() =>
      HttpResponse.json(
        { access_token: ACCESS, token_type: 'bearer', expires_in: '3599', scope: 'a b', id_token: 'x.y.z' },
        { headers: { date } },
      ),
    )
    const grant = await protocol().login({ grant: 'client_credentials' }, context())
    expect(grant.session).toEqual({
      type: 'oauth2',
      token_type: 'bearer',
      access_token: ACCESS,
      expires_in: 3599,
      scope: 'a b',
    })
    expect(grant.serverDate).toBe(Date.parse(date))
  })

  test('a JSON answer labelled text/plain is still read', async () => {
    tokenEndpoint(() => new HttpResponse(JSON.stringify({ access_token: ACCESS, token_type: 'Bearer' })))
    const grant = await protocol().login({ grant: 'client_credentials' }, context())
    expect(grant.session.access_token).toBe(ACCESS)
  })

  test.each([
    [{ token_type: 'Bearer' }, 'access_token'],
    [{ access_token: ACCESS, token_type: 'mac' }, 'token_type'],
    [{ access_token: 'has space', token_type: 'Bearer' }, 'access_token'],
    [{ access_token: ACCESS, refresh_token: 42 }, 'refresh_token'],
  ])('an unusable answer %j is an InvalidResponseError naming `%s`', async (body, field) => {
    tokenEndpoint(() => HttpResponse.json(body))
    const error = await protocol()
      .login({ grant: 'client_credentials' }, context())
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidResponseError)
    expect(error).toMatchObject({ field })
  })
})

describe('errors', () => {
  test.each([
    [400, 'invalid_grant'],
    [400, 'invalid_scope'],
    [401, 'invalid_client'],
    [403, 'access_denied'],
  ])('%i %s means the session is dead: SessionRejectedError, no retry', async (status, code) => {
    tokenEndpoint(oauthError(status, code))
    const error = await protocol()
      .refresh(session(), context())
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SessionRejectedError)
    expect(error).toMatchObject({ status, cause: { status, serverCode: code } })
    expect(seen).toHaveLength(1)
  })

  test.each([
    ['503', () => new HttpResponse(null, { status: 503 })],
    ['429 with Retry-After', () => new HttpResponse(null, { status: 429, headers: { 'retry-after': '0' } })],
    ['400 temporarily_unavailable', oauthError(400, 'temporarily_unavailable')],
  ])('%s means "could not complete": not a rejection, and the session is kept', async (_name, reply) => {
    tokenEndpoint(reply)
    const error = await protocol({ retry: 0 })
      .refresh(session(), context())
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ResponseError)
    expect(error).not.toBeInstanceOf(SessionRejectedError)
  })

  test('a 5xx and a network error are retried, and the retry can succeed', async () => {
    tokenEndpoint(
      () => new HttpResponse(null, { status: 502 }),
      () => HttpResponse.error(),
      tokens({ refresh_token: 'refresh-2' }),
    )
    const { session: next } = await protocol({ retry: 2 }).refresh(session(), context())
    expect(next.refresh_token).toBe('refresh-2')
    expect(seen).toHaveLength(3)
  })

  test('a network error after the retries is thrown as it is, not as a rejection', async () => {
    tokenEndpoint(() => HttpResponse.error())
    const error = await protocol({ retry: 1 })
      .refresh(session(), context())
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(Error)
    expect(error).not.toBeInstanceOf(SessionRejectedError)
    expect(seen).toHaveLength(2)
  })

  test('a long Retry-After never sleeps past the deadline', async () => {
    tokenEndpoint(() => new HttpResponse(null, { status: 503, headers: { 'retry-after': '3600' } }))
    const error = await protocol({ retry: 1 })
      .refresh(session(), context(50))
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ResponseError)
    // No retry at all: one sent at the deadline would be aborted after the server may have rotated.
    expect(seen).toHaveLength(1)
  })

  test('no secret in any error: the client secret and the grant a call sent are redacted from what it throws', async () => {
    const verifier = 'v'.repeat(43)
    tokenEndpoint(oauthError(400, 'invalid_grant', `bad ${SECRET} refresh-1 code-1 ${verifier}`))
    for (const method of ['client_secret_basic', 'client_secret_post'] as const) {
      const p = protocol({ clientAuthMethod: method })
      const calls: [() => Promise<unknown>, string[]][] = [
        [() => p.refresh(session(), context()), [SECRET, 'refresh-1']],
        [
          () =>
            p.login(
              {
                grant: 'authorization_code',
                code: 'code-1',
                redirectUri: 'https://app.test/cb',
                codeVerifier: verifier,
              },
              context(),
            ),
          [SECRET, 'code-1', verifier],
        ],
      ]
      for (const [call, secrets] of calls) {
        const error = (await call().catch((e: unknown) => e)) as Error
        expect(error).toBeInstanceOf(SessionRejectedError)
        const shown = [
          error.message,
          String(error.cause),
          JSON.stringify(error),
          JSON.stringify(error.cause),
        ].join()
        expect(shown).toContain('invalid_grant: bad [redacted]')
        for (const secret of secrets) expect(shown).not.toContain(secret)
      }
    }
  })

  test('bad credentials are OptionErrors naming the field, without echoing its value', async () => {
    const p = protocol()
    const errors = await Promise.all([
      p.login({ grant: 'password' } as never, context()).catch((e: unknown) => e),
      p
        .login({ grant: 'authorization_code', code: '', redirectUri: 'x' }, context())
        .catch((e: unknown) => e),
      p.login({ grant: 'refresh_token', refreshToken: 42 } as never, context()).catch((e: unknown) => e),
    ])
    expect(errors.map((e) => (e as OptionError).option)).toEqual([
      'credentials',
      'credentials.code',
      'credentials.refreshToken',
    ])
    expect(String(errors[2])).not.toContain('42')
    expect(seen).toHaveLength(0)
  })
})

describe('options', () => {
  test.each([
    [{ tokenEndpoint: undefined }, 'tokenEndpoint'],
    [{ tokenEndpoint: '/oauth/token' }, 'tokenEndpoint'],
    [{ tokenEndpoint: 'https://user:pw@auth.test/token' }, 'tokenEndpoint'],
    [{ tokenEndpoint: 'https://auth.test/token#x' }, 'tokenEndpoint'],
    [{ revocationEndpoint: 'ftp://auth.test/revoke' }, 'revocationEndpoint'],
    [{ clientId: '' }, 'clientId'],
    [{ clientSecret: '' }, 'clientSecret'],
    [{ clientSecret: undefined, clientAuthMethod: 'client_secret_post' }, 'clientAuthMethod'],
    [{ clientAuthMethod: 'private_key_jwt' }, 'clientAuthMethod'],
    [{ scope: 'a "b"' }, 'scope'],
    [{ scope: [] }, 'scope'],
    [{ resource: 'relative/path' }, 'resource'],
    [{ retry: -1 }, 'retry'],
  ])('%j is refused naming `%s`', (extra, option) => {
    expect(() => protocol(extra as Partial<OAuth2Options>)).toThrow(OptionError)
    expect(() => protocol(extra as Partial<OAuth2Options>)).toThrow(`\`${option}\``)
  })

  test('a bad client secret is refused without echoing it', () => {
    const secret = 'line1\nline2-secret'
    expect(() => protocol({ clientSecret: secret })).toThrow(OptionError)
    expect(() => protocol({ clientSecret: secret })).not.toThrow(/line2-secret/)
  })

  test('a token endpoint with a query is accepted and kept (RFC 6749 §3.2)', async () => {
    msw.use(
      http.post(TOKEN, ({ request }) =>
        HttpResponse.json({ access_token: new URL(request.url).search.slice(1), token_type: 'Bearer' }),
      ),
    )
    const grant = await protocol({ tokenEndpoint: `${TOKEN}?tenant=a` }).login(
      { grant: 'client_credentials' },
      context(),
    )
    expect(grant.session.access_token).toBe('tenant=a')
  })
})

describe('revocation and the endpoints it owns', () => {
  test('logout revokes the refresh token (or the access token when there is none) with client authentication', async () => {
    const revoked: { authorization: string | null; form: Record<string, string> }[] = []
    msw.use(
      http.post(REVOKE, async ({ request }) => {
        revoked.push({
          authorization: request.headers.get('authorization'),
          form: Object.fromEntries(new URLSearchParams(await request.text())),
        })
        return new HttpResponse(null, { status: 200 })
      }),
    )
    const p = protocol({ revocationEndpoint: REVOKE })
    await p.logout?.(session(), context())
    const { refresh_token: _dropped, ...withoutRefresh } = session()
    await p.logout?.(withoutRefresh as Session, context())
    expect(revoked).toEqual([
      {
        authorization: basic('my+client', 'top-secret%3A+%2B%2F%25'),
        form: { token: 'refresh-1', token_type_hint: 'refresh_token' },
      },
      {
        authorization: basic('my+client', 'top-secret%3A+%2B%2F%25'),
        form: { token: 'old-access', token_type_hint: 'access_token' },
      },
    ])
  })

  test('without a revocationEndpoint there is no server-side logout', () => {
    expect(protocol().logout).toBeUndefined()
  })

  test('the token and revocation endpoints never get the Bearer token, even on the API origin', async () => {
    const api = 'https://auth.test'
    const bearers: (string | null)[] = []
    tokenEndpoint(tokens())
    msw.use(
      http.post(REVOKE, ({ request }) => {
        bearers.push(request.headers.get('authorization'))
        return new HttpResponse(null)
      }),
      http.get(`${api}/data`, ({ request }) => {
        bearers.push(request.headers.get('authorization'))
        return HttpResponse.json({})
      }),
    )
    const client = createSessionFetch({
      baseURL: api,
      protocol: protocol({ revocationEndpoint: REVOKE }),
      credentials: () => ({ grant: 'client_credentials' }),
    })
    await client.fetch('/data')
    await client.fetch('/oauth/token?x=1', { method: 'POST', body: 'grant_type=client_credentials' })
    await client.fetch('/oauth/revoke', { method: 'POST', body: 'token=t' })
    expect(bearers).toEqual([`Bearer ${ACCESS}`, null])
    expect(seen.map((s) => s.authorization)).toEqual([basic('my+client', 'top-secret%3A+%2B%2F%25'), null])
  })
})
