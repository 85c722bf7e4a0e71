import { redact } from './redact.js'
import { SessionFetchError } from './session-fetch-error.js'

/**
 * `login()` failed. `status` is the HTTP status of the login's error answer, or undefined when there was none
 * (a network error, a timeout, a 2xx that is not a session, a refused redirect): then the message says what
 * happened, from its `cause`.
 */
export class LoginError extends SessionFetchError {
  override name = 'LoginError' as const
  declare readonly code: 'login_failed'
  readonly status: number | undefined

  constructor(status: number | undefined, options: { cause?: unknown; message?: string } = {}) {
    const cause = options.cause
    super(
      'login_failed',
      options.message ??
        (status !== undefined
          ? `Login failed with status ${status}`
          : cause instanceof Error
            ? `Login failed (${cause.name}: ${redact(cause.message)})`
            : 'Login failed: no answer from the server'),
      { cause },
    )
    this.status = status
  }
}
