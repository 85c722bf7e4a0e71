import {
  describe,
  parseHttpURL,
  parseNonNegativeInteger,
  parsePositiveDuration,
  rejectUnknownOptions,
} from '../../core/validate.js'
import { OptionError } from '../../errors/option-error.js'

/** How the client proves its identity to the token endpoint (RFC 6749 §2.3.1). */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post'

/** Options of {@link oauth2}. */
export interface OAuth2Options {
  /**
   * The authorization server's token endpoint (RFC 6749 §3.2). A query is kept; credentials and fragments are
   * refused.
   * @example 'https://auth.example.com/oauth/token'
   */
  tokenEndpoint: string
  /** The client identifier issued by the authorization server (RFC 6749 §2.2). */
  clientId: string
  /**
   * The client secret of a confidential client. Omit it for a public client (a browser or native app): then
   * only `client_id` is sent.
   * @default undefined (public client)
   */
  clientSecret?: string | undefined
  /**
   * How the secret is sent: in an `Authorization: Basic` header, or as `client_id` and `client_secret` in the
   * form body. Needs `clientSecret`.
   * @default 'client_secret_basic'
   */
  clientAuthMethod?: ClientAuthMethod
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
  tokenEndpoint: string
  revocationEndpoint: string | undefined
  clientId: string
  clientSecret: string | undefined
  clientAuthMethod: ClientAuthMethod | 'none'
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
  clientId: true,
  clientSecret: true,
  clientAuthMethod: true,
  scope: true,
  resource: true,
  revocationEndpoint: true,
  retry: true,
  retryDelayMs: true,
} satisfies Record<keyof OAuth2Options, true>

/** Validate the options of `oauth2()`. Errors name the option and never echo the client secret. */
export function resolveOAuth2Options(options: OAuth2Options): ResolvedOAuth2Options {
  if (typeof options !== 'object' || options === null) {
    throw new OptionError('options', 'expected an object with `tokenEndpoint` and `clientId`')
  }
  rejectUnknownOptions(options, OPTIONS)
  const tokenEndpoint = parseHttpURL(options.tokenEndpoint, 'tokenEndpoint', true).href
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
  const method = options.clientAuthMethod
  if (method !== undefined) {
    if (method !== 'client_secret_basic' && method !== 'client_secret_post') {
      throw new OptionError(
        'clientAuthMethod',
        `expected "client_secret_basic" or "client_secret_post", got ${describe(method)}`,
      )
    }
    if (clientSecret === undefined) {
      throw new OptionError('clientAuthMethod', `${JSON.stringify(method)} needs \`clientSecret\``)
    }
  }
  return {
    tokenEndpoint,
    revocationEndpoint,
    clientId,
    clientSecret,
    clientAuthMethod: clientSecret === undefined ? 'none' : (method ?? 'client_secret_basic'),
    scope: parseScope(options.scope, 'scope'),
    resources: parseResources(options.resource),
    retry: parseNonNegativeInteger(options.retry ?? 2, 'retry'),
    retryDelayMs: parsePositiveDuration(options.retryDelayMs ?? 200, 'retryDelayMs'),
  }
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

function parseResources(value: unknown): string[] {
  if (value === undefined) return []
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? (value as unknown[]) : undefined
  if (!list) throw new OptionError('resource', `expected a URL or a list of URLs, got ${describe(value)}`)
  return list.map((entry) => {
    // RFC 8707 §2: an absolute URI without a fragment.
    let url: URL | undefined
    try {
      url = typeof entry === 'string' ? new URL(entry) : undefined
    } catch {}
    if (!url || url.hash) {
      throw new OptionError('resource', `${describe(entry)} is not an absolute URI without a fragment`)
    }
    return entry as string
  })
}
