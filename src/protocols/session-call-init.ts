// What a protocol hands a session call. Apart from session-call.ts, so that the implementation it loads on first use
// (ofetch-call.ts) can name these types without importing its loader back.
import type { InvalidResponseError } from '../errors/invalid-response-error.js'
import type { RedirectError } from '../errors/redirect-error.js'
import type { ResponseError } from '../errors/response-error.js'

/** One session call (login, refresh, logout) of a protocol. */
export interface SessionCallInit {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  url: string
  headers: Record<string, string>
  /** A plain object is sent as JSON (ofetch), a string as it is (set its content-type in `headers`). */
  body?: string | Record<string, unknown> | undefined
  /** Retries after a 408, 429, 5xx or a network error. */
  retry: number
  /** First retry delay in ms; doubles each time, with jitter. A longer `Retry-After` wins. */
  retryDelayMs: number
  /** Parse the body as JSON whatever its content-type says (token endpoints that answer `text/plain`). */
  json?: boolean
  /**
   * Strings that must never appear in an error built from the answer, in any form a server may echo them: every
   * secret the call's body carries (password, client secret, refresh token, code), and the tokens of the session
   * it acts on. The credentials of the Authorization and DPoP headers sent are added by the session call.
   */
  secrets?: readonly (string | undefined)[]
  /**
   * Called before every attempt, retries included: headers to set and the body to send on this attempt, for what
   * must be fresh each time (a client assertion's or a DPoP proof's `jti`).
   */
  prepare?: (() => Promise<AttemptParts>) | undefined
  /**
   * Called with an error answer and its body (read up to a bound, parsed as for `json`): true sends the call once
   * more at once (prepared again), without counting it as a retry, e.g. for a DPoP nonce challenge (RFC 9449
   * §8). At most once per attempt.
   */
  again?: ((response: Response, body: unknown) => Promise<boolean> | boolean) | undefined
}

/** What {@link SessionCallInit.prepare} gives one attempt. */
export interface AttemptParts {
  headers?: Record<string, string>
  body?: string
  /** Secrets made for this attempt that its body carries (a client assertion), for the errors built later. */
  secrets?: string[]
}

/**
 * The error classes the session call builds its errors with, handed over by session-call.ts: the implementation
 * is loaded on first use and imports nothing the entry imports too (see `lazy` in src/core/lazy.ts).
 */
export interface SessionCallErrors {
  readonly InvalidResponseError: typeof InvalidResponseError
  readonly RedirectError: typeof RedirectError
  readonly ResponseError: typeof ResponseError
}
