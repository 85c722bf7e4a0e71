import { lazy, preload } from '../../core/lazy.js'
import type { ProtocolContext, SessionProtocol } from '../../core/protocol.js'
import type { TokenSet } from '../../core/session.js'
import { SessionRejectedError } from '../../errors/session-rejected-error.js'
import { preloadSessionCall, sessionCall } from '../session-call.js'
import type { AttemptParts } from '../session-call-init.js'
import { clientAuthFrom } from './client-auth.js'
import { createDpop } from './dpop.js'
import { endpointsOf } from './endpoints.js'
import { loginGrant, type OAuth2Credentials, type TokenParams } from './grants.js'
import { type OAuth2Options, resolveOAuth2Options } from './options.js'
import { serverClock } from './server-clock.js'
import { type OAuth2Session, rejectOn, tokenSetFrom } from './token-response.js'

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
  preload(preloadSessionCall) // the first token request rarely waits for it
  const clock = serverClock(config.clockSkewMs)
  // Every answer of the authorization server (metadata, token, revocation) tells its time.
  const watched = (context: ProtocolContext): ProtocolContext => ({
    ...context,
    fetch: clock.watch(context.fetch),
  })
  const endpoints = endpointsOf(config)
  const clientAuth = clientAuthFrom(config, clock)
  const dpop = config.dpop && createDpop(config.dpop, endpoints.dpopAlgs, clock)
  // What the client stamps with the time itself: its own assertions and proofs (not a supplied assertion).
  const stamps = config.clientAssertionKey !== undefined || config.clientAuthMethod === 'client_secret_jwt'

  /**
   * A form-encoded POST of `params` to one of the server's endpoints, as the client. A token request (`token`) also
   * names the resources and, with DPoP, carries a proof and answers a nonce challenge. What must be new on every
   * attempt, retries included, is made for each: the client assertion, the proof.
   */
  function post(
    url: string,
    params: TokenParams,
    secrets: (string | undefined)[],
    context: ProtocolContext,
    token?: boolean,
  ): Promise<Response & { _data?: unknown }> {
    const form = new URLSearchParams()
    for (const [name, value] of Object.entries(params)) {
      for (const one of value === undefined ? [] : [value].flat()) form.append(name, one)
    }
    const headers: Record<string, string> = {
      accept: 'application/json',
      'content-type': 'application/x-www-form-urlencoded',
    }
    clientAuth.apply(form, headers)
    // The grant's own resources (a token exchange's) replace the option's.
    if (token && !params.resource) for (const resource of config.resources) form.append('resource', resource)
    const { attempt } = clientAuth
    const proof = token ? dpop : undefined
    const challenge = proof?.tokenChallenge(url)
    const restamp = stamps || !!proof
    let stampedWith = clock.offset() // the server time the attempt's assertion and proof were made with
    return sessionCall(
      {
        method: 'POST',
        url,
        headers,
        body: form.toString(),
        retry: config.retry,
        retryDelayMs: config.retryDelayMs,
        json: true,
        secrets: [...clientAuth.secrets, ...secrets],
        prepare:
          attempt || proof
            ? async () => {
                stampedWith = clock.offset()
                const parts: AttemptParts = {}
                if (proof) parts.headers = { dpop: await proof.proofFor('POST', url) }
                if (attempt) Object.assign(parts, await attempt(form))
                return parts
              }
            : undefined,
        // Once more at once: with the nonce a DPoP challenge gives (RFC 9449 §8), or restamped when the refusal
        // is one a wrong clock explains and the answer's Date moved the server's time (the first answer of a
        // process whose clock is off: without discovery, nothing told the time before).
        again: restamp
          ? (response, body) => !!challenge?.(response, body) || clock.refused(stampedWith, response, body)
          : undefined,
      },
      watched(context),
    )
  }

  /** A token request. A refresh names the session it `replaces`: its scope stays when the answer names none. */
  async function tokenRequest(
    params: TokenParams,
    context: ProtocolContext,
    replaces?: OAuth2Session,
  ): Promise<TokenSet> {
    await endpoints.known(watched(context))
    await dpop?.ready() // a key the server takes (its metadata is read by now), or no token request at all
    const url = config.tokenEndpoint
    // A claims challenge's request, for the token that answers it (OpenID Connect Core §5.5, as Entra ID reads it).
    if (context.claims) params = { ...params, claims: context.claims }
    const { refresh_token, code, code_verifier, subject_token, actor_token } = params as Record<
      string,
      string
    >
    const secrets = [refresh_token, code, code_verifier, subject_token, actor_token, replaces?.access_token]
    let response: Response & { _data?: unknown }
    try {
      response = await post(url, params, secrets, context, true)
    } catch (error) {
      throw rejectOn(error)
    }
    if (dpop) dpop.nonceFrom(url, (name) => response.headers.get(name))
    // Rotation (RFC 6749 §6, RFC 9700 §4.14.2): a new refresh_token replaces the one sent; absent, it is kept.
    return tokenSetFrom(response, { refreshToken: refresh_token, scope: replaces?.scope }, !!dpop)
  }

  // A token endpoint (or the OAuth issuer it is discovered from) and a client id issue the sessions (never the
  // client secret). Neither has a fragment, so the `#` is unambiguous.
  const sessionIssuer = `oauth2:${config.tokenEndpoint || config.discover}#${config.clientId}`
  const protocol: SessionProtocol<OAuth2Credentials> = {
    name: 'oauth2',
    sessionIssuer,
    issuer: sessionIssuer, // its deprecated name
    async login(credentials, context) {
      // A token exchange asks its suppliers for the tokens it sends, now: loaded on first use.
      const params =
        credentials?.grant === 'token_exchange'
          ? await loadExchange().then((module) => module.exchangeGrant(credentials, context.signal))
          : loginGrant(credentials, config.scope)
      return tokenRequest(params, context)
    },
    async refresh(session, context) {
      const refreshToken = session.refresh_token
      if (!refreshToken) throw new SessionRejectedError(undefined)
      return tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken }, context, session)
    },
    ownsRequest: endpoints.owns,
  }

  if (dpop) {
    // Every attempt of a request presents the token with a proof made for it (RFC 9449 §7.1).
    protocol.authorize = async (token, { method, url }) => ({
      authorization: `DPoP ${token}`,
      dpop: await dpop.proofFor(method, url, token),
    })
    // A resource server's 401 `use_dpop_nonce` (§9): the request goes once more with the nonce.
    protocol.challenged = dpop.challenged
  }

  if (config.revocationEndpoint || config.discover) {
    protocol.logout = async (session, context) => {
      await endpoints.known(watched(context))
      const revocationEndpoint = config.revocationEndpoint
      if (!revocationEndpoint) return // the server's metadata names none: the logout is local
      // RFC 7009 §2.1: revoking the refresh token also ends the access tokens of the same grant.
      const [token, hint] = session.refresh_token
        ? [session.refresh_token, 'refresh_token']
        : [session.access_token, 'access_token']
      const secrets = [session.access_token, session.refresh_token]
      await post(revocationEndpoint, { token, token_type_hint: hint }, secrets, context)
    }
  }
  return protocol
}

const loadExchange = lazy(() => import('./token-exchange.js'))
