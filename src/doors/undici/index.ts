import type { Dispatcher } from 'undici'
import {
  type BodyCopy,
  copyingIterable,
  createBodyCopy,
  isAsyncIterable,
  isReplayableBody,
} from '../../core/bodies.js'
import {
  type Answer,
  type Pipeline,
  pipelineOf,
  responseFrom,
  type SessionSource,
} from '../../core/pipeline.js'

export type { SessionSource } from '../../core/pipeline.js'

type Controller = Dispatcher.DispatchController
type Handler = Dispatcher.DispatchHandler
type Options = Dispatcher.DispatchOptions
type ResponseHeaders = Record<string, string | string[] | undefined>
type FlatHeaders = string[]

/**
 * An undici interceptor that puts the session on requests to the session's origins: the Bearer token goes on
 * requests to the session's origins, a 401 waits for the session's one shared refresh and is
 * replayed once, and every other origin, the session's own login/refresh/logout calls, and requests that
 * already carry an `Authorization` header pass through untouched.
 *
 * Replays: a request whose body is absent, a string or bytes is replayed after a 401; any other body (a
 * stream, an async iterable, FormData — and every body `fetch()` sends, since fetch streams them) is sent once:
 * its 401 is returned and the refresh still happens for the requests that follow.
 *
 * @example
 * import { Agent, setGlobalDispatcher } from 'undici'
 * import { sessionInterceptor } from 'session-fetch/undici'
 *
 * setGlobalDispatcher(new Agent().compose(sessionInterceptor(plantly)))
 * await fetch('https://api.plantly.gr4vy.app/buyers') // authenticated, refreshed, replayed once on 401
 */
export function sessionInterceptor(plantly: SessionSource): Dispatcher.DispatcherComposeInterceptor {
  const pipeline = pipelineOf(plantly, 'plantly')
  const originOf = lastOrigin()
  return (dispatch) =>
    function sessionDispatch(opts, handler) {
      const url = requestURL(opts, originOf)
      const pass =
        url === undefined ||
        Boolean(opts.upgrade) ||
        !pipeline.authorizes(url, opts.method) ||
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
        const replay = new ReplayOnce(pipeline, dispatch, opts, token, signal, handler, copy)
        return dispatch(withToken(first, token), replay)
      }
      const token = pipeline.tokenFor(signal)
      if (typeof token !== 'object') return send(token)
      token.then(send).catch((error: unknown) => handler.onResponseError?.(finished(), asError(error)))
      return true
    }
}

/** Forwards one attempt to the caller's handler, except a refusal it can replay: that one is held for the decision. */
class ReplayOnce implements Handler {
  #held:
    | {
        status: number
        headers: ResponseHeaders
        message: string | undefined
        chunks: Buffer[]
        decided: Promise<string | undefined>
      }
    | undefined
  #replayed = false
  #sent: string | undefined
  readonly #fixed: boolean

  constructor(
    private readonly pipeline: Pipeline,
    private readonly dispatch: Dispatcher.Dispatch,
    private readonly opts: Options,
    token: string | undefined,
    private readonly signal: AbortSignal | undefined,
    private readonly downstream: Handler,
    private readonly copy: BodyCopy | undefined,
  ) {
    this.#sent = token
    const body = opts.body
    this.#fixed = typeof body === 'string' || body instanceof Uint8Array || isReplayableBody(body)
  }

  // A body sent as it was read can be sent again once all of it went out and fit in the copy.
  get #replayable(): boolean {
    return this.#fixed || this.copy?.bytes() !== undefined
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.downstream.onRequestStart?.(controller, context)
  }

  onRequestUpgrade(...args: Parameters<NonNullable<Handler['onRequestUpgrade']>>): void {
    this.downstream.onRequestUpgrade?.(...args)
  }

  onResponseStart(controller: Controller, status: number, headers: ResponseHeaders, message?: string): void {
    if (this.pipeline.mayRefuse(status)) {
      const attempt = {
        token: this.#sent,
        method: this.opts.method,
        replayable: this.#replayable,
        replay: this.#replayed,
      }
      const decided = this.pipeline.after(attempt, answerOf(status, headers, message), this.signal)
      if (decided !== undefined) {
        decided.catch(() => undefined) // settled in onResponseEnd
        this.#held = { status, headers, message, chunks: [], decided }
        return
      }
    }
    if (!this.#replayed) this.copy?.release() // answered: no replay will need the copy
    this.downstream.onResponseStart?.(controller, status, headers, message)
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.#held) this.#held.chunks.push(chunk)
    else this.downstream.onResponseData?.(controller, chunk)
  }

  onResponseEnd(controller: Controller, trailers: ResponseHeaders): void {
    const held = this.#held
    if (!held) {
      this.downstream.onResponseEnd?.(controller, trailers)
      return
    }
    this.#held = undefined
    held.decided.then(
      (next) => {
        if (next === undefined) {
          // The session is gone: the caller gets its own 401, body intact.
          const done = finished()
          this.downstream.onResponseStart?.(done, held.status, held.headers, held.message)
          for (const chunk of held.chunks) this.downstream.onResponseData?.(done, chunk)
          this.downstream.onResponseEnd?.(done, trailers)
          return
        }
        this.#replayed = true
        this.#sent = next
        const bytes = this.#fixed ? undefined : this.copy?.bytes()
        this.copy?.release()
        const again = bytes === undefined ? this.opts : ({ ...this.opts, body: bytes } as Options)
        try {
          this.dispatch(withToken(again, next), this)
        } catch (error) {
          this.downstream.onResponseError?.(finished(), asError(error))
        }
      },
      (error: unknown) => this.downstream.onResponseError?.(finished(), asError(error)),
    )
  }

  onResponseError(controller: Controller, error: Error): void {
    this.#held = undefined
    this.downstream.onResponseError?.(controller, error)
  }
}

// An undici response head as the pipeline reads it.
function answerOf(status: number, headers: ResponseHeaders, message: string | undefined): Answer {
  return {
    status,
    header(name) {
      const value = headers[name]
      return Array.isArray(value) ? value.join(', ') : value
    },
    response: () => responseFrom(status, message, Object.entries(headers)),
  }
}

// The controller handed to the caller's handler for a response this interceptor delivers itself (a held 401,
// or an error before any request went out): nothing is in flight, so pausing and aborting have nothing to do.
function finished(): Controller {
  return { aborted: false, paused: false, reason: null, abort() {}, pause() {}, resume() {} }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}

function signalOf(opts: Options): AbortSignal | undefined {
  const signal = (opts as { signal?: unknown }).signal
  return signal instanceof AbortSignal ? signal : undefined
}

// The origin of an `origin` option given as a string, parsed once for consecutive requests to the same one
// (undici.request passes the same string for every call to a host; parsing it is most of this door's own cost).
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

function hasAuthorization(headers: Options['headers']): boolean {
  const flat = flatHeaders(headers)
  for (let i = 0; i < flat.length; i += 2) {
    if (String(flat[i]).toLowerCase() === 'authorization') return true
  }
  return false
}

// `opts` is always the caller's (checked to have no Authorization), so the header is added, never replaced.
function withToken(opts: Options, token: string | undefined): Options {
  if (token === undefined) return opts
  return { ...opts, headers: [...flatHeaders(opts.headers), 'authorization', `Bearer ${token}`] }
}
