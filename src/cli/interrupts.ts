import type { SessionFetch } from '../create-session-fetch.js'
import { EXIT } from './exit.js'

/** The session calls a signal lets finish. */
export type SessionCall = 'login' | 'refresh' | 'logout'

/** What the command holds while it runs: its client and store, and the session call it was asked to make. */
export interface Holding {
  plantly: Pick<SessionFetch, 'close' | 'stats'>
  store: { close(): void | Promise<void> }
  /** `login` or `logout` while the command makes that call; a refresh is seen in the client's stats. */
  call?: SessionCall | undefined
  /** What must be done for that call to count as saved (the login's profile), awaited before exiting. */
  saved?: Promise<unknown> | undefined
}

export interface Interrupts {
  /** A signal arrived: the command's own ending no longer decides the exit (the handler exits). */
  readonly interrupted: boolean
  /** The command now holds this (undefined: nothing). */
  hold(holding: Holding | undefined): void
  /** Remove the handlers. */
  dispose(): void
}

const SIGNALS = { SIGINT: EXIT.interrupted, SIGTERM: EXIT.terminated } as const

/**
 * SIGINT and SIGTERM. Under refresh-token rotation a refresh the server answered but nobody saved is a session
 * lost (the next run presents the spent refresh token: reuse detected, session revoked), so a login, refresh or
 * logout under way is let land and be saved (`close()`, bounded by the refresh timeout) before exiting with
 * 128 + the signal's number; with nothing under way the command exits at once. A second signal exits at once.
 */
export function listenForInterrupts(
  stderr: { write(text: string): unknown },
  exit: (code: number) => void = (code) => process.exit(code),
): Interrupts {
  let holding: Holding | undefined
  let interrupted = false
  let finishing: SessionCall | undefined

  function underWay(): SessionCall | undefined {
    if (!holding) return undefined
    return holding.call ?? (holding.plantly.stats().pendingRefreshes > 0 ? 'refresh' : undefined)
  }

  async function finish(held: Holding, code: number): Promise<void> {
    try {
      await held.plantly.close()
      await held.saved
    } catch {
      // What could not be saved was reported by the command's own call, or is lost with the signal.
    }
    try {
      await held.store.close()
    } finally {
      exit(code)
    }
  }

  const handlers = Object.entries(SIGNALS).map(([signal, code]) => {
    const handler = () => {
      if (interrupted) {
        if (finishing) stderr.write(`session-fetch: stopped before the session ${finishing} was saved\n`)
        exit(code)
        return
      }
      interrupted = true
      finishing = underWay()
      if (!holding || !finishing) {
        exit(code)
        return
      }
      stderr.write(`session-fetch: finishing the session ${finishing}… (interrupt again to stop now)\n`)
      finish(holding, code).catch(() => exit(code))
    }
    process.on(signal, handler)
    return [signal, handler] as const
  })

  return {
    get interrupted() {
      return interrupted
    },
    hold(next) {
      holding = next
    },
    dispose() {
      for (const [signal, handler] of handlers) process.off(signal, handler)
    },
  }
}
