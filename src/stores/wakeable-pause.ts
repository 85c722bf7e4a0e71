/**
 * Pauses for a lock waiter: each resolves after its delay, or as soon as `wake()` is called (the lock was
 * released, a change was published), or rejects with its signal's reason.
 */
export function wakeablePauses(): {
  pause(ms: number, signal: AbortSignal | undefined): Promise<void>
  wake(): void
} {
  const wakers = new Set<() => void>()
  return {
    pause(ms, signal) {
      return new Promise<void>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer)
          wakers.delete(done)
          signal?.removeEventListener('abort', onAbort)
          resolve()
        }
        const onAbort = () => {
          done()
          reject(signal?.reason)
        }
        const timer = setTimeout(done, ms)
        wakers.add(done)
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    },
    wake() {
      for (const wake of [...wakers]) wake()
    },
  }
}
