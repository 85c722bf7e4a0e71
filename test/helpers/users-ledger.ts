import { decodeJwt } from 'jose'
import type { MockServer } from '../../src/testing/mock/index.js'

/** `count` accounts the mock accepts: user-0@plantly.test … with the password `pw-<i>`. */
export function manyUsers(count: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [userEmail(i), `pw-${i}`]))
}

export const userEmail = (i: number) => `user-${i}@plantly.test`
export const userCredentials = (i: number) => ({ email_address: userEmail(i), password: `pw-${i}` })

/** The mock's session (token family) an access token belongs to: its JWTs carry it as `sid`. */
export function familyOf(token: string | undefined): number | undefined {
  if (!token) return undefined
  try {
    const sid = decodeJwt(token).sid
    return typeof sid === 'number' ? sid : undefined
  } catch {
    return undefined
  }
}

/**
 * The API requests the mock logged under `/u/<user>/…` whose token is not that user's session (or that carried
 * no token): each is a user's request that went out with another user's token, or none. `families` maps a user's
 * name to the family their login opened.
 */
export function crossUserRequests(server: MockServer, families: Map<string, number>) {
  return server.log.filter((entry) => {
    const match = /^\/u\/([^/]+)\//.exec(entry.path)
    if (!match) return false
    return familyOf(entry.token) !== families.get(match[1] as string)
  })
}

/** How many requests under `/u/` the mock logged. */
export const userRequests = (server: MockServer) => server.log.filter((e) => e.path.startsWith('/u/')).length
