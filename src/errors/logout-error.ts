import { SessionFetchError } from './session-fetch-error.js'

/** The server did not confirm the logout. The local session was cleared anyway. */
export class LogoutError extends SessionFetchError {
  override name = 'LogoutError' as const
  declare readonly code: 'logout_failed'

  constructor(cause: unknown) {
    const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : 'unknown failure'
    super('logout_failed', `Logout was not confirmed by the server (${why}); the local session was cleared`, {
      cause,
    })
  }
}
