// The grants `login()` runs (RFC 6749 §4), as the parameters of a token request.
import { describe } from '../../core/validate.js'
import { OptionError } from '../../errors/option-error.js'
import { parseScope } from './options.js'

/**
 * What `login()` (or the `credentials` option) takes with the {@link oauth2} protocol: which grant to run.
 *
 * - `client_credentials` (RFC 6749 §4.4): a service acting for itself. Such sessions have no refresh token, so
 *   pass `credentials: () => ({ grant: 'client_credentials' })` and the core logs in again when they expire.
 * - `authorization_code` (§4.1.3): hand over the code your app's redirect received (with the PKCE verifier).
 * - `refresh_token` (§6): adopt a refresh token obtained elsewhere.
 * - `token_exchange` (RFC 8693): a token for another service, in exchange for one you hold (see
 *   {@link TokenExchangeCredentials}).
 */
export type OAuth2Credentials =
  | {
      grant: 'client_credentials' /** Overrides the `scope` option for this login. */
      scope?: string | readonly string[]
    }
  | { grant: 'authorization_code'; code: string; redirectUri: string; codeVerifier?: string }
  | { grant: 'refresh_token'; refreshToken: string }
  | TokenExchangeCredentials

/**
 * A token exchange (RFC 8693 §2.1): a token for another audience or resource, in exchange for the subject token (and
 * an actor token, for delegation). An exchanged token usually comes without a refresh token: give the same object
 * as `credentials` and, at its expiry or after a 401, one new exchange is made with a fresh subject token (one per
 * expiry, however many requests need it, across the processes of a shared store).
 *
 * @example
 * const billing = createSessionFetch({
 *   baseURL: 'https://billing.internal',
 *   protocol: oauth2({ tokenEndpoint, clientId, clientSecret }),
 *   credentials: (): OAuth2Credentials => ({
 *     grant: 'token_exchange',
 *     subjectToken: (options) => parent.accessToken(options),
 *     audience: 'billing',
 *   }),
 * })
 */
export interface TokenExchangeCredentials {
  grant: 'token_exchange'
  /**
   * The token that says on whose behalf the request is made: a string, or a function called once per exchange with
   * the exchange's signal (`(options) => parent.accessToken(options)` gives another client's current token,
   * refreshed first when it is due, and stops waiting when the exchange gives up).
   */
  subjectToken: string | TokenSupplier
  /** @default 'urn:ietf:params:oauth:token-type:access_token' */
  subjectTokenType?: string
  /** The target service(s) by logical name (`audience`). */
  audience?: string | readonly string[]
  /** The target resource(s) by URI (`resource`); overrides the `resource` option of `oauth2()` for this grant. */
  resource?: string | readonly string[]
  /** The scope asked for the new token; refreshes never send it. */
  scope?: string | readonly string[]
  /**
   * The type of token wanted (`requested_token_type`). The token must still come back as a Bearer (or DPoP) access
   * token: it is what the session sends.
   */
  requestedTokenType?: string
  /** The acting party's token (delegation, §1.1): a string, or a function called once per exchange. */
  actorToken?: string | TokenSupplier
  /** The type of `actorToken`: required with it. */
  actorTokenType?: string
}

/** Supplies a token at the time of each exchange; `signal` aborts when the exchange gives up. */
export type TokenSupplier = (options: { signal: AbortSignal }) => string | Promise<string>

/** A token request's form parameters (a list: the parameter once per value); those left undefined are not sent. */
export type TokenParams = Record<string, string | readonly string[] | undefined>

/**
 * The token request of a login, from credentials checked here (errors name the field, never its value); `scope` is
 * the option's.
 */
export function loginGrant(credentials: unknown, scope: string | undefined): TokenParams {
  const grant = (credentials as { grant?: unknown } | undefined)?.grant
  switch (grant) {
    case 'client_credentials':
      return {
        grant_type: 'client_credentials',
        scope: parseScope((credentials as { scope?: unknown }).scope, 'credentials.scope') ?? scope,
      }
    case 'authorization_code': {
      const { code, redirectUri, codeVerifier } = credentials as Record<string, unknown>
      return {
        grant_type: 'authorization_code',
        code: field(code, 'code'),
        redirect_uri: field(redirectUri, 'redirectUri'),
        code_verifier: codeVerifier === undefined ? undefined : field(codeVerifier, 'codeVerifier'),
      }
    }
    case 'refresh_token': {
      const refreshToken = field((credentials as { refreshToken?: unknown }).refreshToken, 'refreshToken')
      return { grant_type: 'refresh_token', refresh_token: refreshToken }
    }
    default:
      throw new OptionError(
        'credentials',
        `expected { grant: "client_credentials" | "authorization_code" | "refresh_token" | "token_exchange", … }, got grant ${describe(grant)}`,
      )
  }
}

function field(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    // Never echo the value: codes, verifiers and refresh tokens are secrets.
    throw new OptionError(`credentials.${name}`, `expected a non-empty string (got ${typeof value})`)
  }
  return value
}
