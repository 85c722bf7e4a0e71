import { SessionFetchError } from './session-fetch-error.js'

/**
 * The session is gone: its refresh was rejected (400/401/403) and no unattended re-login was possible, or there
 * was none to begin with (`code: 'no_session'`). Thrown by `refresh()`; `fetch()` resolves with the 401 instead.
 */
export class SessionExpiredError extends SessionFetchError {
  override name = 'SessionExpiredError' as const
  declare readonly code: 'session_expired' | 'no_session'

  constructor(code: 'session_expired' | 'no_session' = 'session_expired', options?: { cause?: unknown }) {
    super(
      code,
      code === 'no_session'
        ? 'There is no session: call login() first'
        : 'The session has expired and could not be renewed',
      options,
    )
  }
}
