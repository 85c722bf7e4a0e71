// Mutual TLS (RFC 8705) against oidc-provider over HTTPS on 127.0.0.1: the client authenticates with the certificate
// its transport presents (undici's fetch over an Agent holding `cert` and `key`), the discovered
// `mtls_endpoint_aliases` take the token and revocation requests, and the access tokens are bound to the certificate
// (`cnf.x5t#S256`): the API takes them only over that certificate.
import { decodeJwt } from 'jose'
import { describe, expect, test } from 'vitest'
import { createSessionFetch, LoginError, OptionError } from '../../../src/index.js'
import { type OAuth2Credentials, type OAuth2Options, oauth2 } from '../../../src/protocols/oauth2/index.js'
import { listen } from '../../helpers/http-server.js'
import {
  type Identity,
  MTLS_CLIENTS,
  MTLS_RESOURCE,
  type MtlsAuthServer,
  mtlsFetch,
  startMtlsAuthServer,
} from '../../helpers/mtls.js'
import { untilExpired } from '../../helpers/oidc-provider.js'

/** A clock only the test moves: the core sees time pass when the test says so. */
function manualClock() {
  const now = Date.now()
  return { now: () => now }
}

/** A client_credentials session-fetch for the API, over a transport presenting `identity`'s certificate. */
function service(
  server: MtlsAuthServer,
  identity: Identity | undefined,
  options: Partial<OAuth2Options> & { clientId: string },
  now?: () => number,
) {
  return createSessionFetch<OAuth2Credentials>({
    baseURL: server.apiURL,
    fetch: mtlsFetch(server.pki.ca, identity),
    protocol: oauth2({ issuer: server.issuer, scope: 'api:read', resource: MTLS_RESOURCE, ...options }),
    credentials: () => ({ grant: 'client_credentials' }),
    ...(now ? { now } : {}),
  })
}

/** The certificate thumbprint an access token is bound to. */
function bindingOf(token: string | undefined): unknown {
  return (decodeJwt(token as string).cnf as Record<string, unknown> | undefined)?.['x5t#S256']
}

describe('tls_client_auth against oidc-provider', () => {
  test('discovered: the token request goes to the mTLS alias with client_id and no secret; the bound token works over the same transport', async () => {
    const server = await startMtlsAuthServer()
    const api = service(server, server.pki.client, {
      clientId: MTLS_CLIENTS.pki.clientId,
      clientAuthMethod: 'tls_client_auth',
    })

    const response = await api.fetch('/reports')

    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ client_id: MTLS_CLIENTS.pki.clientId })
    expect(server.counters).toMatchObject({ discovery: 1, plainToken: 0, token: 1 })
    expect(server.tokenEvents).toEqual([{ clientId: MTLS_CLIENTS.pki.clientId, outcome: 'ok' }])
    const [sent] = server.tokenForms
    expect(sent?.authorization).toBeUndefined()
    expect([...(sent?.form.keys() ?? [])].sort()).toEqual(['client_id', 'grant_type', 'resource', 'scope'])
    expect(sent?.form.get('client_id')).toBe(MTLS_CLIENTS.pki.clientId)
    const session = await api.getSession()
    expect(bindingOf(session?.access_token)).toBe(server.pki.client.thumbprint)
    expect(server.apiRequests).toEqual([
      { bound: server.pki.client.thumbprint, presented: server.pki.client.thumbprint, status: 200 },
    ])
  })

  test('the bound token is refused over another certificate of the same CA, and over none', async () => {
    const server = await startMtlsAuthServer()
    const api = service(server, server.pki.client, {
      clientId: MTLS_CLIENTS.pki.clientId,
      clientAuthMethod: 'tls_client_auth',
    })
    const token = (await api.login({ grant: 'client_credentials' })).access_token
    const present = (transport: typeof fetch) =>
      transport(`${server.apiURL}/reports`, { headers: { authorization: `Bearer ${token}` } })

    const stolen = await present(mtlsFetch(server.pki.ca, server.pki.intruder))
    const bare = await present(mtlsFetch(server.pki.ca))
    const own = await present(mtlsFetch(server.pki.ca, server.pki.client))

    expect([stolen.status, bare.status, own.status]).toEqual([401, 401, 200])
    expect(server.apiRequests.map(({ presented, status }) => ({ presented, status }))).toEqual([
      { presented: server.pki.intruder.thumbprint, status: 401 },
      { presented: undefined, status: 401 },
      { presented: server.pki.client.thumbprint, status: 200 },
    ])
  })

  test('a storm of 40 requests across the expiry makes one token request; every one goes over the certificate', async () => {
    const server = await startMtlsAuthServer({ accessTokenTtl: 2 })
    // The client's clock stands still, so it does not see the expiry coming: every request meets a 401.
    const api = service(
      server,
      server.pki.client,
      { clientId: MTLS_CLIENTS.pki.clientId, clientAuthMethod: 'tls_client_auth' },
      manualClock().now,
    )
    expect((await api.fetch('/first')).status).toBe(200)
    const first = (await api.getSession())?.access_token as string
    server.accessTokenTtl = 60
    await untilExpired(first)

    const responses = await Promise.all(Array.from({ length: 40 }, (_, i) => api.fetch(`/reports/${i}`)))

    expect(responses.map((r) => r.status)).toEqual(Array(40).fill(200))
    expect(server.counters.token).toBe(2)
    expect(server.tokenEvents.map((e) => e.outcome)).toEqual(['ok', 'ok'])
    const refused = server.apiRequests.filter((r) => r.status === 401)
    expect(refused).toHaveLength(40) // the expired token, once per request
    const second = (await api.getSession())?.access_token
    expect(second).not.toBe(first)
    expect(bindingOf(second)).toBe(server.pki.client.thumbprint)
    expect(new Set(server.apiRequests.map((r) => r.presented))).toEqual(
      new Set([server.pki.client.thumbprint]),
    )
    expect(api.stats()).toMatchObject({ logins: 2, replays: 40 })
  })

  test('logout revokes at the mTLS alias of the revocation endpoint', async () => {
    const server = await startMtlsAuthServer()
    const api = service(server, server.pki.client, {
      clientId: MTLS_CLIENTS.pki.clientId,
      clientAuthMethod: 'tls_client_auth',
    })
    await api.login({ grant: 'client_credentials' })
    await api.logout()
    expect(server.counters.revocation).toBe(1)
    expect(await api.getSession()).toBeUndefined()
  })

  test('given the endpoints (no discovery), the same: the client authenticates with its certificate', async () => {
    const server = await startMtlsAuthServer()
    const api = createSessionFetch<OAuth2Credentials>({
      baseURL: server.apiURL,
      fetch: mtlsFetch(server.pki.ca, server.pki.client),
      protocol: oauth2({
        tokenEndpoint: server.tokenEndpoint,
        clientId: MTLS_CLIENTS.pki.clientId,
        clientAuthMethod: 'tls_client_auth',
        resource: MTLS_RESOURCE,
      }),
      credentials: () => ({ grant: 'client_credentials' }),
    })
    expect((await api.fetch('/reports')).status).toBe(200)
    expect(server.counters).toMatchObject({ discovery: 0, token: 1 })
  })

  test('another subject of the same CA, or a transport that presents no certificate, is an invalid_client LoginError', async () => {
    const server = await startMtlsAuthServer()
    const options = { clientId: MTLS_CLIENTS.pki.clientId, clientAuthMethod: 'tls_client_auth' } as const
    for (const identity of [server.pki.intruder, undefined]) {
      const error = await service(server, identity, options)
        .login({ grant: 'client_credentials' })
        .catch((e: unknown) => e)
      expect(error).toBeInstanceOf(LoginError)
      expect(error).toMatchObject({ status: 401, cause: { serverCode: 'invalid_client' } })
    }
    expect(server.tokenEvents.map((e) => e.outcome)).toEqual(['invalid_client', 'invalid_client'])
  })
})

describe('self_signed_tls_client_auth against oidc-provider', () => {
  test('the registered self-signed certificate logs in and binds the token; an unregistered one is refused', async () => {
    const server = await startMtlsAuthServer()
    const options = {
      clientId: MTLS_CLIENTS.selfSigned.clientId,
      clientAuthMethod: 'self_signed_tls_client_auth',
    } as const
    const api = service(server, server.pki.selfSigned, options)

    expect((await api.fetch('/reports')).status).toBe(200)
    expect(bindingOf((await api.getSession())?.access_token)).toBe(server.pki.selfSigned.thumbprint)

    const error = await service(server, server.pki.stranger, options)
      .login({ grant: 'client_credentials' })
      .catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'LoginError', status: 401, cause: { serverCode: 'invalid_client' } })
    expect(server.counters).toMatchObject({ plainToken: 0, token: 2 })
  })
})

describe('certificate-bound tokens with a secret (mtls: true)', () => {
  test('a client_secret_basic client uses the mTLS alias and its token is bound to the certificate', async () => {
    const server = await startMtlsAuthServer()
    const api = service(server, server.pki.client, { ...MTLS_CLIENTS.secret, mtls: true })
    expect((await api.fetch('/reports')).status).toBe(200)
    expect(server.counters).toMatchObject({ plainToken: 0, token: 1 })
    expect(bindingOf((await api.getSession())?.access_token)).toBe(server.pki.client.thumbprint)
  })

  test('without mtls: true the plain endpoint is used, and the token is not bound', async () => {
    const server = await startMtlsAuthServer()
    const api = service(server, server.pki.client, { ...MTLS_CLIENTS.secret })
    const error = await api.login({ grant: 'client_credentials' }).catch((e: unknown) => e)
    // oidc-provider refuses a client registered for bound tokens that presents no certificate.
    expect(error).toMatchObject({ name: 'LoginError', status: 400, cause: { serverCode: 'invalid_grant' } })
    expect(server.counters).toMatchObject({ plainToken: 1, token: 0 })
  })
})

describe('the metadata an mTLS client reads (a node:http server)', () => {
  /** An authorization server whose metadata lists `aliases`; it records the paths of the requests it gets. */
  async function metadataServer(aliases: (origin: string) => unknown) {
    const paths: string[] = []
    const origin = await listen((req, res) => {
      paths.push(req.url ?? '/')
      res.setHeader('content-type', 'application/json')
      if (req.url === '/.well-known/openid-configuration') {
        return res.end(
          JSON.stringify({
            issuer: origin,
            token_endpoint: `${origin}/token`,
            revocation_endpoint: `${origin}/revoke`,
            mtls_endpoint_aliases: aliases(origin),
          }),
        )
      }
      if (req.url?.endsWith('/token')) {
        return res.end(JSON.stringify({ access_token: 'at', token_type: 'Bearer', expires_in: 60 }))
      }
      res.end('{}')
    })
    return { origin, paths }
  }

  test('an alias is used where the metadata lists one, the plain endpoint where it does not; an http alias is refused', async () => {
    const server = await metadataServer((origin) => ({ token_endpoint: `${origin}/mtls/token` }))
    const api = createSessionFetch<OAuth2Credentials>({
      baseURL: 'http://127.0.0.1:9',
      protocol: oauth2({ issuer: server.origin, clientId: 'svc', clientAuthMethod: 'tls_client_auth' }),
    })
    const error = await api.login({ grant: 'client_credentials' }).catch((e: unknown) => e)
    // The alias is http: refused as discovery, before any token request.
    expect(error).toMatchObject({
      name: 'LoginError',
      cause: { name: 'InvalidResponseError', field: 'mtls_endpoint_aliases.token_endpoint' },
    })
    expect(server.paths).toEqual(['/.well-known/openid-configuration'])

    // An https alias (an unresolvable name, answered by the same server through the transport).
    const https = await metadataServer(() => ({ token_endpoint: 'https://alias.invalid/mtls/token' }))
    const seen: string[] = []
    const client = createSessionFetch<OAuth2Credentials>({
      baseURL: 'http://127.0.0.1:9',
      fetch: (input, init) => {
        seen.push(String(input))
        return fetch(String(input).replace('https://alias.invalid', https.origin), init)
      },
      protocol: oauth2({ issuer: https.origin, clientId: 'svc', clientAuthMethod: 'tls_client_auth' }),
    })
    await client.login({ grant: 'client_credentials' })
    await client.logout()
    expect(seen).toEqual([
      `${https.origin}/.well-known/openid-configuration`,
      'https://alias.invalid/mtls/token',
      `${https.origin}/revoke`, // no revocation alias: the plain endpoint
    ])
  })

  test('without a TLS method or mtls: true, the aliases are not used', async () => {
    const server = await metadataServer(() => ({ token_endpoint: 'https://alias.invalid/mtls/token' }))
    const api = createSessionFetch<OAuth2Credentials>({
      baseURL: 'http://127.0.0.1:9',
      protocol: oauth2({ issuer: server.origin, clientId: 'svc', clientSecret: 'shh' }),
    })
    await api.login({ grant: 'client_credentials' })
    expect(server.paths).toEqual(['/.well-known/openid-configuration', '/token'])
  })
})

describe('mTLS options', () => {
  const base = { tokenEndpoint: 'https://auth.example.com/token', clientId: 'svc' }
  const refusal = (options: Partial<OAuth2Options>) => {
    try {
      oauth2({ ...base, ...options })
    } catch (error) {
      return error
    }
    return undefined
  }

  test('a secret, a key or an http endpoint beside a TLS method is refused by name', async () => {
    const { privateKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
    ])
    for (const method of ['tls_client_auth', 'self_signed_tls_client_auth'] as const) {
      const secret = refusal({ clientAuthMethod: method, clientSecret: 'shh-not-shown' })
      expect(secret).toBeInstanceOf(OptionError)
      expect(secret).toMatchObject({ option: 'clientSecret' })
      expect(String(secret)).not.toContain('shh-not-shown')
      expect(refusal({ clientAuthMethod: method, clientAssertionKey: privateKey })).toMatchObject({
        option: 'clientAssertionKey',
      })
      expect(
        refusal({ clientAuthMethod: method, tokenEndpoint: 'http://auth.example.com/token' }),
      ).toMatchObject({ option: 'tokenEndpoint' })
      expect(
        refusal({ clientAuthMethod: method, revocationEndpoint: 'http://auth.example.com/revoke' }),
      ).toMatchObject({ option: 'revocationEndpoint' })
      expect(refusal({ clientAuthMethod: method, mtls: false })).toMatchObject({ option: 'mtls' })
      expect(refusal({ clientAuthMethod: method })).toBeUndefined()
    }
    expect(refusal({ mtls: 'yes' as unknown as boolean })).toMatchObject({ option: 'mtls' })
    expect(String(refusal({ clientAuthMethod: 'tls' as never }))).toContain('"tls_client_auth"')
  })
})
