/** What the session shows in place of its token. */
export const REDACTED = '[redacted]'

function isAuthorization(name: string): boolean {
  return name.toLowerCase() === 'authorization'
}

/** Delete the `Authorization` entries of `headers` whose value is one of `sent`. */
export function dropSent(headers: Record<string, unknown> | undefined, sent: readonly string[]): void {
  if (!headers) return
  for (const name of Object.keys(headers)) {
    if (isAuthorization(name) && sent.includes(String(headers[name]))) delete headers[name]
  }
}

/** Replace the `Authorization` entries of `headers` whose value is one of `sent` with the placeholder. */
export function hideSent<T extends Record<string, unknown>>(headers: T, sent: readonly string[]): T {
  for (const name of Object.keys(headers)) {
    if (isAuthorization(name) && sent.includes(String(headers[name])))
      (headers as Record<string, unknown>)[name] = REDACTED
  }
  return headers
}
