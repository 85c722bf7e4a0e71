import type { LoginError } from '../errors/login-error.js'
import type { ResponseError } from '../errors/response-error.js'
import type { SessionFetchError } from '../errors/session-fetch-error.js'
import type { SessionRejectedError } from '../errors/session-rejected-error.js'
import type { SessionProtocol } from './protocol.js'
import type { SessionCallRunner } from './refresh-types.js'
import type { Session, TokenSet } from './session.js'
import { toRecord } from './session-record.js'
import type { StoreSync } from './store-sync.js'

// The login call of `login()`, run by the shared login (shared-login.ts) once the logins and logouts called before
// it are done. Loaded on first use: only a login needs it, and it makes a session call. What it shares with the
// entry (the error classes) it gets from the shared login, not by importing it (see lazy.ts).

/** What a login call needs from the session core. */
export interface LoginCallDeps<Credentials> {
  readonly protocol: SessionProtocol<Credentials>
  readonly sync: StoreSync
  readonly refresher: {
    call: SessionCallRunner
    /** An explicit login succeeded: unattended logins start over without a backoff. */
    loggedIn(): void
    /** End a session nobody will use, in the background. */
    retire(session: Session): void
  }
  readonly counts: { logins: number }
  /** The clock a record is stamped with, and the issuer it names. */
  readonly now: () => number
  readonly issuer: string
  /** Throw while the store holds another issuer's session. */
  refuseForeign(): void
}

/** The error classes a login call throws and recognises, handed over by the shared login. */
export interface LoginErrors {
  readonly LoginError: typeof LoginError
  readonly ResponseError: typeof ResponseError
  readonly SessionFetchError: typeof SessionFetchError
  readonly SessionRejectedError: typeof SessionRejectedError
}

/** Log in with `supplied`, store the session (over whatever is stored) and end the one it replaces. */
export async function performLogin<Credentials>(
  deps: LoginCallDeps<Credentials>,
  supplied: Credentials,
  signal: AbortSignal,
  errors: LoginErrors,
): Promise<Session> {
  const { protocol, sync, refresher, counts } = deps
  if (signal.aborted) throw signal.reason
  await sync.load()
  deps.refuseForeign() // logging in would only end in overwriting another issuer's session
  let tokens: TokenSet
  try {
    tokens = await refresher.call(signal, (context) => protocol.login(supplied, context))
  } catch (error) {
    throw toLoginError(error, signal, errors)
  }
  counts.logins++
  refresher.loggedIn()
  const replaced = sync.snapshot?.record
  try {
    await sync.overwrite(toRecord(tokens, deps.now(), deps.issuer), 'login')
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

function toLoginError(error: unknown, signal: AbortSignal | undefined, errors: LoginErrors): unknown {
  const { LoginError, ResponseError, SessionFetchError, SessionRejectedError } = errors
  if (signal?.aborted && error === signal.reason) return error
  if (error instanceof SessionFetchError && (error.code === 'invalid_option' || error.code === 'closed')) {
    return error
  }
  const cause = error instanceof SessionRejectedError ? error.cause : error
  const status = cause instanceof ResponseError ? cause.status : undefined
  return new LoginError(status, { cause })
}
