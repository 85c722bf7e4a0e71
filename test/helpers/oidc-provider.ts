import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import {
  base64url,
  calculateJwkThumbprint,
  createRemoteJWKSet,
  EmbeddedJWK,
  exportJWK,
  generateKeyPair,
  type JWTPayload,
  jwtVerify,
} from 'jose'
import Provider, {
  type AsymmetricSigningAlgorithm,
  type ClientMetadata,
  type Configuration,
  errors,
  type KoaContextWithOIDC,
} from 'oidc-provider'
import { afterEach } from 'vitest'

/** The API the access tokens are for (RFC 8707 resource indicator and JWT `aud`). */
export const RESOURCE = 'https://api.session-fetch.test'
export const REDIRECT_URI = 'http://127.0.0.1/callback'

/** The registered clients: a web app (authorization code + refresh), a service, and a public app. */
export const CLIENTS = {
  app: { clientId: 'web-app', clientSecret: 'web-app-secret: +/%' },
  service: { clientId: 'reporting-service', clientSecret: 'reporting-service-secret' },
  public: { clientId: 'native-app' },
  /** Registered with `tokenExchange: true`: exchanges tokens (RFC 8693), nothing else. */
  exchanger: { clientId: 'billing-exchanger', clientSecret: 'billing-exchanger-secret' },
} as const

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'

/** One token exchange request as the provider's grant handler saw it. */
export interface ExchangeEvent {
  subjectToken: string | undefined
  subjectTokenType: string | undefined
  actorToken: string | undefined
  actorTokenType: string | undefined
  requestedTokenType: string | undefined
  audience: string[]
  resource: string[]
  scope: string | undefined
  /** `ok`, or why it was refused. */
  outcome: string
  /** The access token issued, when `ok`. */
  issued?: string
}

/** One token endpoint request as oidc-provider saw it. */
export interface TokenEvent {
  grantType: string | undefined
  /** The refresh token the client presented, for `refresh_token` grants. */
  refreshToken: string | undefined
  /** `ok`, or the OAuth error code (`invalid_grant`, `invalid_client`, …). */
  outcome: string
}

/** What the API answers instead of verifying, when `apiOverride` says so. */
export interface ApiOverride {
  status: number
  headers?: Record<string, string>
}

/** A real oidc-provider on 127.0.0.1 and a resource server that verifies its JWT access tokens. */
export interface AuthServer {
  /** The issuer, e.g. `http://127.0.0.1:41234`. */
  issuer: string
  tokenEndpoint: string
  revocationEndpoint: string
  /** Base URL of the protected API (verifies `Authorization: Bearer <JWT>` against the provider's JWKS). */
  apiURL: string
  provider: Provider
  /** Lifetime of the next access tokens, in whole seconds (a token of N s works for N-1 to N s); change it between steps. */
  accessTokenTtl: number
  /** Every token endpoint request, from the provider's `grant.success` / `grant.error` events. */
  tokenEvents: TokenEvent[]
  /** HTTP-level counts: token endpoint hits, metadata reads (either well-known path), API requests, API 401s. */
  counters: { token: number; discovery: number; api: number; api401: number }
  /** Where the metadata is served: OpenID Connect's well-known path, or only RFC 8414's. */
  metadataAt: 'openid-configuration' | 'oauth-authorization-server'
  /** The next this many metadata reads answer 503. */
  failDiscovery: number
  /** The access tokens the API accepted, in order. */
  acceptedTokens: string[]
  /** DPoP proofs the API saw on accepted requests (their claims), in order. */
  acceptedProofs: JWTPayload[]
  /** Why the API refused DPoP requests: `htm`, `htu`, `ath`, `jti`, `jkt`, `nonce`, `proof`, `scheme`. */
  proofRefusals: string[]
  /** The nonce the API requires in DPoP proofs (undefined: none); change it to rotate. */
  apiNonce: string | undefined
  /** The form parameters of every token endpoint request, as the provider parsed them (before it drops unknown ones). */
  tokenBodies: Record<string, unknown>[]
  /** Token exchanges (`tokenExchange: true`), in the order they were received. */
  exchanges: ExchangeEvent[]
  /** Lifetime of the tokens the next exchanges issue, in whole seconds; change it between steps. */
  exchangeTtl: number
  /** Set an answer of the API: `(req) => ({ status, headers })` to answer it instead (undefined: verify as usual). */
  apiOverride: ((req: IncomingMessage, token: string | undefined) => ApiOverride | undefined) | undefined
  close(): Promise<void>
}

const running = new Set<AuthServer>()

afterEach(async () => {
  await Promise.all([...running].map((server) => server.close()))
  running.clear()
})

/** Start the authorization server and the API; both are closed after the test. */
export async function startAuthServer(
  options: {
    accessTokenTtl?: number
    /** More clients to register (e.g. `private_key_jwt` ones with their public JWKS). */
    clients?: ClientMetadata[]
    /**
     * Enable DPoP (RFC 9449) at the provider; `requireNonce` makes its token endpoint demand nonces; `algs` are the
     * proof algorithms it takes and lists in `dpop_signing_alg_values_supported` (default ES256, EdDSA).
     */
    dpop?: { requireNonce?: boolean; algs?: AsymmetricSigningAlgorithm[] }
    /**
     * `'issuer'`: client assertions must name the issuer identifier as their one `aud` (a string), as RFC 7523bis
     * and the OpenID Foundation's 2025 audience-injection advisory ask; oidc-provider 8 also takes the token
     * endpoint and the endpoint's own URL.
     */
    assertionAudience?: 'issuer'
    /**
     * Register the token exchange grant (RFC 8693) and the `exchanger` client: a valid access token of this
     * provider (for the API) as the subject token gets a new one for the API, living `exchangeTtl` seconds.
     */
    tokenExchange?: boolean
  } = {},
): Promise<AuthServer> {
  const sockets = new Set<Socket>()
  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  }
  let handle: RequestListener = (_req, res) => res.writeHead(503).end()
  const authHttp = createServer((req, res) => handle(req, res)).on('connection', track)
  const issuer = await listen(authHttp)

  const { privateKey } = await generateKeyPair('RS256', { extractable: true })
  const jwk = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' }
  const tokenEvents: TokenEvent[] = []
  const counters = { token: 0, discovery: 0, api: 0, api401: 0 }
  const acceptedTokens: string[] = []
  const acceptedProofs: JWTPayload[] = []
  const proofRefusals: string[] = []
  const usedJtis = new Set<string>()

  const server = {} as AuthServer
  const configuration: Configuration = {
    clients: [
      {
        client_id: CLIENTS.app.clientId,
        client_secret: CLIENTS.app.clientSecret,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: CLIENTS.service.clientId,
        client_secret: CLIENTS.service.clientSecret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_post',
      },
      {
        client_id: CLIENTS.public.clientId,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: 'none',
      },
      ...(options.tokenExchange
        ? [
            {
              client_id: CLIENTS.exchanger.clientId,
              client_secret: CLIENTS.exchanger.clientSecret,
              grant_types: [TOKEN_EXCHANGE],
              response_types: [],
              redirect_uris: [],
              token_endpoint_auth_method: 'client_secret_basic',
            } satisfies ClientMetadata,
          ]
        : []),
      ...(options.clients ?? []),
    ],
    jwks: { keys: [jwk] },
    ...(options.dpop?.algs ? { enabledJWA: { dPoPSigningAlgValues: options.dpop.algs } } : {}),
    cookies: { keys: [randomBytes(16).toString('hex')] },
    scopes: ['openid', 'offline_access', 'api:read'],
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      dPoP: {
        enabled: options.dpop !== undefined,
        nonceSecret: randomBytes(32),
        requireNonce: () => options.dpop?.requireNonce === true,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'api:read',
          audience: RESOURCE,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    rotateRefreshToken: true,
    ttl: {
      AccessToken: () => server.accessTokenTtl,
      ClientCredentials: () => server.accessTokenTtl,
      IdToken: 60,
      RefreshToken: 3600,
      Grant: 3600,
      Session: 3600,
      Interaction: 600,
      AuthorizationCode: 60,
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  }
  if (options.assertionAudience === 'issuer') {
    configuration.assertJwtClientAuthClaimsAndHeader = (_ctx, claims) => {
      if (claims.aud !== issuer) throw new errors.InvalidClientAuth('aud must be the issuer identifier')
    }
  }
  const provider = new Provider(issuer, configuration)
  const tokenBodies: Record<string, unknown>[] = []
  provider.use(async (ctx, next) => {
    await next()
    const body = (ctx as unknown as KoaContextWithOIDC).oidc?.body
    if (ctx.path === '/token' && body) tokenBodies.push({ ...body })
  })
  const record = (ctx: KoaContextWithOIDC, outcome: string) => {
    const params = (ctx.oidc?.params ?? {}) as Record<string, unknown>
    tokenEvents.push({
      grantType: typeof params.grant_type === 'string' ? params.grant_type : undefined,
      refreshToken: typeof params.refresh_token === 'string' ? params.refresh_token : undefined,
      outcome,
    })
  }
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => record(ctx, 'ok'))
  provider.on('grant.error', (ctx: KoaContextWithOIDC, error: { error?: string }) =>
    record(ctx, error.error ?? 'error'),
  )

  const callback = provider.callback()
  handle = (req, res) => {
    const path = new URL(req.url ?? '/', issuer).pathname
    if (path === '/token') counters.token++
    const wellKnown = /^\/\.well-known\/(openid-configuration|oauth-authorization-server)$/.exec(path)?.[1]
    if (wellKnown) {
      counters.discovery++
      if (server.failDiscovery > 0) {
        server.failDiscovery--
        return void res.writeHead(503).end()
      }
      if (wellKnown !== server.metadataAt) return void res.writeHead(404).end()
      req.url = '/.well-known/openid-configuration' // the provider serves the same metadata at its own path
    }
    if (path.startsWith('/interaction/')) void finishInteraction(provider, req, res)
    else void callback(req, res)
  }

  // The protected API: 200 with the token's claims when the JWT verifies, 401 otherwise (RFC 6750 §3). A token
  // bound to a DPoP key (`cnf.jkt`) is accepted only as `Authorization: DPoP` with a proof for this request
  // (RFC 9449 §7): signature by the embedded key, its thumbprint = jkt, htm, htu, ath, a jti never seen, and
  // the nonce when one is required.
  const jwks = createRemoteJWKSet(new URL('/jwks', issuer))
  const exchanges: ExchangeEvent[] = []
  if (options.tokenExchange) registerTokenExchange(provider, server, exchanges, jwks, issuer)
  const apiHttp = createServer((req, res) => {
    counters.api++
    const match = /^(Bearer|DPoP) (\S+)$/.exec(req.headers.authorization ?? '')
    const token = match?.[2]
    const override = server.apiOverride?.(req, token)
    if (override) {
      if (override.status === 401) counters.api401++
      return void res.writeHead(override.status, override.headers).end()
    }
    if (!token) return unauthorized(res, counters)
    const accept = (payload: JWTPayload) => {
      acceptedTokens.push(token)
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ path: req.url, sub: payload.sub, client_id: payload.client_id }))
    }
    jwtVerify(token, jwks, { issuer, audience: RESOURCE }).then(
      async ({ payload }) => {
        const jkt = (payload.cnf as { jkt?: string } | undefined)?.jkt
        if (jkt === undefined && match?.[1] === 'Bearer') return accept(payload)
        const refused = await dpopRefusal(req, token, jkt, server.apiNonce, usedJtis, apiURL)
        if (typeof refused === 'string') {
          proofRefusals.push(refused)
          return refused === 'nonce'
            ? unauthorized(res, counters, 'DPoP error="use_dpop_nonce"', server.apiNonce)
            : unauthorized(res, counters, 'DPoP error="invalid_dpop_proof"')
        }
        acceptedProofs.push(refused)
        accept(payload)
      },
      () => unauthorized(res, counters),
    )
  }).on('connection', track)
  const apiURL = await listen(apiHttp)

  Object.assign(server, {
    issuer,
    tokenEndpoint: `${issuer}/token`,
    revocationEndpoint: `${issuer}/token/revocation`,
    apiURL,
    provider,
    accessTokenTtl: options.accessTokenTtl ?? 60,
    tokenEvents,
    counters,
    acceptedTokens,
    acceptedProofs,
    proofRefusals,
    apiNonce: undefined,
    tokenBodies,
    exchanges,
    exchangeTtl: 60,
    apiOverride: undefined,
    metadataAt: 'openid-configuration',
    failDiscovery: 0,
    async close() {
      for (const socket of sockets) socket.destroy()
      await Promise.all([authHttp, apiHttp].map((s) => new Promise((resolve) => s.close(resolve))))
    },
  } satisfies AuthServer)
  running.add(server)
  return server
}

/**
 * The token exchange grant (RFC 8693 §2), as a grant handler of the provider: the subject token must be an access
 * token of this provider for the API (its JWT verifies), and the answer is a new JWT access token for the API.
 */
function registerTokenExchange(
  provider: Provider,
  server: AuthServer,
  exchanges: ExchangeEvent[],
  jwks: ReturnType<typeof createRemoteJWKSet>,
  issuer: string,
): void {
  const list = (value: unknown) =>
    value === undefined ? [] : (Array.isArray(value) ? value : [value]).map(String)
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined)
  provider.registerGrantType(
    TOKEN_EXCHANGE,
    async (ctx, next) => {
      const params = ctx.oidc.params as Record<string, unknown>
      const event: ExchangeEvent = {
        subjectToken: text(params.subject_token),
        subjectTokenType: text(params.subject_token_type),
        actorToken: text(params.actor_token),
        actorTokenType: text(params.actor_token_type),
        requestedTokenType: text(params.requested_token_type),
        audience: list(params.audience),
        resource: list(params.resource),
        scope: text(params.scope),
        outcome: 'ok',
      }
      exchanges.push(event)
      if (event.subjectTokenType !== ACCESS_TOKEN_TYPE) {
        event.outcome = 'subject_token_type'
        throw new errors.InvalidRequest('unsupported subject_token_type')
      }
      try {
        await jwtVerify(event.subjectToken ?? '', jwks, { issuer, audience: RESOURCE })
      } catch {
        event.outcome = 'subject_token'
        throw new errors.InvalidGrant('subject_token is not a valid access token')
      }
      const { ClientCredentials } = ctx.oidc.provider
      // The provider's resource server class (untyped in @types/oidc-provider 8).
      const { ResourceServer } = ctx.oidc.provider as unknown as {
        ResourceServer: new (identifier: string, info: object) => object
      }
      const token = new ClientCredentials({
        client: ctx.oidc.client,
        scope: 'api:read',
        expiresIn: server.exchangeTtl,
        resourceServer: new ResourceServer(RESOURCE, {
          scope: 'api:read',
          audience: RESOURCE,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      } as ConstructorParameters<typeof ClientCredentials>[0])
      const value = await token.save()
      event.issued = value
      ctx.body = {
        access_token: value,
        issued_token_type: ACCESS_TOKEN_TYPE,
        token_type: 'Bearer',
        expires_in: token.expiration,
        scope: token.scope,
      }
      await next()
    },
    [
      'subject_token',
      'subject_token_type',
      'actor_token',
      'actor_token_type',
      'requested_token_type',
      'audience',
      'resource',
      'scope',
    ],
    ['audience', 'resource'],
  )
}

function unauthorized(
  res: ServerResponse,
  counters: { api401: number },
  challenge = 'Bearer error="invalid_token"',
  nonce?: string,
): void {
  counters.api401++
  res.writeHead(401, { 'www-authenticate': challenge, ...(nonce ? { 'dpop-nonce': nonce } : {}) }).end()
}

/** The proof's claims when the DPoP proof is good for this request and token, else what is wrong with it. */
async function dpopRefusal(
  req: IncomingMessage,
  token: string,
  jkt: string | undefined,
  nonce: string | undefined,
  usedJtis: Set<string>,
  apiURL: string,
): Promise<JWTPayload | string> {
  if (!/^DPoP /.test(req.headers.authorization ?? '') || jkt === undefined) return 'scheme'
  const proof = req.headers.dpop
  if (typeof proof !== 'string') return 'proof'
  let verified: Awaited<ReturnType<typeof jwtVerify>>
  try {
    verified = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', maxTokenAge: 60 })
  } catch {
    return 'proof'
  }
  const { payload, protectedHeader } = verified
  const digest = createHash('sha256').update(token).digest()
  if (
    (await calculateJwkThumbprint(protectedHeader.jwk as Parameters<typeof calculateJwkThumbprint>[0])) !==
    jkt
  )
    return 'jkt'
  if (payload.htm !== req.method) return 'htm'
  if (payload.htu !== new URL(req.url ?? '/', apiURL).href.replace(/[?#].*$/, '')) return 'htu'
  if (payload.ath !== base64url.encode(digest)) return 'ath'
  if (typeof payload.jti !== 'string' || usedJtis.has(payload.jti)) return 'jti'
  if (nonce !== undefined && payload.nonce !== nonce) return 'nonce'
  usedJtis.add(payload.jti)
  return payload
}

function listen(server: ReturnType<typeof createServer>): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`))
  })
}

// The "user" signs in and consents at once: a login result and a grant covering what the client asked for.
async function finishInteraction(provider: Provider, req: IncomingMessage, res: ServerResponse) {
  try {
    const details = await provider.interactionDetails(req, res)
    const accountId = 'user-1'
    const grant = new provider.Grant({ accountId, clientId: String(details.params.client_id) })
    grant.addOIDCScope(String(details.params.scope))
    grant.addResourceScope(RESOURCE, 'api:read')
    const grantId = await grant.save()
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    )
  } catch (error) {
    res.writeHead(500).end(String(error))
  }
}

/** What an app has after running the authorization-code flow itself: the code, and the PKCE verifier. */
export interface AuthorizationCode {
  code: string
  codeVerifier: string
  redirectUri: string
}

/**
 * Drive the authorization-code flow with PKCE over HTTP, as a browser would: authorization request, the
 * interaction (login + consent), back to the authorization endpoint, and the redirect carrying the code.
 */
export async function authorize(server: AuthServer, clientId: string): Promise<AuthorizationCode> {
  const codeVerifier = randomBytes(32).toString('base64url')
  const challenge = createHash('sha256').update(codeVerifier).digest('base64url')
  const start = new URL('/auth', server.issuer)
  start.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: 'openid offline_access api:read',
    prompt: 'consent',
    resource: RESOURCE,
    state: randomBytes(8).toString('hex'),
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString()
  const cookies = new Map<string, string>()
  let url = start.href
  for (let hop = 0; hop < 10; hop++) {
    const response = await fetch(url, {
      redirect: 'manual',
      headers: { cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; ') },
    })
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';')
      const eq = pair.indexOf('=')
      cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim())
    }
    await response.body?.cancel()
    const location = response.headers.get('location')
    if (!location) throw new Error(`authorization flow stopped at ${url} with status ${response.status}`)
    const next = new URL(location, url)
    if (next.href.startsWith(REDIRECT_URI)) {
      const code = next.searchParams.get('code')
      if (!code) throw new Error(`no code in the redirect: ${next.search}`)
      return { code, codeVerifier, redirectUri: REDIRECT_URI }
    }
    url = next.href
  }
  throw new Error('authorization flow did not reach the redirect URI')
}

/** Sleep until the server's clock has passed this JWT's `exp` (its lifetime is whole seconds). */
export async function untilExpired(token: string): Promise<void> {
  const [, payload = ''] = token.split('.')
  const { exp } = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { exp: number }
  const wait = exp * 1000 - Date.now() + 50
  if (wait > 5_000)
    throw new Error(`the token lives another ${wait} ms: give the test a shorter accessTokenTtl`)
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
}
