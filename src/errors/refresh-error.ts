import { SessionFetchError } from './session-fetch-error.js'

/**
 * A refresh could not complete: network error, timeout, a 5xx or 429 after the retries, or a 2xx that is not a
 * session. The session is kept, so a later call tries again. `cause` says what happened (never with a token).
 */
export class RefreshError extends SessionFetchError {
  override name = 'RefreshError' as const
  declare readonly code: 'refresh_failed'
  readonly status: number | undefined

  constructor(cause: unknown) {
    const status =
      typeof (cause as { status?: unknown })?.status === 'number'
        ? (cause as { status: number }).status
        : undefined
    const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : 'unknown failure'
    super('refresh_failed', `Session refresh could not complete (${why})`, { cause })
    this.status = status
  }
}
