import { LoginError } from '../errors/login-error.js'
import { ResponseError } from '../errors/response-error.js'
import { SessionFetchError } from '../errors/session-fetch-error.js'
import { SessionRejectedError } from '../errors/session-rejected-error.js'
import { abortable } from './abort.js'
import { lazy } from './lazy.js'
import type { LoginCallDeps, LoginErrors } from './login-call.js'
import type { Session } from './session.js'

/** What `login()` needs from the session core. */
export interface LoginDeps<Credentials> extends LoginCallDeps<Credentials> {
  /** Run a step after every login and logout called before it. */
  inOrder<T>(step: () => Promise<T>): Promise<T>
}

/**
 * `login()`: concurrent calls with the same credentials share one login call, which runs after the logins and
 * logouts called before it; each caller can give up on its own (its signal), and the call itself is aborted once
 * all of them have.
 */
export interface SharedLogin<Credentials> {
  login(credentials: Credentials, signal: AbortSignal | undefined): Promise<Session>
  /** A logout began: a login called before it is not joined by one called after it. */
  forget(): void
}

interface Entry {
  key: string | undefined
  promise: Promise<Session>
  callers: number
  controller: AbortController
}

export function createSharedLogin<Credentials>(deps: LoginDeps<Credentials>): SharedLogin<Credentials> {
  let shared: Entry | undefined

  // The login call is loaded on first use (with the session call it makes): a failed load fails like that call.
  function performLogin(supplied: Credentials, signal: AbortSignal): Promise<Session> {
    return loadLoginCall().then(
      (module) => module.performLogin(deps, supplied, signal, ERRORS),
      (error: unknown) => {
        throw new LoginError(undefined, { cause: error })
      },
    )
  }

  function login(supplied: Credentials, signal: AbortSignal | undefined): Promise<Session> {
    if (signal?.aborted) return Promise.reject(signal.reason)
    const key = credentialKey(supplied)
    let entry = key !== undefined && shared?.key === key ? shared : undefined
    if (!entry) {
      const controller = new AbortController()
      const created: Entry = { key, callers: 0, controller, promise: Promise.resolve(undefined as never) }
      created.promise = deps.inOrder(() => performLogin(supplied, controller.signal))
      const settle = () => {
        if (shared === created) shared = undefined
      }
      created.promise.then(settle, settle)
      shared = created
      entry = created
    }
    return joinLogin(entry, signal)
  }

  return {
    login,
    forget() {
      shared = undefined
    },
  }
}

// Each caller of a shared login can give up on its own; the call itself is aborted when all of them have.
function joinLogin(shared: Entry, signal: AbortSignal | undefined): Promise<Session> {
  shared.callers++
  if (!signal) return shared.promise
  const leave = () => {
    shared.callers--
    if (shared.callers === 0) shared.controller.abort(signal.reason)
  }
  signal.addEventListener('abort', leave, { once: true })
  const done = () => signal.removeEventListener('abort', leave)
  shared.promise.then(done, done)
  return abortable(shared.promise, signal)
}

// Identical credentials give identical keys (the same JSON); a value that is not JSON is never shared.
function credentialKey(credentials: unknown): string | undefined {
  try {
    return JSON.stringify(credentials)
  } catch {
    return undefined
  }
}

const ERRORS: LoginErrors = { LoginError, ResponseError, SessionFetchError, SessionRejectedError }

const loadLoginCall = lazy(() => import('./login-call.js'))

/** Load the login call now (see `preloadRefresh`): it is kept out of the entry bundle. */
export function preloadLogin(): Promise<unknown> {
  return loadLoginCall()
}
