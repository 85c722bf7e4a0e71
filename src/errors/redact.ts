// What replaces a secret in a message.
export const REDACTED = '[redacted]'

// Anything shaped like a JWT, whole or cut short (`eyJ` is base64url for `{"`, so every JWT, JWS, JWE, client
// assertion and DPoP proof starts with it), and the credential after a Bearer or DPoP scheme. Linear: neither
// branch ends in something that can fail after its run, so a match is never retried from inside a run (the old
// three-dotted JWT pattern was quadratic on `eyJeyJeyJ…`). Case-insensitive, so a lower-cased echo (a host
// name) is caught too.
const SHAPES = /eyJ[\w.-]{8,}|((?:bearer|dpop)\s+)[^\s"',;]+/gi

/**
 * Replace `secrets` (exactly as given, 4 characters or more) and token-shaped substrings in `text`. Linear in
 * `text` for each secret: callers bound what they hand it (see `excerpt` for server text).
 */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join(REDACTED)
  }
  return out.replace(SHAPES, `$1${REDACTED}`)
}

/**
 * A URL without its query and fragment: how URLs appear in messages (a query may carry secrets), and how the
 * protocols compare a request's URL with their endpoints.
 */
export function withoutQuery(url: string): string {
  const cut = url.search(/[?#]/)
  return cut === -1 ? url : url.slice(0, cut)
}
