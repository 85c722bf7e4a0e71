import { InvalidResponseError } from '../errors/invalid-response-error.js'

/**
 * The Plantly Sessions API's Session object: the 200 body of login and refresh. Other protocols (OAuth2) map
 * their token responses onto it; `refresh_token` and `expires_in` are optional there.
 */
export interface Session {
  /** `"auth.session"` for the Plantly API. */
  type: string
  /** `"bearer"`. */
  token_type: string
  /** The Bearer token for every API call. */
  access_token: string
  /** The Bearer token for `PUT /auth/sessions`. Replaced by every refresh (rotation). */
  refresh_token?: string
  /** Seconds until `access_token` expires, counted from the response. */
  expires_in?: number
}

/**
 * What a protocol's login and refresh resolve with, before the core stamps it: the tokens and their lifetime (the
 * session) and the server's `Date` header. (openid-client calls a token response a token set.)
 */
export interface TokenSet {
  session: Session
  /** Epoch ms from the answer's `Date` header (the server's clock), when it had one. */
  serverDate?: number | undefined
}

/**
 * The former name of {@link TokenSet}.
 * @deprecated Use `TokenSet` (a grant is what OAuth 2.0 calls the credentials a token is asked with); this name
 * goes in the next minor version.
 */
export type Grant = TokenSet

/**
 * A session as a store keeps it: the Session plus when it was received and when its access token stops
 * working, both in the receiving client's clock.
 */
export interface SessionRecord {
  readonly session: Session
  /** Local epoch ms at which the session was received. */
  readonly receivedAt: number
  /** Local epoch ms at which the access token stops working; undefined when nothing says (refresh only on 401). */
  readonly expiresAt?: number | undefined
  /**
   * The session's issuer: the `sessionIssuer` of the protocol that obtained it. Only an instance whose protocol
   * names the same one uses it. Undefined in records written before sessions were bound to issuers; no instance
   * uses those.
   */
  readonly issuer?: string | undefined
}

// RFC 6750 §2.1 allows b64token; anything printable without spaces is accepted, and nothing that could end a
// header line (CR, LF, NUL) or split it (space, tab) ever is.
const TOKEN = /^[\x21-\x7e]+$/

/** True when `token` can safely be sent as `Authorization: Bearer <token>`. */
export function isSendableToken(token: unknown): token is string {
  return typeof token === 'string' && token.length > 0 && token.length <= 16_384 && TOKEN.test(token)
}

/**
 * Check a 2xx body from login or refresh and return it as a Session. Throws InvalidResponseError naming the
 * field; never echoes the value. `tokenTypes`: the `token_type`s accepted, lower-case (DPoP sessions: `dpop`).
 */
export function parseSession(body: unknown, tokenTypes: readonly string[] = ['bearer']): Session {
  if (body === undefined || body === null || body === '') {
    throw new InvalidResponseError('body', 'is empty: expected a session (a JSON object with `access_token`)')
  }
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidResponseError('body', 'is not a JSON object: expected a session with `access_token`')
  }
  const raw = body as Record<string, unknown>
  if (!isSendableToken(raw.access_token)) {
    throw new InvalidResponseError(
      'access_token',
      raw.access_token === undefined ? 'is missing' : 'is not a token that can be sent in a header',
    )
  }
  if (raw.refresh_token !== undefined && raw.refresh_token !== null && !isSendableToken(raw.refresh_token)) {
    throw new InvalidResponseError('refresh_token', 'is not a token that can be sent in a header')
  }
  const tokenType = raw.token_type ?? 'bearer'
  if (typeof tokenType !== 'string' || !tokenTypes.includes(tokenType.toLowerCase())) {
    throw new InvalidResponseError('token_type', `is not "${tokenTypes.join('" or "')}"`)
  }
  const session: Session = {
    type: typeof raw.type === 'string' ? raw.type : 'auth.session',
    token_type: tokenType,
    access_token: raw.access_token,
  }
  if (typeof raw.refresh_token === 'string') session.refresh_token = raw.refresh_token
  // A negative, zero, string or non-finite expires_in is ignored rather than trusted: the JWT or a 401 decides.
  if (typeof raw.expires_in === 'number' && Number.isFinite(raw.expires_in) && raw.expires_in > 0) {
    session.expires_in = raw.expires_in
  }
  return session
}

/**
 * The moment (local epoch ms) from which a request starts the refresh of this token (in the background: the
 * request is still sent with it): `expiresAt − min(refreshWindowMs, lifetime / 2)`. Halving keeps a short-lived
 * token from being refreshed on every call.
 */
export function refreshDueAt(record: SessionRecord, refreshWindowMs: number): number {
  if (record.expiresAt === undefined) return Number.POSITIVE_INFINITY
  const lifetime = record.expiresAt - record.receivedAt
  return record.expiresAt - Math.min(refreshWindowMs, lifetime / 2)
}

/**
 * The moment (local epoch ms) from which a request waits for the refresh instead of sending this token:
 * `expiresAt − min(mustRefreshMs, lifetime / 4)`, never before {@link refreshDueAt}.
 */
export function mustRefreshAt(record: SessionRecord, refreshWindowMs: number, mustRefreshMs: number): number {
  if (record.expiresAt === undefined) return Number.POSITIVE_INFINITY
  const lifetime = record.expiresAt - record.receivedAt
  const margin = Math.min(mustRefreshMs, lifetime / 4, refreshWindowMs, lifetime / 2)
  return record.expiresAt - margin
}
