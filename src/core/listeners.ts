/**
 * A set of listeners and the one way they are called: in the order they were added, each with the same value,
 * and a listener that throws never stops the others nor the caller (its error is rethrown asynchronously, where
 * the runtime reports it). Used by the session's events and by every store's change notifications.
 */
export interface Listeners<T> {
  /** Add a listener; returns the function that removes it. */
  add(listener: (value: T) => void): () => void
  /** Call every listener present now with `value`. */
  emit(value: T): void
  clear(): void
  readonly size: number
}

export function createListeners<T>(): Listeners<T> {
  const set = new Set<(value: T) => void>()
  return {
    add(listener) {
      set.add(listener)
      return () => {
        set.delete(listener)
      }
    },
    emit(value) {
      for (const listener of [...set]) {
        try {
          listener(value)
        } catch (error) {
          queueMicrotask(() => {
            throw error
          })
        }
      }
    },
    clear() {
      set.clear()
    },
    get size() {
      return set.size
    },
  }
}
