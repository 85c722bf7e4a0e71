// Reading a refused answer's body to its end before the replay, so that its connection goes back to the pool and
// the replay reuses it. Loaded by the fetch adapter with the first refused answer (a 401 is rare), while its
// refresh runs; the adapter hands over the runtime's timers, looked up when the entry loaded.

/** The runtime's own timers (not a test's fake ones installed after the entry loaded). */
export interface Timers {
  setTimeout(run: () => void, ms: number): unknown
  clearTimeout(timer: unknown): void
  /** Undefined where the runtime has none (browsers). */
  setImmediate: ((run: () => void) => unknown) | undefined
}

/** Bodies up to this size are read to their end before a replay (within DRAIN_MS); larger ones are cancelled. */
const DRAIN_LIMIT = 64 * 1024

/** How long a body still arriving is waited for. */
const DRAIN_MS = 250

const LATE = Symbol('late')

/**
 * Read a refused answer's body to its end, or cancel it: a body larger than DRAIN_LIMIT, or still arriving
 * DRAIN_MS after the refresh (one that trickles, or never ends, would hold the replay up for as long as it lasts;
 * cancelled, its connection is closed and the replay opens another). Whether the body was read to its end (its
 * connection is on its way back to the pool).
 */
export async function discard(response: Response, timers: Timers): Promise<boolean> {
  const body = response.body
  if (!body || response.bodyUsed) return false
  const length = Number(response.headers.get('content-length') ?? Number.NaN)
  if (Number.isFinite(length) && length > DRAIN_LIMIT) {
    body.cancel().catch(() => undefined)
    return false
  }
  const reader = body.getReader()
  let timer: unknown
  const late = new Promise<typeof LATE>((resolve) => {
    timer = timers.setTimeout(() => resolve(LATE), DRAIN_MS)
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
    timers.clearTimeout(timer) // cleared as soon as the body has been read
  }
}

/**
 * One event-loop turn: the transport returns a connection to its pool once the end of its body has been handled,
 * one turn later, not in the same one. Not a timer where the runtime has better (fake timers in tests do not hold
 * it up); a timer where it has neither setImmediate nor MessageChannel (edge-runtime's VM).
 */
export function nextTurn(timers: Timers): Promise<void> {
  return new Promise((resolve) => {
    const immediate = timers.setImmediate
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
