import type { AxiosResponse, InternalAxiosRequestConfig } from 'axios'

/** What the config, the answer and the error show in place of the session's token once the call is over. */
export const REDACTED = '[redacted]'

function isAuthorization(name: string): boolean {
  return name.toLowerCase() === 'authorization'
}

/** Delete the `Authorization` entries of `headers` whose value is one of `sent`. */
export function dropSent(headers: Record<string, unknown> | undefined, sent: readonly string[]): void {
  if (!headers) return
  for (const name of Object.keys(headers)) {
    if (isAuthorization(name) && sent.includes(String(headers[name]))) delete headers[name]
  }
}

/** Replace the `Authorization` entries of `headers` whose value is one of `sent` with the placeholder. */
export function hideSent<T extends Record<string, unknown>>(headers: T, sent: readonly string[]): T {
  for (const name of Object.keys(headers)) {
    if (isAuthorization(name) && sent.includes(String(headers[name])))
      (headers as Record<string, unknown>)[name] = REDACTED
  }
  return headers
}

/**
 * Once a call is over, take the `Authorization` values it sent (`sent`) out of everything axios hands back:
 * the config (`response.config`, `error.config`: the same object), and the request objects of the answer and
 * the error, as far as they hold one: Node's ClientRequest (`_header`, `getHeader()`), follow-redirects'
 * RedirectableRequest (its options and its current ClientRequest), a fetch `Request` (axios's fetch adapter).
 * An XMLHttpRequest holds none that can be read. Each value becomes {@link REDACTED}.
 */
export function hideToken(
  config: InternalAxiosRequestConfig,
  sent: readonly string[],
  response: AxiosResponse | undefined,
  error: unknown,
): void {
  if (sent.length === 0) return
  const current = config.headers.get('Authorization')
  if (typeof current === 'string' && sent.includes(current)) config.headers.set('Authorization', REDACTED)
  const failed = error as { request?: unknown; response?: { request?: unknown } } | null | undefined
  for (const request of new Set([response?.request, failed?.request, failed?.response?.request])) {
    hideInRequest(request, sent)
  }
}

interface RequestLike {
  // Node's ClientRequest
  _header?: unknown
  _headerSent?: unknown
  // follow-redirects' RedirectableRequest, and the link to it from each ClientRequest it made
  _options?: { headers?: Record<string, unknown> }
  _currentRequest?: unknown
  _redirectable?: unknown
  // a fetch Request
  headers?: { get?: unknown; set?: unknown }
}

function hideInRequest(request: unknown, sent: readonly string[], seen = new Set<unknown>()): void {
  if (typeof request !== 'object' || request === null || seen.has(request)) return
  seen.add(request)
  const r = request as RequestLike
  if (r._options?.headers && typeof r._options.headers === 'object') hideSent(r._options.headers, sent)
  hideInRequest(r._currentRequest, sent, seen)
  hideInRequest(r._redirectable, sent, seen)
  // The header block as it went out; rewritten only once sent (Node no longer reads it then).
  if (typeof r._header === 'string' && r._headerSent === true) {
    let header = r._header
    for (const value of sent) header = header.split(value).join(REDACTED)
    r._header = header
  }
  hideOutHeaders(request, sent)
  const headers = r.headers as
    | { get?: (name: string) => unknown; set?: (n: string, v: string) => void }
    | undefined
  if (typeof headers?.get === 'function' && typeof headers.set === 'function') {
    const value = headers.get('authorization')
    if (typeof value === 'string' && sent.includes(value)) {
      try {
        headers.set('authorization', REDACTED)
      } catch {
        // an immutable Headers: nothing more can be done here
      }
    }
  }
}

// What ClientRequest#getHeader() reads: the headers it was given, under Node's `kOutHeaders` symbol
// ({ lowercased name: [name, value] }). Touched only in that exact shape.
function hideOutHeaders(request: object, sent: readonly string[]): void {
  const key = Object.getOwnPropertySymbols(request).find((symbol) => symbol.description === 'kOutHeaders')
  if (key === undefined) return
  const headers = (request as Record<symbol, unknown>)[key] as Record<string, unknown> | null | undefined
  const entry = headers?.authorization
  if (Array.isArray(entry) && entry.length === 2 && sent.includes(String(entry[1]))) entry[1] = REDACTED
}
