import { LoginError } from '../errors/login-error.js'
import { ResponseError } from '../errors/response-error.js'
import { SessionFetchError } from '../errors/session-fetch-error.js'
import { SessionRejectedError } from '../errors/session-rejected-error.js'
import { abortable } from './abort.js'
import type { SessionProtocol } from './protocol.js'
import type { RefreshCoordinator } from './refresh-coordinator.js'
import type { Session, TokenSet } from './session.js'
import type { StoreSync } from './store-sync.js'

/** What `login()` needs from the session core. */
export interface LoginDeps<Credentials> {
  readonly protocol: SessionProtocol<Credentials>
  readonly sync: StoreSync
  readonly refresher: RefreshCoordinator
  readonly counts: { logins: number }
  /** Run a step after every login and logout called before it. */
  inOrder<T>(step: () => Promise<T>): Promise<T>
  /** Throw while the store holds another issuer's session. */
  refuseForeign(): void
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
  const { protocol, sync, refresher, counts } = deps
  let shared: Entry | undefined

  async function performLogin(supplied: Credentials, signal: AbortSignal): Promise<Session> {
    if (signal.aborted) throw signal.reason
    await sync.load()
    deps.refuseForeign() // logging in would only end in overwriting another issuer's session
    let tokens: TokenSet
    try {
      tokens = await refresher.call(signal, (context) => protocol.login(supplied, context))
    } catch (error) {
      throw toLoginError(error, signal)
    }
    counts.logins++
    refresher.loggedIn()
    const replaced = sync.snapshot?.record
    try {
      await sync.overwrite(tokens, 'login')
    } catch (error) {
      refresher.retire(tokens.session) // a session nobody can keep is not left live on the server
      throw error
    }
    // The session this login replaces would stay live on the server until its refresh token expires.
    if (replaced && replaced.session.access_token !== tokens.session.access_token) {
      refresher.retire(replaced.session)
    }
    return tokens.session
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

function toLoginError(error: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted && error === signal.reason) return error
  if (error instanceof SessionFetchError && (error.code === 'invalid_option' || error.code === 'closed')) {
    return error
  }
  const cause = error instanceof SessionRejectedError ? error.cause : error
  const status = cause instanceof ResponseError ? cause.status : undefined
  return new LoginError(status, { cause })
}
