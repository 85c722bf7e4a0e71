import type { SessionProtocol } from './protocol.js'

/**
 * What the session covers: the absolute URLs that get the access token, exactly the allowed origins (baseURL's and
 * `allowedOrigins`), never the protocol's own endpoints. (How the token is presented there is the protocol's
 * `authorize`.) The common case is a prefix test; anything unusual (case, default port, userinfo, no path) is
 * decided by the URL parser.
 */
export function createCoverage<C>(
  allowedOrigins: ReadonlySet<string>,
  protocol: SessionProtocol<C>,
): (url: string, method: string) => boolean {
  const prefixes = [...allowedOrigins].map((origin) => `${origin}/`)
  return (url, method) => {
    let allowed = false
    for (const prefix of prefixes) {
      if (url.startsWith(prefix)) {
        allowed = true
        break
      }
    }
    if (!allowed) {
      try {
        allowed = allowedOrigins.has(new URL(url).origin)
      } catch {
        return false
      }
    }
    return allowed && !protocol.ownsRequest?.(url, method)
  }
}
