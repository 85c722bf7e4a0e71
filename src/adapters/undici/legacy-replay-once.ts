import type { Dispatcher } from 'undici'
import { headersOf } from './headers.js'
import { Attempt, type Held } from './held-refusal.js'

type Handler = Dispatcher.DispatchHandler

/** undici 7's earlier handler interface: raw header lists, a resume callback, `false` to pause. */
export interface LegacyHandler {
  onConnect?(abort: (reason?: Error) => void, context?: unknown): void
  onResponseStarted?(): void
  onUpgrade?(status: number, rawHeaders: Buffer[] | string[] | null, socket: unknown): void
  onHeaders?(status: number, rawHeaders: Buffer[], resume: () => void, message?: string): boolean | undefined
  onData?(chunk: Buffer): boolean | undefined
  onComplete?(rawTrailers: Buffer[] | string[] | null): void
  onError?(error: Error): void
}

/**
 * The same as `ReplayOnce` in undici 7's earlier handler interface. undici 7 hands an interceptor a
 * caller's handler of that interface (its own API and fetch handlers among them) wrapped in its `WrapHandler`,
 * and its Agent wraps a handler of the newer interface again: every answer's headers would be parsed into an
 * object, turned back into Buffers, and parsed again. Answering in the earlier interface passes the raw headers
 * straight through. undici 8 speaks only the newer interface (and has no `WrapHandler`).
 */
export class LegacyReplayOnce extends Attempt<LegacyHandler, Buffer[]> implements LegacyHandler {
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

/**
 * The caller's handler in the earlier interface, when undici 7's `compose` made the handler out of one (see
 * {@link LegacyReplayOnce}). Checked by its class name: a bundle that renamed it gets the newer interface, which
 * is only slower.
 */
export function legacyWrapped(handler: Handler): LegacyHandler | undefined {
  const wrapped = handler as Handler & LegacyHandler
  return wrapped.constructor?.name === 'WrapHandler' && typeof wrapped.onHeaders === 'function'
    ? wrapped
    : undefined
}
