import { decodeJwt } from 'jose'
import type { SessionRecord, TokenSet } from './session.js'

// Stamping a token set into the record a store keeps, and reading its lifetime (jose decodes a JWT's claims):
// only a login or a refresh that obtained one needs it, so it is loaded with their code (login-call.ts,
// renewal.ts), never on the request path, which reads what the record says (`expiresAt`).

/**
 * How long the access token lives, in ms, from the moment it was received; undefined when nothing says.
 *
 * Every figure is a difference of two instants of the *server's* clock (expires_in, JWT exp − iat, JWT exp −
 * the answer's Date header), so a client whose clock is off by an hour still gets the right lifetime. The
 * server's `exp` is never compared with the local clock. When several figures exist, the shortest wins.
 */
export function accessTokenLifetimeMs(tokens: TokenSet): number | undefined {
  let lifetime: number | undefined
  const consider = (ms: number) => {
    if (Number.isFinite(ms) && ms > 0 && (lifetime === undefined || ms < lifetime)) lifetime = ms
  }
  if (tokens.session.expires_in !== undefined) consider(tokens.session.expires_in * 1000)
  const claims = readClaims(tokens.session.access_token)
  if (claims && typeof claims.exp === 'number') {
    if (typeof claims.iat === 'number') consider((claims.exp - claims.iat) * 1000)
    else if (tokens.serverDate !== undefined) consider(claims.exp * 1000 - tokens.serverDate)
  }
  return lifetime
}

function readClaims(token: string): { exp?: unknown; iat?: unknown } | undefined {
  if (token.split('.').length !== 3) return undefined
  try {
    return decodeJwt(token)
  } catch {
    return undefined // an opaque or malformed token: expires_in decides
  }
}

/** Stamp a token set with the local time it was received and who issued it: the record a store keeps. */
export function toRecord(tokens: TokenSet, receivedAt: number, issuer?: string): SessionRecord {
  const lifetime = accessTokenLifetimeMs(tokens)
  return Object.freeze({
    session: Object.freeze({ ...tokens.session }),
    receivedAt,
    expiresAt: lifetime === undefined ? undefined : receivedAt + lifetime,
    ...(issuer === undefined ? {} : { issuer }),
  })
}
