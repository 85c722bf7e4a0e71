import {
  describe,
  parseHttpURL,
  parseNonNegativeInteger,
  parsePositiveDuration,
  rejectUnknownOptions,
} from '../../core/validate.js'
import { OptionError } from '../../errors/option-error.js'

/**
 * How the client proves its identity to the token endpoint: with its secret (RFC 6749 §2.3.1), with a JWT it
 * signs with its private key (`private_key_jwt`, RFC 7523 §2.2, OpenID Connect Core §9) or with its secret
 * (`client_secret_jwt`, HS256), or with the certificate its TLS connection presents (`tls_client_auth`,
 * `self_signed_tls_client_auth`, RFC 8705 §2).
 */
export type ClientAuthMethod =
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'client_secret_jwt'
  | 'private_key_jwt'
  | 'tls_client_auth'
  | 'self_signed_tls_client_auth'

/** The methods where the TLS client certificate is the credential (RFC 8705 §2). */
const TLS_METHODS = new Set<unknown>(['tls_client_auth', 'self_signed_tls_client_auth'])
const METHODS = new Set<unknown>([
  'client_secret_basic',
  'client_secret_post',
  'client_secret_jwt',
  'private_key_jwt',
  ...TLS_METHODS,
])

/** A private key for `private_key_jwt`: a WebCrypto `CryptoKey`, or a private JWK (`d` included). */
export type ClientAssertionKey = CryptoKey | JsonWebKey

/** Options of {@link oauth2}. */
export interface OAuth2Options {
  /**
   * The authorization server's token endpoint (RFC 6749 §3.2). A query is kept; credentials and fragments are
   * refused. Give this or `issuer`.
   * @example 'https://auth.example.com/oauth/token'
   */
  tokenEndpoint?: string | undefined
  /**
   * The authorization server's issuer identifier. Without `tokenEndpoint`, the endpoints are discovered from its
   * metadata (`/.well-known/openid-configuration`, else RFC 8414's `/.well-known/oauth-authorization-server`):
   * read once, on the first token request, and read again later if that failed. Discovery also gives the
   * revocation endpoint (unless `revocationEndpoint` is set) and the DPoP algorithms the server accepts. With or
   * without `tokenEndpoint`, it is the `aud` of the client assertions (`private_key_jwt`, `client_secret_jwt`).
   * @example 'https://auth.example.com'
   */
  issuer?: string | undefined
  /** The client identifier issued by the authorization server (RFC 6749 §2.2). */
  clientId: string
  /**
   * The client secret of a confidential client. Omit it for a public client (a browser or native app): then
   * only `client_id` is sent. Omit it too with `tls_client_auth` and `self_signed_tls_client_auth`, where the TLS
   * client certificate is the credential (an `OptionError` otherwise).
   * @default undefined (public client)
   */
  clientSecret?: string | undefined
  /**
   * How the client authenticates:
   * - `client_secret_basic`, `client_secret_post`: the secret in an `Authorization: Basic` header, or as
   *   `client_id` and `client_secret` in the form body;
   * - `client_secret_jwt` (RFC 7523 §2.2): a client assertion signed HS256 with `clientSecret`, made fresh for
   *   every token request; the secret itself never leaves the process;
   * - `private_key_jwt`: a client assertion signed with `clientAssertionKey` (or supplied by `clientAssertion`);
   * - `tls_client_auth`, `self_signed_tls_client_auth` (RFC 8705 §2): the client certificate the transport
   *   presents (the `fetch` option of `createSessionFetch`, e.g. undici's `fetch` with an `Agent` holding `cert` and
   *   `key`), and `client_id` in the form; no secret. With `issuer`, the metadata's `mtls_endpoint_aliases` are
   *   used. Whether `fetch` presents a certificate cannot be seen from here: without one the server answers
   *   `invalid_client`.
   * @default 'client_secret_basic' with a `clientSecret`; `'private_key_jwt'` with a `clientAssertionKey` or `clientAssertion`
   */
  clientAuthMethod?: ClientAuthMethod
  /**
   * The private key that signs client assertions (`private_key_jwt`): a `CryptoKey` (RSASSA-PKCS1-v1_5 →
   * RS256/384/512, RSA-PSS → PS256/384/512, ECDSA P-256/P-384 → ES256/ES384, Ed25519 → EdDSA) or a private JWK
   * (its `alg`, else the same rule; its `kid` goes into the header). Each assertion has `iss` = `sub` = the
   * client id, `aud` = `clientAssertionAudience`, a 60 s lifetime and a unique `jti`.
   * @default undefined
   */
  clientAssertionKey?: ClientAssertionKey | undefined
  /**
   * Supplies a client assertion made elsewhere (a workload identity token, a JWT signed by a KMS): called once
   * per token request, retries included. Use instead of `clientAssertionKey`.
   * @default undefined
   */
  clientAssertion?: (() => string | Promise<string>) | undefined
  /**
   * The `aud` of the client assertions made with `clientAssertionKey` or (`client_secret_jwt`) `clientSecret`.
   * @default the issuer identifier (`issuer`, or the discovered metadata's), else the token endpoint
   */
  clientAssertionAudience?: string | undefined
  /**
   * The transport presents a client certificate (RFC 8705): token and revocation requests go to the endpoints the
   * discovered metadata lists in `mtls_endpoint_aliases` (where it lists them), so that the server binds the
   * access tokens to the certificate (`cnf.x5t#S256`) or authenticates the client with it. Give `true` with a
   * secret or key method whose tokens are certificate-bound.
   * @default true with `tls_client_auth` and `self_signed_tls_client_auth`, else false
   */
  mtls?: boolean | undefined
  /**
   * Scope requested by the `client_credentials` grant (RFC 6749 §3.3), a space-separated string or a list.
   * Refreshes never send it, so they keep the scope that was granted.
   * @default undefined (the server's default scope)
   */
  scope?: string | readonly string[] | undefined
  /**
   * Resource indicator(s) sent with every token request (RFC 8707): the API the access token is for. Some
   * servers (oidc-provider, many gateways) issue JWT access tokens only when one is named.
   * @default undefined
   */
  resource?: string | readonly string[] | undefined
  /**
   * The revocation endpoint (RFC 7009). With it, `logout()` revokes the refresh token (or, without one, the
   * access token); without it, `logout()` only forgets the session locally.
   * @default undefined
   */
  revocationEndpoint?: string | undefined
  /**
   * Sender-constrained tokens (DPoP, RFC 9449): every token request and every request the session covers
   * carries a proof signed by the client's key pair, and the access token goes as `Authorization: DPoP <token>`.
   * `true` makes a non-extractable key pair with WebCrypto, once per `oauth2()` instance: ES256 (P-256), unless the
   * discovered metadata's `dpop_signing_alg_values_supported` leaves it out (then the first it lists of ES384,
   * ES512, EdDSA, RS256/384/512, PS256/384/512). Pass `{ keyPair }` to use your own (ECDSA P-256/384/521, Ed25519
   * or RSA), e.g. the same one in every process that shares a store, or a promise of one (`browserDpopKeyPair()`
   * from `session-fetch/browser`: one key pair for every tab and reload). A key pair (or a list) the server's
   * metadata does not take is an `OptionError` naming `dpop`, before any token request.
   * @default false
   */
  dpop?: boolean | { keyPair: CryptoKeyPair | Promise<CryptoKeyPair> } | undefined
  /**
   * How far (ms) the local clock is behind the authorization server's: client assertions and DPoP proofs are
   * stamped with local time + `clockSkewMs` until the server has answered once; from then on, with the time its
   * answers' `Date` header gives. Negative when the local clock is ahead. (openid-client's `clockSkew`, in ms.)
   * @default 0
   */
  clockSkewMs?: number | undefined
  /**
   * How many times a token request is retried after a 408, 429, 5xx or a network error, within the core's
   * `refreshTimeoutMs`. A 400/401/403 (`invalid_grant`, `invalid_client`, …) is never retried.
   * @default 2
   */
  retry?: number
  /**
   * First retry delay in ms; doubles each time, with jitter. A `Retry-After` header wins when it is longer.
   * @default 200
   */
  retryDelayMs?: number
}

/** Options after validation: endpoints parsed, scope and resources as lists. */
export interface ResolvedOAuth2Options {
  /** Empty until discovered, when only `issuer` was given. */
  tokenEndpoint: string
  /** The issuer whose metadata gives the endpoints (only when no `tokenEndpoint` was given). */
  discover: string | undefined
  /** The issuer identifier, when the options name it (with or without `tokenEndpoint`). */
  issuer: string | undefined
  revocationEndpoint: string | undefined
  clientId: string
  clientSecret: string | undefined
  clientAuthMethod: ClientAuthMethod | 'none'
  clientAssertionKey: ClientAssertionKey | undefined
  clientAssertion: (() => string | Promise<string>) | undefined
  clientAssertionAudience: string | undefined
  clockSkewMs: number
  /** Use the metadata's `mtls_endpoint_aliases` (RFC 8705 §5). */
  mtls: boolean
  /** The DPoP key pair (or a promise of it), `true` for one to be made, undefined without DPoP. */
  dpop: CryptoKeyPair | Promise<CryptoKeyPair> | true | undefined
  scope: string | undefined
  resources: readonly string[]
  retry: number
  retryDelayMs: number
}

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/
// RFC 6749 Appendix A.1: client_id = *VSCHAR; a secret must also fit in a header without control characters.
const VSCHARS = /^[\x20-\x7e]+$/

const OPTIONS = {
  tokenEndpoint: true,
  issuer: true,
  clientId: true,
  clientSecret: true,
  clientAuthMethod: true,
  clientAssertionKey: true,
  clientAssertion: true,
  clientAssertionAudience: true,
  scope: true,
  resource: true,
  revocationEndpoint: true,
  dpop: true,
  clockSkewMs: true,
  mtls: true,
  retry: true,
  retryDelayMs: true,
} satisfies Record<keyof OAuth2Options, true>

/** Validate the options of `oauth2()`. Errors name the option and never echo the client secret. */
export function resolveOAuth2Options(options: OAuth2Options): ResolvedOAuth2Options {
  if (typeof options !== 'object' || options === null) {
    throw new OptionError('options', 'expected an object with `tokenEndpoint` and `clientId`')
  }
  rejectUnknownOptions(options, OPTIONS)
  const issuer = options.issuer
  if (issuer !== undefined) parseHttpURL(issuer, 'issuer', false)
  if (options.tokenEndpoint === undefined && issuer === undefined) {
    throw new OptionError('tokenEndpoint', 'expected `tokenEndpoint`, or `issuer` to discover it from')
  }
  const tokenEndpoint =
    options.tokenEndpoint === undefined ? '' : parseHttpURL(options.tokenEndpoint, 'tokenEndpoint', true).href
  const revocationEndpoint =
    options.revocationEndpoint === undefined
      ? undefined
      : parseHttpURL(options.revocationEndpoint, 'revocationEndpoint', true).href
  const { clientId, clientSecret } = options
  if (typeof clientId !== 'string' || !VSCHARS.test(clientId)) {
    throw new OptionError(
      'clientId',
      `expected a non-empty string of printable ASCII, got ${describe(clientId)}`,
    )
  }
  if (clientSecret !== undefined && (typeof clientSecret !== 'string' || !VSCHARS.test(clientSecret))) {
    // Never echo the value: it is (or was meant to be) a secret.
    throw new OptionError(
      'clientSecret',
      `expected a non-empty string of printable ASCII (got a ${typeof clientSecret})`,
    )
  }
  const { clientAssertionKey: key, clientAssertion: supplier, clientAssertionAudience: audience } = options
  const signed = key !== undefined || supplier !== undefined
  let method = options.clientAuthMethod
  if (method !== undefined && !METHODS.has(method)) {
    throw new OptionError(
      'clientAuthMethod',
      `expected one of ${[...METHODS].map((name) => JSON.stringify(name)).join(', ')}, got ${describe(method)}`,
    )
  }
  if (signed && method !== undefined && method !== 'private_key_jwt') {
    throw new OptionError(
      key === undefined ? 'clientAssertion' : 'clientAssertionKey',
      `is for clientAuthMethod "private_key_jwt", not ${describe(method)}`,
    )
  }
  if (TLS_METHODS.has(method)) {
    if (clientSecret !== undefined) {
      // RFC 8705 §2: the certificate is the credential; a secret sent beside it would be one more to leak.
      throw new OptionError(
        'clientSecret',
        `is not used with ${JSON.stringify(method)}: the client authenticates with the certificate its \`fetch\` presents`,
      )
    }
    for (const [option, url] of Object.entries({ tokenEndpoint, revocationEndpoint })) {
      if (url && !url.startsWith('https:')) {
        throw new OptionError(option, `must be an https: URL for ${JSON.stringify(method)}`)
      }
    }
  } else if (method === 'private_key_jwt' ? !signed : method !== undefined && clientSecret === undefined) {
    throw new OptionError(
      'clientAuthMethod',
      `${JSON.stringify(method)} needs \`${method === 'private_key_jwt' ? 'clientAssertionKey` or `clientAssertion' : 'clientSecret'}\``,
    )
  }
  if (signed) {
    if (clientSecret !== undefined) {
      throw new OptionError(
        'clientSecret',
        'is not used with private_key_jwt: give a secret or a key, not both',
      )
    }
    if (key !== undefined && supplier !== undefined) {
      throw new OptionError('clientAssertion', 'give `clientAssertionKey` or `clientAssertion`, not both')
    }
    if (supplier !== undefined && typeof supplier !== 'function') {
      throw new OptionError(
        'clientAssertion',
        `expected a function returning a JWT, got ${describe(supplier, false)}`,
      )
    }
    if (key !== undefined && (!isKey(key) || algOf(key) === undefined)) {
      // Never echo the value: it is a private key.
      throw new OptionError(
        'clientAssertionKey',
        `expected a private RSA, ECDSA (P-256/384/521) or Ed25519 key, as a CryptoKey or a JWK with \`d\` (got a ${typeof key})`,
      )
    }
    method = 'private_key_jwt'
  }
  if (options.mtls !== undefined && typeof options.mtls !== 'boolean') {
    throw new OptionError('mtls', `expected true or false, got ${describe(options.mtls)}`)
  }
  const mtls = options.mtls ?? TLS_METHODS.has(method)
  if (!mtls && TLS_METHODS.has(method)) {
    throw new OptionError('mtls', `cannot be false with ${JSON.stringify(method)}`)
  }
  if (audience !== undefined && (typeof audience !== 'string' || audience === '')) {
    throw new OptionError('clientAssertionAudience', `expected a non-empty string, got ${describe(audience)}`)
  }
  return {
    tokenEndpoint,
    discover: tokenEndpoint ? undefined : issuer,
    issuer,
    revocationEndpoint,
    clientId,
    clientSecret,
    clientAuthMethod: method ?? (clientSecret === undefined ? 'none' : 'client_secret_basic'),
    clientAssertionKey: key,
    clientAssertion: supplier,
    clientAssertionAudience: audience,
    clockSkewMs: parseSkew(options.clockSkewMs),
    mtls,
    dpop: parseDpop(options.dpop),
    scope: parseScope(options.scope, 'scope'),
    resources: parseResources(options.resource),
    retry: parseNonNegativeInteger(options.retry ?? 2, 'retry'),
    retryDelayMs: parsePositiveDuration(options.retryDelayMs ?? 200, 'retryDelayMs'),
  }
}

function parseSkew(value: unknown): number {
  if (value === undefined) return 0
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new OptionError('clockSkewMs', `expected a finite number of milliseconds, got ${describe(value)}`)
  }
  return value
}

function parseDpop(value: unknown): CryptoKeyPair | Promise<CryptoKeyPair> | true | undefined {
  if (value === undefined || value === false) return undefined
  if (value === true) return true
  const pair = (value as { keyPair?: unknown } | null)?.keyPair
  // A promise (a key pair still being loaded, e.g. from IndexedDB) is checked when it settles.
  return pair instanceof Promise ? pair : checkKeyPair(pair)
}

/** A CryptoKeyPair whose private key signs JWTs, else an OptionError naming `dpop`. */
export function checkKeyPair(value: unknown): CryptoKeyPair {
  const pair = value as Partial<CryptoKeyPair> | null | undefined
  if (
    typeof CryptoKey === 'undefined' ||
    !(pair?.privateKey instanceof CryptoKey && pair.publicKey instanceof CryptoKey) ||
    pair.privateKey.type !== 'private' ||
    algOf(pair.privateKey) === undefined
  ) {
    throw new OptionError(
      'dpop',
      'expected true, false, or { keyPair } with a CryptoKeyPair (or a promise of one) that signs (ECDSA, Ed25519 or RSA)',
    )
  }
  return pair as CryptoKeyPair
}

function isKey(key: unknown): boolean {
  if (typeof CryptoKey !== 'undefined' && key instanceof CryptoKey) return key.type === 'private'
  return typeof key === 'object' && key !== null && typeof (key as JsonWebKey).d === 'string'
}

const CURVES: Record<string, string> = {
  'P-256': 'ES256',
  'P-384': 'ES384',
  'P-521': 'ES512',
  Ed25519: 'EdDSA',
}

/**
 * The JWS `alg` a key signs with: a JWK's own `alg`, else from its type and curve; a CryptoKey's from its
 * algorithm and hash. Undefined for a key that cannot sign JWTs (HMAC, ECDH, X25519…).
 */
export function algOf(key: CryptoKey | JsonWebKey): string | undefined {
  if (typeof CryptoKey !== 'undefined' && key instanceof CryptoKey) {
    const algorithm = key.algorithm as KeyAlgorithm & { hash?: { name: string }; namedCurve?: string }
    const bits = algorithm.hash?.name.replace('SHA-', '')
    switch (algorithm.name) {
      case 'RSASSA-PKCS1-v1_5':
        return `RS${bits}`
      case 'RSA-PSS':
        return `PS${bits}`
      case 'ECDSA':
        return CURVES[algorithm.namedCurve ?? '']
      case 'Ed25519':
        return 'EdDSA'
      default:
        return undefined
    }
  }
  const jwk = key as JsonWebKey
  if (jwk.alg !== undefined) return jwk.alg
  if (jwk.kty === 'RSA') return 'RS256'
  return jwk.kty === 'EC' || jwk.kty === 'OKP' ? CURVES[jwk.crv ?? ''] : undefined
}

/** A scope as one space-separated string, each token checked against RFC 6749 §3.3. */
export function parseScope(value: unknown, option: string): string | undefined {
  if (value === undefined) return undefined
  const tokens =
    typeof value === 'string'
      ? value.split(' ').filter(Boolean)
      : Array.isArray(value)
        ? (value as unknown[])
        : undefined
  if (!tokens || tokens.length === 0) {
    throw new OptionError(
      option,
      `expected a space-separated string or a list of scopes, got ${describe(value)}`,
    )
  }
  for (const token of tokens) {
    if (typeof token !== 'string' || !SCOPE_TOKEN.test(token)) {
      throw new OptionError(option, `${describe(token)} is not a scope token (RFC 6749 §3.3)`)
    }
  }
  return tokens.join(' ')
}

/** RFC 8707 resource indicators: a URI or a list of them (`option` names the option in errors). */
export function parseResources(value: unknown, option = 'resource'): string[] {
  if (value === undefined) return []
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? (value as unknown[]) : undefined
  if (!list) throw new OptionError(option, `expected a URL or a list of URLs, got ${describe(value)}`)
  return list.map((entry, i) => {
    // RFC 8707 §2: an absolute URI without a fragment.
    let url: URL | undefined
    try {
      url = typeof entry === 'string' ? new URL(entry) : undefined
    } catch {}
    if (!url || url.hash) {
      // Named by its index, not its text: a URI may carry a password or a key.
      throw new OptionError(option, `entry ${i} is not an absolute URI without a fragment`)
    }
    return entry as string
  })
}
