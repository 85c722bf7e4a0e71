import type { Dispatcher } from 'undici'

type Options = Dispatcher.DispatchOptions

/** Response headers as undici's newer handler interface hands them over. */
export type ResponseHeaders = Record<string, string | string[] | undefined>

function latin1(part: Buffer | string | undefined): string {
  return typeof part === 'string' || part === undefined ? String(part) : part.toString('latin1')
}

/** Raw header names and values (undici 7's earlier interface) as a record, for the pipeline's look at a refusal. */
export function headersOf(raw: Buffer[]): ResponseHeaders {
  const headers: Record<string, string | string[]> = {}
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = latin1(raw[i]).toLowerCase()
    const value = latin1(raw[i + 1])
    const seen = headers[name]
    headers[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value]
  }
  return headers
}

/** Request headers as one flat `[name, value, …]` list, the one shape undici accepts that keeps every repeat. */
type FlatHeaders = string[]

// undici accepts headers as a record, a flat [name, value, …] array, or an iterable of [name, value] pairs.
function flatHeaders(headers: Options['headers']): FlatHeaders {
  const flat: FlatHeaders = []
  if (headers === undefined || headers === null) return flat
  const add = (name: unknown, value: unknown) => {
    if (value === undefined || value === null) return
    if (Array.isArray(value)) for (const item of value) flat.push(String(name), String(item))
    else flat.push(String(name), String(value))
  }
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) for (const [name, value] of headers) add(name, value)
    else for (let i = 0; i + 1 < headers.length; i += 2) add(headers[i], headers[i + 1])
  } else if (Symbol.iterator in headers) {
    for (const [name, value] of headers as Iterable<[string, unknown]>) add(name, value)
  } else {
    for (const [name, value] of Object.entries(headers)) add(name, value)
  }
  return flat
}

/** Whether a request's headers, in any shape undici accepts, carry an `Authorization` header. */
export function hasAuthorization(headers: Options['headers']): boolean {
  const flat = flatHeaders(headers)
  for (let i = 0; i < flat.length; i += 2) {
    if (String(flat[i]).toLowerCase() === 'authorization') return true
  }
  return false
}

/**
 * The request with the session's token on it (`undefined`: no session, sent as it is). `opts` is always the
 * caller's (checked to have no Authorization), so the header is added, never replaced.
 */
export function withToken(opts: Options, token: string | undefined): Options {
  if (token === undefined) return opts
  return { ...opts, headers: [...flatHeaders(opts.headers), 'authorization', `Bearer ${token}`] }
}
