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
 */
export type OAuth2Credentials =
  | {
      grant: 'client_credentials' /** Overrides the `scope` option for this login. */
      scope?: string | readonly string[]
    }
  | { grant: 'authorization_code'; code: string; redirectUri: string; codeVerifier?: string }
  | { grant: 'refresh_token'; refreshToken: string }

/** A token request's form parameters; those left undefined are not sent. */
export type TokenParams = Record<string, string | undefined>

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
        `expected { grant: "client_credentials" | "authorization_code" | "refresh_token", … }, got grant ${describe(grant)}`,
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
