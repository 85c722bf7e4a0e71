import { SessionFetchError } from './session-fetch-error.js'

/**
 * A session call (login, refresh, logout) was answered with a redirect that session-fetch refused to follow,
 * because following it would send credentials or a token somewhere else: to another origin, as a GET, in a loop,
 * or (in browsers, which hide where a redirect goes) anywhere. Used as the `cause` of LoginError, RefreshError
 * and LogoutError. `targetOrigin` is the origin the redirect pointed to, when known; the message never carries
 * its path, query or a token.
 */
export class RedirectError extends SessionFetchError {
  override name = 'RedirectError' as const
  declare readonly code: 'redirect_refused'
  readonly targetOrigin: string | undefined

  constructor(message: string, targetOrigin?: string) {
    super('redirect_refused', message)
    this.targetOrigin = targetOrigin
  }
}
