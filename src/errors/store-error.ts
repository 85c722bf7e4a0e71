import { redact } from '../redact.js'
import { SessionFetchError } from './session-fetch-error.js'

/**
 * A session store could not do its part: its backend (Redis, storage) failed or timed out, or what it holds
 * cannot be read (malformed, or sealed with another key). `cause` is the backend's error; neither the message
 * nor the cause's summary ever carries a token.
 */
export class StoreError extends SessionFetchError {
  override name = 'StoreError' as const

  constructor(message: string, options?: { cause?: unknown }) {
    const cause = options?.cause
    const why = cause instanceof Error ? ` (${cause.name}: ${redact(cause.message)})` : ''
    super('store_failed', `${message}${why}`, options)
  }
}
