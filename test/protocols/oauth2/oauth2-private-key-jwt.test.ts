// private_key_jwt client authentication (RFC 7523) against oidc-provider: clients registered with their public
// JWKS, assertions signed by the client's private key, a fresh one for every token request and every retry.
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose'
import { describe, expect, test } from 'vitest'
import { createSessionFetch, LoginError, OptionError } from '../../../src/index.js'
import { type OAuth2Credentials, type OAuth2Options, oauth2 } from '../../../src/protocols/oauth2/index.js'
import { RESOURCE, startAuthServer } from '../../helpers/oidc-provider.js'

type Alg = 'RS256' | 'ES256' | 'EdDSA'

/** A key pair for a client, and the client registered with its public JWK. */
async function keyedClient(clientId: string, alg: Alg) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const publicJwk = { ...(await exportJWK(publicKey)), kid: `${clientId}-key`, alg, use: 'sig' }
  return {
    privateKey,
    privateJwk: { ...(await exportJWK(privateKey)), kid: publicJwk.kid },
    metadata: {
      client_id: clientId,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'private_key_jwt' as const,
      token_endpoint_auth_signing_alg: alg,
      jwks: { keys: [publicJwk] },
    },
  }
}

/** A transport that keeps the client assertion of every token request it carries. */
function recording(assertions: string[], answer?: (body: URLSearchParams) => Response | undefined) {
  return async (input: RequestInfo | URL, init?: RequestInit) => {
    const body = new URLSearchParams(typeof init?.body === 'string' ? init.body : '')
    const assertion = body.get('client_assertion')
    if (assertion) assertions.push(assertion)
    const response = await fetch(input, init)
    return answer?.(body) ?? response
  }
}

/** A transport that keeps, for every request with a client assertion, where it went, its answer and its `aud`. */
function auditing(seen: { path: string; status: number; aud: unknown }[]) {
  return async (input: RequestInfo | URL, init?: RequestInit) => {
    const body = new URLSearchParams(typeof init?.body === 'string' ? init.body : '')
    const assertion = body.get('client_assertion')
    const response = await fetch(input, init)
    if (assertion) {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
      seen.push({ path: new URL(url).pathname, status: response.status, aud: decodeJwt(assertion).aud })
    }
    return response
  }
}

function service(tokenEndpoint: string, clientId: string, extra: Partial<OAuth2Options>) {
  return oauth2({ tokenEndpoint, clientId, scope: 'api:read', resource: RESOURCE, ...extra })
}

describe('private_key_jwt against oidc-provider', () => {
  for (const [alg, asJwk] of [
    ['RS256', false],
    ['ES256', false],
    ['ES256', true],
    ['EdDSA', false],
  ] as const) {
    test(`a ${alg} ${asJwk ? 'JWK' : 'CryptoKey'} logs in; each token request signs a new assertion`, async () => {
      const client = await keyedClient(`svc-${alg.toLowerCase()}`, alg)
      const server = await startAuthServer({ clients: [client.metadata] })
      const assertions: string[] = []
      const api = createSessionFetch<OAuth2Credentials>({
        baseURL: server.apiURL,
        fetch: recording(assertions),
        protocol: service(server.tokenEndpoint, client.metadata.client_id, {
          clientAuthMethod: 'private_key_jwt',
          clientAssertionKey: asJwk ? client.privateJwk : client.privateKey,
        }),
        credentials: () => ({ grant: 'client_credentials' }),
      })

      expect((await api.fetch('/reports')).status).toBe(200)
      await api.login({ grant: 'client_credentials' })

      expect(server.tokenEvents.map((event) => event.outcome)).toEqual(['ok', 'ok'])
      expect(assertions).toHaveLength(2)
      const claims = assertions.map((jwt) => decodeJwt(jwt))
      for (const [i, jwt] of assertions.entries()) {
        expect(decodeProtectedHeader(jwt)).toEqual(asJwk ? { alg, kid: client.privateJwk.kid } : { alg })
        expect(claims[i]).toMatchObject({
          iss: client.metadata.client_id,
          sub: client.metadata.client_id,
          aud: server.tokenEndpoint,
        })
        expect((claims[i]?.exp as number) - (claims[i]?.iat as number)).toBe(60)
      }
      expect(claims[0]?.jti).not.toBe(claims[1]?.jti)
    })
  }

  test('a retry after a 5xx carries a fresh assertion (the provider refuses a used jti)', async () => {
    const client = await keyedClient('svc-retry', 'ES256')
    const server = await startAuthServer({ clients: [client.metadata] })
    const assertions: string[] = []
    let answered = 0
    // The first token request reaches the provider, which uses up its jti; the client only sees a 503.
    const transport = recording(assertions, () =>
      answered++ === 0 ? new Response('busy', { status: 503 }) : undefined,
    )
    const api = createSessionFetch({
      baseURL: server.apiURL,
      fetch: transport,
      protocol: service(server.tokenEndpoint, client.metadata.client_id, {
        clientAssertionKey: client.privateKey,
        retryDelayMs: 1,
      }),
    })
    await api.login({ grant: 'client_credentials' })

    expect(assertions).toHaveLength(2)
    expect(decodeJwt(assertions[0] as string).jti).not.toBe(decodeJwt(assertions[1] as string).jti)
    expect(server.tokenEvents.map((event) => event.outcome)).toEqual(['ok', 'ok'])
    expect((await api.fetch('/after-retry')).status).toBe(200)
  })

  test('clientAssertion: a supplied assertion is asked for once per token request', async () => {
    const client = await keyedClient('svc-supplied', 'RS256')
    const server = await startAuthServer({ clients: [client.metadata] })
    const { SignJWT } = await import('jose')
    let calls = 0
    const api = createSessionFetch({
      baseURL: server.apiURL,
      protocol: service(server.tokenEndpoint, client.metadata.client_id, {
        clientAuthMethod: 'private_key_jwt',
        clientAssertion: () => {
          calls++
          return new SignJWT({})
            .setProtectedHeader({ alg: 'RS256' })
            .setIssuer(client.metadata.client_id)
            .setSubject(client.metadata.client_id)
            .setAudience(server.issuer) // the issuer is an audience the provider accepts too
            .setIssuedAt()
            .setExpirationTime('30s')
            .setJti(crypto.randomUUID())
            .sign(client.privateKey)
        },
      }),
    })
    await api.login({ grant: 'client_credentials' })
    await api.login({ grant: 'client_credentials' })
    expect(calls).toBe(2)
    expect(server.tokenEvents.map((event) => event.outcome)).toEqual(['ok', 'ok'])
  })

  test('a key the client was not registered with is refused: LoginError invalid_client', async () => {
    const client = await keyedClient('svc-wrong-key', 'ES256')
    const other = await generateKeyPair('ES256')
    const server = await startAuthServer({ clients: [client.metadata] })
    const api = createSessionFetch({
      baseURL: server.apiURL,
      protocol: service(server.tokenEndpoint, client.metadata.client_id, {
        clientAssertionKey: other.privateKey,
      }),
    })
    const error = await api.login({ grant: 'client_credentials' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LoginError)
    expect(error).toMatchObject({ status: 401, cause: { serverCode: 'invalid_client' } })
  })

  test('bad options are refused by name, and never echo a private key', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
    const jwk = await exportJWK(privateKey)
    const base = { tokenEndpoint: 'https://auth.example.com/token', clientId: 'svc' }
    const refusal = (options: Partial<OAuth2Options>) => {
      try {
        oauth2({ ...base, ...options })
      } catch (error) {
        return error
      }
      return undefined
    }
    expect(refusal({ clientAuthMethod: 'private_key_jwt' })).toMatchObject({
      option: 'clientAuthMethod',
    })
    expect(refusal({ clientAssertionKey: publicKey })).toMatchObject({ option: 'clientAssertionKey' })
    const { d: _d, ...publicOnly } = jwk
    expect(refusal({ clientAssertionKey: publicOnly })).toMatchObject({ option: 'clientAssertionKey' })
    expect(refusal({ clientAssertionKey: privateKey, clientSecret: 'shh' })).toMatchObject({
      option: 'clientSecret',
    })
    expect(refusal({ clientAssertionKey: privateKey, clientAuthMethod: 'client_secret_post' })).toMatchObject(
      { option: 'clientAssertionKey' },
    )
    expect(refusal({ clientAssertionKey: privateKey, clientAssertion: () => 'a.b.c' })).toMatchObject({
      option: 'clientAssertion',
    })
    const hmac = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
    const error = refusal({ clientAssertionKey: hmac })
    expect(error).toBeInstanceOf(OptionError)
    expect(error).toMatchObject({ option: 'clientAssertionKey' })
    expect(String(refusal({ clientAssertionKey: { ...jwk, kty: 'oct' } }))).not.toContain(jwk.d)
  })
})

describe('the audience of client assertions', () => {
  test("discovered: every assertion, the revocation's too, names the issuer as its one aud", async () => {
    const client = await keyedClient('svc-aud-discovered', 'ES256')
    // A server that takes the issuer and nothing else as the audience, as RFC 7523bis asks.
    const server = await startAuthServer({ clients: [client.metadata], assertionAudience: 'issuer' })
    const seen: { path: string; status: number; aud: unknown }[] = []
    const api = createSessionFetch<OAuth2Credentials>({
      baseURL: server.apiURL,
      fetch: auditing(seen),
      protocol: oauth2({
        issuer: server.issuer,
        clientId: client.metadata.client_id,
        clientAssertionKey: client.privateKey,
        scope: 'api:read',
        resource: RESOURCE,
      }),
      credentials: () => ({ grant: 'client_credentials' }),
    })
    expect((await api.fetch('/reports')).status).toBe(200)
    await api.logout()
    expect(seen).toEqual([
      { path: '/token', status: 200, aud: server.issuer },
      { path: '/token/revocation', status: 200, aud: server.issuer },
    ])
  })

  test('given with the token endpoint, the issuer is the aud; no metadata is read', async () => {
    const client = await keyedClient('svc-aud-given', 'ES256')
    const server = await startAuthServer({ clients: [client.metadata], assertionAudience: 'issuer' })
    const seen: { path: string; status: number; aud: unknown }[] = []
    const api = createSessionFetch({
      baseURL: server.apiURL,
      fetch: auditing(seen),
      protocol: service(server.tokenEndpoint, client.metadata.client_id, {
        issuer: server.issuer,
        clientAssertionKey: client.privateKey,
      }),
    })
    await api.login({ grant: 'client_credentials' })
    expect(seen).toEqual([{ path: '/token', status: 200, aud: server.issuer }])
    expect(server.counters.discovery).toBe(0)
  })

  test('clientAssertionAudience still wins over the issuer', async () => {
    const client = await keyedClient('svc-aud-override', 'ES256')
    const server = await startAuthServer({ clients: [client.metadata] })
    const seen: { path: string; status: number; aud: unknown }[] = []
    const api = createSessionFetch({
      baseURL: server.apiURL,
      fetch: auditing(seen),
      protocol: service(server.tokenEndpoint, client.metadata.client_id, {
        issuer: server.issuer,
        clientAssertionKey: client.privateKey,
        clientAssertionAudience: server.tokenEndpoint,
      }),
    })
    await api.login({ grant: 'client_credentials' })
    expect(seen).toEqual([{ path: '/token', status: 200, aud: server.tokenEndpoint }])
  })
})
