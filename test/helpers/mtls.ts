// Mutual TLS (RFC 8705) on 127.0.0.1: a test CA and the certificates it signs, an oidc-provider served over HTTPS
// with its mTLS features (tls_client_auth, self_signed_tls_client_auth, certificate-bound access tokens), and a
// resource server that takes a token only over the TLS client certificate it is bound to.
import { createHash, randomBytes, X509Certificate } from 'node:crypto'
import { createServer, type Server } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { exportJWK, generateKeyPair, type JWTPayload, jwtVerify } from 'jose'
import Provider, { type ClientMetadata, type KoaContextWithOIDC } from 'oidc-provider'
import selfsigned from 'selfsigned'
import { Agent, fetch as undiciFetch } from 'undici'
import { afterEach } from 'vitest'

/** The API the access tokens are for (RFC 8707 resource indicator and JWT `aud`). */
export const MTLS_RESOURCE = 'https://api.mtls.session-fetch.test'

/** A certificate and its private key, PEM, with the SHA-256 thumbprint a bound token names (`x5t#S256`). */
export interface Identity {
  cert: string
  key: string
  thumbprint: string
}

/** The test PKI: a CA, the servers' certificate, and client certificates. */
export interface Pki {
  /** The CA's certificate (PEM): the servers' certificate and the `client` and `intruder` ones chain to it. */
  ca: string
  server: Identity
  /** Issued by the CA to `CN=reporting-mtls`, the subject the `tls_client_auth` client is registered with. */
  client: Identity
  /** Issued by the same CA to another subject. */
  intruder: Identity
  /** Self-signed, registered (in the client's `jwks`, `x5c`) for `self_signed_tls_client_auth`. */
  selfSigned: Identity
  /** Self-signed, registered nowhere. */
  stranger: Identity
}

/** The registered clients. */
export const MTLS_CLIENTS = {
  /** `tls_client_auth` with `tls_client_auth_subject_dn` = the `client` certificate's subject. */
  pki: { clientId: 'reporting-mtls', subject: 'CN=reporting-mtls' },
  /** `self_signed_tls_client_auth` with the `selfSigned` certificate. */
  selfSigned: { clientId: 'reporting-self-signed' },
  /** `client_secret_basic`, certificate-bound tokens when it presents a certificate on the mTLS endpoints. */
  secret: { clientId: 'reporting-secret', clientSecret: 'reporting-secret-value-0123456789' },
} as const

let pki: Promise<Pki> | undefined

/** The test PKI, made once per test file (EC P-256 keys: quick to make). */
export function testPki(): Promise<Pki> {
  pki ??= makePki()
  return pki
}

async function makePki(): Promise<Pki> {
  const options = { keyType: 'ec', algorithm: 'sha256' } as const
  const ca = await selfsigned.generate([{ name: 'commonName', value: 'session-fetch test CA' }], {
    ...options,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  })
  const signedBy = { key: ca.private, cert: ca.cert }
  const issue = async (commonName: string, by?: typeof signedBy): Promise<Identity> => {
    const pems = await selfsigned.generate([{ name: 'commonName', value: commonName }], {
      ...options,
      ...(by ? { ca: by } : {}),
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
      ],
    })
    return { cert: pems.cert, key: pems.private, thumbprint: thumbprintOf(pems.cert) }
  }
  return {
    ca: ca.cert,
    server: await issue('127.0.0.1', signedBy),
    client: await issue('reporting-mtls', signedBy),
    intruder: await issue('intruder', signedBy),
    selfSigned: await issue('reporting-self-signed'),
    stranger: await issue('stranger'),
  }
}

/** RFC 8705 §3.1: base64url of the SHA-256 of the certificate's DER. */
export function thumbprintOf(pem: string | Buffer): string {
  const der = typeof pem === 'string' ? new X509Certificate(pem).raw : pem
  return createHash('sha256').update(der).digest('base64url')
}

const agents = new Set<Agent>()

/**
 * undici's `fetch` over an `Agent` that trusts the test CA and, given an identity, presents its certificate: what a
 * user passes as the `fetch` option for mTLS.
 */
export function mtlsFetch(ca: string, identity?: Identity): typeof globalThis.fetch {
  const agent = new Agent({ connect: identity ? { ca, cert: identity.cert, key: identity.key } : { ca } })
  agents.add(agent)
  return ((input: Parameters<typeof undiciFetch>[0], init?: Parameters<typeof undiciFetch>[1]) =>
    undiciFetch(input, { ...init, dispatcher: agent })) as unknown as typeof globalThis.fetch
}

/** One request the API saw: the token's binding, the certificate presented, and the answer. */
export interface ApiRequest {
  /** The token's `cnf.x5t#S256`, undefined for an unbound token (or none). */
  bound: string | undefined
  /** The thumbprint of the client certificate of the connection, undefined without one. */
  presented: string | undefined
  status: number
}

/** oidc-provider over HTTPS, its mTLS endpoints, and the API. */
export interface MtlsAuthServer {
  /** `https://127.0.0.1:<port>`: metadata and the plain endpoints (no client certificate asked for). */
  issuer: string
  /** The plain token endpoint, where no certificate is asked for (`tls_client_auth` fails there). */
  plainTokenEndpoint: string
  /** The mTLS aliases (RFC 8705 §5), on an origin that asks for a client certificate. */
  tokenEndpoint: string
  revocationEndpoint: string
  /** Base URL of the API (asks for a client certificate; a bound token must come over its certificate). */
  apiURL: string
  pki: Pki
  provider: Provider
  /** Lifetime (s) of the next access tokens. */
  accessTokenTtl: number
  /** HTTP hits: metadata, token requests (plain and mTLS origin), revocations (mTLS origin), API requests. */
  counters: { discovery: number; plainToken: number; token: number; revocation: number; api: number }
  /** Token requests as the provider judged them: the client and `ok` or the OAuth error code. */
  tokenEvents: { clientId: string | undefined; outcome: string }[]
  /** What the API saw, in order. */
  apiRequests: ApiRequest[]
  /** The forms posted to the mTLS origin's token endpoint (to check that no secret is sent). */
  tokenForms: { form: URLSearchParams; authorization: string | undefined }[]
  close(): Promise<void>
}

const running = new Set<MtlsAuthServer>()

afterEach(async () => {
  await Promise.all([...running].map((server) => server.close()))
  running.clear()
  await Promise.all([...agents].map((agent) => agent.close()))
  agents.clear()
})

/** Start the provider (plain and mTLS origins) and the API over HTTPS on 127.0.0.1; closed after the test. */
export async function startMtlsAuthServer(
  options: { accessTokenTtl?: number; clients?: ClientMetadata[] } = {},
): Promise<MtlsAuthServer> {
  const certs = await testPki()
  const sockets = new Set<Socket>()
  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  }
  // Every server asks for a certificate only where mTLS is meant to happen; none refuses the handshake, so that the
  // application layer (oidc-provider, the API) judges what was presented, and a self-signed one gets through.
  const tls = (requestCert: boolean) => ({
    key: certs.server.key,
    cert: certs.server.cert,
    ca: certs.ca,
    requestCert,
    rejectUnauthorized: false,
  })
  type Handler = Parameters<typeof createServer>[1]
  let plain: NonNullable<Handler> = (_req, res) => void res.writeHead(503).end()
  let mutual: NonNullable<Handler> = plain
  const plainHttps = createServer(tls(false), (req, res) => plain(req, res)).on('secureConnection', track)
  const mtlsHttps = createServer(tls(true), (req, res) => mutual(req, res)).on('secureConnection', track)
  const issuer = await listen(plainHttps)
  const mtlsOrigin = await listen(mtlsHttps)

  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
  const jwk = { ...(await exportJWK(privateKey)), kid: 'mtls-test-key', alg: 'RS256', use: 'sig' }
  const selfSignedJwk = {
    ...new X509Certificate(certs.selfSigned.cert).publicKey.export({ format: 'jwk' }),
    x5c: [new X509Certificate(certs.selfSigned.cert).raw.toString('base64')],
  }
  const server = {} as MtlsAuthServer
  const tokenEvents: MtlsAuthServer['tokenEvents'] = []
  const counters = { discovery: 0, plainToken: 0, token: 0, revocation: 0, api: 0 }
  const apiRequests: ApiRequest[] = []
  const tokenForms: MtlsAuthServer['tokenForms'] = []

  const bound = { tls_client_certificate_bound_access_tokens: true }
  const service = { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] }
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: MTLS_CLIENTS.pki.clientId,
        token_endpoint_auth_method: 'tls_client_auth',
        tls_client_auth_subject_dn: MTLS_CLIENTS.pki.subject,
        ...service,
        ...bound,
      },
      {
        client_id: MTLS_CLIENTS.selfSigned.clientId,
        token_endpoint_auth_method: 'self_signed_tls_client_auth',
        jwks: { keys: [selfSignedJwk] },
        ...service,
        ...bound,
      },
      {
        client_id: MTLS_CLIENTS.secret.clientId,
        client_secret: MTLS_CLIENTS.secret.clientSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        ...service,
        ...bound,
      },
      ...(options.clients ?? []),
    ],
    clientAuthMethods: [
      'client_secret_basic',
      'client_secret_jwt',
      'private_key_jwt',
      'tls_client_auth',
      'self_signed_tls_client_auth',
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    scopes: ['api:read'],
    discovery: {
      mtls_endpoint_aliases: {
        token_endpoint: `${mtlsOrigin}/token`,
        revocation_endpoint: `${mtlsOrigin}/token/revocation`,
      },
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        tlsClientAuth: true,
        selfSignedTlsClientAuth: true,
        // The certificate of this request's TLS connection, if it presented one.
        getCertificate: (ctx: KoaContextWithOIDC) => {
          const socket = ctx.req.socket as TLSSocket
          const peer =
            typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined
          return peer?.raw ? new X509Certificate(peer.raw) : undefined
        },
        // Chains to the test CA (the handshake verified it, though it let an unverified one through).
        certificateAuthorized: (ctx: KoaContextWithOIDC) => (ctx.req.socket as TLSSocket).authorized === true,
        certificateSubjectMatches: (ctx: KoaContextWithOIDC, property: string, expected: string) => {
          const peer = (ctx.req.socket as TLSSocket).getPeerCertificate()
          return property === 'tls_client_auth_subject_dn' && peer?.raw !== undefined
            ? new X509Certificate(peer.raw).subject === expected
            : false
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => MTLS_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'api:read',
          audience: MTLS_RESOURCE,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    ttl: {
      ClientCredentials: () => server.accessTokenTtl,
      AccessToken: () => server.accessTokenTtl,
    },
  })
  const record = (ctx: KoaContextWithOIDC, outcome: string) =>
    tokenEvents.push({ clientId: ctx.oidc?.client?.clientId, outcome })
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => record(ctx, 'ok'))
  provider.on('grant.error', (ctx: KoaContextWithOIDC, error: { error?: string }) =>
    record(ctx, error.error ?? 'error'),
  )

  // What reached the token endpoints, as the provider parsed it (to check that no secret is sent).
  provider.use(async (ctx, next) => {
    await next()
    if (ctx.path === '/token' && ctx.method === 'POST') {
      const body = (ctx.oidc as unknown as { body?: Record<string, string> } | undefined)?.body ?? {}
      tokenForms.push({
        form: new URLSearchParams(body),
        authorization: ctx.get('authorization') || undefined,
      })
    }
  })

  const callback = provider.callback() // Koa composes the middleware now: add any before
  plain = (req, res) => {
    const path = new URL(req.url ?? '/', issuer).pathname
    if (path === '/.well-known/openid-configuration') counters.discovery++
    if (path === '/token') counters.plainToken++
    void callback(req, res)
  }
  mutual = (req, res) => {
    const path = new URL(req.url ?? '/', mtlsOrigin).pathname
    if (path === '/token/revocation') counters.revocation++
    if (path === '/token') counters.token++
    void callback(req, res)
  }
  // The API: a JWT access token signed by the provider, for MTLS_RESOURCE; one bound to a certificate
  // (`cnf.x5t#S256`, RFC 8705 §3) only over a connection that presented that certificate.
  const apiHttps = createServer(tls(true), (req, res) => {
    counters.api++
    const socket = req.socket as TLSSocket
    const peer = socket.getPeerCertificate()
    const presented = peer?.raw ? thumbprintOf(peer.raw) : undefined
    const answer = (status: number, payload?: JWTPayload, bound?: string) => {
      apiRequests.push({ bound, presented, status })
      if (status !== 200) {
        res.writeHead(status, { 'www-authenticate': 'Bearer error="invalid_token"' }).end()
        return
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ path: req.url, client_id: payload?.client_id }))
    }
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1]
    if (!token) return answer(401)
    jwtVerify(token, publicKey, { issuer, audience: MTLS_RESOURCE }).then(
      ({ payload }) => {
        const binding = (payload.cnf as Record<string, unknown> | undefined)?.['x5t#S256']
        const bound = typeof binding === 'string' ? binding : undefined
        answer(bound === undefined || bound === presented ? 200 : 401, payload, bound)
      },
      () => answer(401),
    )
  }).on('secureConnection', track)
  const apiURL = await listen(apiHttps)

  Object.assign(server, {
    issuer,
    plainTokenEndpoint: `${issuer}/token`,
    tokenEndpoint: `${mtlsOrigin}/token`,
    revocationEndpoint: `${mtlsOrigin}/token/revocation`,
    apiURL,
    pki: certs,
    provider,
    accessTokenTtl: options.accessTokenTtl ?? 60,
    counters,
    tokenEvents,
    apiRequests,
    tokenForms,
    async close() {
      for (const socket of sockets) socket.destroy()
      await Promise.all(
        [plainHttps, mtlsHttps, apiHttps].map((s) => new Promise((resolve) => s.close(resolve))),
      )
    },
  } satisfies MtlsAuthServer)
  running.add(server)
  return server
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () =>
      resolve(`https://127.0.0.1:${(server.address() as AddressInfo).port}`),
    )
  })
}
