// Reading a session from a login's or refresh's answer: only session calls need it, so it is apart from session.ts
// (which the request path imports) and loaded with them.
import type { InvalidResponseError } from '../errors/invalid-response-error.js'
import type { Session } from './session.js'

// RFC 6750 §2.1 allows b64token; anything printable without spaces is accepted, and nothing that could end a
// header line (CR, LF, NUL) or split it (space, tab) ever is.
const TOKEN = /^[\x21-\x7e]+$/

/** True when `token` can safely be sent as `Authorization: Bearer <token>`. */
export function isSendableToken(token: unknown): token is string {
  return typeof token === 'string' && token.length > 0 && token.length <= 16_384 && TOKEN.test(token)
}

/**
 * Check a 2xx body from login or refresh and return it as a Session. Throws `Invalid` (InvalidResponseError, handed
 * over by code loaded on first use, which imports no error class: see `lazy`) naming the field; never echoes the
 * value. `tokenTypes`: the `token_type`s accepted, lower-case (DPoP sessions: `dpop`).
 */
export function parseSessionWith(
  Invalid: typeof InvalidResponseError,
  body: unknown,
  tokenTypes: readonly string[],
): Session {
  if (body === undefined || body === null || body === '') {
    throw new Invalid('body', 'is empty: expected a session (a JSON object with `access_token`)')
  }
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new Invalid('body', 'is not a JSON object: expected a session with `access_token`')
  }
  const raw = body as Record<string, unknown>
  if (!isSendableToken(raw.access_token)) {
    throw new Invalid(
      'access_token',
      raw.access_token === undefined ? 'is missing' : 'is not a token that can be sent in a header',
    )
  }
  if (raw.refresh_token !== undefined && raw.refresh_token !== null && !isSendableToken(raw.refresh_token)) {
    throw new Invalid('refresh_token', 'is not a token that can be sent in a header')
  }
  const tokenType = raw.token_type ?? 'bearer'
  if (typeof tokenType !== 'string' || !tokenTypes.includes(tokenType.toLowerCase())) {
    throw new Invalid('token_type', `is not "${tokenTypes.join('" or "')}"`)
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
