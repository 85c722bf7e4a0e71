import { redact } from './redact.js'
import { SessionFetchError } from './session-fetch-error.js'

/**
 * A session store could not do its part: its backend (Redis, storage) failed or timed out, or what it holds
 * cannot be read (malformed, or sealed with another key). `cause` is the backend's error; neither the message
 * nor the cause's summary ever carries a token.
 */
export class StoreError extends SessionFetchError {
  override name = 'StoreError' as const
  declare readonly code: 'store_failed'

  /** `secrets`: values the cause's message must not show (a password in the store's URL). */
  constructor(message: string, options?: { cause?: unknown; secrets?: readonly (string | undefined)[] }) {
    const cause = options?.cause
    super(
      'store_failed',
      cause instanceof Error ? `${message} (${summarize(cause, options?.secrets)})` : message,
      {
        cause,
      },
    )
  }
}

/**
 * `Name: message` of an error, redacted. A client library's bare error (node-redis' `TimeoutError` has neither a
 * message nor its own `name`) is named by its class rather than shown as "Error: ".
 */
export function summarize(error: Error, secrets?: readonly (string | undefined)[]): string {
  const ownName = error.constructor?.name
  const name = error.name === 'Error' && ownName ? ownName : error.name
  return error.message ? `${name}: ${redact(error.message, secrets)}` : name
}
