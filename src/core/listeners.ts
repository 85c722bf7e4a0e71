/**
 * A set of listeners and the one way they are called: in the order they were added, each with the same value,
 * and a listener that throws never stops the others nor the caller (its error is rethrown asynchronously, where
 * the runtime reports it). Used by the session's events and by every store's change notifications.
 *
 * A Set of its own (`size`, `clear`), with its methods on one shared prototype: an object literal of closures
 * with a `size` getter cost about 0.5 kB per set (a getter makes a literal a dictionary), and a pool of clients
 * has a set per store.
 */
export class Listeners<T> extends Set<(value: T) => void> {
  /** Add a listener; returns the function that removes it. */
  on(listener: (value: T) => void): () => void {
    this.add(listener)
    return () => {
      this.delete(listener)
    }
  }
  /** Call every listener present now with `value`. */
  emit(value: T): void {
    for (const listener of [...this]) {
      try {
        listener(value)
      } catch (error) {
        queueMicrotask(() => {
          throw error
        })
      }
    }
  }
}
