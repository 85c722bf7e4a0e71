import type { AxiosResponse, InternalAxiosRequestConfig } from 'axios'

/** What the config, the answer and the error show in place of the session's token once the call is over. */
export const REDACTED = '[redacted]'

type Loose = Record<PropertyKey, unknown>

/**
 * The `Authorization` entries of `headers` whose value is one of `sent`: replaced by `to`, or deleted without
 * it. Returns `headers`.
 */
export function swapSent<T extends Loose | undefined>(headers: T, sent: readonly string[], to?: string): T {
  for (const name in headers) {
    if (name.toLowerCase() !== 'authorization' || !sent.includes(String(headers[name]))) continue
    if (to === undefined) delete headers[name]
    else headers[name] = to
  }
  return headers
}

/**
 * Once a call is over, take the `Authorization` values it sent (`sent`) out of everything axios hands back:
 * the config (`response.config`, `error.config`: the same object), and the request objects of the answer and
 * the error, as far as they hold one: Node's ClientRequest (`_header`, and `getHeader()`, which reads Node's
 * `kOutHeaders`), follow-redirects' RedirectableRequest (its options, reached from each ClientRequest it made,
 * and its current ClientRequest), a fetch `Request` (axios's fetch adapter). An XMLHttpRequest holds none that
 * can be read. Each value becomes {@link REDACTED}.
 */
export function hideToken(
  config: InternalAxiosRequestConfig,
  sent: readonly string[],
  response: AxiosResponse | undefined,
  error: unknown,
): void {
  if (sent.includes(String(config.headers.get('Authorization'))))
    config.headers.set('Authorization', REDACTED)
  const seen = new Set<unknown>()
  const hide = (value: unknown): void => {
    if (typeof value !== 'object' || value === null || seen.has(value)) return
    seen.add(value)
    const request = value as Loose
    swapSent((request._options as Loose | undefined)?.headers as Loose | undefined, sent, REDACTED)
    hide(request._currentRequest)
    hide(request._redirectable)
    // The header block as it went out; rewritten only once sent (Node no longer reads it then).
    if (request._headerSent === true && typeof request._header === 'string') {
      request._header = sent.reduce((header, value) => header.split(value).join(REDACTED), request._header)
    }
    const out = Object.getOwnPropertySymbols(request).find((key) => key.description === 'kOutHeaders')
    const entry = out && (request[out] as Loose | null)?.authorization // [name, value]
    if (Array.isArray(entry) && sent.includes(entry[1])) entry[1] = REDACTED
    const headers = request.headers as Headers | undefined
    try {
      if (typeof headers?.get === 'function' && sent.includes(String(headers.get('authorization'))))
        headers.set('authorization', REDACTED)
    } catch {
      // immutable Headers: nothing more to do
    }
  }
  const failed = error as { request?: unknown; response?: AxiosResponse } | null | undefined
  hide(response?.request)
  hide(failed?.request)
  hide(failed?.response?.request)
}
