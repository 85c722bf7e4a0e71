import { createFetch, type FetchContext, FetchError, type FetchOptions } from 'ofetch'
import { delay } from '../core/abort.js'
import type { ProtocolContext } from '../core/protocol.js'
import { RedirectError } from '../errors/redirect-error.js'
import { ResponseError } from '../errors/response-error.js'
import { fetchSameOrigin } from './same-origin-redirects.js'
import type { SessionCallInit } from './session-call.js'

const RETRY_STATUSES = [408, 429, 500, 502, 503, 504]

/**
 * Make one session call through ofetch with retry, backoff and Retry-After. A retry that could not go out
 * before the context's deadline is not made: that attempt's error is the answer. An error status becomes a
 * ResponseError (redacted); a network failure rethrows its cause. Redirects are followed only on the endpoint's
 * own origin (see fetchSameOrigin); a refused one is a RedirectError, never retried.
 */
export async function ofetchCall(
  init: SessionCallInit,
  context: ProtocolContext,
): Promise<Response & { _data?: unknown }> {
  // ofetch decides whether to retry (status, count); the wait happens in the transport handed to it rather
  // than in ofetch's own timer, so that an aborted call (timeout, logout, caller) leaves no timer behind.
  let wait = 0
  const $fetch = createFetch({
    fetch: async (input, requestInit) => {
      const ms = wait
      wait = 0
      if (ms > 0) {
        const { stop } = context
        await delay(ms, stop ? AbortSignal.any([context.signal, stop]) : context.signal)
        if (stop?.aborted) throw stop.reason // a retry nobody wants any more is not sent
        // A process or tab that was suspended during the wait wakes up past the deadline, maybe before the
        // deadline's own timer has fired: an attempt then would go out after the caller gave up on it.
        if (Date.now() >= context.deadline) {
          throw new DOMException('The session call reached its deadline before this attempt', 'TimeoutError')
        }
      }
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
      for (let again = 0; ; again++) {
        const attempt = await prepared(requestInit ?? {})
        const response = await fetchSameOrigin(context.fetch, url, attempt, init.secrets ?? [])
        if (response.ok || again > 0 || !init.again || !(await init.again(response))) return response
        response.body?.cancel().catch(() => undefined)
      }
    },
  })
  // Each attempt gets what `prepare` makes for it (fresh assertions and proofs) on top of what ofetch built.
  const prepared = async (requestInit: RequestInit): Promise<RequestInit> => {
    if (!init.prepare) return requestInit
    const parts = await init.prepare()
    const headers = new Headers(requestInit.headers)
    for (const [name, value] of Object.entries(parts.headers ?? {})) headers.set(name, value)
    return { ...requestInit, headers, body: parts.body ?? requestInit.body ?? null }
  }
  // Planned before ofetch decides: a retry sent at the deadline would be aborted at once, after the server may
  // have acted on it (rotating the refresh token), so when the wait would reach the deadline there is none.
  const planRetry = (ctx: FetchContext) => {
    // A refused redirect is the server's answer, not a transient failure: asking again gets the same one.
    if (ctx.error instanceof RedirectError) ctx.options.retry = 0
    const left = Number(ctx.options.retry ?? 0)
    if (left <= 0) return
    if (context.stop?.aborted) {
      ctx.options.retry = 0
      return
    }
    wait = retryDelay(init.retryDelayMs, ctx.response, init.retry - left)
    if (wait >= context.deadline - Date.now()) {
      ctx.options.retry = 0
      wait = 0
    }
  }
  const options: FetchOptions<'json'> = {
    method: init.method,
    headers: init.headers,
    signal: context.signal,
    retry: init.retry,
    retryStatusCodes: RETRY_STATUSES,
    retryDelay: 0,
    onRequestError: planRetry,
    onResponseError: planRetry,
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

function retryDelay(baseDelay: number, response: Response | undefined, attempt: number): number {
  const backoff = baseDelay * 2 ** attempt * (0.75 + Math.random() * 0.5)
  return Math.max(backoff, (response && retryAfterMs(response)) ?? 0)
}

function retryAfterMs(response: Response): number | undefined {
  const value = response.headers.get('retry-after')
  if (!value) return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}
