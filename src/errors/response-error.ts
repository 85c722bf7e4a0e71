import { redact, withoutQuery } from './redact.js'
import { SessionFetchError } from './session-fetch-error.js'

/**
 * A Sessions API call answered with an error status. Used as the `cause` of LoginError, RefreshError and
 * LogoutError. `serverCode` and `serverMessage` come from the API's JSON error body when there is one
 * (Plantly's `code` and `message`, or OAuth2's `error` and `error_description`, RFC 6749 §5.2).
 */
export class ResponseError extends SessionFetchError {
  override name = 'ResponseError' as const
  readonly status: number
  readonly method: string
  readonly url: string
  readonly serverCode: string | undefined
  readonly serverMessage: string | undefined
  readonly retryAfterMs: number | undefined

  constructor(init: {
    status: number
    statusText?: string
    method: string
    url: string
    body?: unknown
    retryAfterMs?: number | undefined
    /** Values this call sent (tokens, password, client secret) that must not come back through the server's error body. */
    secrets?: readonly (string | undefined)[] | undefined
  }) {
    const body = (typeof init.body === 'object' && init.body !== null ? init.body : {}) as Record<
      string,
      unknown
    >
    const code = body.code ?? body.error
    const message = body.message ?? body.error_description
    const secrets = init.secrets ?? []
    const serverCode = typeof code === 'string' ? redact(code, secrets).slice(0, 100) : undefined
    const serverMessage = typeof message === 'string' ? redact(message, secrets).slice(0, 300) : undefined
    const url = redact(withoutQuery(init.url), secrets)
    const detail = serverCode ? ` (${serverCode}${serverMessage ? `: ${serverMessage}` : ''})` : ''
    super(
      'http_status',
      `Request failed with status code ${init.status}${init.statusText ? ` ${init.statusText}` : ''}: ${init.method} ${url}${detail}`,
    )
    this.status = init.status
    this.method = init.method
    this.url = url
    this.serverCode = serverCode
    this.serverMessage = serverMessage
    this.retryAfterMs = init.retryAfterMs
  }
}
