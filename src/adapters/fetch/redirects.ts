import type { Pipeline } from '../../core/pipeline.js'
import type { PreparedRequest, SessionRequestInit, withToken } from './prepared-request.js'

// Loaded on the first redirect a request with the session's headers meets. The adapter hands over its
// `withToken`, which the entry uses too (see `lazy` in src/core/lazy.ts).

/** Hops fetch follows before it fails (the Fetch standard's redirect count). */
const MAX_HOPS = 20

/** The headers that describe a body: dropped with it when a redirect turns the request into a GET. */
const BODY_HEADERS = [
  'content-encoding',
  'content-language',
  'content-location',
  'content-type',
  'content-length',
]

/** The caller's credentials fetch drops on a hop to another origin (undici's list; browsers drop them too). */
const CROSS_ORIGIN_DROPPED = ['proxy-authorization', 'cookie', 'host']

/**
 * Follow the redirects of an attempt that carries the session's headers (its token, its DPoP proof), which was
 * sent with `redirect: 'manual'` so that no header of the session follows a redirect by itself: fetch drops
 * `Authorization` on a hop to another origin, but not a `DPoP` proof or any other header. Each hop is made here
 * as fetch's `redirect: 'follow'` makes it (the Fetch standard's HTTP-redirect fetch): at most 20 hops; a 303,
 * or a 301/302 after a POST, becomes a GET without the body and its headers; a 307/308 (and a 301/302 of
 * another method) sends the body again, from the copy a stream keeps (without one, it fails as fetch does for
 * a stream); a hop to another origin drops the caller's `Proxy-Authorization`, `Cookie` and `Host`. The
 * session's headers go on a hop only while every hop so far was to an origin the session covers, made for
 * that hop (a DPoP proof for its method and URL); once a hop leaves them, none goes on any later hop. The answer
 * says `redirected` and its `url`, as fetch's does.
 */
export async function followRedirects(
  response: Response,
  url: string,
  method: string,
  token: string,
  presented: Record<string, string> | undefined,
  init: SessionRequestInit,
  signal: AbortSignal | undefined,
  pipeline: Pipeline,
  transport: typeof globalThis.fetch,
  again: PreparedRequest['attempt'],
  present: typeof withToken,
): Promise<Response> {
  // fetch upper-cases these six methods (and leaves any other as it is), so a 'post' turns into a GET as a POST does.
  if (/^(delete|get|head|options|post|put)$/i.test(method)) method = method.toUpperCase()
  const session = Object.keys(presented ?? { authorization: '' })
  const headers = new Headers(init.headers)
  let body = init.body ?? null
  let covered = true
  for (let hop = 0; ; hop++) {
    const { status } = response
    const location = /^30[12378]$/.test(`${status}`) ? response.headers.get('location') : null
    if (location === null) {
      if (hop > 0) Object.defineProperty(response, 'redirected', { value: true })
      return response
    }
    response.body?.cancel().catch(() => undefined)
    if (hop === MAX_HOPS) throw new TypeError(`Redirected more than ${MAX_HOPS} times`)
    const next = new URL(location, url) // an unusable Location fails as fetch fails it: a TypeError
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
      throw new TypeError('Redirected to a URL whose scheme is not http or https')
    }
    if (status === 303 ? method !== 'GET' && method !== 'HEAD' : status < 303 && method === 'POST') {
      method = 'GET'
      body = null
      for (const name of BODY_HEADERS) headers.delete(name)
    } else if (method !== 'GET' && method !== 'HEAD') {
      body = (await again(token, presented))[1].body ?? null // the same bytes again (a stream: from its copy)
    }
    if (next.origin !== new URL(url).origin) for (const name of CROSS_ORIGIN_DROPPED) headers.delete(name)
    url = next.href
    for (const name of session) headers.delete(name)
    covered &&= pipeline.covers(url, method)
    if (covered) {
      present(headers, token, pipeline.authorize && (await pipeline.authorize(token, { method, url })))
    }
    const hopInit: SessionRequestInit = { ...init, method, headers, body, redirect: 'manual', duplex: 'half' }
    if (signal) hopInit.signal = signal
    response = await transport(url, hopInit)
  }
}
