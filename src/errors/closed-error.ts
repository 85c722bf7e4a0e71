import { SessionFetchError } from './session-fetch-error.js'

/**
 * The client was closed (`close()`): a call made after that rejects with it at once, with nothing sent, and so
 * does a call made before whose session call (a refresh, a login) had not gone out yet. Requests that would
 * carry the session reject with it at every adapter, as `fetch` rejects for a network error.
 */
export class ClosedError extends SessionFetchError {
  override name = 'ClosedError' as const
  declare readonly code: 'closed'

  constructor() {
    super('closed', 'The session client is closed: close() was called')
  }
}
