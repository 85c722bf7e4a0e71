/** One challenge of a `WWW-Authenticate` header (RFC 9110 §11.6.1). */
export interface Challenge {
  /** The auth scheme, lower-cased (schemes are case-insensitive): `'bearer'`, `'dpop'`, `'basic'`… */
  scheme: string
  /** The token68 form (`Negotiate abc==`), when the challenge has one instead of parameters. */
  token68?: string
  /** The auth parameters by lower-cased name, quoted strings unquoted: `{ realm, error, scope, … }`. */
  params: Record<string, string>
}

// RFC 9110 §5.6.2 token, §11.2 token68; quoted-string with quoted-pairs (§5.6.4).
const TOKEN = "[!#$%&'*+.^_`|~\\w-]+"
// A challenge starts the header or follows a comma.
const SCHEME = new RegExp(`(?:^|\\s*,)[\\s,]*(${TOKEN})`, 'y')
const TOKEN68 = /[ \t]+([\w.~+/-]+=*)[ \t]*(?=,|$)/y
const PARAM = new RegExp(`[\\s,]*(${TOKEN})[ \\t]*=[ \\t]*(?:"((?:[^"\\\\]|\\\\.)*)"|(${TOKEN}))[ \\t]*`, 'y')

/**
 * Parse `WWW-Authenticate` (RFC 9110 §11.6.1): several challenges in one header (or several headers joined by
 * `, `), each with a token68 or with parameters (tokens or quoted strings). Pass a Response, its Headers or the
 * header's value. What cannot be parsed ends the list: the challenges read so far are returned.
 *
 * @example
 * const response = await api.fetch('/reports')
 * const bearer = parseWWWAuthenticate(response).find((challenge) => challenge.scheme === 'bearer')
 * if (bearer?.params.error === 'insufficient_scope') askForScope(bearer.params.scope)
 */
export function parseWWWAuthenticate(from: Response | Headers | string | null | undefined): Challenge[] {
  const header =
    typeof from === 'object' && from !== null
      ? ('headers' in from ? from.headers : from).get('www-authenticate')
      : from
  const challenges: Challenge[] = []
  let at = 0
  const next = (pattern: RegExp) => {
    pattern.lastIndex = at
    const match = pattern.exec(header as string)
    if (match) at = pattern.lastIndex
    return match
  }
  for (let match = header ? next(SCHEME) : null; match; match = next(SCHEME)) {
    const challenge: Challenge = { scheme: (match[1] as string).toLowerCase(), params: {} }
    challenges.push(challenge)
    const token68 = next(TOKEN68)
    if (token68) challenge.token68 = token68[1] as string
    else
      for (let param = next(PARAM); param; param = next(PARAM)) {
        challenge.params[(param[1] as string).toLowerCase()] =
          param[3] ?? (param[2] as string).replace(/\\(.)/g, '$1')
      }
  }
  return challenges
}

/** Whether any challenge says `error="insufficient_scope"` (RFC 6750 §3.1): a refresh would not help. */
export function isInsufficientScope(header: string | null | undefined): boolean {
  return parseWWWAuthenticate(header).some((challenge) => challenge.params.error === 'insufficient_scope')
}
