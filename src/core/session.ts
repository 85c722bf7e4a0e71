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

/**
 * The moment (local epoch ms) from which a request starts the refresh of this token (in the background: the
 * request is still sent with it): `expiresAt − min(refreshWindowMs, lifetime / 2)`. Halving keeps a short-lived
 * token from being refreshed on every call.
 */
export function refreshDueAt(record: SessionRecord, refreshWindowMs: number): number {
  if (record.expiresAt === undefined) return Infinity
  const lifetime = record.expiresAt - record.receivedAt
  return record.expiresAt - Math.min(refreshWindowMs, lifetime / 2)
}

/**
 * The moment (local epoch ms) from which a request waits for the refresh instead of sending this token:
 * `expiresAt − min(mustRefreshMs, lifetime / 4)`, never before {@link refreshDueAt}.
 */
export function mustRefreshAt(record: SessionRecord, refreshWindowMs: number, mustRefreshMs: number): number {
  if (record.expiresAt === undefined) return Infinity
  const lifetime = record.expiresAt - record.receivedAt
  const margin = Math.min(mustRefreshMs, lifetime / 4, refreshWindowMs, lifetime / 2)
  return record.expiresAt - margin
}
