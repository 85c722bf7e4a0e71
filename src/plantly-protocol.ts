import { createFetch, FetchError } from 'ofetch'
import { OptionError } from './errors/option-error.js'
import { ResponseError } from './errors/response-error.js'
import { SessionRejectedError } from './errors/session-rejected-error.js'
import type { PlantlyCredentials, ProtocolContext, SessionProtocol } from './protocol.js'
import { type Grant, parseSession } from './session.js'
import { parseBaseURL, parseNonNegativeInteger, parsePositiveDuration } from './validate.js'

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

const RETRY_STATUSES = [408, 429, 500, 502, 503, 504]
const REJECTED = new Set([400, 401, 403])

/**
 * The Plantly Sessions API (`POST/PUT/DELETE /auth/sessions`) as a {@link SessionProtocol}: the default protocol
 * of `createSessionFetch`. The session calls go through ofetch for JSON, retry with backoff and Retry-After.
 *
 * @example
 * createSessionFetch({ baseURL, protocol: plantlySessions({ baseURL, retry: 4 }) })
 */
export function plantlySessions(options: PlantlySessionsOptions): SessionProtocol<PlantlyCredentials> {
  const base = parseBaseURL(options.baseURL, 'baseURL')
  const path = options.path ?? '/auth/sessions'
  if (typeof path !== 'string' || !path.startsWith('/') || /[?#\s]/.test(path)) {
    throw new OptionError('path', `expected a path starting with "/", got ${JSON.stringify(path)}`)
  }
  const endpoint = base.href.replace(/\/$/, '') + path
  const retries = parseNonNegativeInteger(options.retry ?? 2, 'retry')
  const baseDelay = parsePositiveDuration(options.retryDelayMs ?? 200, 'retryDelayMs')

  async function call(
    method: 'POST' | 'PUT' | 'DELETE',
    context: ProtocolContext,
    bearer: string | undefined,
    body?: PlantlyCredentials,
  ) {
    const $fetch = createFetch({ fetch: context.fetch })
    const headers: Record<string, string> = { accept: 'application/json' }
    if (bearer !== undefined) headers.authorization = `Bearer ${bearer}`
    try {
      return await $fetch.raw(endpoint, {
        method,
        headers,
        ...(body ? { body } : {}),
        signal: context.signal,
        retry: method === 'DELETE' ? 0 : retries,
        retryStatusCodes: RETRY_STATUSES,
        retryDelay: (ctx) => retryDelay(ctx.response, retries - Number(ctx.options.retry ?? 0), context),
      })
    } catch (error) {
      if (!(error instanceof FetchError)) throw error
      const response = error.response
      if (!response) throw error.cause instanceof Error ? error.cause : new Error('Network error')
      throw new ResponseError({
        status: response.status,
        statusText: response.statusText,
        method,
        url: endpoint,
        body: error.data,
        retryAfterMs: retryAfterMs(response),
        secrets: [bearer, body?.password],
      })
    }
  }

  function retryDelay(response: Response | undefined, attempt: number, context: ProtocolContext): number {
    if (context.signal.aborted) return 0
    const backoff = baseDelay * 2 ** attempt * (0.75 + Math.random() * 0.5)
    const wanted = Math.max(backoff, (response && retryAfterMs(response)) ?? 0)
    // Never sleep past the caller's deadline: the retry would only be aborted.
    return Math.max(0, Math.min(wanted, context.deadline - Date.now()))
  }

  function toGrant(response: Response & { _data?: unknown }): Grant {
    const date = Date.parse(response.headers.get('date') ?? '')
    return { session: parseSession(response._data), serverDate: Number.isNaN(date) ? undefined : date }
  }

  function rejectOn(error: unknown): never {
    if (error instanceof ResponseError && REJECTED.has(error.status)) {
      throw new SessionRejectedError(error.status, { cause: error })
    }
    throw error
  }

  return {
    name: 'plantly',
    async login(credentials, context) {
      const { email_address, password } = (credentials ?? {}) as Partial<PlantlyCredentials>
      if (typeof email_address !== 'string' || typeof password !== 'string') {
        throw new OptionError('credentials', 'expected { email_address: string, password: string }')
      }
      const response = await call('POST', context, undefined, { email_address, password }).catch(rejectOn)
      return toGrant(response)
    },
    async refresh(session, context) {
      if (!session.refresh_token) throw new SessionRejectedError(undefined)
      const response = await call('PUT', context, session.refresh_token).catch(rejectOn)
      return toGrant(response)
    },
    async logout(session, context) {
      try {
        await call('DELETE', context, session.access_token)
      } catch (error) {
        // 401: the access token is already invalid, which is what logging out wants.
        if (error instanceof ResponseError && error.status === 401) return
        throw error
      }
    },
    ownsRequest(url) {
      const cut = url.search(/[?#]/)
      return (cut === -1 ? url : url.slice(0, cut)) === endpoint
    },
  }
}

function retryAfterMs(response: Response): number | undefined {
  const value = response.headers.get('retry-after')
  if (!value) return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}
