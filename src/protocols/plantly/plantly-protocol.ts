import { lazy, preload } from '../../core/lazy.js'
import type { SessionProtocol } from '../../core/protocol.js'
import {
  parseBaseURL,
  parseNonNegativeInteger,
  parsePositiveDuration,
  rejectUnknownOptions,
} from '../../core/validate.js'
import { InvalidResponseError } from '../../errors/invalid-response-error.js'
import { OptionError } from '../../errors/option-error.js'
import { withoutQuery } from '../../errors/redact.js'
import { ResponseError } from '../../errors/response-error.js'
import { SessionRejectedError } from '../../errors/session-rejected-error.js'
import { preloadSessionCall, sessionCall } from '../session-call.js'
import type { PlantlyCallContext } from './plantly-calls.js'
import type { PlantlyCredentials } from './plantly-credentials.js'

export type { PlantlyCredentials } from './plantly-credentials.js'

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

// The session calls are loaded on first use: the request path never makes one.
const loadCalls = lazy(() => import('./plantly-calls.js'))
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
  preload(loadCalls)
  const plantly: PlantlyCallContext = {
    endpoint,
    retries,
    retryDelayMs,
    sessionCall,
    InvalidResponseError,
    OptionError,
    ResponseError,
    SessionRejectedError,
  }

  // The Sessions endpoint issues the sessions; baseURL and path hold no credentials, query or fragment.
  const sessionIssuer = `plantly:${endpoint}`
  return {
    name: 'plantly',
    sessionIssuer,
    issuer: sessionIssuer, // its deprecated name
    login: (credentials, context) => loadCalls().then((calls) => calls.login(plantly, credentials, context)),
    refresh: (session, context) => loadCalls().then((calls) => calls.refresh(plantly, session, context)),
    logout: (session, context) => loadCalls().then((calls) => calls.logout(plantly, session, context)),
    ownsRequest(url) {
      return withoutQuery(url) === endpoint
    },
  }
}
