import { preload } from '../../core/lazy.js'
import type { ProtocolContext, SessionProtocol } from '../../core/protocol.js'
import { parseSession, type TokenSet } from '../../core/session.js'
import {
  parseBaseURL,
  parseNonNegativeInteger,
  parsePositiveDuration,
  rejectUnknownOptions,
} from '../../core/validate.js'
import { OptionError } from '../../errors/option-error.js'
import { withoutQuery } from '../../errors/redact.js'
import { ResponseError } from '../../errors/response-error.js'
import { SessionRejectedError } from '../../errors/session-rejected-error.js'
import { preloadSessionCall, sessionCall } from '../session-call.js'

/** Email and password for the Plantly Sessions API's login. */
export interface PlantlyCredentials {
  email_address: string
  password: string
}

/** Options of {@link plantlySessions}. */
export interface PlantlySessionsOptions {
  /** The API's base URL, e.g. `https://api.plantly.gr4vy.app`. */
  baseURL: string
  /**
   * Path of the Sessions resource below `baseURL`.
   * @default '/auth/sessions'
   */
  path?: string
  /**
   * How many times a login or refresh is retried after a 408, 429, 5xx or a network error (ofetch's retry),
   * within the core's `refreshTimeoutMs`. A 400/401/403 is never retried.
   * @default 2
   */
  retry?: number
  /**
   * First retry delay in ms; doubles each time, with jitter. A `Retry-After` header wins when it is longer.
   * @default 200
   */
  retryDelayMs?: number
}

const REJECTED = new Set([400, 401, 403])
const OPTIONS = { baseURL: true, path: true, retry: true, retryDelayMs: true } satisfies Record<
  keyof PlantlySessionsOptions,
  true
>

/**
 * The Plantly Sessions API (`POST/PUT/DELETE /auth/sessions`) as a {@link SessionProtocol}: the default protocol
 * of `createSessionFetch`. The session calls go through ofetch for JSON, retry with backoff and Retry-After.
 *
 * @example
 * createSessionFetch({ baseURL, protocol: plantlySessions({ baseURL, retry: 4 }) })
 */
export function plantlySessions(options: PlantlySessionsOptions): SessionProtocol<PlantlyCredentials> {
  if (typeof options !== 'object' || options === null) {
    throw new OptionError('options', 'expected an object with `baseURL`')
  }
  rejectUnknownOptions(options, OPTIONS)
  const base = parseBaseURL(options.baseURL, 'baseURL')
  const path = options.path ?? '/auth/sessions'
  if (typeof path !== 'string' || !path.startsWith('/') || /[?#\s]/.test(path)) {
    // Not echoed: a full URL given by mistake may carry a password.
    throw new OptionError('path', 'expected a path like "/auth/sessions"')
  }
  const endpoint = base.href.replace(/\/$/, '') + path
  const retries = parseNonNegativeInteger(options.retry ?? 2, 'retry')
  const retryDelayMs = parsePositiveDuration(options.retryDelayMs ?? 200, 'retryDelayMs')
  preload(preloadSessionCall) // the first login rarely waits for it

  // `known`: the other tokens of the session the call acts on, which an error answer must not show either.
  function call(
    method: 'POST' | 'PUT' | 'DELETE',
    context: ProtocolContext,
    bearer?: string,
    body?: PlantlyCredentials,
    known: (string | undefined)[] = [],
  ) {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (bearer !== undefined) headers.authorization = `Bearer ${bearer}`
    const retry = method === 'DELETE' ? 0 : retries
    const secrets = [bearer, body?.password, ...known]
    // json: a session is read as JSON whatever its content type says (text/plain and text/json are seen in the
    // wild); a body that is not JSON stays text, which parseSession refuses by name.
    return sessionCall(
      { method, url: endpoint, headers, body: body && { ...body }, retry, retryDelayMs, json: true, secrets },
      context,
    )
  }

  function toTokenSet(response: Response & { _data?: unknown }): TokenSet {
    const date = Date.parse(response.headers.get('date') ?? '')
    return { session: parseSession(response._data), serverDate: Number.isNaN(date) ? undefined : date }
  }

  // DELETE with this access token: true when the server ended the session, false when it refused the token.
  async function endWith(accessToken: string, context: ProtocolContext, known: string[]): Promise<boolean> {
    try {
      await call('DELETE', context, accessToken, undefined, known)
      return true
    } catch (error) {
      if (error instanceof ResponseError && error.status === 401) return false
      throw error
    }
  }

  function rejectOn(error: unknown): never {
    if (error instanceof ResponseError && REJECTED.has(error.status)) {
      throw new SessionRejectedError(error.status, { cause: error })
    }
    throw error
  }

  // The Sessions endpoint issues the sessions; baseURL and path hold no credentials, query or fragment.
  const sessionIssuer = `plantly:${endpoint}`
  return {
    name: 'plantly',
    sessionIssuer,
    issuer: sessionIssuer, // its deprecated name
    async login(credentials, context) {
      const { email_address, password } = (credentials ?? {}) as Partial<PlantlyCredentials>
      if (typeof email_address !== 'string' || typeof password !== 'string') {
        throw new OptionError('credentials', 'expected { email_address: string, password: string }')
      }
      const response = await call('POST', context, undefined, { email_address, password }).catch(rejectOn)
      return toTokenSet(response)
    },
    async refresh(session, context) {
      if (!session.refresh_token) throw new SessionRejectedError(undefined)
      const response = await call('PUT', context, session.refresh_token, undefined, [
        session.access_token,
      ]).catch(rejectOn)
      return toTokenSet(response)
    },
    async logout(session, context) {
      const { access_token, refresh_token } = session
      if (await endWith(access_token, context, refresh_token ? [refresh_token] : [])) return
      // The access token had expired, but the refresh token may still be alive on the server: renew once and
      // end the session with the fresh access token. A refused refresh token means it is already dead.
      if (!refresh_token) return
      let fresh: TokenSet
      try {
        fresh = toTokenSet(await call('PUT', context, refresh_token, undefined, [access_token]))
      } catch (error) {
        if (error instanceof ResponseError && REJECTED.has(error.status)) return
        throw error
      }
      // The server just renewed the session, so it is live: a refusal of its fresh access token is an error.
      await call('DELETE', context, fresh.session.access_token, undefined, [
        fresh.session.refresh_token,
        access_token,
        refresh_token,
      ])
    },
    ownsRequest(url) {
      return withoutQuery(url) === endpoint
    },
  }
}
