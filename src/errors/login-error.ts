import { SessionFetchError } from './session-fetch-error.js'

/** `login()` failed. `status` is the HTTP status of the login answer, or undefined when none arrived. */
export class LoginError extends SessionFetchError {
  override name = 'LoginError' as const
  readonly status: number | undefined

  constructor(status: number | undefined, options: { cause?: unknown; message?: string } = {}) {
    super(
      'login_failed',
      options.message ??
        (status === undefined
          ? 'Login failed: no answer from the server'
          : `Login failed with status ${status}`),
      { cause: options.cause },
    )
    this.status = status
  }
}
