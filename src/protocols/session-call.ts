import { lazy } from '../core/lazy.js'
import type { ProtocolContext } from '../core/protocol.js'
import { InvalidResponseError } from '../errors/invalid-response-error.js'
import { RedirectError } from '../errors/redirect-error.js'
import { ResponseError } from '../errors/response-error.js'
import type { SessionCallErrors, SessionCallInit } from './session-call-init.js'

/**
 * Load the session-call implementation (ofetch and its helpers) now, in the background. It is kept out of the
 * entry bundle: only logins, refreshes and logouts need it, never the request path. A protocol calls this when
 * it is created, so the first session call rarely waits; a failed load is tried again by the next call.
 */
export const preloadSessionCall = lazy(() => import('./ofetch-call.js'))

/**
 * Make one session call through ofetch with retry, backoff and Retry-After, following redirects only on the
 * endpoint's own origin. See `ofetchCall` for the rules.
 */
export async function sessionCall(
  init: SessionCallInit,
  context: ProtocolContext,
): Promise<Response & { _data?: unknown }> {
  const { ofetchCall } = await preloadSessionCall()
  return ofetchCall(init, context, ERRORS)
}

const ERRORS: SessionCallErrors = { InvalidResponseError, RedirectError, ResponseError }
