// client_secret_jwt client authentication (RFC 7523 §2.2, OpenID Connect Core §9) against oidc-provider: an HS256
// assertion signed with the client secret, a fresh one for every token request; the secret itself never leaves.
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose'
import { describe, expect, test } from 'vitest'
import { createSessionFetch, LoginError } from '../../../src/index.js'
import { type OAuth2Credentials, type OAuth2Options, oauth2 } from '../../../src/protocols/oauth2/index.js'
import { everythingSaidAbout } from '../../helpers/adversarial.js'
import { RESOURCE, startAuthServer } from '../../helpers/oidc-provider.js'

const CLIENT_ID = 'svc-secret-jwt'
// Characters that change under form-, percent- and JSON-encoding, so that every form of it can be looked for.
const SECRET = 'secret-jwt: +/%"! 0123456789abcdefghijklmnop'

const registered = {
  client_id: CLIENT_ID,
  client_secret: SECRET,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_jwt' as const,
}

/** Every form of the secret a request could carry it in. */
function forms(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1)
  return [
    secret,
    encodeURIComponent(secret),
    new URLSearchParams({ v: secret }).toString().slice(2),
    json,
    btoa(`${CLIENT_ID}:${secret}`),
    btoa(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(secret)}`),
  ]
}

/** A transport that keeps every request it carries (url, headers, body) before sending it on. */
function recording(sent: { url: string; headers: Record<string, string>; body: string }[]) {
  return async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    sent.push({
      url,
      headers: Object.fromEntries(new Headers(init?.headers).entries()),
      body: typeof init?.body === 'string' ? init.body : '',
    })
    return fetch(input, init)
  }
}

function assertionsIn(sent: { body: string }[]): string[] {
  return sent.flatMap(({ body }) => new URLSearchParams(body).get('client_assertion') ?? [])
}

describe('client_secret_jwt against oidc-provider', () => {
  test('discovered: HS256 assertions with aud = the issuer, new for each token and revocation request; the secret is never sent', async () => {
    // A server that takes the issuer and nothing else as the audience (RFC 7523bis).
    const server = await startAuthServer({
      clients: [registered],
      assertionAudience: 'issuer',
      accessTokenTtl: 60,
    })
    const sent: { url: string; headers: Record<string, string>; body: string }[] = []
    const api = createSessionFetch<OAuth2Credentials>({
      baseURL: server.apiURL,
      fetch: recording(sent),
      protocol: oauth2({
        issuer: server.issuer,
        clientId: CLIENT_ID,
        clientSecret: SECRET,
        clientAuthMethod: 'client_secret_jwt',
        scope: 'api:read',
        resource: RESOURCE,
      }),
      credentials: () => ({ grant: 'client_credentials' }),
    })

    expect((await api.fetch('/reports')).status).toBe(200)
    await api.login({ grant: 'client_credentials' }) // a second token request; the replaced session is revoked
    await api.logout()

    const assertions = assertionsIn(sent)
    expect(sent.filter(({ body }) => body !== '').map(({ url }) => new URL(url).pathname)).toEqual([
      '/token',
      '/token',
      '/token/revocation',
      '/token/revocation',
    ])
    expect(assertions).toHaveLength(4)
    expect(new Set(assertions.map((jwt) => decodeJwt(jwt).jti)).size).toBe(4)
    for (const jwt of assertions) {
      expect(decodeProtectedHeader(jwt)).toEqual({ alg: 'HS256' })
      const { payload } = await jwtVerify(jwt, new TextEncoder().encode(SECRET), { algorithms: ['HS256'] })
      expect(payload).toMatchObject({ iss: CLIENT_ID, sub: CLIENT_ID, aud: server.issuer })
      expect((payload.exp as number) - (payload.iat as number)).toBe(60)
    }
    for (const request of sent.filter(({ body }) => body !== '')) {
      expect(new URLSearchParams(request.body).get('client_assertion_type')).toBe(
        'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      )
      expect(request.headers.authorization).toBeUndefined()
    }
    const wire = JSON.stringify(sent)
    for (const form of forms(SECRET)) expect(wire).not.toContain(form)
    expect(server.tokenEvents.map((e) => e.outcome)).toEqual(['ok', 'ok'])
    expect(server.counters.token).toBe(2)
  })

  test('given the token endpoint: the issuer is the aud when known, else the token endpoint', async () => {
    const server = await startAuthServer({ clients: [registered] })
    for (const [extra, aud] of [
      [{ issuer: server.issuer }, server.issuer],
      [{}, server.tokenEndpoint],
    ] as const) {
      const sent: { url: string; headers: Record<string, string>; body: string }[] = []
      const api = createSessionFetch<OAuth2Credentials>({
        baseURL: server.apiURL,
        fetch: recording(sent),
        protocol: oauth2({
          tokenEndpoint: server.tokenEndpoint,
          clientId: CLIENT_ID,
          clientSecret: SECRET,
          clientAuthMethod: 'client_secret_jwt',
          resource: RESOURCE,
          ...extra,
        }),
      })
      await api.login({ grant: 'client_credentials' })
      expect(assertionsIn(sent).map((jwt) => decodeJwt(jwt).aud)).toEqual([aud])
    }
    expect(server.tokenEvents.map((e) => e.outcome)).toEqual(['ok', 'ok'])
  })

  test('a wrong secret is an invalid_client LoginError that shows neither secret', async () => {
    const server = await startAuthServer({ clients: [registered] })
    const wrong = 'not-the-secret-jwt-key: +/%'
    const api = createSessionFetch({
      baseURL: server.apiURL,
      protocol: oauth2({
        tokenEndpoint: server.tokenEndpoint,
        clientId: CLIENT_ID,
        clientSecret: wrong,
        clientAuthMethod: 'client_secret_jwt',
      }),
    })
    const error = await api.login({ grant: 'client_credentials' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LoginError)
    expect(error).toMatchObject({ status: 401, cause: { serverCode: 'invalid_client' } })
    const said = everythingSaidAbout(error as Error)
    expect(said).toContain('invalid_client')
    for (const form of [...forms(wrong), ...forms(SECRET)]) expect(said).not.toContain(form)
  })

  test('options: client_secret_jwt needs clientSecret and takes no key', async () => {
    const base = { tokenEndpoint: 'https://auth.example.com/token', clientId: 'svc' }
    const refusal = (options: Partial<OAuth2Options>) => {
      try {
        oauth2({ ...base, ...options })
      } catch (error) {
        return error
      }
      return undefined
    }
    const { privateKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
    ])
    expect(refusal({ clientAuthMethod: 'client_secret_jwt' })).toMatchObject({ option: 'clientAuthMethod' })
    expect(String(refusal({ clientAuthMethod: 'client_secret_jwt' }))).toContain('clientSecret')
    expect(
      refusal({ clientAuthMethod: 'client_secret_jwt', clientSecret: 's', clientAssertionKey: privateKey }),
    ).toMatchObject({ option: 'clientAssertionKey' })
    expect(refusal({ clientAuthMethod: 'client_secret_jwt', clientSecret: 's' })).toBeUndefined()
  })
})
