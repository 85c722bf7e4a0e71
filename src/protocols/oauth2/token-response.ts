// A token endpoint's answers (RFC 6749 §5): a token response becomes a session, an error response that refuses the
// grant or the client ends it.
import { parseSession, type Session, type TokenSet } from '../../core/session.js'
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
    // Some servers send expires_in as a string ("3599"); a number it is.
    if (typeof fields.expires_in === 'string' && /^\d+$/.test(fields.expires_in)) {
      fields.expires_in = Number(fields.expires_in)
    }
    fields.type = 'oauth2'
  }
  const session: OAuth2Session = parseSession(raw, [bound ? 'dpop' : 'bearer'])
  if (session.refresh_token === undefined && keep.refreshToken !== undefined) {
    session.refresh_token = keep.refreshToken
  }
  const scope = (raw as { scope?: unknown }).scope
  if (typeof scope === 'string') session.scope = scope
  else if (keep.scope !== undefined) session.scope = keep.scope
  return session
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
