import { createFetch, type FetchContext, FetchError, type FetchOptions } from 'ofetch'
import type { ProtocolContext } from '../core/protocol.js'
import { redact, withoutQuery } from '../errors/redact.js'
import type { ResponseError } from '../errors/response-error.js'
import { excerpt, secretForms } from '../errors/server-text.js'
import { fetchSameOrigin } from './same-origin-redirects.js'
import type { SessionCallErrors, SessionCallInit } from './session-call-init.js'

const RETRY_STATUSES = [408, 429, 500, 502, 503, 504]
/**
 * How much of an answer's body a session call reads at most. An error body only gives a message an excerpt of
 * its `code` and `message`, so a few KiB are plenty; the rest is not read (a huge or never-ending body costs
 * nothing more). A session (or discovery metadata) larger than the other bound is refused.
 */
export const ERROR_BODY_BYTES = 16_384
export const BODY_BYTES = 1_048_576

/**
 * Make one session call through ofetch with retry, backoff and Retry-After. A retry that could not go out
 * before the context's deadline is not made: that attempt's error is the answer. An error status becomes a
 * ResponseError (redacted); a network failure rethrows its cause. Redirects are followed only on the endpoint's
 * own origin (see fetchSameOrigin); a refused one is a RedirectError, never retried.
 */
export async function ofetchCall(
  init: SessionCallInit,
  context: ProtocolContext,
  errors: SessionCallErrors,
): Promise<Response & { _data?: unknown }> {
  const { RedirectError } = errors
  // Every secret this call sends, for the errors built from its answers: what the protocol names, the
  // credentials of every Authorization and DPoP header that went out, and what `prepare` made for an attempt.
  const secrets: (string | undefined)[] = [...(init.secrets ?? [])]
  const send: typeof globalThis.fetch = (input, requestInit) => {
    const headers = new Headers(requestInit?.headers)
    for (const name of ['authorization', 'dpop']) {
      const value = headers.get(name)
      if (value) secrets.push(value, value.slice(value.indexOf(' ') + 1))
    }
    return context.fetch(input, requestInit)
  }
  // Each answer's body is read once, up to its bound, here (ofetch hands it over unread).
  const bodies = new WeakMap<Response, Promise<unknown>>()
  const dataOf = (response: Response): Promise<unknown> => {
    let data = bodies.get(response)
    if (!data) {
      data = readBody(response, init.json === true, errors)
      bodies.set(response, data)
    }
    return data
  }
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
        const response = await fetchSameOrigin(send, url, attempt, secrets, RedirectError)
        if (response.ok || again > 0 || !init.again) return response
        if (!(await init.again(response, await dataOf(response)))) return response
      }
    },
  })
  // Each attempt gets what `prepare` makes for it (fresh assertions and proofs) on top of what ofetch built.
  const prepared = async (requestInit: RequestInit): Promise<RequestInit> => {
    if (!init.prepare) return requestInit
    const parts = await init.prepare()
    if (parts.secrets) secrets.push(...parts.secrets)
    const headers = new Headers(requestInit.headers)
    for (const [name, value] of Object.entries(parts.headers ?? {})) headers.set(name, value)
    return { ...requestInit, headers, body: parts.body ?? requestInit.body ?? null }
  }
  // Planned before ofetch decides: a retry sent at the deadline would be aborted at once, after the server may
  // have acted on it (rotating the refresh token), so when the wait would reach the deadline there is none.
  const planRetry = (ctx: FetchContext) => {
    // A refused redirect is the server's answer, not a transient failure: asking again gets the same one. An
    // answer whose status is not retried is the call's answer too (ofetch would not retry it either).
    const status = ctx.response?.status
    if (ctx.error instanceof RedirectError || (status && !RETRY_STATUSES.includes(status))) {
      ctx.options.retry = 0
    }
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
    // An answer that is retried is not read: let its connection go.
    if (ctx.options.retry) ctx.response?.body?.cancel().catch(() => undefined)
  }
  const options: FetchOptions<'stream'> = {
    method: init.method,
    headers: init.headers,
    signal: context.signal,
    retry: init.retry,
    retryStatusCodes: RETRY_STATUSES,
    retryDelay: 0,
    // The body is read here, bounded, rather than whole by ofetch.
    responseType: 'stream',
    onRequestError: planRetry,
    onResponseError: planRetry,
  }
  if (init.body !== undefined) options.body = init.body
  let response: Response & { _data?: unknown }
  try {
    response = await $fetch.raw(init.url, options)
  } catch (error) {
    if (!(error instanceof FetchError)) throw error
    const answer = error.response
    if (!answer) throw error.cause instanceof Error ? error.cause : new Error('Network error')
    // What the error body says, if it can be read: the status is the answer either way.
    const data = await dataOf(answer).catch(() => undefined)
    throw responseError(init, answer, data, secretForms(secrets), errors)
  }
  response._data = await dataOf(response)
  return response
}

/**
 * The ResponseError of an error answer. The server wrote its reason phrase and body: each is shown as an excerpt
 * with every form of every secret the call sent redacted, whatever the server echoed.
 */
function responseError(
  init: SessionCallInit,
  response: Response,
  data: unknown,
  forms: readonly string[],
  { ResponseError }: SessionCallErrors,
): ResponseError {
  const body = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>
  const code = body.code ?? body.error
  const message = body.message ?? body.error_description
  return new ResponseError({
    status: response.status,
    statusText: excerpt(response.statusText, 100, forms),
    method: init.method,
    url: redact(withoutQuery(init.url), forms),
    serverCode: typeof code === 'string' ? excerpt(code, 100, forms) : undefined,
    serverMessage: typeof message === 'string' ? excerpt(message, 300, forms) : undefined,
    retryAfterMs: retryAfterMs(response),
  })
}

/**
 * An answer's body, read up to its bound: parsed as JSON when `json` or its content type says so (text when it is
 * not JSON), else text; undefined without a body. An error answer's body is cut at {@link ERROR_BODY_BYTES} (the
 * rest is never read); any other body longer than {@link BODY_BYTES} is refused.
 */
async function readBody(
  response: Response,
  json: boolean,
  { InvalidResponseError }: SessionCallErrors,
): Promise<unknown> {
  const stream = response.body
  if (!stream) return undefined
  const limit = response.ok ? BODY_BYTES : ERROR_BODY_BYTES
  const reader = stream.getReader()
  const decoder = new TextDecoder()
  let text = ''
  try {
    for (let size = 0; size < limit; ) {
      const { done, value } = await reader.read()
      if (done) break
      if (response.ok && size + value.byteLength > limit) {
        throw new InvalidResponseError('body', `is longer than ${limit} bytes`)
      }
      text += decoder.decode(value.subarray(0, limit - size), { stream: true })
      size += value.byteLength
    }
  } finally {
    reader.cancel().catch(() => undefined)
  }
  text += decoder.decode()
  if (!json && !/\bjson\b/i.test(response.headers.get('content-type') ?? '')) return text
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** Wait `ms` (before a retry), or reject with `signal.reason` as soon as the signal aborts (clearing the timer). */
export function delay(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
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
