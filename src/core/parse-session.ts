import { InvalidResponseError } from '../errors/invalid-response-error.js'
import type { Session } from './session.js'
import { parseSessionWith } from './session-body.js'

export { isSendableToken } from './session-body.js'

/**
 * Check a 2xx body from login or refresh (or a stored session) and return it as a Session. Throws
 * InvalidResponseError naming the field; never echoes the value. `tokenTypes`: the `token_type`s accepted,
 * lower-case (DPoP sessions: `dpop`).
 */
export function parseSession(body: unknown, tokenTypes: readonly string[] = ['bearer']): Session {
  return parseSessionWith(InvalidResponseError, body, tokenTypes)
}
