import type { Session } from './session.js'

/** Where a change came from: this instance, or another instance sharing the store. */
export type ChangeSource = 'local' | 'store'

/** The events of a session and what their listeners receive. */
export interface SessionEventMap {
  /** A login produced a session (`login()`, an unattended login with `credentials`, or another instance). */
  login: { session: Session; source: ChangeSource }
  /** A refresh replaced the session's tokens. */
  refresh: { session: Session; source: ChangeSource }
  /** The session was ended by `logout()`. */
  logout: { source: ChangeSource }
  /** The session died: its refresh was rejected and no re-login was possible. Fired once per death. */
  expired: { source: ChangeSource }
}

/** A session event's name. */
export type SessionEventName = keyof SessionEventMap

/** A minimal typed emitter. A throwing listener never breaks the session: its error is rethrown asynchronously. */
export function createEmitter() {
  const listeners = new Map<SessionEventName, Set<(payload: never) => void>>()
  return {
    on<E extends SessionEventName>(event: E, listener: (payload: SessionEventMap[E]) => void): () => void {
      if (typeof listener !== 'function')
        throw new TypeError(`on(${JSON.stringify(event)}): listener must be a function`)
      let set = listeners.get(event)
      if (!set) {
        set = new Set()
        listeners.set(event, set)
      }
      set.add(listener)
      return () => {
        set.delete(listener)
      }
    },
    emit<E extends SessionEventName>(event: E, payload: SessionEventMap[E]): void {
      const set = listeners.get(event)
      if (!set) return
      for (const listener of [...set]) {
        try {
          ;(listener as (payload: SessionEventMap[E]) => void)(payload)
        } catch (error) {
          queueMicrotask(() => {
            throw error
          })
        }
      }
    },
    count(): number {
      let n = 0
      for (const set of listeners.values()) n += set.size
      return n
    },
  }
}
