import type { Dispatcher } from 'undici'
import type { SessionFetch } from '../../core/session-fetch.js'
import { type BodyCopy, copyingIterable, createBodyCopy, isAsyncIterable } from '../shared/body-copy.js'
import { pipelineOf } from '../shared/pipeline-registry.js'
import { isReplayableBody } from '../shared/replayable-body.js'
import { hasAuthorization, withToken } from './headers.js'
import { asError, finished, type Sending } from './held-refusal.js'
import { LegacyReplayOnce, legacyWrapped } from './legacy-replay-once.js'
import { ReplayOnce } from './replay-once.js'

type Handler = Dispatcher.DispatchHandler
type Options = Dispatcher.DispatchOptions

/**
 * An undici interceptor that puts the session on requests to the session's origins: the Bearer token goes on
 * requests to the session's origins, a 401 waits for the session's one shared refresh and is
 * replayed once, and every other origin, the session's own login/refresh/logout calls, and requests that
 * already carry an `Authorization` header pass through untouched.
 *
 * Replays: a request whose body is absent, a string or bytes is replayed after a 401 with the same bytes; a
 * streamed body (a Node stream, an async iterable — and every body `fetch()` sends, since fetch streams them)
 * is copied as it is sent, up to the session's `replayBufferBytes`, and replayed from the copy when all of it
 * fit. A larger one is sent once: its 401 is returned and the refresh still happens for the requests that follow.
 *
 * Under undici 7 it answers its callers in the handler interface they speak, so composing it directly on the
 * Agent adds no header conversion to the response path (raw header names arrive as the server sent them).
 *
 * @param session A {@link index.SessionFetch | createSessionFetch()} client (a Plantly or an `oauth2()` one; not
 * one whose protocol binds tokens to a proof per request, DPoP).
 * @example
 * import { Agent, setGlobalDispatcher } from 'undici'
 * import { sessionInterceptor } from 'session-fetch/undici'
 *
 * setGlobalDispatcher(new Agent().compose(sessionInterceptor(plantly)))
 * await fetch('https://api.plantly.gr4vy.app/buyers') // authenticated, refreshed, replayed once on 401
 */
export function sessionInterceptor(session: SessionFetch<unknown>): Dispatcher.DispatcherComposeInterceptor {
  const pipeline = pipelineOf(session, 'session')
  const originOf = lastOrigin()
  return (dispatch) =>
    function sessionDispatch(opts, handler) {
      const url = requestURL(opts, originOf)
      const pass =
        url === undefined ||
        Boolean(opts.upgrade) ||
        !pipeline.covers(url, opts.method) ||
        hasAuthorization(opts.headers)
      if (pass) return dispatch(opts, handler)
      const signal = signalOf(opts)
      const send = (token: string | undefined): boolean => {
        // A streamed body (every body fetch() sends is an async iterable here; Node streams are too) is copied
        // as it goes, up to replayBufferBytes, so a refused request can be replayed with the same bytes.
        let first = opts
        let copy: BodyCopy | undefined
        const body = opts.body as unknown
        if (!isReplayableBody(body) && isAsyncIterable(body) && pipeline.replayBufferBytes > 0) {
          const kept = createBodyCopy(pipeline.replayBufferBytes)
          copy = kept
          first = { ...opts, body: copyingIterable(body, kept) } as unknown as Options
        }
        const sending: Sending = { pipeline, dispatch, opts, signal, copy, url }
        const legacy = legacyWrapped(handler)
        const attempt = legacy
          ? new LegacyReplayOnce(sending, token, legacy)
          : new ReplayOnce(sending, token, handler)
        return dispatch(withToken(first, token), attempt as Handler)
      }
      const token = pipeline.tokenFor(signal)
      if (typeof token !== 'object') return send(token)
      token.then(send).catch((error: unknown) => handler.onResponseError?.(finished(), asError(error)))
      return true
    }
}

function signalOf(opts: Options): AbortSignal | undefined {
  const signal = (opts as { signal?: unknown }).signal
  return signal instanceof AbortSignal ? signal : undefined
}

// The origin of an `origin` option given as a string, parsed once for consecutive requests to the same one
// (undici.request passes the same string for every call to a host; parsing it is most of this adapter's own cost).
function lastOrigin(): (origin: string) => string {
  let raw: string | undefined
  let parsed = ''
  return (origin) => {
    if (origin !== raw) {
      parsed = new URL(origin).origin // throws before the cache changes
      raw = origin
    }
    return parsed
  }
}

function requestURL(opts: Options, originOf: (origin: string) => string): string | undefined {
  if (opts.origin === undefined) return undefined
  try {
    const origin = typeof opts.origin === 'string' ? originOf(opts.origin) : opts.origin.origin
    return origin + (opts.path.startsWith('/') ? opts.path : `/${opts.path}`)
  } catch {
    return undefined
  }
}
