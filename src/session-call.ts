import { createFetch, FetchError, type FetchOptions } from 'ofetch'
import { ResponseError } from './errors/response-error.js'
import type { ProtocolContext } from './protocol.js'

/** One session call (login, refresh, logout) of a protocol. */
export interface SessionCallInit {
  method: 'POST' | 'PUT' | 'DELETE'
  url: string
  headers: Record<string, string>
  /** A plain object is sent as JSON (ofetch), a string as it is (set its content-type in `headers`). */
  body?: string | Record<string, unknown> | undefined
  /** Retries after a 408, 429, 5xx or a network error. */
  retry: number
  /** First retry delay in ms; doubles each time, with jitter. A longer `Retry-After` wins. */
  retryDelayMs: number
  /** Parse the body as JSON whatever its content-type says (token endpoints that answer `text/plain`). */
  json?: boolean
  /** Strings that must never appear in an error built from the answer (client secrets, refresh tokens). */
  secrets?: readonly (string | undefined)[]
}

const RETRY_STATUSES = [408, 429, 500, 502, 503, 504]

/**
 * Make one session call through ofetch with retry, backoff and Retry-After, never sleeping past the context's
 * deadline. An error status becomes a ResponseError (redacted); a network failure rethrows its cause.
 */
export async function sessionCall(
  init: SessionCallInit,
  context: ProtocolContext,
): Promise<Response & { _data?: unknown }> {
  const $fetch = createFetch({ fetch: context.fetch })
  const options: FetchOptions<'json'> = {
    method: init.method,
    headers: init.headers,
    signal: context.signal,
    retry: init.retry,
    retryStatusCodes: RETRY_STATUSES,
    retryDelay: (ctx) =>
      retryDelay(init.retryDelayMs, ctx.response, init.retry - Number(ctx.options.retry ?? 0), context),
  }
  if (init.body !== undefined) options.body = init.body
  if (init.json) options.responseType = 'json'
  try {
    return await $fetch.raw(init.url, options)
  } catch (error) {
    if (!(error instanceof FetchError)) throw error
    const response = error.response
    if (!response) throw error.cause instanceof Error ? error.cause : new Error('Network error')
    throw new ResponseError({
      status: response.status,
      statusText: response.statusText,
      method: init.method,
      url: init.url,
      body: error.data,
      retryAfterMs: retryAfterMs(response),
      secrets: init.secrets,
    })
  }
}

function retryDelay(
  baseDelay: number,
  response: Response | undefined,
  attempt: number,
  context: ProtocolContext,
): number {
  if (context.signal.aborted) return 0
  const backoff = baseDelay * 2 ** attempt * (0.75 + Math.random() * 0.5)
  const wanted = Math.max(backoff, (response && retryAfterMs(response)) ?? 0)
  // Never sleep past the caller's deadline: the retry would only be aborted.
  return Math.max(0, Math.min(wanted, context.deadline - Date.now()))
}

function retryAfterMs(response: Response): number | undefined {
  const value = response.headers.get('retry-after')
  if (!value) return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}
