import type { Dispatcher } from 'undici'
import type { Answer, Pipeline } from '../../core/pipeline.js'
import type { BodyCopy } from '../shared/body-copy.js'
import { isReplayableBody } from '../shared/replayable-body.js'
import { responseFrom } from '../shared/response-from.js'
import { type ResponseHeaders, withToken } from './headers.js'
import { awayFrom } from './redirect-history.js'

type Controller = Dispatcher.DispatchController
type Handler = Dispatcher.DispatchHandler
type Options = Dispatcher.DispatchOptions

/**
 * At most this much of a refused body is held while the refresh runs (the fetch adapter reads no more of one
 * either); past it the response is paused, so the server's bytes wait in the socket, not in memory.
 */
const HOLD_BYTES = 64 * 1024

/** The reason a held answer's response is aborted when its replay goes out before its body ended. */
const DROPPED = new Error('dropped for the replay')

/** What a request's attempts share: each attempt, the replay included, is its own handler. */
export interface Sending {
  readonly pipeline: Pipeline
  readonly dispatch: Dispatcher.Dispatch
  readonly opts: Options
  readonly signal: AbortSignal | undefined
  readonly copy: BodyCopy | undefined
  /** The request's absolute URL. */
  readonly url: string
}

/** A refusal held back from the caller while the pipeline decides, in the handler interface it came in. */
export interface Held<H> {
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

/**
 * One attempt of a request, whichever handler interface undici speaks to it. A refusal is held back (status,
 * headers, at most HOLD_BYTES of body) only until the pipeline decides, never until its body ends: then it is
 * replayed with the new token and the same bytes (its body dropped if still coming), or given back to the caller
 * (what was held, then the rest as it comes).
 */
export abstract class Attempt<Downstream, HeldHeaders> {
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
        url: this.sending.url,
      }
      const answer = answerOf(status, headers(), message, awayFrom(this.context, pipeline, opts.method))
      const decided = pipeline.after(attempt, answer, this.sending.signal)
      if (decided !== undefined) return decided
    }
    if (!this.replayed) copy?.release() // answered: no replay will need the copy
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

function isFixed(body: unknown): boolean {
  return typeof body === 'string' || body instanceof Uint8Array || isReplayableBody(body)
}

/** What was thrown or rejected, as the Error a handler's error callback takes. */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}

/**
 * The controller handed to the caller's handler for a response this interceptor delivers itself (a held 401,
 * or an error before any request went out): nothing is in flight, so pausing and aborting have nothing to do.
 */
export function finished(): Controller {
  return { aborted: false, paused: false, reason: null, abort() {}, pause() {}, resume() {} }
}
