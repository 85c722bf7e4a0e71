import { lazy } from '../../core/lazy.js'
import type { Answer, Pipeline } from '../../core/pipeline.js'
import type { Timers } from './drain.js'
import { type PreparedRequest, prepareRequest, resent, withToken } from './prepared-request.js'

const ABSOLUTE = /^[a-z][a-z\d+.-]*:/i

/** Join a relative input to the base URL the way ofetch and ky's prefixUrl do: `'/buyers'` → `${base}/buyers`. */
export function joinURL(base: string, input: string): string {
  if (ABSOLUTE.test(input)) return input
  if (input === '' || input.startsWith('?') || input.startsWith('#')) return base + input
  return `${base}/${input.startsWith('/') ? input.slice(1) : input}`
}

function answerOf(response: Response): Answer {
  return {
    status: response.status,
    header: (name) => response.headers.get(name),
    url: response.redirected && response.url ? response.url : undefined,
    response: () => response,
  }
}

// Browsers answer `redirect: 'manual'` opaquely (no status, no Location): there fetch follows redirects itself,
// which drops Authorization on a hop to another origin (docs/fetch.md, Known quirks, says what that leaves).
const opaqueRedirects =
  typeof document === 'object' ||
  typeof (globalThis as { importScripts?: unknown }).importScripts === 'function'

function cancel(response: Response): void {
  response.body?.cancel().catch(() => undefined)
}

// The runtime's own timers, looked up when the entry loads: a test's fake timers installed later do not hold a
// replay up (the code that reads a refused body, `drain.ts`, is loaded later, on the first refusal).
const timers: Timers = {
  setTimeout: globalThis.setTimeout.bind(globalThis),
  clearTimeout: globalThis.clearTimeout.bind(globalThis),
  setImmediate: (globalThis as { setImmediate?: Timers['setImmediate'] }).setImmediate,
}

// Loaded with the first refused answer, while its refresh runs: a 401 is rare.
const loadDrain = lazy(() => import('./drain.js'))

/**
 * The session-injecting fetch: same signature and semantics as `fetch`. Requests to an allowed origin carry
 * the access token; a refused one waits for the shared refresh and is replayed at most once; anything else
 * passes through untouched.
 */
export function createFetchWrapper(
  pipeline: Pipeline,
  baseURL: URL,
  transport: typeof globalThis.fetch,
): typeof globalThis.fetch {
  const base = baseURL.href.replace(/\/$/, '')

  async function send(
    prepared: PreparedRequest,
    url: string,
    method: string,
    signal: AbortSignal | null | undefined,
    follow: boolean,
  ): Promise<Response> {
    // Like fetch: an already aborted call rejects with nothing sent, not even a refresh on its behalf.
    if (signal?.aborted) throw signal.reason
    const abort = signal ?? undefined
    const { authorize } = pipeline
    // One attempt: the protocol presents the token (a DPoP proof made for this attempt), else Bearer. With the
    // session's headers on, redirects are followed here, so that they reach only the origins it covers.
    const attempt = async (with_: string | undefined) => {
      const presented = authorize && with_ !== undefined ? await authorize(with_, { method, url }) : undefined
      const [target, init] = await prepared.attempt(with_, presented)
      if (with_ === undefined || !follow) return transport(target, init)
      const response = await transport(target, { ...init, redirect: 'manual' })
      return /^30[12378]$/.test(`${response.status}`)
        ? (await import('./redirects.js')).followRedirects(
            response,
            url,
            method,
            with_,
            presented,
            init,
            abort,
            pipeline,
            transport,
            prepared.attempt,
            withToken,
          )
        : response
    }
    let token = pipeline.tokenFor(abort)
    if (token !== undefined && typeof token !== 'string') token = await token
    let response = await attempt(token)
    // A challenge to send the same request again with the same token (a DPoP nonce): once, before anything else.
    // It is no refusal: a body that cannot be sent again gets it back (the nonce is kept), never a refresh.
    if (token !== undefined && pipeline.challenged?.(url, answerOf(response))) {
      if (prepared.replayable) {
        cancel(response)
        response = await attempt(token)
      }
      // Challenged again: no token problem either, and no third try. The caller gets it.
      if (!prepared.replayable || pipeline.challenged(url, answerOf(response))) {
        prepared.release()
        return response
      }
    }
    if (!pipeline.mayRefuse(response.status)) {
      prepared.release() // a streamed body's copy is not needed: no replay
      return response
    }
    const { replayable } = prepared
    const decided = pipeline.after(
      { token, method, replayable, replay: false, url },
      answerOf(response),
      abort,
    )
    if (decided === undefined) {
      prepared.release()
      return response
    }
    // A failed load of the drain only costs the refused answer's connection: its body is cancelled instead.
    const draining = loadDrain().catch(() => undefined)
    let next: string | undefined
    try {
      next = await decided
    } catch (error) {
      cancel(response)
      throw error
    }
    if (next === undefined) {
      prepared.release()
      return response // the session is gone: the caller gets its own 401, body intact
    }
    // A small refused body is read to its end rather than cancelled: its connection goes back to the pool and
    // the replay reuses it instead of opening a new one. (By now the refresh has usually taken longer than the
    // body took to arrive.)
    const drain = await draining
    if (!drain) cancel(response)
    else if (await drain.discard(response, timers)) {
      await drain.nextTurn(timers)
      // The session may have moved on while the body drained (a logout, a sibling's login): ask again.
      const now = pipeline.tokenFor(abort, true)
      next = typeof now === 'object' ? await now : now
    }
    const replayed = await attempt(next)
    // A nonce challenge to the replay is no refused token (its nonce is kept for the next request).
    if (pipeline.mayRefuse(replayed.status) && !pipeline.challenged?.(url, answerOf(replayed))) {
      pipeline.after({ token: next, method, replayable, replay: true, url }, answerOf(replayed))
    }
    return replayed
  }

  return function sessionFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    // Like fetch, never throw: bad input (an invalid header, say) rejects the returned promise.
    try {
      return route(input, init)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  function route(input: RequestInfo | URL, init: RequestInit | undefined): Promise<Response> {
    let url: string
    let request: Request | undefined
    if (typeof input === 'string') url = joinURL(base, input)
    else if (input instanceof URL) url = input.href
    else if (typeof input === 'object' && input !== null && 'url' in input) {
      request = input
      url = input.url
    } else {
      // Anything else is converted and refused exactly as fetch would (fetch(undefined) in Node: "Failed to parse
      // URL from undefined"), before a token is asked for.
      url = new Request(input as unknown as string).url
    }
    const method = init?.method ?? request?.method ?? 'GET'
    const target = request ?? url
    if (!pipeline.covers(url, method)) return transport(target, init)
    // One Headers per request: it answers "did the caller bring credentials?" and then carries ours.
    const headers = new Headers(init?.headers ?? request?.headers)
    if (headers.has('authorization')) return transport(target, init) // the caller chose its own: leave them alone
    // Bodies that take more to be sent again (FormData, streams, a Request's body): their code is loaded on first use.
    const prepared =
      prepareRequest(request, url, init, headers) ??
      import('./sent-bodies.js').then((bodies) =>
        bodies.prepareSent(request, url, init, headers, pipeline.replayBufferBytes, resent),
      )
    const signal = init?.signal ?? request?.signal
    const follow = (init?.redirect ?? request?.redirect ?? 'follow') === 'follow' && !opaqueRedirects
    if (prepared instanceof Promise) return prepared.then((ready) => send(ready, url, method, signal, follow))
    return send(prepared, url, method, signal, follow)
  }
}
