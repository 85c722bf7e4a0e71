import { LoginError } from '../errors/login-error.js'
import { RefreshError } from '../errors/refresh-error.js'

/** How unattended logins back off after one failed: `baseMs`, doubling per failure, up to `maxMs`. */
export interface LoginBackoff {
  baseMs: number
  maxMs: number
}

/**
 * Bounds unattended logins (the `credentials` option). After one fails, the next is not attempted before a
 * backoff has passed (exponential, capped): calls in between fail at once with the same kind of error, without
 * asking `credentials` or the server. Wrong credentials are therefore loud (a LoginError per call) and cheap
 * (one login attempt per backoff step), so a service account is not locked out by a burst of requests.
 */
export interface LoginGate {
  /** The error a call gets now instead of an unattended login, or undefined when one may be attempted. */
  blocked(): LoginError | RefreshError | undefined
  /**
   * An unattended login failed: `error` is what callers get (a LoginError for refused credentials, a RefreshError
   * for a login that could not complete: the renewal that made the login decides), and the next backoff begins.
   * Returns `error`.
   */
  failed<E extends LoginError | RefreshError>(error: E): E
  /** A login succeeded (unattended or explicit): the backoff starts over. */
  reset(): void
}

export function createLoginGate(backoff: LoginBackoff, now: () => number): LoginGate {
  let failures = 0
  let until = 0
  let last: LoginError | RefreshError | undefined

  // A fresh error object per caller (each gets its own stack), of the same kind and status as the failure.
  function copy(error: LoginError | RefreshError): LoginError | RefreshError {
    if (error instanceof LoginError) {
      return new LoginError(error.status, { cause: error.cause, message: error.message })
    }
    return new RefreshError(error.cause)
  }

  return {
    blocked() {
      if (last === undefined || now() >= until) return undefined
      return copy(last)
    },
    failed(error) {
      failures++
      until = now() + Math.min(backoff.maxMs, backoff.baseMs * 2 ** (failures - 1))
      last = error
      return error
    },
    reset() {
      failures = 0
      until = 0
      last = undefined
    },
  }
}
