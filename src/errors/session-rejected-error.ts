import { SessionFetchError } from './session-fetch-error.js'

/**
 * Thrown by a protocol when the server refuses the credentials or the refresh token (Plantly: 400/401/403 from
 * `/auth/sessions`; OAuth2: `invalid_grant`). To the core it means the session is dead.
 */
export class SessionRejectedError extends SessionFetchError {
  override name = 'SessionRejectedError' as const
  declare readonly code: 'session_rejected'
  readonly status: number | undefined

  constructor(status: number | undefined, options?: { cause?: unknown }) {
    super(
      'session_rejected',
      `The server rejected the session${status ? ` (status ${status})` : ''}`,
      options,
    )
    this.status = status
  }
}
