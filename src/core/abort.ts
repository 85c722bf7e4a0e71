/** Wait for `promise`, or reject with `signal.reason` as soon as the signal aborts. Leaves no listener behind. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise
  if (signal.aborted) {
    promise.catch(() => undefined) // its outcome no longer matters; never leave it unhandled
    return Promise.reject(signal.reason)
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    // Settles first, then lets go of the signal (a later abort finds nothing to reject).
    promise.then(resolve, reject).then(() => signal.removeEventListener('abort', onAbort))
  })
}

/**
 * Run `fn` with a signal that aborts after `timeoutMs` or when `outer` aborts, and settle by then even if `fn`
 * ignores its signal. The timer and the listener are removed when the call settles.
 */
export async function withDeadline<T>(
  timeoutMs: number,
  outer: AbortSignal | undefined,
  fn: (signal: AbortSignal, deadline: number) => Promise<T>,
): Promise<T> {
  if (outer?.aborted) throw outer.reason
  const controller = new AbortController()
  const deadline = Date.now() + timeoutMs
  const timer = setTimeout(() => {
    controller.abort(
      new DOMException(`The session call did not settle within ${timeoutMs} ms`, 'TimeoutError'),
    )
  }, timeoutMs)
  const onAbort = () => controller.abort(outer?.reason)
  outer?.addEventListener('abort', onAbort, { once: true })
  try {
    return await abortable(fn(controller.signal, deadline), controller.signal)
  } finally {
    clearTimeout(timer)
    outer?.removeEventListener('abort', onAbort)
  }
}

/** Why a session call under the store's lock is not made: it could not end before the lock's lease does. */
export function leaseEnded(): DOMException {
  return new DOMException('The refresh lock lease has ended', 'TimeoutError')
}
