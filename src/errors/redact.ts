// Anything that looks like a JWT, or a Bearer credential, is replaced before it can reach a message.
const JWT = /eyJ[\w-]*\.[\w-]*\.[\w-]*/g
const BEARER = /(bearer\s+)[^\s"',;]+/gi

/** Replace known secrets and token-shaped substrings in `text`. */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join('[redacted]')
  }
  return out.replace(JWT, '[redacted]').replace(BEARER, '$1[redacted]')
}

/**
 * A URL without its query and fragment: how URLs appear in messages (a query may carry secrets), and how the
 * protocols compare a request's URL with their endpoints.
 */
export function withoutQuery(url: string): string {
  const cut = url.search(/[?#]/)
  return cut === -1 ? url : url.slice(0, cut)
}
