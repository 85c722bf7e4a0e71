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
