import { randomBytes } from 'node:crypto'

/** An unsigned JWT with these claims (the client never verifies signatures; only the server knows them). */
export function craftJwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}.${randomBytes(16).toString('base64url')}`
}
