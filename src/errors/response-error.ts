import { SessionFetchError } from './session-fetch-error.js'

/**
 * A Sessions API call answered with an error status. Used as the `cause` of LoginError, RefreshError and
 * LogoutError. `serverCode` and `serverMessage` come from the API's JSON error body when there is one
 * (Plantly's `code` and `message`, or OAuth2's `error` and `error_description`, RFC 6749 §5.2).
 *
 * Everything in it that the server wrote (the reason phrase, `serverCode`, `serverMessage`) is an excerpt with
 * every secret the call sent redacted: the session call builds it so. The constructor shows the texts it is
 * given as they are.
 */
export class ResponseError extends SessionFetchError {
  override name = 'ResponseError' as const
  declare readonly code: 'http_status'
  readonly status: number
  readonly method: string
  readonly url: string
  readonly serverCode: string | undefined
  readonly serverMessage: string | undefined
  readonly retryAfterMs: number | undefined

  constructor(init: {
    status: number
    /** The reason phrase, redacted. */
    statusText?: string | undefined
    method: string
    /** Without its query. */
    url: string
    /** The error body's code, redacted. */
    serverCode?: string | undefined
    /** The error body's message, redacted. */
    serverMessage?: string | undefined
    retryAfterMs?: number | undefined
  }) {
    const { serverCode, serverMessage } = init
    const detail = serverCode ? ` (${serverCode}${serverMessage ? `: ${serverMessage}` : ''})` : ''
    super(
      'http_status',
      `Request failed with status code ${init.status}${init.statusText ? ` ${init.statusText}` : ''}: ${init.method} ${init.url}${detail}`,
    )
    this.status = init.status
    this.method = init.method
    this.url = init.url
    this.serverCode = serverCode
    this.serverMessage = serverMessage
    this.retryAfterMs = init.retryAfterMs
  }
}
