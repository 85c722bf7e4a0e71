import type { Session, TokenSet } from './session.js'

/** What the core hands a protocol for each call. */
export interface ProtocolContext {
  /** The transport (the `fetch` option), never the session-injecting wrapper. */
  fetch: typeof globalThis.fetch
  /** Aborts the call: the refresh timeout, or the caller's signal for login and logout. */
  signal: AbortSignal
  /** Local epoch ms (Date.now clock) by which the call must settle; retries never sleep past it. */
  deadline: number
  /**
   * Aborts when the call's result is no longer wanted (the session was replaced or a logout began): make no
   * further attempt (no retry), but let a request already sent finish, so that a session the server created
   * or rotated is not lost (the core ends it on the server).
   */
  stop?: AbortSignal
  /**
   * The claims request (a JSON text) a resource server asked for in a claims challenge (`WWW-Authenticate: Bearer
   * error="insufficient_claims", claims="…"`), for a refresh or login made to answer it. A protocol that can sends
   * it with its token request (OAuth 2.0: the `claims` parameter); others ignore it.
   */
  claims?: string
}

/**
 * How sessions are obtained, renewed and ended. The Plantly Sessions API is the default; OAuth2 is another.
 *
 * Errors: throw `SessionRejectedError` when the server says the credentials or the refresh token are no good
 * (the session is dead); anything else thrown means "could not complete" and the session is kept.
 */
export interface SessionProtocol<Credentials = unknown> {
  /** A short name for messages, e.g. `"plantly"`. */
  readonly name: string
  /**
   * Who issues this protocol's sessions (required: `createSessionFetch` throws an `OptionError` naming `protocol`
   * without it, or its deprecated name `issuer`): a session in a store is bound to it, and an instance whose
   * protocol names another session issuer never sends, refreshes, logs out or overwrites it. Protocols that obtain
   * sessions from the same place name the same session issuer, others a different one. It appears in error
   * messages, so it never holds a secret. Not the OAuth issuer identifier (`oauth2({ issuer })`), though an OAuth2
   * protocol's session issuer is derived from its token endpoint.
   * @example 'plantly:https://api.plantly.gr4vy.app/auth/sessions'
   * @example 'oauth2:https://auth.example.com/oauth/token#billing-service'
   */
  readonly sessionIssuer?: string
  /**
   * The same as `sessionIssuer`, read when `sessionIssuer` is not given.
   * @deprecated Use `sessionIssuer` (this name goes in the next minor version); `issuer` also names the OAuth
   * issuer identifier.
   */
  readonly issuer?: string
  login(credentials: Credentials, context: ProtocolContext): Promise<TokenSet>
  refresh(session: Session, context: ProtocolContext): Promise<TokenSet>
  logout?(session: Session, context: ProtocolContext): Promise<void>
  /** True for the protocol's own endpoints; the fetch wrapper and adapters pass them through untouched. */
  ownsRequest?(url: string, method: string): boolean
  /**
   * The headers that present `token` on one attempt of a request (asked again for every attempt, replays
   * included), for tokens bound to a proof made per request (DPoP, RFC 9449). Without it the token goes as
   * `Authorization: Bearer <token>`.
   */
  authorize?(token: string, request: { method: string; url: string }): Promise<Record<string, string>>
  /**
   * Whether a refused answer to a request for `url` asks for the same request once more with the same token,
   * not for a new token (a DPoP nonce challenge, RFC 9449 §9): the protocol keeps what the answer gives (the
   * nonce) for the next `authorize`. Such an answer is retried once, is no refusal, and starts no refresh.
   */
  challenged?(
    url: string,
    answer: { status: number; header(name: string): string | null | undefined },
  ): boolean
}
