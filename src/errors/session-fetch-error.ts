/**
 * Every error this library throws has one of these codes, stable across versions, so callers can `switch` on it.
 *
 * - `invalid_option`: an option passed to a factory is wrong; the message names it.
 * - `login_failed`: `login()` (or an unattended re-login) did not produce a session; see `status`.
 * - `refresh_failed`: a refresh could not complete (network, timeout, 5xx after retries); the session is kept.
 * - `session_expired`: the refresh was rejected and no re-login was possible; the session is gone.
 * - `session_rejected`: a protocol's word to the core that the server refused the credentials or the refresh
 *   token (a `SessionRejectedError`); callers see it only as the `cause` of the errors above.
 * - `no_session`: the call needs a session and there is none.
 * - `invalid_response`: the server answered 2xx with something that is not a usable session.
 * - `http_status`: the server answered with an error status (used as the `cause` of the errors above).
 * - `logout_failed`: the server did not confirm the logout (the local session is cleared anyway).
 * - `store_failed`: the session store (Redis, browser storage) failed or holds something unreadable.
 * - `redirect_refused`: a session call was redirected where its credentials must not follow (another origin);
 *   a `RedirectError`, the `cause` of `login_failed`, `refresh_failed` or `logout_failed`.
 * - `closed`: the client was closed (`close()`); a `ClosedError`.
 */
export type SessionFetchErrorCode =
  | 'invalid_option'
  | 'login_failed'
  | 'refresh_failed'
  | 'session_expired'
  | 'session_rejected'
  | 'no_session'
  | 'invalid_response'
  | 'http_status'
  | 'logout_failed'
  | 'store_failed'
  | 'redirect_refused'
  | 'closed'

// The brand only this package's errors carry. A registered symbol, so that it is the same in every realm and in
// every bundled copy of the package, where `instanceof` fails.
export const BRAND = Symbol.for('session-fetch.error')

/**
 * Base class of every error thrown by session-fetch. It never carries a token: messages and properties are
 * built from statuses, error codes and URLs only, and anything echoed from a server is redacted.
 */
export class SessionFetchError extends Error {
  override name = 'SessionFetchError'
  readonly code: SessionFetchErrorCode

  constructor(code: SessionFetchErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }

  static {
    Object.defineProperty(SessionFetchError.prototype, BRAND, { value: true })
  }

  /** Plain data for logs; the `cause` is summarised by name and message only. */
  toJSON(): Record<string, unknown> {
    const json: Record<string, unknown> = { name: this.name, code: this.code, message: this.message }
    for (const [key, value] of Object.entries(this)) {
      if (key !== 'cause' && (typeof value === 'number' || typeof value === 'string')) json[key] = value
    }
    if (this.cause instanceof Error) json.cause = { name: this.cause.name, message: this.cause.message }
    return json
  }
}
