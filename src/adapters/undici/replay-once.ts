import type { Dispatcher } from 'undici'
import type { ResponseHeaders } from './headers.js'
import { Attempt, finished, type Held } from './held-refusal.js'

type Controller = Dispatcher.DispatchController
type Handler = Dispatcher.DispatchHandler

/** Forwards one attempt to the caller's handler (undici's handler interface), except a refusal it holds back. */
export class ReplayOnce extends Attempt<Handler, ResponseHeaders> implements Handler {
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
