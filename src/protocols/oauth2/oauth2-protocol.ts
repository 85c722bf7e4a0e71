import { parseWWWAuthenticate } from '../../core/challenges.js'
import type { ProtocolContext, SessionProtocol } from '../../core/protocol.js'
import { type Grant, parseSession, type Session } from '../../core/session.js'
import { describe } from '../../core/validate.js'
import { InvalidResponseError } from '../../errors/invalid-response-error.js'
import { OptionError } from '../../errors/option-error.js'
import { withoutQuery } from '../../errors/redact.js'
import { ResponseError } from '../../errors/response-error.js'
import { SessionRejectedError } from '../../errors/session-rejected-error.js'
import { preloadSessionCall, sessionCall } from '../session-call.js'
import type { AttemptParts } from '../session-call-init.js'
import {
  algOf,
  checkKeyPair,
  type OAuth2Options,
  parseScope,
  type ResolvedOAuth2Options,
  resolveOAuth2Options,
} from './options.js'
import type { ProofKey, SigningKey } from './signing.js'

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

type Signing = typeof import('./signing.js')
let loadingSigning: Promise<Signing> | undefined
/** jose's signing code, loaded on first use (and once more if that load failed). */
function signing(): Promise<Signing> {
  loadingSigning ??= import('./signing.js').catch((error: unknown) => {
    loadingSigning = undefined
    throw error
  })
  return loadingSigning
}

/**
 * What `login()` (or the `credentials` option) takes with the {@link oauth2} protocol: which grant to run.
 *
 * - `client_credentials` (RFC 6749 §4.4): a service acting for itself. Such sessions have no refresh token, so
 *   pass `credentials: () => ({ grant: 'client_credentials' })` and the core logs in again when they expire.
 * - `authorization_code` (§4.1.3): hand over the code your app's redirect received (with the PKCE verifier).
 * - `refresh_token` (§6): adopt a refresh token obtained elsewhere.
 */
export type OAuth2Credentials =
  | {
      grant: 'client_credentials' /** Overrides the `scope` option for this login. */
      scope?: string | readonly string[]
    }
  | { grant: 'authorization_code'; code: string; redirectUri: string; codeVerifier?: string }
  | { grant: 'refresh_token'; refreshToken: string }

/** The session an {@link oauth2} protocol produces: `type` is `"oauth2"`, plus the granted `scope` when known. */
export interface OAuth2Session extends Session {
  /** Space-separated scope the server granted (RFC 6749 §5.1), when it said. */
  scope?: string
}

// 400 invalid_grant / invalid_request / unauthorized_client…, 401 invalid_client, 403: the grant or the client
// is refused, and asking again will not change that (RFC 6749 §5.2).
const REJECTED = new Set([400, 401, 403])

/**
 * OAuth 2.0 as a {@link SessionProtocol}: the `refresh_token` grant (RFC 6749 §6) with rotation for refreshes,
 * and `client_credentials`, `authorization_code` or an adopted refresh token for login. Token requests are
 * form-encoded POSTs through ofetch with the same retry and deadline handling as the Plantly protocol.
 * A refused grant or client (`invalid_grant`, `invalid_client`, any 400/401/403) ends the session; a network
 * error, 429 or 5xx means "could not complete" and keeps it.
 *
 * @example
 * const api = createSessionFetch({
 *   baseURL: 'https://api.example.com',
 *   protocol: oauth2({ tokenEndpoint: 'https://auth.example.com/oauth/token', clientId, clientSecret }),
 *   credentials: () => ({ grant: 'client_credentials' }),
 * })
 * await api.fetch('/reports') // logs in on first use, and again whenever the access token expires
 */
export function oauth2(options: OAuth2Options): SessionProtocol<OAuth2Credentials> {
  const config = resolveOAuth2Options(options)
  preloadSessionCall().catch(() => undefined) // the first token request rarely waits for it
  const owned = new Set<string>()
  const own = () => {
    if (config.tokenEndpoint) owned.add(withoutQuery(config.tokenEndpoint))
    if (config.revocationEndpoint) owned.add(withoutQuery(config.revocationEndpoint))
  }
  own()

  // Discovery (OpenID Connect Discovery 1.0, RFC 8414): once, on the first call that needs an endpoint; a failed
  // read is forgotten, so the next call reads again.
  let dpopAlgs: unknown
  let discovery: Promise<void> | undefined
  function discovered(context: ProtocolContext): Promise<void> | undefined {
    const issuer = config.discover
    if (!issuer || config.tokenEndpoint) return undefined
    // Loaded on first use: most instances are given their endpoints.
    discovery ??= import('./discovery.js')
      .then(({ discover }) => discover(issuer, context))
      .then((metadata) => {
        config.tokenEndpoint = metadata.token_endpoint
        config.revocationEndpoint ??= metadata.revocation_endpoint
        dpopAlgs = metadata.dpop_signing_alg_values_supported
        own()
      })
      .finally(() => {
        discovery = undefined
      })
    return discovery
  }
  // The client secret, and its Basic credentials (RFC 6749 §2.3.1 form-encodes both parts; some servers echo
  // them as if it did not), for the errors built from the server's answers.
  const { clientId, clientSecret } = config
  const clientSecrets = clientSecret
    ? [clientSecret, btoa(`${clientId}:${clientSecret}`), basicCredentials(clientId, clientSecret)]
    : []
  const signs = config.clientAuthMethod === 'private_key_jwt'
  const dpop = config.dpop
  if (signs || dpop) signing().catch(() => undefined)

  // DPoP (RFC 9449): one key pair per instance, made on first use; the last nonce each origin gave (§8, §9).
  let proofKey: Promise<ProofKey> | undefined
  const nonces = new Map<string, string>()
  /** A proof for one attempt: new `jti`, `ath` when it presents an access token, the origin's nonce if any. */
  async function proof(method: string, url: string, accessToken?: string): Promise<string> {
    const { dpopProof, proofKey: toProofKey } = await signing()
    proofKey ??= (async () => {
      // ES256, unless the server's metadata lists EdDSA and not ES256.
      const edwards = Array.isArray(dpopAlgs) && !dpopAlgs.includes('ES256') && dpopAlgs.includes('EdDSA')
      const pair =
        dpop === true
          ? ((await crypto.subtle.generateKey(
              edwards ? { name: 'Ed25519' } : ({ name: 'ECDSA', namedCurve: 'P-256' } as EcKeyGenParams),
              false,
              ['sign', 'verify'],
            )) as CryptoKeyPair)
          : checkKeyPair(await dpop)
      return toProofKey(pair, algOf(pair.privateKey) as string)
    })().catch((error: unknown) => {
      proofKey = undefined
      throw error
    })
    return dpopProof(await proofKey, method, url, nonces.get(new URL(url).origin), accessToken)
  }
  /** Keep the nonce an answer gives (RFC 9449 §8.2: any answer may bring a new one); true when it gave one. */
  function nonceFrom(url: string, header: (name: string) => string | null | undefined): boolean {
    const nonce = header('dpop-nonce')
    if (nonce) nonces.set(new URL(url).origin, nonce)
    return !!nonce
  }

  let signer: Promise<SigningKey> | undefined
  /** A client assertion made for this attempt alone (RFC 7523): a fresh `jti` every time, retries included. */
  async function assertion(): Promise<string> {
    if (config.clientAssertion) {
      const jwt = await config.clientAssertion()
      if (typeof jwt !== 'string' || jwt.split('.').length !== 3) {
        throw new OptionError('clientAssertion', `expected it to return a JWT, got a ${typeof jwt}`)
      }
      return jwt
    }
    const key = config.clientAssertionKey as CryptoKey | JsonWebKey
    const { clientAssertion, signingKey } = await signing()
    signer ??= signingKey(key, algOf(key) as string).catch((error: unknown) => {
      signer = undefined
      throw error
    })
    return clientAssertion(
      await signer,
      config.clientId,
      config.clientAssertionAudience ?? config.tokenEndpoint,
    )
  }

  /**
   * Each attempt's body and headers: what must be new on every attempt (an assertion, a DPoP proof for `url`)
   * is made here.
   */
  function attemptParts(form: URLSearchParams, url?: string): (() => Promise<AttemptParts>) | undefined {
    if (!signs && !url) return undefined
    return async () => {
      const parts: AttemptParts = {}
      if (url) parts.headers = { dpop: await proof('POST', url) }
      if (signs) {
        const body = new URLSearchParams(form)
        const jwt = await assertion()
        body.set('client_assertion_type', JWT_BEARER)
        body.set('client_assertion', jwt)
        parts.body = body.toString()
        parts.secrets = [jwt]
      }
      return parts
    }
  }

  /** A token endpoint's 400 `use_dpop_nonce` with a `DPoP-Nonce` (RFC 9449 §8): sent again with the nonce. */
  function nonceChallenge(response: Response, body: unknown): boolean {
    return (
      nonceFrom(config.tokenEndpoint, (name) => response.headers.get(name)) &&
      response.status === 400 &&
      (body as { error?: unknown } | undefined)?.error === 'use_dpop_nonce'
    )
  }

  async function tokenRequest(
    params: Record<string, string | undefined>,
    context: ProtocolContext,
    keep: { refreshToken?: string | undefined; scope?: string | undefined; accessToken?: string } = {},
  ): Promise<Grant> {
    await discovered(context)
    const form = formFor(config, params)
    for (const resource of config.resources) form.append('resource', resource)
    const secrets = [
      ...clientSecrets,
      params.refresh_token,
      params.code,
      params.code_verifier,
      keep.accessToken,
    ]
    let response: Response & { _data?: unknown }
    try {
      response = await sessionCall(
        {
          method: 'POST',
          url: config.tokenEndpoint,
          headers: headersFor(config),
          body: form.toString(),
          retry: config.retry,
          retryDelayMs: config.retryDelayMs,
          json: true,
          secrets,
          prepare: attemptParts(form, dpop && config.tokenEndpoint),
          again: dpop && nonceChallenge,
        },
        context,
      )
    } catch (error) {
      throw rejectOn(error)
    }
    if (dpop) nonceFrom(config.tokenEndpoint, (name) => response.headers.get(name))
    const date = Date.parse(response.headers.get('date') ?? '')
    return {
      session: toSession(response._data, keep, !!dpop),
      serverDate: Number.isNaN(date) ? undefined : date,
    }
  }

  const protocol: SessionProtocol<OAuth2Credentials> = {
    name: 'oauth2',
    // A token endpoint (or the issuer it is discovered from) and a client id issue the sessions (never the client
    // secret). Neither has a fragment, so the `#` is unambiguous.
    issuer: `oauth2:${config.tokenEndpoint || config.discover}#${config.clientId}`,
    async login(credentials, context) {
      const grant = (credentials as { grant?: unknown } | undefined)?.grant
      switch (grant) {
        case 'client_credentials': {
          const { scope } = credentials as { scope?: unknown }
          return tokenRequest(
            {
              grant_type: 'client_credentials',
              scope: parseScope(scope, 'credentials.scope') ?? config.scope,
            },
            context,
          )
        }
        case 'authorization_code': {
          const { code, redirectUri, codeVerifier } = credentials as Record<string, unknown>
          return tokenRequest(
            {
              grant_type: 'authorization_code',
              code: field(code, 'code'),
              redirect_uri: field(redirectUri, 'redirectUri'),
              code_verifier: codeVerifier === undefined ? undefined : field(codeVerifier, 'codeVerifier'),
            },
            context,
          )
        }
        case 'refresh_token': {
          const refreshToken = field((credentials as { refreshToken?: unknown }).refreshToken, 'refreshToken')
          return tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken }, context, {
            refreshToken,
          })
        }
        default:
          throw new OptionError(
            'credentials',
            `expected { grant: "client_credentials" | "authorization_code" | "refresh_token", … }, got grant ${describe(grant)}`,
          )
      }
    },
    async refresh(session, context) {
      const refreshToken = session.refresh_token
      if (!refreshToken) throw new SessionRejectedError(undefined)
      // Rotation (RFC 6749 §6, RFC 9700 §4.14.2): a new refresh_token replaces this one; absent, it is kept.
      return tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken }, context, {
        refreshToken,
        scope: (session as OAuth2Session).scope,
        accessToken: session.access_token,
      })
    },
    ownsRequest(url) {
      return owned.has(withoutQuery(url))
    },
  }

  if (dpop) {
    // Every attempt of a request presents the token with a proof made for it (RFC 9449 §7.1).
    protocol.authorize = async (token, { method, url }) => ({
      authorization: `DPoP ${token}`,
      dpop: await proof(method, url, token),
    })
    // A resource server's 401 `use_dpop_nonce` (§9): the request goes once more with the nonce.
    protocol.challenged = (url, answer) =>
      nonceFrom(url, answer.header) &&
      answer.status === 401 &&
      parseWWWAuthenticate(answer.header('www-authenticate') ?? '').some(
        (challenge) => challenge.scheme === 'dpop' && challenge.params.error === 'use_dpop_nonce',
      )
  }

  if (config.revocationEndpoint || config.discover) {
    protocol.logout = async (session, context) => {
      await discovered(context)
      const revocationEndpoint = config.revocationEndpoint
      if (!revocationEndpoint) return // the server's metadata names none: the logout is local
      // RFC 7009 §2.1: revoking the refresh token also ends the access tokens of the same grant.
      const [token, hint] = session.refresh_token
        ? [session.refresh_token, 'refresh_token']
        : [session.access_token, 'access_token']
      const form = formFor(config, { token, token_type_hint: hint })
      await sessionCall(
        {
          method: 'POST',
          url: revocationEndpoint,
          headers: headersFor(config),
          body: form.toString(),
          retry: config.retry,
          retryDelayMs: config.retryDelayMs,
          json: true,
          secrets: [...clientSecrets, session.access_token, session.refresh_token],
          prepare: attemptParts(form),
        },
        context,
      )
    }
  }
  return protocol
}

/** The form body: the grant's parameters, plus the client's identity unless it goes in the Basic header. */
function formFor(config: ResolvedOAuth2Options, params: Record<string, string | undefined>): URLSearchParams {
  const form = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) if (value !== undefined) form.set(name, value)
  if (config.clientAuthMethod !== 'client_secret_basic') form.set('client_id', config.clientId)
  if (config.clientAuthMethod === 'client_secret_post' && config.clientSecret !== undefined) {
    form.set('client_secret', config.clientSecret)
  }
  return form
}

function headersFor(config: ResolvedOAuth2Options): Record<string, string> {
  const headers: Record<string, string> = {
    accept: 'application/json',
    'content-type': 'application/x-www-form-urlencoded',
  }
  if (config.clientAuthMethod === 'client_secret_basic' && config.clientSecret !== undefined) {
    // RFC 6749 §2.3.1: each part form-urlencoded first, then Basic (btoa: ASCII only after encoding).
    headers.authorization = `Basic ${basicCredentials(config.clientId, config.clientSecret)}`
  }
  return headers
}

function basicCredentials(clientId: string, clientSecret: string): string {
  return btoa(`${formEncode(clientId)}:${formEncode(clientSecret)}`)
}

function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2)
}

/** Map a token response (RFC 6749 §5.1) onto the Session type, checked by the same rules as Plantly's. */
function toSession(
  body: unknown,
  keep: { refreshToken?: string | undefined; scope?: string | undefined },
  dpop: boolean,
): OAuth2Session {
  const raw = typeof body === 'object' && body !== null ? { ...(body as Record<string, unknown>) } : body
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const fields = raw as Record<string, unknown>
    if (dpop) {
      // RFC 9449 §5: a DPoP-bound token says so. A Bearer one would be sent unbound: refused, not downgraded.
      if (typeof fields.token_type !== 'string' || fields.token_type.toLowerCase() !== 'dpop') {
        throw new InvalidResponseError(
          'token_type',
          'is not "DPoP": the server did not bind the token to the key',
        )
      }
    }
    // Some servers send expires_in as a string ("3599"); a number it is.
    if (typeof fields.expires_in === 'string' && /^\d+$/.test(fields.expires_in)) {
      fields.expires_in = Number(fields.expires_in)
    }
    fields.type = 'oauth2'
  }
  const session: OAuth2Session = parseSession(raw, [dpop ? 'dpop' : 'bearer'])
  if (session.refresh_token === undefined && keep.refreshToken !== undefined) {
    session.refresh_token = keep.refreshToken
  }
  const scope = (raw as { scope?: unknown }).scope
  if (typeof scope === 'string') session.scope = scope
  else if (keep.scope !== undefined) session.scope = keep.scope
  return session
}

function rejectOn(error: unknown): unknown {
  if (
    error instanceof ResponseError &&
    REJECTED.has(error.status) &&
    error.serverCode !== 'temporarily_unavailable'
  ) {
    return new SessionRejectedError(error.status, { cause: error })
  }
  return error
}

function field(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    // Never echo the value: codes, verifiers and refresh tokens are secrets.
    throw new OptionError(`credentials.${name}`, `expected a non-empty string (got ${typeof value})`)
  }
  return value
}
