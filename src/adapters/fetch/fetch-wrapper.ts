import type { Answer, Pipeline } from '../../core/pipeline.js'
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

/** Bodies up to this size are read to their end before a replay (within DRAIN_MS); larger ones are cancelled. */
const DRAIN_LIMIT = 64 * 1024

// Whether the body was read to its end (its connection is on its way back to the pool).
async function discard(response: Response): Promise<boolean> {
  const body = response.body
  if (!body || response.bodyUsed) return false
  const length = Number(response.headers.get('content-length') ?? Number.NaN)
  if (Number.isFinite(length) && length > DRAIN_LIMIT) {
    cancel(response)
    return false
  }
  const reader = body.getReader()
  // A body still arriving DRAIN_MS after the refresh is not waited for: one that trickles (or never ends) would
  // hold the replay up for as long as it lasts. Cancelled, its connection is closed; the replay opens another.
  let timer: unknown
  const late = new Promise<typeof LATE>((resolve) => {
    timer = realSetTimeout(() => resolve(LATE), DRAIN_MS)
  })
  try {
    let read = 0
    for (;;) {
      const step = await Promise.race([reader.read(), late])
      if (step === LATE) {
        reader.cancel().catch(() => undefined)
        return false
      }
      if (step.done) return true
      read += step.value.byteLength
      if (read > DRAIN_LIMIT) {
        await reader.cancel()
        return false
      }
    }
  } catch {
    return false // a body that broke off changes nothing for the replay
  } finally {
    realClearTimeout(timer as ReturnType<typeof setTimeout>)
  }
}

const DRAIN_MS = 250
const LATE = Symbol('late')
// The runtime's own timers, looked up when the module loads (as `immediate` below): a test's fake timers do not
// hold a replay up, and the timer is cleared as soon as the body has been read.
const realSetTimeout = globalThis.setTimeout.bind(globalThis)
const realClearTimeout = globalThis.clearTimeout.bind(globalThis)

// The transport returns a connection to its pool once the end of its body has been handled: one event-loop
// turn later, not in the same one. Not a timer where the runtime has better (fake timers in tests do not hold
// it up); a timer where it has neither setImmediate nor MessageChannel (edge-runtime's VM).
// Looked up when the module loads, so that a test's fake timers installed later do not hold a replay up.
const immediate = (globalThis as { setImmediate?: (run: () => void) => unknown }).setImmediate
function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    if (typeof immediate === 'function') immediate(resolve)
    else if (typeof MessageChannel !== 'function') setTimeout(resolve)
    else {
      const channel = new MessageChannel()
      channel.port1.onmessage = () => {
        channel.port1.close()
        resolve()
      }
      channel.port2.postMessage(0)
    }
  })
}

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
    if (token !== undefined && pipeline.challenged?.(url, answerOf(response)) && prepared.replayable) {
      cancel(response)
      response = await attempt(token)
      // Challenged again: no token problem either, and no third try. The caller gets it.
      if (pipeline.challenged(url, answerOf(response))) {
        prepared.release()
        return response
      }
    }
    if (!pipeline.mayRefuse(response.status)) {
      prepared.release() // a streamed body's copy is not needed: no replay
      return response
    }
    const { replayable } = prepared
    const decided = pipeline.after({ token, method, replayable, replay: false }, answerOf(response), abort)
    if (decided === undefined) {
      prepared.release()
      return response
    }
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
    if (await discard(response)) {
      await nextTurn()
      // The session may have moved on while the body drained (a logout, a sibling's login): ask again.
      const now = pipeline.tokenFor(abort, true)
      next = typeof now === 'object' ? await now : now
    }
    const replayed = await attempt(next)
    // A nonce challenge to the replay is no refused token (its nonce is kept for the next request).
    if (pipeline.mayRefuse(replayed.status) && !pipeline.challenged?.(url, answerOf(replayed))) {
      pipeline.after({ token: next, method, replayable, replay: true }, answerOf(replayed))
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
