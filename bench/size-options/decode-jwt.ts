// Size-estimate sketch only (bench/size.ts swaps it in for jose): the JWT payload decoded with atob and
// JSON.parse, no signature check (the core only reads exp and iat). Not used by the package.
export function decodeJwt(token: string): Record<string, unknown> {
  const payload = token.split('.')[1] ?? ''
  const base64 = payload.replace(/-/g, '+').replace(/_/g, '/')
  const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0))
  const claims: unknown = JSON.parse(new TextDecoder().decode(bytes))
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw new TypeError('not a JWT')
  return claims as Record<string, unknown>
}
