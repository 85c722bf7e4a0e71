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
 * Replays: a request whose body is absent, a string or bytes is replayed after a 401 with the same bytes; a
 * streamed body (a Node stream, an async iterable — and every body `fetch()` sends, since fetch streams them)
 * is copied as it is sent, up to the session's `replayBufferBytes`, and replayed from the copy when all of it
 * fit. A larger one is sent once: its 401 is returned and the refresh still happens for the requests that follow.
 *
 * Under undici 7 it answers its callers in the handler interface they speak, so composing it directly on the
 * Agent adds no header conversion to the response path (raw header names arrive as the server sent them).
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
        const sending: Sending = { pipeline, dispatch, opts, signal, copy }
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

/**
 * At most this much of a refused body is held while the refresh runs (the fetch adapter reads no more of one
 * either); past it the response is paused, so the server's bytes wait in the socket, not in memory.
 */
const HOLD_BYTES = 64 * 1024

/** The reason a held answer's response is aborted when its replay goes out before its body ended. */
const DROPPED = new Error('dropped for the replay')

/** What a request's attempts share: each attempt, the replay included, is its own handler. */
interface Sending {
  readonly pipeline: Pipeline
  readonly dispatch: Dispatcher.Dispatch
  readonly opts: Options
  readonly signal: AbortSignal | undefined
  readonly copy: BodyCopy | undefined
}

/**
 * One attempt of a request, whichever handler interface undici speaks to it. A refusal is held back (status,
 * headers, at most HOLD_BYTES of body) only until the pipeline decides, never until its body ends: then it is
 * replayed with the new token and the same bytes (its body dropped if still coming), or given back to the caller
 * (what was held, then the rest as it comes).
 */
abstract class Attempt<Downstream, HeldHeaders> {
  protected held: Held<HeldHeaders> | undefined
  /** This attempt's answer is out of the caller's way (dropped for the replay, or failed): ignore it. */
  protected dropped = false
  /** undici's context; its redirect interceptor, when composed below, lists the hops it followed in it. */
  protected context: unknown

  constructor(
    private readonly sending: Sending,
    private readonly sent: string | undefined,
    protected readonly downstream: Downstream,
    private readonly replayed = false,
  ) {}

  /** Whether an answer is held back for the pipeline's decision (false: pass it on). */
  protected hold(
    status: number,
    headers: HeldHeaders,
    message: string | undefined,
    parsed: () => ResponseHeaders,
    abort: (reason: Error) => void,
    resume: () => void,
  ): boolean {
    const decided = this.decide(status, parsed, message)
    if (!decided) return false
    const held: Held<HeldHeaders> = { status, headers, message, chunks: [], size: 0, abort, resume }
    this.held = held
    decided.then(
      (next) => this.settle(held, next),
      (error: unknown) => this.settle(held, undefined, asError(error)),
    )
    return true
  }

  /** Keep a chunk of the held body; false once the bound is reached: pause the response. */
  protected keep(held: Held<HeldHeaders>, chunk: Buffer): boolean {
    held.chunks.push(chunk)
    held.size += chunk.length
    return held.size < HOLD_BYTES
  }

  private decide(status: number, headers: () => ResponseHeaders, message: string | undefined) {
    const { pipeline, opts, copy } = this.sending
    if (pipeline.mayRefuse(status)) {
      const attempt = {
        token: this.sent,
        method: opts.method,
        // A body sent as it was read can be sent again once all of it went out and fit in the copy.
        replayable: isFixed(opts.body) || copy?.bytes() !== undefined,
        replay: this.replayed,
      }
      const answer = answerOf(status, headers(), message, this.awayFrom(opts.method))
      const decided = pipeline.after(attempt, answer, this.sending.signal)
      if (decided !== undefined) return decided
    }
    if (!this.replayed) copy?.release() // answered: no replay will need the copy
    return undefined
  }

  // undici's redirect interceptor, composed below this one, follows redirects within this one dispatch and lists
  // every hop in `history` (the one that answered last). A hop to an origin the session does not authorize had
  // no token (the redirect handler strips Authorization across origins): its answer says nothing about ours.
  private awayFrom(method: string): string | undefined {
    const history = (this.context as { history?: unknown } | undefined)?.history
    if (!Array.isArray(history)) return undefined
    for (const hop of history) if (!this.sending.pipeline.authorizes(String(hop), method)) return String(hop)
    return undefined
  }

  /** The pipeline decided: replay with the new token, give the answer back (`next` undefined), or fail. */
  private settle(held: Held<HeldHeaders>, next: string | undefined, error?: Error) {
    if (this.held !== held) return // the answer broke off meanwhile: the caller has its error
    this.held = undefined
    if (next === undefined && error === undefined) return this.giveBack(held)
    this.dropped = true
    if (!held.end) held.abort(DROPPED) // its body is still coming: nobody will read it
    if (error) return this.fail(error)
    const { dispatch, opts, copy } = this.sending
    const bytes = isFixed(opts.body) ? undefined : copy?.bytes()
    copy?.release()
    const again = bytes === undefined ? opts : ({ ...opts, body: bytes } as Options)
    const Same = this.constructor as new (s: Sending, t: string, d: Downstream, r: boolean) => Handler
    try {
      dispatch(withToken(again, next), new Same(this.sending, next as string, this.downstream, true))
    } catch (error) {
      this.fail(asError(error))
    }
  }

  /** Hand the held answer to the caller: status, headers, what was held, and its end or the rest as it comes. */
  protected abstract giveBack(held: Held<HeldHeaders>): void
  protected abstract fail(error: Error): void
}

interface Held<H> {
  status: number
  headers: H
  message: string | undefined
  chunks: Buffer[]
  size: number
  /** The trailers, once the body ended. */
  end?: [unknown]
  abort(reason: Error): void
  resume(): void
}

/** Forwards one attempt to the caller's handler (undici's handler interface), except a refusal it holds back. */
class ReplayOnce extends Attempt<Handler, ResponseHeaders> implements Handler {
  /** The controller of the response this attempt holds (set before anything is held). */
  private controller!: Controller

  onRequestStart(controller: Controller, context: unknown): void {
    this.context = context
    this.downstream.onRequestStart?.(controller, context)
  }

  onRequestUpgrade(...args: Parameters<NonNullable<Handler['onRequestUpgrade']>>): void {
    this.downstream.onRequestUpgrade?.(...args)
  }

  onResponseStart(controller: Controller, status: number, headers: ResponseHeaders, message?: string): void {
    this.controller = controller
    const held = this.hold(
      status,
      headers,
      message,
      () => headers,
      (reason) => controller.abort(reason),
      () => controller.resume(),
    )
    if (!held) this.downstream.onResponseStart?.(controller, status, headers, message)
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.held) {
      if (!this.keep(this.held, chunk)) controller.pause()
    } else if (!this.dropped) this.downstream.onResponseData?.(controller, chunk)
  }

  onResponseEnd(controller: Controller, trailers: ResponseHeaders): void {
    if (this.held) this.held.end = [trailers]
    else if (!this.dropped) this.downstream.onResponseEnd?.(controller, trailers)
  }

  onResponseError(controller: Controller, error: Error): void {
    if (this.dropped) return
    this.held = undefined
    this.downstream.onResponseError?.(controller, error)
  }

  protected giveBack(held: Held<ResponseHeaders>): void {
    // Once the response ended its controller may belong to the connection's next request: hand out an inert one.
    const to = held.end ? finished() : this.controller
    this.downstream.onResponseStart?.(to, held.status, held.headers, held.message)
    for (const chunk of held.chunks) this.downstream.onResponseData?.(to, chunk)
    if (held.end) this.downstream.onResponseEnd?.(to, held.end[0] as ResponseHeaders)
    else held.resume()
  }

  protected fail(error: Error): void {
    this.downstream.onResponseError?.(finished(), error)
  }
}

/** undici 7's earlier handler interface: raw header lists, a resume callback, `false` to pause. */
interface LegacyHandler {
  onConnect?(abort: (reason?: Error) => void, context?: unknown): void
  onResponseStarted?(): void
  onUpgrade?(status: number, rawHeaders: Buffer[] | string[] | null, socket: unknown): void
  onHeaders?(status: number, rawHeaders: Buffer[], resume: () => void, message?: string): boolean | undefined
  onData?(chunk: Buffer): boolean | undefined
  onComplete?(rawTrailers: Buffer[] | string[] | null): void
  onError?(error: Error): void
}

/**
 * The same as {@link ReplayOnce} in undici 7's earlier handler interface. undici 7 hands an interceptor a
 * caller's handler of that interface (its own API and fetch handlers among them) wrapped in its `WrapHandler`,
 * and its Agent wraps a handler of the newer interface again: every answer's headers would be parsed into an
 * object, turned back into Buffers, and parsed again. Answering in the earlier interface passes the raw headers
 * straight through. undici 8 speaks only the newer interface (and has no `WrapHandler`).
 */
class LegacyReplayOnce extends Attempt<LegacyHandler, Buffer[]> implements LegacyHandler {
  private abort: (reason?: Error) => void = () => undefined

  onConnect(abort: (reason?: Error) => void, context?: unknown): void {
    this.abort = abort
    this.context = context
    this.downstream.onConnect?.(abort, context)
  }

  onResponseStarted(): void {
    this.downstream.onResponseStarted?.()
  }

  onUpgrade(status: number, rawHeaders: Buffer[] | string[] | null, socket: unknown): void {
    this.downstream.onUpgrade?.(status, rawHeaders, socket)
  }

  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void, message?: string): boolean | undefined {
    if (this.hold(status, rawHeaders, message, () => headersOf(rawHeaders), this.abort, resume)) return true
    return this.downstream.onHeaders?.(status, rawHeaders, resume, message)
  }

  onData(chunk: Buffer): boolean | undefined {
    if (this.held) return this.keep(this.held, chunk)
    return this.dropped || this.downstream.onData?.(chunk)
  }

  onComplete(rawTrailers: Buffer[] | string[] | null): void {
    if (this.held) this.held.end = [rawTrailers]
    else if (!this.dropped) this.downstream.onComplete?.(rawTrailers)
  }

  onError(error: Error): void {
    if (this.dropped) return
    this.held = undefined
    this.downstream.onError?.(error)
  }

  protected giveBack(held: Held<Buffer[]>): void {
    // Once the response ended its resume callback may act on the connection's next request: hand out a no-op.
    const resume = held.end ? () => undefined : held.resume
    this.downstream.onHeaders?.(held.status, held.headers, resume, held.message)
    for (const chunk of held.chunks) this.downstream.onData?.(chunk)
    if (held.end) this.downstream.onComplete?.(held.end[0] as Buffer[] | null)
    else resume()
  }

  protected fail(error: Error): void {
    this.downstream.onError?.(error)
  }
}

// A handler undici 7's `compose` made out of a caller's handler of the earlier interface (see LegacyReplayOnce).
// Checked by its class name: a bundle that renamed it gets the newer interface, which is only slower.
function legacyWrapped(handler: Handler): LegacyHandler | undefined {
  const wrapped = handler as Handler & LegacyHandler
  return wrapped.constructor?.name === 'WrapHandler' && typeof wrapped.onHeaders === 'function'
    ? wrapped
    : undefined
}

function latin1(part: Buffer | string | undefined): string {
  return typeof part === 'string' || part === undefined ? String(part) : part.toString('latin1')
}

// Raw header names and values (undici 7's earlier interface) as a record, for the pipeline's look at a refusal.
function headersOf(raw: Buffer[]): ResponseHeaders {
  const headers: Record<string, string | string[]> = {}
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = latin1(raw[i]).toLowerCase()
    const value = latin1(raw[i + 1])
    const seen = headers[name]
    headers[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value]
  }
  return headers
}

// An undici response head as the pipeline reads it.
function answerOf(
  status: number,
  headers: ResponseHeaders,
  message: string | undefined,
  url: string | undefined,
): Answer {
  return {
    status,
    url,
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

function isFixed(body: unknown): boolean {
  return typeof body === 'string' || body instanceof Uint8Array || isReplayableBody(body)
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
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
