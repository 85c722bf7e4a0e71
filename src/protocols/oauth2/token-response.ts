// A token endpoint's answers (RFC 6749 §5): a token response becomes a session, an error response that refuses the
// grant or the client ends it.
import { parseSession } from '../../core/parse-session.js'
import type { Session, TokenSet } from '../../core/session.js'
import { InvalidResponseError } from '../../errors/invalid-response-error.js'
import { ResponseError } from '../../errors/response-error.js'
import { SessionRejectedError } from '../../errors/session-rejected-error.js'

/** The session an {@link oauth2} protocol produces: `type` is `"oauth2"`, plus the granted `scope` when known. */
export interface OAuth2Session extends Session {
  /** Space-separated scope the server granted (RFC 6749 §5.1), when it said. */
  scope?: string
}

/** What a new session keeps when the answer leaves it out (§6): the refresh token sent, the scope it had. */
export interface Kept {
  refreshToken?: string | undefined
  scope?: string | undefined
}

/**
 * The token set of a successful token response (§5.1), checked by the same rules as Plantly's sessions, with the
 * server's clock from its `Date` header. A DPoP client (`bound`) takes only a DPoP-bound token.
 */
export function tokenSetFrom(response: Response & { _data?: unknown }, keep: Kept, bound: boolean): TokenSet {
  const date = Date.parse(response.headers.get('date') ?? '')
  return {
    session: toSession(response._data, keep, bound),
    serverDate: Number.isNaN(date) ? undefined : date,
  }
}

function toSession(body: unknown, keep: Kept, bound: boolean): OAuth2Session {
  const raw = typeof body === 'object' && body !== null ? { ...(body as Record<string, unknown>) } : body
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const fields = raw as Record<string, unknown>
    if (bound) {
      // RFC 9449 §5: a DPoP-bound token says so. A Bearer one would be sent unbound: refused, not downgraded.
      if (typeof fields.token_type !== 'string' || fields.token_type.toLowerCase() !== 'dpop') {
        throw new InvalidResponseError(
          'token_type',
          'is not "DPoP": the server did not bind the token to the key',
        )
      }
    }
    if (fields.expires_in !== undefined) fields.expires_in = lifetime(fields.expires_in)
    fields.type = 'oauth2'
  }
  const session: OAuth2Session = parseSession(raw, [bound ? 'dpop' : 'bearer'])
  // §5.1: token_type is REQUIRED. Taken for Bearer when missing, a token could go out in a scheme it is not for.
  const tokenType = (raw as { token_type?: unknown }).token_type
  if (tokenType === undefined || tokenType === null) {
    throw new InvalidResponseError('token_type', 'is missing (RFC 6749 §5.1 requires it)')
  }
  if (session.refresh_token === undefined && keep.refreshToken !== undefined) {
    session.refresh_token = keep.refreshToken
  }
  const scope = (raw as { scope?: unknown }).scope
  if (typeof scope === 'string') session.scope = scope
  else if (keep.scope !== undefined) session.scope = keep.scope
  return session
}

// A JSON number >= 0, as a number or as a string (some servers send "3599"): never negative, never empty.
const SECONDS = /^(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/

/**
 * `expires_in` (§5.1): seconds, a number >= 0 or a string of one (read alike: "2" and "2.5" both are). Anything
 * else is an InvalidResponseError, not ignored: a lifetime the server meant but the client cannot read would leave
 * the token to be used until it is refused. (0 says nothing usable: the JWT or a 401 decides, as without one.)
 */
function lifetime(value: unknown): number {
  const seconds = typeof value === 'string' && SECONDS.test(value) ? Number(value) : value
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
    throw new InvalidResponseError('expires_in', 'is not a number of seconds >= 0')
  }
  return seconds
}

// 400 invalid_grant / invalid_request / unauthorized_client…, 401 invalid_client, 403: the grant or the client
// is refused, and asking again will not change that (§5.2).
const REJECTED = new Set([400, 401, 403])

/** A SessionRejectedError for an error response that refuses the grant or the client; any other error as it is. */
export function rejectOn(error: unknown): unknown {
  if (
    error instanceof ResponseError &&
    REJECTED.has(error.status) &&
    error.serverCode !== 'temporarily_unavailable'
  ) {
    return new SessionRejectedError(error.status, { cause: error })
  }
  return error
}
